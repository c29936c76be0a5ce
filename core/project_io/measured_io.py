"""Measured defect maps in the project file: ``/measured_maps/<name>`` (optional; files before it have none).

Each map is a group of kind ``measured_map`` with its ``resistance_ohm`` matrix and the attributes that classified
it (``name``, ``array``, ``on_below_ohm``, ``off_above_ohm``, ``unit``, ``source``; optional ``tile`` and the
stuck-at-value band ``band_lo_ohm``/``band_hi_ohm``). A whole-die map has ``array = 0``, NaN in the matrix cells
that hold no device, and ``die_layout``: one int row ``(array, tile or -1, row, col, rows, cols)`` per tile. The
map is provenance: the scenario made from it holds the classified masks as ordinary ``mask`` defects.
"""

from __future__ import annotations

import h5py
import numpy as np

from core.errors import ParameterError, ProjectFormatError
from core.model.floorplan import DiePiece
from core.model.measured import DIE, MAX_CELLS, R_RANGE_OHM, UNITS, MeasuredMap
from core.project_io import schema
from core.project_io.checks import Reader

GROUP = "measured_maps"
MAX_MAPS = 256
MAX_PIECES = 1 << 16


def write_measured(f: h5py.File, maps: dict, group, array) -> None:
    """Write ``maps`` (name -> :class:`MeasuredMap`) under ``/measured_maps``; nothing when empty.

    ``group`` and ``array`` are the writer's own helpers (kind attribute, checksummed storage).
    """
    if not maps:
        return
    mg = group(f, GROUP, "measured_maps")
    taken: set = set()
    for i, (key, m) in enumerate(maps.items(), 1):
        g = group(
            mg,
            schema.child_name(key, i, "map", taken),
            "measured_map",
            name=str(m.name),
            array=int(m.array),
            on_below_ohm=float(m.on_below_ohm),
            off_above_ohm=float(m.off_above_ohm),
            unit=str(m.unit),
            source=str(m.source),
            **({} if m.tile is None else {"tile": int(m.tile)}),
            **(
                {} if m.band_ohm is None else {"band_lo_ohm": float(m.band_ohm[0]), "band_hi_ohm": float(m.band_ohm[1])}
            ),
        )
        array(g, "resistance_ohm", m.resistance_ohm)
        if m.layout:
            rows = [(p.array, -1 if p.tile is None else p.tile, p.row, p.col, p.rows, p.cols) for p in m.layout]
            array(g, "die_layout", np.asarray(rows, dtype=np.int64))


def read_measured(f: h5py.File, r: Reader, n_arrays: int) -> dict:
    """The measured maps of an open project file (empty if it has none)."""
    mg = r.group(f, GROUP, "measured_maps", required=False)
    if mg is None:
        return {}
    names = r.children(mg)
    if len(names) > MAX_MAPS:
        raise ProjectFormatError(mg.name, f"holds {len(names)} maps, more than the limit {MAX_MAPS}")
    out = {}
    lo, hi = R_RANGE_OHM
    for child in names:
        g = r.group(mg, child, "measured_map")
        name = r.attr(g, "name", "str")
        array = r.attr(g, "array", "int", lo=DIE, hi=max(1, n_arrays))
        on = r.attr(g, "on_below_ohm", "float", lo=lo, hi=hi)
        off = r.attr(g, "off_above_ohm", "float", lo=lo, hi=hi)
        unit = r.attr(g, "unit", "str")
        if unit not in UNITS:
            raise ProjectFormatError(g.name, f"attribute 'unit' must be one of {', '.join(UNITS)}, got {unit!r}")
        source = r.attr(g, "source", "str")
        tile = r.attr(g, "tile", "int", required=False, lo=0, hi=(1 << 20) - 1)
        band_lo = r.attr(g, "band_lo_ohm", "float", required=False, lo=lo, hi=hi)
        band_hi = r.attr(g, "band_hi_ohm", "float", required=False, lo=lo, hi=hi)
        if (band_lo is None) != (band_hi is None):
            raise ProjectFormatError(g.name, "has one of band_lo_ohm / band_hi_ohm without the other")
        band = None if band_lo is None or band_hi is None else (band_lo, band_hi)
        layout: tuple = ()
        if array == DIE:
            # NaN marks the cells without a device; MeasuredMap checks every device cell's range
            values = r.array(g, "resistance_ohm", "f", ndim=2, max_elements=MAX_CELLS, finite=False)
            rows = r.array(g, "die_layout", "iu", shape=(None, 6), max_elements=6 * MAX_PIECES, lo=-1, hi=MAX_CELLS)
            if len(rows) == 0 or (rows[:, 0] < 1).any() or (rows[:, 0] > n_arrays).any():
                raise ProjectFormatError(g.name + "/die_layout", f"must name arrays 1 to {n_arrays}, one row per tile")
            layout = tuple(DiePiece(int(a), None if t < 0 else int(t), *map(int, rest)) for a, t, *rest in rows)
        else:
            values = r.array(g, "resistance_ohm", "f", ndim=2, max_elements=MAX_CELLS, lo=lo, hi=hi)
        if name in out:
            raise ProjectFormatError(g.name, f"map name {name!r} appears twice")
        try:
            out[name] = MeasuredMap(name, array, values, on, off, unit, source, tile, band, layout)
        except ParameterError as e:
            raise ProjectFormatError(g.name, str(e)) from None
    return out
