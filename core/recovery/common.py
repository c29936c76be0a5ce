"""What every recovery method shares: the method names, the fidelities and circuit voltages as float64."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.circuit.fidelity import CIRCUIT_FIDELITIES, check_fidelity, output_voltages_job

METHODS = ("correction", "retrain", "remap")
# the circuit must exist, so ``ideal`` is not a recovery fidelity
RECOVERY_FIDELITIES = CIRCUIT_FIDELITIES


def voltages_job(mapped, X: np.ndarray, g_list: Sequence[np.ndarray], fidelity: str):
    """Job: output-layer voltages (N, n_out) of the circuit with conductances ``g_list`` at ``fidelity``.

    The single place where recovery methods obtain circuit voltages, so every method works at every circuit
    fidelity.
    """
    v, _solver = yield from output_voltages_job(mapped, X, g_list, check_fidelity(fidelity))
    return np.asarray(v, dtype=np.float64)
