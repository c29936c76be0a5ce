"""Tables of the results view as rows and cells, and writing them as CSV with named columns (Qt-free)."""

from __future__ import annotations

import csv
import math
from typing import Optional

from app.presenters.results_view import (
    REC_COLUMNS,
    SIM_COLUMNS,
    SWEEP_COLUMNS,
    as_float,
    circuit_of,
    fidelity_rank,
    result_interval,
    scenario_label,
)
from core.model.project import Project
from core.model.results import RecoveryResult, SweepResult
from core.model.stats import wilson_interval


def sweep_table(sweep: SweepResult, project: Optional[Project] = None) -> list[dict]:
    """Every row of a sweep as a dict with :data:`SWEEP_COLUMNS` keys (true sizes, NaN where undefined)."""
    r_wire, model = circuit_of(sweep.spec, project)
    fidelity = sweep.spec.get("fidelity", "")
    return [
        dict(zip(SWEEP_COLUMNS, (
            r["pattern"], r["stuck"], int(r["array"]), float(r["size"]), int(r.get("n", 0)),
            as_float(r.get("mean_accuracy")), as_float(r.get("std")),
            as_float(r.get("ci95_low")), as_float(r.get("ci95_high")),
            r.get("fidelity", fidelity), r_wire, model, int(r.get("failures", 0)), as_float(r.get("defect_fraction")),
            r.get("status", ""),
        ), strict=True))
        for r in sweep.rows
    ]  # fmt: skip


def simulation_table(project: Project) -> list[dict]:
    """Every simulation result as a dict with :data:`SIM_COLUMNS` keys, in project order."""
    out = []
    for r in project.results:
        lo, hi = result_interval(r)
        r_wire, model = circuit_of(r.params, project)
        values = (
            r.id, scenario_label(r), r.fidelity, float(r.accuracy), lo, hi, int(r.n_images), r_wire, model,
            r.solver, float(r.seconds), "; ".join(r.defect_specs),
        )  # fmt: skip
        out.append(dict(zip(SIM_COLUMNS, values, strict=True)))
    return out


def recovery_table(project: Project) -> list[dict]:
    """Every recovery run as a dict with :data:`REC_COLUMNS` keys (Wilson intervals over its test images)."""
    out = []
    for r in project.recoveries:
        r_wire, model = circuit_of(r.params, project)
        values = (
            r.id, scenario_label(r), r.method, r.fidelity, float(r.before), float(r.after), float(r.after - r.before),
            *recovery_interval(r, "before"), *recovery_interval(r, "after"), int(r.params.get("n_test", 0) or 0),
            r_wire, model, "; ".join(r.defect_specs),
        )  # fmt: skip
        out.append(dict(zip(REC_COLUMNS, values, strict=True)))
    return out


SIM_HEADERS = (
    "id", "scenario", "fidelity", "accuracy", "95 % CI", "n", "wire R (Ω)", "device", "solver", "seconds", "defects",
)  # fmt: skip
REC_HEADERS = ("id", "scenario", "method", "fidelity", "before", "after", "gain", "after 95 % CI")


def _ci(lo: float, hi: float) -> str:
    return "n/a" if math.isnan(lo) else f"{lo:.3f}–{hi:.3f}"


def simulation_cells(rows: list[dict]) -> list[list[tuple[str, object]]]:
    """(text, sort key) per cell of the simulations table (:data:`SIM_HEADERS`) from :func:`simulation_table`."""
    return [
        [
            (r["id"], r["id"]), (r["scenario"], r["scenario"]), (r["fidelity"], fidelity_rank(r["fidelity"])),
            (f"{r['accuracy']:.3f}", r["accuracy"]), (_ci(r["ci_low"], r["ci_high"]), r["ci_low"]),
            (str(r["n_images"]), r["n_images"]), (f"{r['r_wire_ohm']:g}", r["r_wire_ohm"]),
            (r["device_model"], r["device_model"]), (r["solver"], r["solver"]),
            (f"{r['seconds']:.3g}", r["seconds"]),  # fast behavioural runs take well under a millisecond
            (r["defects"], r["defects"]),
        ]
        for r in rows
    ]  # fmt: skip


def recovery_cells(rows: list[dict]) -> list[list[tuple[str, object]]]:
    """(text, sort key) per cell of the recovery table (:data:`REC_HEADERS`) from :func:`recovery_table`."""
    return [
        [
            (r["id"], r["id"]), (r["scenario"], r["scenario"]), (r["method"], r["method"]),
            (r["fidelity"], fidelity_rank(r["fidelity"])), (f"{r['before']:.3f}", r["before"]),
            (f"{r['after']:.3f}", r["after"]), (f"{r['gain']:+.3f}", r["gain"]),
            (_ci(r["after_ci_low"], r["after_ci_high"]), r["after_ci_low"]),
        ]
        for r in rows
    ]  # fmt: skip


def _cell(v):
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)  # shortest exact float text; empty for undefined
    return v


def write_csv(path: str, columns, rows: list[dict]) -> str:
    """Write ``rows`` (dicts) under a header of ``columns`` to ``path`` (``.csv`` added if missing)."""
    path = with_suffix(path, "csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([_cell(r[c]) for c in columns])
    return path


def with_suffix(path: str, fmt: str) -> str:
    """``path`` ending in ``.fmt`` (appended unless already there, so no other file is overwritten)."""
    return path if path.lower().endswith("." + fmt.lower()) else f"{path}.{fmt}"


def recovery_interval(result: RecoveryResult, which: str) -> tuple[float, float]:
    """Wilson 95 % interval of a recovery run's ``before`` or ``after`` accuracy (NaN without ``n_test``)."""
    n = int(result.params.get("n_test", 0) or 0)
    return wilson_interval(int(round(getattr(result, which) * n)), n)
