"""What every recovery method shares: the method names, the fidelities and circuit voltages as float64."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import numpy as np

from core.circuit.fidelity import CIRCUIT_FIDELITIES, check_fidelity, circuit_params, output_voltages_job
from core.model.results import RecoveryResult

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


def recovery_result(
    method: str,
    mapped,
    defect_specs: Iterable[str],
    fidelity: str,
    before: float,
    after: float,
    arrays: dict,
    scenario: str,
    started: float,
    params: dict,
) -> RecoveryResult:
    """The :class:`RecoveryResult` of a method's run: ``params`` plus its run time (from ``started``, a
    ``time.perf_counter()`` value) and the circuit it ran on; no id yet (see :func:`core.session.store.store_result`).
    """
    return RecoveryResult(
        id="", method=method, defect_specs=list(defect_specs), fidelity=fidelity, before=before, after=after,
        arrays=arrays, scenario=scenario,
        params={**params, "seconds": time.perf_counter() - started, **circuit_params(mapped)},
    )  # fmt: skip
