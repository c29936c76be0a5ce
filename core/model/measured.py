"""Measured defect maps: a resistance (or conductance) map of one array, classified into stuck cells by thresholds.

A measured map is what a tester reads off a real crossbar: one value per cell. Cells at or below ``on_below_ohm``
count as stuck on (shorted or stuck in LRS), cells at or above ``off_above_ohm`` as stuck off (unformed or stuck in
HRS); the rest are healthy and are programmed as the mapping asks. The map and its thresholds are kept with the
scenario made from it (:class:`MeasuredMap`), so anyone opening the project sees where its defects came from.

:func:`defect_statistics` says whether a defect mask looks like line faults or clusters: defective fraction,
connected clusters (4-neighbour) and their sizes, and the share of defects on fully or mostly defective rows and
columns.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from core.errors import DefectSpecError, ParameterError
from core.model.defects import Defect

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
MOSTLY = 0.8  # a line whose cells are at least this share defective counts as a "mostly defective" line


@dataclass
class MeasuredMap:
    """A measured map of array ``array`` (1-based) in ohms, with the thresholds that classified it.

    ``source`` is the file's base name (provenance only: never opened again) and ``unit`` the unit the file was
    read in.
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

    def __post_init__(self) -> None:
        self.resistance_ohm = check_map(self.resistance_ohm)
        if self.tile is not None and not (isinstance(self.tile, (int, np.integer)) and 0 <= int(self.tile) < 1 << 20):
            raise ParameterError("tile", f"must be a tile index from 0; got {self.tile!r}")
        if self.unit not in UNITS:
            raise ParameterError("unit", f"must be one of {', '.join(UNITS)}; got {self.unit!r}")
        check_thresholds(self.on_below_ohm, self.off_above_ohm)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.resistance_ohm.shape)

    def masks(self) -> tuple[np.ndarray, np.ndarray]:
        """(stuck-on cells, stuck-off cells) as boolean masks."""
        return classify(self.resistance_ohm, self.on_below_ohm, self.off_above_ohm)

    def defects(self) -> list[Defect]:
        """The map as defects: one mask stuck on and one stuck off (either left out when it has no cell)."""
        on, off = self.masks()
        out = []
        for stuck, m in (("on", on), ("off", off)):
            if m.any():
                out.append(Defect("mask", self.array, stuck, 0.0, {}, mask=m, tile=self.tile))
        return out

    def description(self) -> str:
        on, off = self.masks()
        return (
            f"measured map {self.name!r} of array {self.array}"
            + ("" if self.tile is None else f" tile {self.tile}")
            + f" from {self.source or 'memory'} ({self.unit}): "
            f"stuck on at <= {self.on_below_ohm:g} ohm ({int(on.sum())} cells), stuck off at >= "
            f"{self.off_above_ohm:g} ohm ({int(off.sum())} cells)"
        )


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


def load_map_file(path: str, unit: str = "ohm") -> np.ndarray:
    """Read a measured map (``.npy`` without pickles, or ``.csv``/``.txt`` of numbers) as ohms.

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
    return check_map(to_ohm(m, unit))


def classify(resistance_ohm: np.ndarray, on_below_ohm: float, off_above_ohm: float) -> tuple[np.ndarray, np.ndarray]:
    """(stuck on, stuck off) masks: R <= on_below_ohm, R >= off_above_ohm."""
    check_thresholds(on_below_ohm, off_above_ohm)
    r = np.asarray(resistance_ohm)
    return r <= on_below_ohm, r >= off_above_ohm


def log_histogram(resistance_ohm: np.ndarray, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges in ohm) of the map on log-spaced bins: the view a user picks thresholds from."""
    r = np.asarray(resistance_ohm, dtype=np.float64).ravel()
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


@dataclass
class DefectStatistics:
    """What a defect mask looks like (see :func:`defect_statistics`)."""

    shape: tuple[int, int]
    n_defective: int
    fraction: float
    n_clusters: int
    cluster_sizes: list[int]  # largest first
    full_rows: int
    full_columns: int
    on_mostly_defective_rows: float  # share of defects on rows >= MOSTLY defective
    on_mostly_defective_columns: float
    largest_cluster_share: float  # share of defects in the largest cluster
    verdict: str

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["shape"] = list(self.shape)
        d["cluster_sizes"] = self.cluster_sizes[:20]
        return d


def defect_statistics(mask: np.ndarray, mostly: float = MOSTLY) -> DefectStatistics:
    """Defective fraction, 4-connected clusters, alignment with rows and columns, and a one-line verdict.

    The verdict is ``"column fault"`` / ``"row fault"`` when at least half the defects lie on mostly defective
    columns / rows (the larger share wins), else ``"cluster"`` when the largest cluster holds at least half of them,
    else ``"scattered"``; ``"none"`` without defects.
    """
    from scipy import ndimage

    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2 or m.size == 0:
        raise ParameterError("mask", f"must be a 2-D boolean matrix, got shape {m.shape}")
    n = int(m.sum())
    labels, n_clusters = ndimage.label(m)  # 4-connectivity: the default structuring element
    sizes = sorted(np.bincount(labels.ravel())[1:].tolist(), reverse=True)
    row_share, col_share = m.mean(axis=1), m.mean(axis=0)
    on_rows = int(m[row_share >= mostly, :].sum())
    on_cols = int(m[:, col_share >= mostly].sum())
    f_rows = on_rows / n if n else 0.0
    f_cols = on_cols / n if n else 0.0
    largest = sizes[0] / n if n else 0.0
    if n == 0:
        verdict = "none"
    elif max(f_rows, f_cols) >= 0.5:
        verdict = "column fault" if f_cols >= f_rows else "row fault"
    elif largest >= 0.5:
        verdict = "cluster"
    else:
        verdict = "scattered"
    return DefectStatistics(
        shape=tuple(m.shape),
        n_defective=n,
        fraction=n / m.size,
        n_clusters=int(n_clusters),
        cluster_sizes=[int(s) for s in sizes],
        full_rows=int((row_share == 1.0).sum()),
        full_columns=int((col_share == 1.0).sum()),
        on_mostly_defective_rows=f_rows,
        on_mostly_defective_columns=f_cols,
        largest_cluster_share=largest,
        verdict=verdict,
    )


def measured_from_file(
    name: str,
    array: int,
    path: str,
    unit: str,
    on_below_ohm: Optional[float],
    off_above_ohm: Optional[float],
    window: tuple[float, float],
    tile: Optional[int] = None,
) -> MeasuredMap:
    """A :class:`MeasuredMap` read from ``path``; missing thresholds come from :func:`suggest_thresholds`."""
    r = load_map_file(path, unit)
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
    )
