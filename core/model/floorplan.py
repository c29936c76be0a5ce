"""Arrays on a die, and defects placed on the die rather than on one array.

A floorplan puts each crossbar array (one per layer) on the die at its top-left corner ``origin_um`` with its cell
pitch (:attr:`core.model.crossbar.ArrayMap.pitch_um`): cell (r, c) of an array at origin (X, Y) with pitch (px, py)
has its centre at ``(X + (c + 0.5) px, Y + (r + 0.5) py)`` on the die. :func:`auto_floorplan` lays the arrays out
left to right, tops aligned, ``gap_um`` apart.

A die defect (``die:pattern=circle,cx_um=300,cy_um=200,r_um=150,stuck=on``; also ``ring`` with ``r_in_um`` and
``r_out_um``) is a cluster on silicon: :func:`die_defects` turns it into one ordinary physical defect per array it
reaches (the same circle in that array's own um coordinates; on a tiled array one per tile it reaches, in the
tile's coordinates), so every fidelity, the project file and the crossbar view handle it as they handle any defect,
and a cluster hits whatever layers and tiles sit under it. Tiles of one array sit ``tile_gap_um`` apart
(:func:`core.model.tiling.tile_origin_um`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.errors import DefectSpecError, ParameterError
from core.model import tiling
from core.model.crossbar import MappedNetwork, check_origin
from core.model.defects import MAX_UM, Defect, parse_resistance

DIE_PATTERNS = {"circle": ("r_um",), "ring": ("r_in_um", "r_out_um"), "circle_complement": ("r_um",)}
DEFAULT_GAP_UM = 20.0


def auto_floorplan(mapped: MappedNetwork, gap_um: float = DEFAULT_GAP_UM) -> list[tuple[float, float]]:
    """Origins that place the arrays left to right, tops at y = 0, ``gap_um`` apart; needs every array's pitch."""
    if not (0.0 <= gap_um <= 1e4):
        raise ParameterError("array gap", f"must be in [0, 10000] um, got {gap_um!r}")
    x, out = 0.0, []
    for a in mapped.arrays:
        if a.pitch_um is None:
            raise ParameterError(
                "cell pitch", f"array {a.layer + 1} has none; a floorplan needs every array's pitch (--cell-pitch)"
            )
        out.append((x, 0.0))
        x += tiling.footprint_um(a)[0] + gap_um  # type: ignore[index]  # tiled: its tiles and the gaps between
    return out


def place(mapped: MappedNetwork, origins: Sequence[tuple[float, float]]) -> None:
    """Set each array's origin (um) on the die."""
    if len(origins) != len(mapped.arrays):
        raise ParameterError("floorplan", f"needs {len(mapped.arrays)} origins, got {len(origins)}")
    for a, o in zip(mapped.arrays, origins):
        a.origin_um = check_origin(o, f"array {a.layer + 1} origin")


def die_size_um(mapped: MappedNetwork) -> tuple[float, float]:
    """Width and height (um) of the box holding every placed array."""
    w = h = 0.0
    for a in mapped.arrays:
        if a.origin_um is not None and a.pitch_um is not None:
            fw, fh = tiling.footprint_um(a)  # type: ignore[misc]
            w = max(w, a.origin_um[0] + fw)
            h = max(h, a.origin_um[1] + fh)
    return w, h


@dataclass
class DieDefect:
    """A defect pattern in die coordinates (um), see the module docstring."""

    pattern: str
    params: dict  # cx_um, cy_um and the pattern's radii
    stuck: str = "on"
    stuck_ohm: float = 0.0

    def to_spec(self) -> str:
        stuck = self.stuck if self.stuck != "ohm" else f"{self.stuck_ohm:g}"
        keys = ",".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"die:pattern={self.pattern},{keys},stuck={stuck}"


def parse_die_spec(text: str) -> DieDefect:
    """Parse ``die:pattern=circle,cx_um=..,cy_um=..,r_um=..,stuck=on``; raises DefectSpecError naming the key."""
    head, _, rest = str(text).strip().partition(":")
    if head.strip().lower() != "die" or not rest:
        raise DefectSpecError(
            f"die defect: must look like die:pattern=circle,cx_um=300,cy_um=200,r_um=150,stuck=on; got {text!r}"
        )
    kv: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        k, eq, v = item.partition("=")
        if not eq:
            raise DefectSpecError(f"die defect: expected key=value, got {item!r}")
        kv[k.strip().lower()] = v.strip()
    pattern = kv.pop("pattern", "")
    if pattern not in DIE_PATTERNS:
        raise DefectSpecError(f"die defect: pattern must be one of {', '.join(DIE_PATTERNS)}; got {pattern!r}")
    stuck_text = kv.pop("stuck", "").lower()
    if not stuck_text:
        raise DefectSpecError("die defect: missing required key 'stuck' (on, off or a resistance such as 50k)")
    stuck, ohm = (stuck_text, 0.0) if stuck_text in ("on", "off") else ("ohm", parse_resistance(stuck_text))
    need = ("cx_um", "cy_um", *DIE_PATTERNS[pattern])
    unknown = [k for k in kv if k not in need]
    if unknown:
        raise DefectSpecError(f"die defect: unknown key {unknown[0]!r}; allowed: pattern, stuck, {', '.join(need)}")
    params = {}
    for k in need:
        if k not in kv:
            raise DefectSpecError(f"die defect: missing required key {k!r} (um on the die)")
        try:
            value = float(kv[k])
        except ValueError:
            raise DefectSpecError(f"die defect: {k} must be a number in [0, {MAX_UM:g}] um; got {kv[k]!r}") from None
        if not (math.isfinite(value) and 0.0 <= value <= MAX_UM):
            raise DefectSpecError(f"die defect: {k} must be in [0, {MAX_UM:g}] um; got {kv[k]!r}")
        params[k] = value
    if pattern == "ring" and params["r_out_um"] <= params["r_in_um"]:
        raise DefectSpecError("die defect: r_out_um must be larger than r_in_um")
    return DieDefect(pattern, params, stuck, ohm)


def die_defects(mapped: MappedNetwork, die: DieDefect) -> list[Defect]:
    """The die defect as one physical defect per placed array it covers at least one cell of.

    Raises
    ------
    ParameterError
        If no array is placed (no floorplan: ``reram-workbench new --cell-pitch`` places them).
    """
    placed = [a for a in mapped.arrays if a.origin_um is not None and a.pitch_um is not None]
    if not placed:
        raise ParameterError(
            "floorplan", "no array of this project is placed on a die; create it with --cell-pitch (auto floorplan)"
        )
    out = []
    for a in placed:
        # a tiled array: one defect per tile, in that tile's own um coordinates (the gaps between tiles hold
        # no cells, so a cluster there hits nothing)
        for k in range(a.n_tiles):
            ox, oy = tiling.tile_origin_um(a, k)  # type: ignore[misc]
            params = {"cx_um": die.params["cx_um"] - ox, "cy_um": die.params["cy_um"] - oy}
            params.update({key: v for key, v in die.params.items() if key not in ("cx_um", "cy_um")})
            d = Defect(die.pattern, a.layer + 1, die.stuck, die.stuck_ohm, params, tile=k if a.tile else None)
            if d.cells_on(a.shape, a.pitch_um, a.tile).any():
                out.append(d)
    return out


def hit_summary(mapped: MappedNetwork, defects: Sequence[Defect]) -> list[dict]:
    """Per array a defect list reaches: its number, cells hit (of its own and in all) and, tiled, the tiles hit."""
    from core.model.defects import stuck_maps
    from core.model.devices import DeviceParams

    maps = stuck_maps(mapped.shapes, defects, DeviceParams(), pitches_um=mapped.pitches_um, tiles=mapped.tiles)
    out = []
    for a, s in zip(mapped.arrays, maps):
        bad = ~np.isnan(s)
        if not bad.any():
            continue
        tiles = [k for k in range(a.n_tiles) if bad[tiling.tile_slices(a, k)].any()] if a.tile else []
        out.append(
            {
                "array": a.layer + 1,
                "cells": int(bad.sum()),
                "used_cells": int(a.logical(bad).sum()),
                "tiles": tiles,
            }
        )
    return out


# ---- the whole die as one measured matrix (core.model.measured reads it) ----------------------------------------


@dataclass(frozen=True)
class DiePiece:
    """Where one tile (or one untiled array) sits in a whole-die map: ``rows x cols`` cells from ``(row, col)``.

    ``tile`` is None for an untiled array (the piece is the whole array).
    """

    array: int  # 1-based
    tile: Optional[int]
    row: int
    col: int
    rows: int
    cols: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.row, self.row + self.rows), slice(self.col, self.col + self.cols)

    @property
    def label(self) -> str:
        return f"array {self.array}" + ("" if self.tile is None else f" tile {self.tile}")


def die_map_layout(mapped: MappedNetwork) -> list[DiePiece]:
    """The pieces of a whole-die map: every array's mosaic side by side in array order, tops at row 0.

    Array ``a`` occupies columns from the sum of the mosaic widths before it, rows ``0 ..`` its mosaic height; in
    it tile ``k`` is at its mosaic place (:func:`core.model.tiling.tile_slices`), so the tiles abut without the
    gaps the die has between them (and between arrays). This is the automatic floorplan
    (:func:`auto_floorplan`: left to right, tops aligned) with every gap removed, one row / column per device.
    Cells of the matrix under a shorter array hold no device. Needs no pitch: without a floorplan it is the same.
    """
    out, col = [], 0
    for a in mapped.arrays:
        for k in range(a.n_tiles):
            rs, cs = tiling.tile_slices(a, k)
            out.append(
                DiePiece(
                    a.layer + 1, k if a.tile else None, rs.start, col + cs.start, rs.stop - rs.start, cs.stop - cs.start
                )
            )
        col += a.shape[1]
    return out


def die_map_shape(mapped: MappedNetwork) -> tuple[int, int]:
    """Rows x columns of a whole-die map (:func:`die_map_layout`): the tallest mosaic, all mosaic widths."""
    return max(a.shape[0] for a in mapped.arrays), sum(a.shape[1] for a in mapped.arrays)


def die_map_text(mapped: MappedNetwork) -> str:
    """``"96 rows x 72 columns (arrays side by side: 96x16 + 32x16 + ...)"`` for messages."""
    r, c = die_map_shape(mapped)
    parts = " + ".join(f"{a.shape[0]}x{a.shape[1]}" for a in mapped.arrays)
    return f"{r} rows x {c} columns (array mosaics side by side, tiles abutting, no gaps: {parts})"
