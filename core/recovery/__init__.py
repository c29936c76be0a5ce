"""Accuracy recovery for a defective crossbar network: three remedies behind one job interface.

``correction`` (:mod:`core.recovery.correction`)
    a small MLP trained on the defective circuit's output-layer voltages with calibration labels.
``retrain`` (:mod:`core.recovery.retrain`)
    fault-aware fine-tuning of the healthy devices (stuck ones fixed) on the training split.
``remap`` (:mod:`core.recovery.remap`)
    a function-preserving permutation of hidden neurons that puts harmless weights on stuck devices.

Every method is a core job (a generator yielding :class:`core.jobs.Progress`) returning a
:class:`core.project.RecoveryResult`. No method ever reads test labels except to report the final accuracy.
This package module stays free of torch so importing it is cheap.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from core.errors import ParameterError

METHODS = ("correction", "retrain", "remap")
RECOVERY_FIDELITIES = ("behavioral", "nodal", "spice")


def check_fidelity(fidelity: str) -> str:
    """Validate a recovery fidelity (the circuit must exist, so ``ideal`` is not allowed)."""
    if fidelity not in RECOVERY_FIDELITIES:
        raise ParameterError("fidelity", f"must be one of {', '.join(RECOVERY_FIDELITIES)}; got {fidelity!r}")
    return fidelity


def voltages_job(mapped, X: np.ndarray, g_list: Sequence[np.ndarray], fidelity: str):
    """Job: output-layer voltages (N, n_out) of the circuit with conductances ``g_list`` at ``fidelity``.

    The single place where recovery methods obtain circuit voltages, so every method works at every fidelity
    :func:`core.evaluate.output_voltages_job` offers.
    """
    from core.evaluate import output_voltages_job

    v, _solver = yield from output_voltages_job(mapped, X, g_list, check_fidelity(fidelity))
    return np.asarray(v, dtype=np.float64)


def circuit_accuracy_job(mapped, X: np.ndarray, y: np.ndarray, g_list, fidelity: str):
    """Job: accuracy of the circuit with conductances ``g_list`` on (X, y) at ``fidelity``."""
    v = yield from voltages_job(mapped, X, g_list, fidelity)
    return float(np.mean(np.argmax(v, axis=-1) == y))


def recover_job(project, defects, method: str, fidelity: str = "behavioral", *, seed: int = 0,
                scenario: str = "", store: bool = True, r_wire_ohm=None, device_model=None, **options):
    """Job: run one recovery ``method`` on the project's network with ``defects``.

    Parameters
    ----------
    project : core.project.Project
        A trained and mapped project.
    defects : sequence of core.defects.Defect
        The defect map (known to retrain and remap; correction only sees the circuit's voltages).
    method : {'correction', 'retrain', 'remap'}
    fidelity : {'behavioral', 'nodal', 'spice'}
        Fidelity of the circuit the method trains on (correction) and of every reported accuracy.
    seed : int
        Seed of every random choice; equal seeds give identical results.
    store : bool
        Append the :class:`core.project.RecoveryResult` to ``project.recoveries``.
    r_wire_ohm, device_model
        Circuit overrides (default: the project's); recorded in the result's ``params``.
    **options
        Method-specific hyper-parameters (see each method's job).

    Returns
    -------
    core.project.RecoveryResult
    """
    from core.evaluate import circuit_params, project_view

    project = project_view(project, r_wire_ohm, device_model)
    result = yield from _dispatch(project, defects, method, fidelity, seed, scenario, store, options)
    result.params.update(circuit_params(project.require_mapped()))
    return result


def _dispatch(project, defects, method, fidelity, seed, scenario, store, options):
    if method == "correction":
        from core.recovery.correction import CorrectionConfig, correction_job

        cfg = _config(CorrectionConfig, method, dict(options, seed=seed))
        return (yield from correction_job(project, defects, fidelity, cfg, scenario=scenario, store=store))
    if method == "retrain":
        from core.recovery.retrain import RetrainConfig, retrain_job

        cfg = _config(RetrainConfig, method, dict(options, seed=seed))
        return (yield from retrain_job(project, defects, fidelity, cfg, scenario=scenario, store=store))
    if method == "remap":
        from core.recovery.remap import remap_job

        unknown = set(options) - {"sweeps"}
        if unknown:
            raise ParameterError("remap options", f"unknown {sorted(unknown)}; allowed: sweeps")
        return (yield from remap_job(project, defects, fidelity, scenario=scenario, store=store, **options))
    raise ParameterError("method", f"must be one of {', '.join(METHODS)} (or all on the command line); got {method!r}")


def _config(cls, method: str, options: dict):
    import dataclasses

    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = set(options) - set(allowed)
    if unknown:
        raise ParameterError(f"{method} options", f"unknown {sorted(unknown)}; allowed: {', '.join(allowed)}")
    return cls(**options)
