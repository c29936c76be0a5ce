"""Measured defect maps in the project file: ``/measured_maps/<name>`` (optional; files before it have none).

Each map is a group of kind ``measured_map`` with its ``resistance_ohm`` matrix and the attributes that classified
it (``name``, ``array``, ``on_below_ohm``, ``off_above_ohm``, ``unit``, ``source``). The map is provenance: the
scenario made from it holds the classified masks as ordinary ``mask`` defects.
"""

from __future__ import annotations

import h5py

from core.errors import ParameterError, ProjectFormatError
from core.model.measured import MAX_CELLS, R_RANGE_OHM, UNITS, MeasuredMap
from core.project_io import schema
from core.project_io.checks import Reader

GROUP = "measured_maps"
MAX_MAPS = 256


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
        )
        array(g, "resistance_ohm", m.resistance_ohm)


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
        array = r.attr(g, "array", "int", lo=1, hi=max(1, n_arrays))
        on = r.attr(g, "on_below_ohm", "float", lo=lo, hi=hi)
        off = r.attr(g, "off_above_ohm", "float", lo=lo, hi=hi)
        unit = r.attr(g, "unit", "str")
        if unit not in UNITS:
            raise ProjectFormatError(g.name, f"attribute 'unit' must be one of {', '.join(UNITS)}, got {unit!r}")
        source = r.attr(g, "source", "str")
        tile = r.attr(g, "tile", "int", required=False, lo=0, hi=(1 << 20) - 1)
        values = r.array(g, "resistance_ohm", "f", ndim=2, max_elements=MAX_CELLS, lo=lo, hi=hi)
        if name in out:
            raise ProjectFormatError(g.name, f"map name {name!r} appears twice")
        try:
            out[name] = MeasuredMap(name, array, values, on, off, unit, source, tile)
        except ParameterError as e:
            raise ProjectFormatError(g.name, str(e)) from None
    return out
