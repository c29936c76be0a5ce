"""Measured defect maps: a resistance (or conductance) map of one array, one tile or the whole die, classified into
stuck cells by thresholds.

A measured map is what a tester reads off a real crossbar: one value per cell. Cells at or below ``on_below_ohm``
count as stuck on (shorted or stuck in LRS), cells at or above ``off_above_ohm`` as stuck off (unformed or stuck in
HRS); with a value band ``band_ohm = (lo, hi)`` the cells in it (far from both programmed states) are stuck at their
measured resistance (one ``stuck=<ohm>`` mask per :data:`VALUE_STEP` log bin, so within half a step of it); the rest
are healthy and are programmed as the mapping asks. The map and its thresholds are kept with the scenario made from
it (:class:`MeasuredMap`), so anyone opening the project sees where its defects came from.

A whole-die map (``array == DIE``) is one matrix of every array's mosaic side by side
(:func:`core.model.floorplan.die_map_layout`); its ``layout`` says where each tile sits, and it splits into one
mask per array and tile. Cells of the matrix that hold no device are NaN.

The statistics of a map (defective fraction, clusters, line alignment, a verdict) are
:func:`core.model.defect_stats.defect_statistics`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from core.errors import DefectSpecError, ParameterError
from core.model.defect_stats import DefectStatistics, defect_statistics, statistics_text
from core.model.defects import Defect
from core.model.floorplan import DiePiece, die_map_layout, die_map_shape, die_map_text

# unit name -> (factor to the unit's base, base): ohm-like values are multiplied into ohm, siemens-like into S
UNITS = {
    "ohm": (1.0, "ohm"),
    "kohm": (1e3, "ohm"),
    "mohm": (1e6, "ohm"),
    "S": (1.0, "S"),
    "mS": (1e-3, "S"),
    "uS": (1e-6, "S"),
}
R_RANGE_OHM = (1e-3, 1e15)  # from a hard short to an open (values outside are refused as misread units)
MAX_CELLS = 4096 * 4096
DIE = 0  # MeasuredMap.array of a whole-die map
VALUE_STEP = 0.02  # stuck-at-value cells: one defect per 2 % log bin of resistance (within 1 % of the measured value)
STUCK_OHM_RANGE = (1.0, 1e12)  # what a stuck=<ohm> defect may hold (core.model.defects)


@dataclass
class MeasuredMap:
    """A measured map of array ``array`` (1-based; :data:`DIE` for the whole die) in ohms, with its thresholds.

    ``source`` is the file's base name (provenance only: never opened again) and ``unit`` the unit the file was
    read in. ``band_ohm`` (optional) is the value band: cells in it that are not stuck on or off are stuck at their
    measured value. A die map carries its ``layout`` (one :class:`~core.model.floorplan.DiePiece` per tile).
    """

    name: str
    array: int
    resistance_ohm: np.ndarray = field(repr=False)
    on_below_ohm: float
    off_above_ohm: float
    unit: str = "ohm"
    source: str = ""
    # measured on one tile of a tiled array (core.model.tiling), row-major; None: the whole array
    tile: Optional[int] = None
    band_ohm: Optional[tuple[float, float]] = None
    layout: tuple[DiePiece, ...] = ()

    def __post_init__(self) -> None:
        if self.tile is not None and not (isinstance(self.tile, (int, np.integer)) and 0 <= int(self.tile) < 1 << 20):
            raise ParameterError("tile", f"must be a tile index from 0; got {self.tile!r}")
        if self.unit not in UNITS:
            raise ParameterError("unit", f"must be one of {', '.join(UNITS)}; got {self.unit!r}")
        check_thresholds(self.on_below_ohm, self.off_above_ohm)
        if self.band_ohm is not None:
            self.band_ohm = check_band(self.band_ohm, self.on_below_ohm, self.off_above_ohm)
        self.layout = tuple(self.layout)
        if self.array == DIE:
            if self.tile is not None or not self.layout:
                raise ParameterError("die map", "needs its layout (the tiles it covers) and no tile of its own")
            self.resistance_ohm = _check_die_values(self.resistance_ohm, self.layout)
        else:
            if self.layout:
                raise ParameterError("layout", "only a whole-die map has one")
            self.resistance_ohm = check_map(self.resistance_ohm)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.resistance_ohm.shape)

    @property
    def is_die(self) -> bool:
        return self.array == DIE

    @property
    def pieces(self) -> tuple[DiePiece, ...]:
        """Where the map's cells go: a die map's layout, else one piece (this array or tile) covering the map."""
        if self.layout:
            return self.layout
        return (DiePiece(self.array, self.tile, 0, 0, *self.shape),)

    def device_cells(self) -> np.ndarray:
        """Boolean mask of the matrix cells that are devices (all but a die map's empty corners)."""
        return ~np.isnan(self.resistance_ohm)

    def masks(self) -> tuple[np.ndarray, np.ndarray]:
        """(stuck-on cells, stuck-off cells) as boolean masks."""
        return classify(self.resistance_ohm, self.on_below_ohm, self.off_above_ohm)

    def value_mask(self) -> np.ndarray:
        """Cells stuck at their measured value: in the value band, not stuck on or off (none without a band)."""
        r = self.resistance_ohm
        if self.band_ohm is None:
            return np.zeros(r.shape, dtype=bool)
        on, off = self.masks()
        lo, hi = self.band_ohm
        return (r >= lo) & (r <= hi) & ~on & ~off

    def defective(self) -> np.ndarray:
        on, off = self.masks()
        return on | off | self.value_mask()

    def defects(self) -> list[Defect]:
        """The map as defects: per piece (array or tile) one mask stuck on, one stuck off and, with a value band,
        one ``stuck=<ohm>`` mask per :data:`VALUE_STEP` bin (each left out when it has no cell)."""
        on, off = self.masks()
        val = self.value_mask()
        step = math.log1p(VALUE_STEP)
        out = []
        for p in self.pieces:
            sl = p.slices
            for stuck, m in (("on", on[sl]), ("off", off[sl])):
                if m.any():
                    out.append(Defect("mask", p.array, stuck, 0.0, {}, mask=m, tile=p.tile))
            v = val[sl]
            if v.any():
                bins = np.rint(np.log(np.where(v, self.resistance_ohm[sl], 1.0)) / step).astype(np.int64)
                for b in np.unique(bins[v]):
                    ohm = float(np.clip(math.exp(b * step), *STUCK_OHM_RANGE))
                    out.append(Defect("mask", p.array, "ohm", ohm, {}, mask=v & (bins == b), tile=p.tile))
        return out

    def where(self) -> str:
        if self.is_die:
            arrays = sorted({p.array for p in self.layout})
            return f"the whole die ({len(arrays)} arrays, {len(self.layout)} tiles)"
        return f"array {self.array}" + ("" if self.tile is None else f" tile {self.tile}")

    def description(self) -> str:
        on, off = self.masks()
        band = ""
        if self.band_ohm is not None:
            band = (
                f", stuck at the measured value in [{self.band_ohm[0]:g}, {self.band_ohm[1]:g}] ohm "
                f"({int(self.value_mask().sum())} cells)"
            )
        return (
            f"measured map {self.name!r} of {self.where()}" + f" from {self.source or 'memory'} ({self.unit}): "
            f"stuck on at <= {self.on_below_ohm:g} ohm ({int(on.sum())} cells), stuck off at >= "
            f"{self.off_above_ohm:g} ohm ({int(off.sum())} cells)" + band
        )

    def statistics(self) -> DefectStatistics:
        """Defect statistics of the whole map (a die map: over its device cells only)."""
        return defect_statistics(self.defective(), valid=self.device_cells() if self.is_die else None)

    def piece_statistics(self) -> list[tuple[DiePiece, DefectStatistics]]:
        """Per piece (tile or array) its defect statistics: the defective fraction per tile of a die map."""
        bad = self.defective()
        return [(p, defect_statistics(bad[p.slices])) for p in self.pieces]

    def statistics_text(self) -> str:
        """What ``defect-stats --map`` and the dialog's Map statistics print: the map's statistics, then per tile."""
        lines = [self.description(), statistics_text(self.statistics())]
        if len(self.pieces) > 1:
            for p, s in self.piece_statistics():
                lines.append(
                    f"  {p.label}: {s.n_defective} of {s.shape[0] * s.shape[1]} defective ({100 * s.fraction:.1f} %), "
                    f"looks like: {s.verdict}"
                )
        return "\n".join(lines)


def programming_deviation(m: MeasuredMap, device) -> dict:
    """How far the healthy cells of ``m`` read from the nearest programmed state: ``ln(G / G_state)`` statistics.

    The states are the device's ``levels`` (evenly spaced in conductance between HRS and LRS), or only HRS and LRS
    when it is continuous (any value in between could have been programmed: the spread is then an upper bound).
    ``sigma_ln`` is comparable with ``--program-sigma`` (lognormal programming error); the map itself does not
    record which state each cell was programmed to, so this is a statistic, not a per-cell error.
    """
    bad = m.defective() | ~m.device_cells()
    g = 1.0 / m.resistance_ohm[~bad]
    n_levels = device.levels if device.levels >= 2 else 2
    states = np.linspace(device.g_off_siemens, device.g_on_siemens, n_levels)
    if g.size == 0:
        return {"n_cells": 0, "median_ln": 0.0, "sigma_ln": 0.0, "states": int(n_levels)}
    nearest = states[np.abs(np.log(g)[:, None] - np.log(states)[None, :]).argmin(axis=1)]
    dev = np.log(g / nearest)
    return {
        "n_cells": int(g.size),
        "median_ln": float(np.median(dev)),
        "sigma_ln": float(dev.std()),
        "states": int(n_levels),
    }


def _check_die_values(values, layout: tuple[DiePiece, ...]) -> np.ndarray:
    """The die matrix with its device cells checked (:func:`check_map`) and every other cell NaN."""
    a = np.asarray(values)
    if a.ndim != 2 or a.size == 0 or a.dtype.kind not in "iuf":
        raise ParameterError("map", f"must be a 2-D matrix of numbers, got shape {a.shape}, dtype {a.dtype}")
    if a.size > MAX_CELLS:
        raise ParameterError("map", f"has {a.size} cells, more than the {MAX_CELLS} allowed")
    a = a.astype(np.float64)
    device = np.zeros(a.shape, dtype=bool)
    for p in layout:
        if p.row < 0 or p.col < 0 or p.row + p.rows > a.shape[0] or p.col + p.cols > a.shape[1]:
            raise ParameterError("die map", f"{p.label} ({p.rows}x{p.cols} at {p.row}, {p.col}) is outside {a.shape}")
        device[p.slices] = True
    out = np.full(a.shape, np.nan)
    vals = a[device]
    check_map(np.where(device, a, 1.0))  # names the first bad device cell; the others hold a harmless 1 ohm
    out[device] = vals
    return out


def check_band(band, on_below_ohm: float, off_above_ohm: float) -> tuple[float, float]:
    """A value band ``(lo, hi)`` with ``on_below <= lo < hi <= off_above``, in the range a stuck value may take."""
    try:
        lo, hi = (float(v) for v in band)
    except (TypeError, ValueError):
        raise ParameterError("stuck-at-value band", f"must be two resistances (low, high), got {band!r}") from None
    a, b = STUCK_OHM_RANGE
    if not (math.isfinite(lo) and math.isfinite(hi) and a <= lo < hi <= b):
        raise ParameterError("stuck-at-value band", f"must be low < high within [{a:g}, {b:g}] ohm, got {band!r}")
    if lo < on_below_ohm or hi > off_above_ohm:
        raise ParameterError(
            "stuck-at-value band",
            f"[{lo:g}, {hi:g}] ohm must lie between the stuck-on threshold ({on_below_ohm:g} ohm) and the stuck-off "
            f"threshold ({off_above_ohm:g} ohm)",
        )
    return lo, hi


def check_map(values) -> np.ndarray:
    """A finite, positive 2-D float64 map within :data:`R_RANGE_OHM`; raises ParameterError naming the problem."""
    a = np.asarray(values)
    if a.ndim != 2 or a.size == 0:
        raise ParameterError("map", f"must be a 2-D matrix (rows x columns), got shape {a.shape}")
    if a.size > MAX_CELLS:
        raise ParameterError("map", f"has {a.size} cells, more than the {MAX_CELLS} allowed")
    if a.dtype.kind not in "iuf":
        raise ParameterError("map", f"must hold numbers, got dtype {a.dtype}")
    a = a.astype(np.float64)
    bad = ~np.isfinite(a) | (a <= 0)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ParameterError("map", f"values must be finite and > 0; cell ({r}, {c}) holds {float(a[r, c]):g}")
    lo, hi = R_RANGE_OHM
    if a.min() < lo or a.max() > hi:
        raise ParameterError(
            "map",
            f"resistances must be in [{lo:g}, {hi:g}] ohm, got {a.min():g} .. {a.max():g} ohm (wrong --unit?)",
        )
    return a


def check_thresholds(on_below_ohm: float, off_above_ohm: float) -> None:
    lo, hi = R_RANGE_OHM
    on_name, off_name = "stuck-on threshold (--on-below)", "stuck-off threshold (--off-above)"
    for name, v in ((on_name, on_below_ohm), (off_name, off_above_ohm)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and lo <= v <= hi):
            raise ParameterError(name, f"must be in [{lo:g}, {hi:g}] ohm, got {v!r}")
    if off_above_ohm <= on_below_ohm:
        raise ParameterError(
            "thresholds",
            f"the stuck-off threshold ({off_above_ohm:g} ohm) must be above the stuck-on threshold "
            f"({on_below_ohm:g} ohm)",
        )


def to_ohm(values, unit: str) -> np.ndarray:
    """Values read in ``unit`` as resistances in ohms (conductances are inverted)."""
    if unit not in UNITS:
        raise ParameterError("unit", f"must be one of {', '.join(UNITS)}; got {unit!r}")
    factor, base = UNITS[unit]
    a = np.asarray(values, dtype=np.float64) * factor
    if base == "S":
        with np.errstate(divide="ignore"):
            a = 1.0 / a
    return a


def load_map_file(path: str, unit: str = "ohm", checked: bool = True) -> np.ndarray:
    """Read a measured map (``.npy`` without pickles, or ``.csv``/``.txt`` of numbers) as ohms.

    ``checked=False`` leaves the range check to the caller (a die map's empty corners may hold anything).

    Raises
    ------
    DefectSpecError
        If the file is missing or not a numeric matrix.
    ParameterError
        If a value is out of range for the unit (see :func:`check_map`).
    """
    if not os.path.isfile(path):
        raise DefectSpecError(f"map: file {path!r} does not exist")
    if os.path.getsize(path) > 16 * MAX_CELLS + 1024:
        raise DefectSpecError(f"map: file {path!r} is larger than a {MAX_CELLS}-cell map can be")
    try:
        if path.endswith(".npy"):
            m = np.load(path, allow_pickle=False, mmap_mode="r")
            if m.size > MAX_CELLS:
                raise DefectSpecError(f"map: {path!r} holds {m.size} values, more than the {MAX_CELLS} allowed")
            m = np.array(m)
        else:
            m = np.loadtxt(path, delimiter="," if path.endswith(".csv") else None, ndmin=2)
    except DefectSpecError:
        raise
    except Exception as e:  # noqa: BLE001 - numpy raises many types for a malformed matrix file
        raise DefectSpecError(f"map: cannot read {path!r} as a numeric matrix ({e})") from None
    if not checked:
        if m.ndim != 2 or m.size == 0 or m.dtype.kind not in "iuf":
            raise ParameterError("map", f"must be a 2-D matrix of numbers (rows x columns), got shape {m.shape}")
        with np.errstate(invalid="ignore", over="ignore"):
            return to_ohm(m, unit)
    return check_map(to_ohm(m, unit))


def classify(resistance_ohm: np.ndarray, on_below_ohm: float, off_above_ohm: float) -> tuple[np.ndarray, np.ndarray]:
    """(stuck on, stuck off) masks: R <= on_below_ohm, R >= off_above_ohm."""
    check_thresholds(on_below_ohm, off_above_ohm)
    r = np.asarray(resistance_ohm)
    return r <= on_below_ohm, r >= off_above_ohm


def log_histogram(resistance_ohm: np.ndarray, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges in ohm) of the map on log-spaced bins: the view a user picks thresholds from."""
    r = np.asarray(resistance_ohm, dtype=np.float64).ravel()
    r = r[~np.isnan(r)]  # a die map's cells without a device
    lo, hi = float(r.min()), float(r.max())
    if hi <= lo * (1 + 1e-12):
        lo, hi = lo / 1.1, hi * 1.1
    edges = np.logspace(math.log10(lo), math.log10(hi), bins + 1)
    counts, _ = np.histogram(r, edges)
    return counts, edges


def suggest_thresholds(resistance_ohm: np.ndarray, r_on_ohm: float, r_off_ohm: float) -> tuple[float, float]:
    """Default thresholds for a device window: stuck on below half the LRS, stuck off above twice the HRS.

    A programmed map spreads between LRS and HRS; values well outside the window cannot have been programmed.
    """
    return 0.5 * r_on_ohm, 2.0 * r_off_ohm


def measured_from_file(
    name: str,
    array: int,
    path: str,
    unit: str,
    on_below_ohm: Optional[float],
    off_above_ohm: Optional[float],
    window: tuple[float, float],
    tile: Optional[int] = None,
    band_ohm: Optional[tuple[float, float]] = None,
    mapped=None,
) -> MeasuredMap:
    """A :class:`MeasuredMap` read from ``path``; missing thresholds come from :func:`suggest_thresholds`.

    ``array == DIE`` reads a whole-die map of ``mapped`` (a :class:`~core.model.crossbar.MappedNetwork`), checked
    against its shape (:func:`check_fits`); otherwise the caller checks the shape.
    """
    r = load_map_file(path, unit, checked=array != DIE)
    layout: tuple[DiePiece, ...] = ()
    if array == DIE:
        if mapped is None:
            raise ParameterError("die map", "needs the project's mapped network")
        _check_die_shape(r.shape, mapped)
        layout = tuple(die_map_layout(mapped))
    on_d, off_d = suggest_thresholds(r, *window)
    return MeasuredMap(
        name,
        array,
        r,
        on_d if on_below_ohm is None else float(on_below_ohm),
        off_d if off_above_ohm is None else float(off_above_ohm),
        unit,
        os.path.basename(path),
        tile,
        band_ohm,
        layout,
    )


def _check_die_shape(shape, mapped) -> None:
    want = die_map_shape(mapped)
    if tuple(shape) != want:
        raise ParameterError("map", f"has shape {tuple(shape)}, the whole die is {die_map_text(mapped)}")


def expected_shape(mapped, array: int, tile: Optional[int] = None) -> tuple[tuple[int, int], str]:
    """(rows, cols) a map of ``array`` (DIE: the whole die) or of its ``tile`` must have, and how to say it.

    Raises ParameterError naming the array or tile when it does not exist.
    """
    from core.model import tiling

    if array == DIE:
        return die_map_shape(mapped), f"the whole die is {die_map_text(mapped)}"
    if not 1 <= array <= len(mapped.arrays):
        raise ParameterError("array", f"must be from 1 to {len(mapped.arrays)} for this network; got {array}")
    a = mapped.arrays[array - 1]
    if tile is None:
        text = f"array {array} is {a.shape[0]} rows x {a.shape[1]} columns ({tiling.describe(a)})"
        return (a.shape[0], a.shape[1]), text
    tiling.tile_slices(a, tile)  # ParameterError naming the array's tiles
    t = tiling.tile_shape(a)
    return (t[0], t[1]), f"tile {tile} of array {array} is {t[0]} rows x {t[1]} columns ({tiling.describe(a)})"


def check_fits(mapped, m: MeasuredMap) -> None:
    """Refuse (ParameterError naming the expected shape) a map that is not the shape of what it was measured on."""
    if not m.name.strip():
        raise ParameterError("name", "must not be empty")
    want, text = expected_shape(mapped, m.array, m.tile)
    if m.shape != want:
        raise ParameterError("map", f"has shape {m.shape}, {text}")
    if m.is_die and tuple(m.layout) != tuple(die_map_layout(mapped)):
        raise ParameterError("die map", "its layout is not this project's floorplan (the tiling changed?)")
