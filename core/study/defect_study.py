"""Sections 2 and 3 of the study: stuck-on against stuck-off per pattern, size and mapping scheme; per-array
sensitivity; rows against columns.

The trained weights are mapped again with every scheme of :data:`core.model.devices.SCHEMES` (the project's own
scheme uses the project's mapping as stored) and each mapping runs the same defect sweep. A Monte-Carlo
placement puts the same centre or band under every size and both stuck types (:mod:`core.sweeps.spec`), so
on - off and rows - columns are paired differences per placement, each with its own t interval.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from core.circuit.mapping import map_project
from core.model.defects import STUDY_PATTERNS
from core.model.devices import SCHEMES
from core.model.project import Project
from core.study.spec import StudyPlan
from core.study.stats import diff_ci, placement_means, t_ci
from core.sweeps.job import sweep_job
from core.sweeps.spec import SweepSpec


def scheme_project(project: Project, scheme: str) -> Project:
    """A view of ``project`` whose trained weights are mapped with ``scheme`` (the project itself for its own)."""
    if scheme == project.scheme and project.mapped is not None:
        return project
    view = dataclasses.replace(project, scheme=scheme, mapped=None, results=[], sweeps=[], recoveries=[])
    map_project(view)  # shares the dataset cache; the project itself is not touched
    return view


def defect_sweep_spec(plan: StudyPlan, fidelity: str, seed: int) -> SweepSpec:
    return SweepSpec(
        patterns=STUDY_PATTERNS,
        sizes=plan.sizes,
        stuck=("on", "off"),
        arrays=(),
        n_seeds=plan.seeds,
        fidelity=fidelity,
        base_seed=seed,
    )


def scheme_order(project: Project) -> list[str]:
    """The project's own scheme first, then the others."""
    return [project.scheme] + [s for s in SCHEMES if s != project.scheme]


def scheme_sweep_job(project: Project, scheme: str, spec: SweepSpec, scheduler=None):
    """Job: the defect sweep of ``spec`` with the weights mapped by ``scheme``; returns a JSON-able dict."""
    view = scheme_project(project, scheme)
    res = yield from sweep_job(view, spec, scheduler=scheduler)
    return {
        "scheme": scheme,
        "shapes": [list(s) for s in view.require_mapped().shapes],
        "spec": res.spec,
        "seconds": res.seconds,
        "n_maps": spec.with_arrays(len(view.require_mapped().arrays)).n_maps,
        "rows": res.rows,
        "sweep": res,  # the SweepResult itself (for the GUI's plots panel; not written to results.json)
    }


def _on_off(rows: Sequence[dict], **match) -> dict:
    on = placement_means(rows, stuck="on", **match)
    off = placement_means(rows, stuck="off", **match)
    return {"on": t_ci(on), "off": t_ci(off), "on_minus_off": diff_ci(on, off), "both": t_ci((on + off) / 2)}


def analyse_scheme(rows: Sequence[dict], n_arrays: int, small_line_size: float) -> dict:
    """Every summary of one scheme's sweep (see the module docstring); JSON-able."""
    patterns = [p for p in STUDY_PATTERNS if any(r["pattern"] == p for r in rows)]
    sizes = sorted({r["size"] for r in rows})
    small = lambda s: s <= small_line_size + 1e-9  # noqa: E731
    rows_small = placement_means(rows, pattern="rows", size=small)
    cols_small = placement_means(rows, pattern="columns", size=small)
    out: dict = {
        "total": _on_off(rows),
        "per_pattern": {p: _on_off(rows, pattern=p) for p in patterns},
        "per_array": {str(a): _on_off(rows, array=a) for a in range(1, n_arrays + 1)},
        "rows_vs_columns_small": {
            "max_size": small_line_size,
            "rows": t_ci(rows_small),
            "columns": t_ci(cols_small),
            "rows_minus_columns": diff_ci(rows_small, cols_small),
        },
        "per_size": {
            p: {st: [t_ci(placement_means(rows, pattern=p, stuck=st, size=s)) for s in sizes] for st in ("on", "off")}
            for p in patterns
        },
        "sizes": sizes,
    }
    per_array_both = {a: v["both"]["mean"] for a, v in out["per_array"].items()}
    out["most_sensitive_array"] = int(min(per_array_both, key=lambda a: per_array_both[a])) if per_array_both else 0
    return out


def rank_patterns(analysis: dict) -> list[tuple[str, float]]:
    """Patterns from most to least harmful (mean of stuck on and off over sizes and arrays)."""
    items = [(p, v["both"]["mean"]) for p, v in analysis["per_pattern"].items()]
    return sorted(items, key=lambda pv: pv[1] if np.isfinite(pv[1]) else 1.0)
