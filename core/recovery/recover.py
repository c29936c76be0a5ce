"""One job interface over the three recovery methods (see :mod:`core.recovery`)."""

from __future__ import annotations

import dataclasses

from core.errors import ParameterError
from core.evaluate import project_view
from core.recovery.common import METHODS
from core.recovery.correction import CorrectionConfig, correction_job
from core.recovery.remap import remap_job
from core.recovery.retrain import RetrainConfig, retrain_job

__all__ = ["METHODS", "recover_job"]


def recover_job(
    project,
    defects,
    method: str,
    fidelity: str = "behavioral",
    *,
    seed: int = 0,
    scenario: str = "",
    r_wire_ohm=None,
    device_model=None,
    **options,
):
    """Job: run one recovery ``method`` on the project's network with ``defects``.

    Parameters
    ----------
    project : core.model.project.Project
        A trained and mapped project.
    defects : sequence of core.model.defects.Defect
        The defect map (known to retrain and remap; correction only sees the circuit's voltages).
    method : {'correction', 'retrain', 'remap'}
    fidelity : {'behavioral', 'nodal', 'spice'}
        Fidelity of the circuit the method trains on (correction) and of every reported accuracy.
    seed : int
        Seed of every random choice; equal seeds give identical results.
    r_wire_ohm, device_model
        Circuit overrides (default: the project's); recorded in the result's ``params``.
    **options
        Method-specific hyper-parameters (see each method's job).

    Returns
    -------
    core.model.project.RecoveryResult
    """
    project = project_view(project, r_wire_ohm, device_model)
    if method == "correction":
        cfg = _config(CorrectionConfig, method, dict(options, seed=seed))
        return (yield from correction_job(project, defects, fidelity, cfg, scenario=scenario))
    if method == "retrain":
        cfg = _config(RetrainConfig, method, dict(options, seed=seed))
        return (yield from retrain_job(project, defects, fidelity, cfg, scenario=scenario))
    if method == "remap":
        unknown = set(options) - {"sweeps"}
        if unknown:
            raise ParameterError("remap options", f"unknown {sorted(unknown)}; allowed: sweeps")
        return (yield from remap_job(project, defects, fidelity, scenario=scenario, **options))
    raise ParameterError("method", f"must be one of {', '.join(METHODS)} (or all on the command line); got {method!r}")


def _config(cls, method: str, options: dict):
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = set(options) - set(allowed)
    if unknown:
        raise ParameterError(f"{method} options", f"unknown {sorted(unknown)}; allowed: {', '.join(allowed)}")
    return cls(**options)
