"""Rasterizing the defect maps of a sweep chunk in one go: (M, rows, cols) masks without a Defect per map.

:func:`chunk_defects` gives, for the M maps of one chunk (one array), exactly the masks of
``make_defect(pattern, size, stuck, array, k, shape, base_seed).cells(shape)`` and the stuck conductances of
``Defect.stuck_conductance``, computed per pattern group with numpy broadcasting:

``circle``, ``ring``, ``circle_complement``  the squared distance of every cell centre to each map's centre,
    ``(x - cx)**2 + (y - cy)**2`` with the very operations of :meth:`core.model.defects.Defect.cells` (so the
    comparisons against ``r**2`` are bit-identical); the radii are squared in Python as there;
``rows``, ``columns``                        a band test ``start <= i < start + count`` per map;
``checkerboard``                             one board per distinct period, the phase selects it or its
    complement;
``random``                                   one permutation per distinct seed (a seed per Monte-Carlo index),
    a cell is stuck when its rank in the permutation is below the map's count.

The placement parameters are those of :func:`core.sweeps.spec.make_defect`, computed on arrays with the same
IEEE operations (``round`` half to even as ``numpy.rint``, ``floor``, truncation). A map whose parameters fall
outside what :class:`~core.model.defects.Defect` accepts (or whose pattern is not vectorized here) goes through
the per-map path ``make_defect(...).cells(shape)`` instead, so its error text is the one a single map gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.errors import describe_error
from core.model.defects import MAX_ARRAYS, PATTERNS
from core.model.devices import DeviceParams
from core.model.variability import DeviceVariability
from core.sweeps.spec import RING_MEAN_RADIUS, make_defect, placement_uniforms

VECTOR_PATTERNS = ("circle", "ring", "circle_complement", "rows", "columns", "checkerboard", "random")
# float64 temporaries of the distance patterns are bounded to this many cells per step (32 MB)
MAX_STEP_CELLS = 1 << 22


@dataclass
class ChunkDefects:
    """The defects of the M maps of a chunk on one array of ``shape``.

    Attributes
    ----------
    masks
        (M, rows, cols) bool: the stuck cells of each map (all False for ``none`` and failed maps).
    g_stuck
        (M,) stuck conductance (S) of each map (0 where none or failed).
    fraction
        (M,) stuck-cell fraction (0 for ``none``, NaN for failed maps).
    defective
        (M,) bool: the map has a defect (its mask applies).
    errors
        Per map: '' if fine, else why it could not be built.
    """

    masks: np.ndarray
    g_stuck: np.ndarray
    fraction: np.ndarray
    defective: np.ndarray
    errors: list[str]

    @property
    def ok(self) -> list[int]:
        """Indices of the maps that were built."""
        return [j for j, e in enumerate(self.errors) if not e]


def placement_params(pattern: str, size: np.ndarray, u: np.ndarray, shape: tuple[int, int]) -> dict:
    """The Defect parameters of :func:`~core.sweeps.spec.make_defect` for arrays of sizes and uniforms ``u``
    (the ``v`` uniform is the circle's ``cy``, added by the caller), as arrays of the same values."""
    rows, cols = shape
    size = np.asarray(size, dtype=np.float64)
    if pattern == "ring":
        return {"r_in": np.maximum(0.0, RING_MEAN_RADIUS - size / 2), "r_out": RING_MEAN_RADIUS + size / 2}
    if pattern in ("circle", "circle_complement"):
        return {"r": size}
    if pattern in ("rows", "columns"):
        n = rows if pattern == "rows" else cols
        count = np.minimum(n, np.maximum(1, np.rint(size * n).astype(np.int64)))
        start = np.floor(u * (n - count + 1).astype(np.float64)).astype(np.int64)
        return {"start": start, "count": count}
    if pattern == "checkerboard":
        period = np.maximum(1, np.rint(size * min(rows, cols)).astype(np.int64))
        return {"period": period, "phase": (u < 0.5).astype(np.int64)}
    if pattern == "random":
        return {"fraction": size, "seed": np.trunc(u * (2**31 - 1)).astype(np.int64)}
    raise ValueError(f"pattern {pattern!r} is not vectorized")


def params_valid(pattern: str, params: dict) -> np.ndarray:
    """(M,) bool: the parameters are within the ranges :class:`~core.model.defects.Defect` accepts."""
    n = len(next(iter(params.values()))) if params else 0
    ok = np.ones(n, dtype=bool)
    for key, value in params.items():
        _, lo, hi, _ = PATTERNS[pattern][key]
        ok &= np.isfinite(value) & (value >= lo) & (value <= hi)
    if pattern == "ring":
        ok &= params["r_out"] > params["r_in"]
    return ok


def _squares(values: np.ndarray) -> np.ndarray:
    """``r ** 2`` with Python floats, as ``Defect.cells`` squares its radii (C ``pow``, not ``x * x``)."""
    table = {v: v**2 for v in set(values.tolist())}
    return np.array([table[v] for v in values.tolist()], dtype=np.float64).reshape(values.shape)


def pattern_masks(pattern: str, params: dict, shape: tuple[int, int], out: Optional[np.ndarray] = None) -> np.ndarray:
    """(M, rows, cols) bool masks of M maps of one vectorized pattern with parameter arrays ``params``."""
    rows, cols = shape
    m = len(next(iter(params.values())))
    if out is None:
        out = np.empty((m, rows, cols), dtype=bool)
    if pattern in ("circle", "ring", "circle_complement"):
        x = (np.arange(cols) + 0.5) / cols
        y = (np.arange(rows) + 0.5) / rows
        if pattern == "ring":
            lo2, hi2 = _squares(params["r_in"]), _squares(params["r_out"])
        else:
            r2 = _squares(params["r"])
        step = max(1, MAX_STEP_CELLS // max(1, rows * cols))
        for s in range(0, m, step):
            e = min(m, s + step)
            dx2 = (x[None, :] - params["cx"][s:e, None]) ** 2
            dy2 = (y[None, :] - params["cy"][s:e, None]) ** 2
            d2 = dx2[:, None, :] + dy2[:, :, None]
            if pattern == "circle":
                np.less_equal(d2, r2[s:e, None, None], out=out[s:e])
            elif pattern == "circle_complement":
                np.greater(d2, r2[s:e, None, None], out=out[s:e])
            else:
                np.greater(d2, lo2[s:e, None, None], out=out[s:e])
                out[s:e] &= d2 <= hi2[s:e, None, None]
        return out
    if pattern in ("rows", "columns"):
        n = rows if pattern == "rows" else cols
        i = np.arange(n)
        start, count = params["start"][:, None], params["count"][:, None]
        band = (i >= start) & (i < start + count)  # (M, n); a band past the edge is clipped as in Defect.cells
        out[...] = band[:, :, None] if pattern == "rows" else band[:, None, :]
        return out
    if pattern == "checkerboard":
        yy, xx = np.arange(rows)[:, None], np.arange(cols)[None, :]
        periods, which = np.unique(params["period"], return_inverse=True)
        boards = np.empty((len(periods), 2, rows, cols), dtype=bool)
        for n, p in enumerate(periods.tolist()):
            boards[n, 0] = ((yy // p + xx // p) % 2) == 0
            np.logical_not(boards[n, 0], out=boards[n, 1])
        out[...] = boards[which.reshape(-1), params["phase"]]
        return out
    if pattern == "random":
        n_cells = rows * cols
        seeds, which = np.unique(params["seed"], return_inverse=True)
        which = which.reshape(-1)
        n_bad = np.array([int(round(f * rows * cols)) for f in params["fraction"].tolist()], dtype=np.int64)
        for n, seed in enumerate(seeds.tolist()):
            rank = np.empty(n_cells, dtype=np.int64)
            rank[np.random.default_rng(seed).permutation(n_cells)] = np.arange(n_cells)
            sel = np.flatnonzero(which == n)
            out[sel] = (rank[None, :] < n_bad[sel, None]).reshape(len(sel), rows, cols)
        return out
    raise ValueError(f"pattern {pattern!r} is not vectorized")


def _unit(size) -> bool:
    """Whether ``size`` is a number in [0, 1] (what the vectorized placements handle)."""
    try:
        return 0.0 <= float(size) <= 1.0
    except (TypeError, ValueError):
        return False


def chunk_defects(
    items,
    array: int,
    shape: tuple[int, int],
    base_seed: int,
    device: DeviceParams,
    variability: Optional[DeviceVariability] = None,
) -> ChunkDefects:
    """The masks, stuck conductances and stuck fractions of the maps ``items`` of a chunk on ``array``.

    ``items`` are :data:`core.sweeps.chunks.ChunkItem` tuples ``(row, pattern, size, stuck, k, sigma)``. Never
    raises for a bad map: its error is recorded (the text of the per-map path) and the others go on.
    """
    rows, cols = (int(shape[0]), int(shape[1]))
    m = len(items)
    masks = np.zeros((m, rows, cols), dtype=bool)
    g_stuck, fraction = np.zeros(m), np.full(m, np.nan)
    defective = np.zeros(m, dtype=bool)
    errors = [""] * m
    slow: list[int] = []
    groups: dict[str, list[int]] = {}
    for j, item in enumerate(items):
        pattern = item[1]
        if pattern == "none":
            fraction[j] = 0.0
        elif pattern in VECTOR_PATTERNS and 1 <= array <= MAX_ARRAYS and rows > 0 and cols > 0 and _unit(item[2]):
            groups.setdefault(pattern, []).append(j)
        else:  # sizes outside [0, 1] never come from a SweepSpec; make_defect handles (or refuses) them exactly
            slow.append(j)
    # one representative Defect per (pattern, stuck) checks the stuck value and gives its conductance
    conductance: dict[tuple[str, str], Optional[float]] = {}
    for pattern, idx in groups.items():
        fast: list[int] = []
        for j in idx:
            key = (pattern, items[j][3])
            if key not in conductance:
                _, _, size, stuck, k, _ = items[j]
                try:
                    d = make_defect(pattern, size, stuck, array, k, (rows, cols), base_seed)
                    conductance[key] = d.stuck_conductance(device, variability)
                except Exception:  # noqa: BLE001 - the per-map path records why
                    conductance[key] = None
            (slow if conductance[key] is None else fast).append(j)
        if not fast:
            continue
        sel = np.array(fast)
        try:
            size = np.array([float(items[j][2]) for j in fast])
            uv = np.array([placement_uniforms(int(base_seed), int(items[j][4]), pattern, int(array)) for j in fast])
        except Exception:  # noqa: BLE001 - e.g. a seed index that is not an integer: map by map
            slow.extend(fast)
            continue
        params = placement_params(pattern, size, uv[:, 0], (rows, cols))
        good = params_valid(pattern, params)
        if pattern in ("circle", "ring", "circle_complement"):
            params = {"cx": uv[:, 0], "cy": uv[:, 1], **params}
        if not good.all():
            slow.extend(sel[~good].tolist())
            sel = sel[good]
            params = {k: v[good] for k, v in params.items()}
        if not len(sel):
            continue
        masks[sel] = pattern_masks(pattern, params, (rows, cols))
        g_stuck[sel] = [conductance[(pattern, items[j][3])] for j in sel.tolist()]
        defective[sel] = True
    for j in slow:  # the per-map path: patterns not vectorized here and maps that it refuses
        _, pattern, size, stuck, k, _ = items[j]
        try:
            d = make_defect(pattern, size, stuck, array, k, (rows, cols), base_seed)
            cells, g = d.cells((rows, cols)), d.stuck_conductance(device, variability)
            masks[j], g_stuck[j], defective[j] = cells, g, True
        except Exception as e:  # noqa: BLE001 - a bad map must not sink the sweep
            errors[j] = describe_error(e)
    if defective.any():
        fraction[defective] = np.count_nonzero(masks, axis=(1, 2))[defective] / (rows * cols)
    return ChunkDefects(masks, g_stuck, fraction, defective, errors)
