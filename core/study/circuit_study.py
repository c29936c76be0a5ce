"""Sections 1 and 6 of the study: the defect-free accuracy at every fidelity (and of the software network), and
the defect-free circuit under op-amp input offsets and device variability (Monte-Carlo sweeps, one draw per seed).
"""

from __future__ import annotations

from core.errors import WorkbenchError
from core.evaluate import FIDELITIES, evaluate_job
from core.jobs import Progress
from core.model.project import Project
from core.model.variability import DeviceVariability
from core.study.spec import StudyPlan
from core.study.stats import t_ci, wilson_ci
from core.sweeps.job import sweep_job
from core.sweeps.spec import SweepSpec


def clean_job(project: Project):
    """Job: defect-free test accuracy at every fidelity with its Wilson interval; a fidelity that cannot run
    (no ngspice) is recorded with the reason."""
    out = {}
    for i, fid in enumerate(FIDELITIES):
        yield Progress(i, len(FIDELITIES), f"clean accuracy at {fid}")
        try:
            r = yield from evaluate_job(project, (), fid)
        except WorkbenchError as e:
            out[fid] = {"error": str(e)}
            continue
        out[fid] = {**wilson_ci(r.accuracy, r.n_images), "seconds": r.seconds, "solver": r.solver}
    return out


def _clean_rows(rows):
    return [{"offset_sigma_volt": r.get("offset_sigma_volt", 0.0), **t_ci(r["accuracies"])} for r in rows]


def offsets_job(project: Project, plan: StudyPlan, fidelity: str, seed: int):
    """Job: the defect-free circuit with per-op-amp input offsets of each sigma (paired draws across sigmas)."""
    spec = SweepSpec(
        patterns=("none",),
        n_seeds=plan.circuit_seeds,
        fidelity=fidelity,
        base_seed=seed,
        offset_sigma_volt=plan.offset_sigmas_volt,
    )
    res = yield from sweep_job(project, spec)
    return {"spec": res.spec, "rows": _clean_rows(res.rows)}


def variability_job(project: Project, plan: StudyPlan, fidelity: str, seed: int):
    """Job: the defect-free circuit with lognormal programming error of each sigma, and with read noise."""
    spec = SweepSpec(patterns=("none",), n_seeds=plan.circuit_seeds, fidelity=fidelity, base_seed=seed)
    settings = [("program_sigma", s) for s in plan.program_sigmas] + [
        ("read_noise_sigma", s) for s in plan.read_noise_sigmas
    ]
    rows = []
    for i, (field, value) in enumerate(settings):
        yield Progress(i, len(settings), f"device variability: {field} = {value:g}")
        var = (
            DeviceVariability(program_sigma=value)
            if field == "program_sigma"
            else DeviceVariability(read_noise_sigma=value)
        )
        res = yield from sweep_job(project, spec, variability=var)
        rows.append({"field": field, "value": value, **t_ci(res.rows[0]["accuracies"]), "spec": res.spec})
    return {"rows": rows}
