"""What the results panel shows and exports, free of Qt: sweep curves and their styles, point read-outs,
simulation bars with Wilson intervals, the defects behind a result, and the CSV tables.

Sizes are always the true defect sizes of the sweep table; any sideways "dodge" of curves is a drawing
offset kept apart (:func:`dodge_offsets`) and never enters a table or a CSV file.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.errors import DefectSpecError
from core.model.defects import Defect, parse_spec
from core.model.project import Project
from core.model.results import SimulationResult, SweepResult
from core.model.stats import wilson_interval
from core.sweeps.spec import make_defect

ALL = "all"
SWEEP_COLUMNS = (
    "pattern", "stuck", "array", "size", "n", "mean", "std", "ci_low", "ci_high",
    "fidelity", "r_wire_ohm", "device_model", "failures", "defect_fraction", "status",
)  # fmt: skip
SIM_COLUMNS = (
    "id", "scenario", "fidelity", "accuracy", "ci_low", "ci_high", "n_images",
    "r_wire_ohm", "device_model", "solver", "seconds", "defects",
)  # fmt: skip
REC_COLUMNS = (
    "id", "scenario", "method", "fidelity", "before", "after", "gain", "before_ci_low", "before_ci_high",
    "after_ci_low", "after_ci_high", "n_test", "r_wire_ohm", "device_model", "defects",
)  # fmt: skip
# curve styles: colour x dash x symbol (pyqtgraph symbol names); 10 x 4 x 7 keeps up to 140 curves distinct
N_COLORS = 10
DASHES = ("solid", "dash", "dot", "dashdot")
SYMBOLS = ("o", "s", "t", "d", "+", "x", "star")
FIDELITY_ORDER = ("ideal", "behavioral", "nodal", "spice")


# ---- sweep curves ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Curve:
    """One accuracy-vs-size curve of a sweep: ``rows`` index ``sweep.rows``, sorted by true size."""

    key: tuple[str, str, int]  # (pattern, stuck, array)
    rows: tuple[int, ...]
    size: np.ndarray
    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


@dataclass(frozen=True)
class CurveStyle:
    color: int  # index into app.widgets.PALETTE
    dash: str  # one of DASHES
    symbol: str  # one of SYMBOLS


def _unique(values) -> list:
    return list(dict.fromkeys(values))


def sweep_choices(rows: list[dict]) -> tuple[list[str], list[str], list[int]]:
    """(patterns, stuck types, arrays) of a sweep table in table order."""
    return (
        _unique(str(r["pattern"]) for r in rows),
        _unique(str(r["stuck"]) for r in rows),
        sorted(_unique(int(r["array"]) for r in rows)),
    )


def as_float(v) -> float:
    return math.nan if v is None else float(v)


def select_curves(rows: list[dict], pattern=ALL, stuck=ALL, array=ALL) -> list[Curve]:
    """The curves passing the filters (each ``ALL`` or one value), in sweep order; points with no map left out."""
    patterns, stucks, _ = sweep_choices(rows)
    groups: dict[tuple[str, str, int], list[int]] = {}
    for i, r in enumerate(rows):
        key = (str(r["pattern"]), str(r["stuck"]), int(r["array"]))
        if (pattern != ALL and key[0] != pattern) or (stuck != ALL and key[1] != stuck):
            continue
        if array != ALL and key[2] != int(array):
            continue
        if not r.get("n") or math.isnan(as_float(r.get("mean_accuracy"))):
            continue
        groups.setdefault(key, []).append(i)
    out = []
    for key in sorted(groups, key=lambda k: (patterns.index(k[0]), stucks.index(k[1]), k[2])):
        idx = sorted(groups[key], key=lambda i: float(rows[i]["size"]))

        def col(name, idx=idx):
            return np.array([as_float(rows[i][name]) for i in idx])

        out.append(Curve(key, tuple(idx), col("size"), col("mean_accuracy"), col("ci95_low"), col("ci95_high")))
    return out


def curve_styles(keys, rows: Optional[list[dict]] = None) -> dict:
    """A :class:`CurveStyle` per curve key, no two alike among ``keys``.

    Colour follows the pattern and dash the stuck type (in the order of the whole sweep ``rows``, so a pattern
    keeps its colour whatever the filters); the symbol follows the array when several arrays are shown, else
    the pattern again (so curves stay apart in grey print). If a sweep has more patterns, stuck types or
    arrays than colours, dashes or symbols, styles go by position instead: colour ``i % 10``, dash ``i % 4``,
    symbol ``i % 7``, distinct for up to 140 curves.
    """
    keys = list(keys)
    patterns, stucks, arrays = sweep_choices(rows) if rows else (_unique(k[j] for k in keys) for j in range(3))
    shown = _unique(k[2] for k in keys)
    if all(k[0] in patterns and k[1] in stucks for k in keys) and (
        len(patterns) <= N_COLORS and len(stucks) <= len(DASHES) and len(shown) <= len(SYMBOLS)
    ):
        return {
            k: CurveStyle(
                patterns.index(k[0]),
                DASHES[stucks.index(k[1])],
                SYMBOLS[shown.index(k[2]) if len(shown) > 1 else patterns.index(k[0]) % len(SYMBOLS)],
            )
            for k in keys
        }
    return {k: CurveStyle(i % N_COLORS, DASHES[i % len(DASHES)], SYMBOLS[i % len(SYMBOLS)]) for i, k in enumerate(keys)}


def sweep_title(sweep: SweepResult) -> str:
    """One line naming a sweep in the selector: id, grid, fidelity, points."""
    spec = sweep.spec
    pats = spec.get("patterns", [])
    what = pats[0] if len(pats) == 1 else f"{len(pats)} patterns"
    return (
        f"{sweep.id}: {what} x {len(spec.get('sizes', []))} sizes, {spec.get('fidelity', '?')}, "
        f"{len(sweep.rows)} points{' (partial)' if sweep.partial else ''}"
    )


def curve_label(key: tuple[str, str, int], show_array: bool) -> str:
    pattern, stuck, array = key
    return f"{pattern}, stuck {stuck}" + (f", array {array}" if show_array else "")


def _fmt(v, spec: str = ".3f") -> str:
    return "n/a" if v is None or math.isnan(float(v)) else format(float(v), spec)


def point_text(row: dict) -> str:
    """The read-out of one sweep point (tooltip and hover label): what it is, n, mean and 95 % interval."""
    lo, hi = as_float(row.get("ci95_low")), as_float(row.get("ci95_high"))
    ci = "n/a (needs n >= 2)" if math.isnan(lo) else f"{lo:.3f} to {hi:.3f}"
    lines = [
        f"{row['pattern']}, stuck {row['stuck']}, array {row['array']}",
        f"size {float(row['size']):g}",
        f"n = {row.get('n', 0)} placements" + (f" ({row['failures']} failed)" if row.get("failures") else ""),
        f"mean accuracy {_fmt(row.get('mean_accuracy'))}",
        f"95 % CI {ci}",
    ]
    return "\n".join(lines)


def dodge_offsets(curves: list[Curve], dodge: bool = True) -> tuple[dict, float]:
    """({key: x shift}, error-bar beam width) that set curves at the same sizes side by side (drawing only).

    The shifts span 30 % of the smallest gap between sizes, centred on the true size; without ``dodge`` every
    shift is 0 (points at their true sizes).
    """
    xs = np.unique(np.concatenate([c.size for c in curves])) if curves else np.array([])
    gap = float(np.min(np.diff(xs))) if len(xs) > 1 else 0.1
    n = len(curves)
    if not dodge:
        return {c.key: 0.0 for c in curves}, 0.1 * gap
    step = 0.3 * gap / (n - 1) if n > 1 else 0.0
    offsets = {c.key: (i - (n - 1) / 2) * step for i, c in enumerate(curves)}
    return offsets, (min(0.15 * gap, 0.8 * step) if n > 1 else 0.15 * gap)


# ---- simulations -------------------------------------------------------------------------------------------
def scenario_label(result) -> str:
    """The scenario a result was computed for: its name, ``clean`` (no defects) or ``draft`` (unsaved)."""
    return result.scenario or ("clean" if not result.defect_specs else "draft")


def result_interval(result: SimulationResult) -> tuple[float, float]:
    """95 % Wilson interval of one evaluation's accuracy over its ``n_images`` test images."""
    n = int(result.n_images)
    return wilson_interval(int(round(result.accuracy * n)), n)


def circuit_of(params: dict, project: Optional[Project]) -> tuple[float, str]:
    """(wire resistance in ohm, device model) a result ran with.

    Results record both in their params (sweeps in their spec); results from before circuit overrides
    existed ran on the project's own circuit, so that is the fallback.
    """
    r = params.get("r_wire_ohm")
    model = params.get("device_model")
    if project is not None:
        r = project.circuit.r_wire_ohm if r is None else r
        model = project.device.model if model is None else model
    return (math.nan if r is None else float(r)), ("" if model is None else str(model))


@dataclass(frozen=True)
class Bar:
    result: int  # index into project.results
    group: int  # scenario index
    condition: int  # index into SimChart.conditions
    y: float  # centre of the bar on the scenario axis
    accuracy: float
    lo: float
    hi: float


@dataclass(frozen=True)
class SimChart:
    """Grouped horizontal bars: one group per scenario, one bar per condition (fidelity, wires, device)."""

    groups: list[str]
    conditions: list[str]
    condition_fidelity: list[str]
    bars: list[Bar]
    thickness: float


def simulation_chart(results: list[SimulationResult], project: Optional[Project] = None) -> SimChart:
    """The side-by-side comparison of each scenario at every fidelity it was evaluated at.

    A condition is (fidelity, wire resistance, device model); its label names the fidelity, plus the wires
    and device model when the results differ in them. Several results of one scenario and condition show the
    latest. Group ``g`` spans ``g - 0.4 .. g + 0.4``; each condition keeps its slot in every group.
    """
    labels = [scenario_label(r) for r in results]
    groups = sorted(_unique(labels), key=lambda g: g != "clean")  # clean first, then in order of appearance
    conds = [(r.fidelity, *circuit_of(r.params, project)) for r in results]
    order = sorted(
        _unique(conds),
        key=lambda c: (fidelity_rank(c[0]), c[0], c[1], c[2]),
    )
    varied = len({c[1:] for c in order}) > 1
    names = [f"{f}, {r:g} Ω, {m}" if varied else f for f, r, m in order]
    latest = {(labels[i], conds[i]): i for i in range(len(results))}
    thickness = 0.8 / max(1, len(order))
    bars = []
    for (label, cond), i in sorted(latest.items(), key=lambda kv: kv[1]):
        g, c = groups.index(label), order.index(cond)
        lo, hi = result_interval(results[i])
        y = g - 0.4 + (c + 0.5) * thickness
        bars.append(Bar(i, g, c, y, float(results[i].accuracy), lo, hi))
    return SimChart(groups, names, [c[0] for c in order], bars, thickness)


# ---- the defects behind a result ---------------------------------------------------------------------------
def simulation_defects(project: Project, result) -> tuple[list[Defect], str]:
    """(defects, label) of a simulation or recovery result, rebuilt from its defect specs.

    A mask's cells are not in its spec: if the result names a scenario of the project, its masks come from
    there; a defect that cannot be rebuilt is left out and the label says so.
    """
    label = f"{result.id}: {scenario_label(result)} ({result.fidelity})"
    specs = list(result.defect_specs)
    scenario = project.scenarios.get(result.scenario) if result.scenario else None
    masks = [copy.deepcopy(d) for d in scenario.defects if d.pattern == "mask"] if scenario else []
    defects, missing = [], 0
    for spec in specs:
        if spec.startswith("mask:"):
            if masks:
                defects.append(masks.pop(0))
            else:
                missing += 1
            continue
        try:
            defects.append(parse_spec(spec))
        except DefectSpecError:
            missing += 1
    if missing:
        label += f"; {missing} defect{'s' if missing > 1 else ''} could not be rebuilt (mask not stored)"
    return defects, label


def sweep_point_defects(sweep: SweepResult, row: dict, shape: tuple[int, int]) -> tuple[list[Defect], str]:
    """(defects, label) of a sweep point: its first Monte-Carlo placement (seed 0), as the sweep drew it."""
    spec = sweep.spec
    d = make_defect(
        str(row["pattern"]), float(row["size"]), str(row["stuck"]), int(row["array"]), 0, tuple(shape),
        int(spec.get("base_seed", 0)),
    )  # fmt: skip
    label = (
        f"{sweep.id}: {row['pattern']} size {float(row['size']):g}, stuck {row['stuck']}, array {row['array']} "
        f"(placement 1 of {spec.get('n_seeds', '?')})"
    )
    return [d], label


# ---- tables and CSV ----------------------------------------------------------------------------------------


def fidelity_rank(fidelity: str) -> int:
    return FIDELITY_ORDER.index(fidelity) if fidelity in FIDELITY_ORDER else len(FIDELITY_ORDER)
