"""Fixed-size tiles: a layer's crossbar split over ``T_r x T_c`` arrays, as real chips build it.

A layer whose own grid (:func:`core.model.crossbar.physical_shape`, ``R x C`` devices) does not fit one tile is
split over a mosaic of ``ceil(R / T_r) x ceil(C / T_c)`` tiles; every tile is a whole ``T_r x T_c`` array. The
layer's grid fills the mosaic from the top-left corner; the cells outside it are **unused devices** at a stated
state (``hrs``: programmed to the window's HRS, ``g_off``; ``unformed``: never formed, pristine at
:data:`UNFORMED_FACTOR` times the HRS resistance). They are real devices at every fidelity and in the netlist.

How tiles join (one choice, modelled the same way at every fidelity):

* **Outputs: wired current summing.** The tiles of one tile column hold the same logical columns (bit lines) for
  different input rows; the bit line of column ``j`` of each of them ends (through its own ``r_bl`` segments and
  its own ``r_tia_in``) on one shared node: the virtual-ground input of column ``j``'s one TIA. So the partial
  currents add in the analog domain before the single TIA and its stage-2 amplifier; no extra op-amp, no extra
  offset. An unused column (beyond ``C``) has no TIA: its bit line ends at ground.
* **Inputs: a driver per tile.** The tiles of one tile row share the same inputs; each has its own word-line
  driver per row (``r_driver`` from the ideal source, then its own ``r_wl`` segments), so a word line never runs
  from one tile into the next. An unused row (beyond ``R``) is driven at 0 V.

With ideal wires this is exactly the untiled circuit plus the unused cells: those of unused rows add their
conductance at 0 V to the virtual grounds (which matters only with a finite op-amp gain), those of unused
columns carry current to ground and change nothing. With wire resistance the tiles are separate meshes, which is
what tiling changes: shorter lines, so smaller IR drops.

Tiles are numbered row-major within their layer: tile ``k`` of a mosaic with ``n_c`` tile columns is tile row
``k // n_c``, tile column ``k % n_c``, and holds mosaic rows ``(k // n_c) T_r ...`` and columns ``(k % n_c) T_c ...``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np

from core.errors import ParameterError
from core.model.crossbar import ArrayMap, MappedNetwork
from core.model.devices import DeviceParams

TILE_RANGE = (2, 4096)
UNUSED_STATES = ("hrs", "unformed")
UNFORMED_FACTOR = 10.0  # an unformed (pristine) cell: 10 x the HRS resistance, an order above any programmed state
TILE_GAP_RANGE_UM = (0.0, 1e4)
DEFAULT_TILE_GAP_UM = 10.0  # periphery (drivers, TIAs) between tiles on the die


def parse_tile(text: str, field: str = "tile") -> tuple[int, int]:
    """``"64x64"`` or ``"64"`` (square) into ``(rows, cols)``, each in :data:`TILE_RANGE`."""
    lo, hi = TILE_RANGE
    parts = str(text).strip().lower().split("x")
    msg = f"must look like 64x64 (rows x columns, each {lo} to {hi}) or 64 (square); got {text!r}"
    if len(parts) not in (1, 2):
        raise ParameterError(field, msg)
    try:
        vals = [int(p.strip()) for p in parts]
    except ValueError:
        raise ParameterError(field, msg) from None
    return check_tile(vals * 2 if len(vals) == 1 else vals, field)


def check_tile(tile, field: str = "tile") -> tuple[int, int]:
    lo, hi = TILE_RANGE
    try:
        r, c = (int(v) for v in tile)
    except (TypeError, ValueError):
        raise ParameterError(field, f"must be two integers (rows, cols), got {tile!r}") from None
    for name, v in (("rows", r), ("columns", c)):
        if not lo <= v <= hi:
            raise ParameterError(field, f"{name} must be in [{lo}, {hi}], got {v}")
    return (r, c)


def check_unused_state(state: str, field: str = "unused") -> str:
    if state not in UNUSED_STATES:
        raise ParameterError(field, f"must be one of {', '.join(UNUSED_STATES)}; got {state!r}")
    return state


def unused_conductance(device: DeviceParams, state: str) -> float:
    """Conductance (S) of an unused cell: the HRS ``g_off``, or ``g_off / UNFORMED_FACTOR`` when unformed."""
    check_unused_state(state)
    return device.g_off_siemens if state == "hrs" else device.g_off_siemens / UNFORMED_FACTOR


def mosaic_shape(logical: tuple[int, int], tile: tuple[int, int]) -> tuple[int, int]:
    """Rows x columns of the whole tiles that hold a ``logical`` grid."""
    return (math.ceil(logical[0] / tile[0]) * tile[0], math.ceil(logical[1] / tile[1]) * tile[1])


def pad(g: np.ndarray, shape: tuple[int, int], fill: float) -> np.ndarray:
    """``g`` (..., r, c) in the top-left corner of a (..., rows, cols) array of ``fill``."""
    out = np.full(g.shape[:-2] + tuple(shape), fill, dtype=np.float64)
    out[..., : g.shape[-2], : g.shape[-1]] = g
    return out


def tile_array(a: ArrayMap, tile: tuple[int, int], g_unused: float, unused_state: str, gap_um: float) -> ArrayMap:
    """``a`` (untiled) split over ``tile``-sized arrays, its unused cells at ``g_unused``."""
    logical = a.logical_shape
    g = pad(a.logical(a.g_siemens), mosaic_shape(logical, tile), g_unused)
    return dataclasses.replace(
        a, g_siemens=g, tile=tile, used_shape=logical, unused_state=unused_state, tile_gap_um=gap_um
    )


def untile_array(a: ArrayMap) -> ArrayMap:
    """``a`` as one array of its own size (no unused cells)."""
    return dataclasses.replace(a, g_siemens=a.logical(a.g_siemens).copy(), tile=None, used_shape=None)


def check_gap(gap_um: float, field: str = "tile gap") -> float:
    lo, hi = TILE_GAP_RANGE_UM
    try:
        v = float(gap_um)
    except (TypeError, ValueError):
        raise ParameterError(field, f"must be a number of um in [{lo:g}, {hi:g}], got {gap_um!r}") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ParameterError(field, f"must be in [{lo:g}, {hi:g}] um, got {gap_um!r}")
    return v


def tile_network(
    mapped: MappedNetwork,
    tile: Optional[tuple[int, int]],
    unused_state: str = "hrs",
    gap_um: float = DEFAULT_TILE_GAP_UM,
) -> MappedNetwork:
    """A copy of ``mapped`` with every array split over ``tile``-sized tiles (None: one array per layer)."""
    check_unused_state(unused_state)
    gap_um = check_gap(gap_um)
    arrays = [untile_array(a) for a in mapped.arrays]
    if tile is not None:
        tile = check_tile(tile)
        g_unused = unused_conductance(mapped.device, unused_state)
        arrays = [tile_array(a, tile, g_unused, unused_state, gap_um) for a in arrays]
    return dataclasses.replace(mapped, arrays=arrays)


def retile_like(new: MappedNetwork, old: Optional[MappedNetwork]) -> MappedNetwork:
    """``new`` (freshly mapped, untiled) with the tiling, pitch and place on the die of ``old``."""
    if old is None or len(old.arrays) != len(new.arrays):
        return new
    first = old.arrays[0]
    if first.tile is not None:
        new = tile_network(new, first.tile, first.unused_state, first.tile_gap_um)
    for a, prev in zip(new.arrays, old.arrays):
        a.pitch_um, a.origin_um = prev.pitch_um, prev.origin_um
    return new


def tile_slices(a: ArrayMap, k: int) -> tuple[slice, slice]:
    """Mosaic rows and columns of tile ``k`` (row-major) of array ``a``."""
    if a.tile is None:
        if k != 0:
            raise ParameterError("tile", f"array {a.layer + 1} is not tiled: its only tile is 0, got {k}")
        return slice(0, a.shape[0]), slice(0, a.shape[1])
    n_r, n_c = a.tile_grid
    if not 0 <= k < n_r * n_c:
        raise ParameterError("tile", f"array {a.layer + 1} has tiles 0 to {n_r * n_c - 1}, got {k}")
    tr, tc = a.tile
    r0, c0 = (k // n_c) * tr, (k % n_c) * tc
    return slice(r0, r0 + tr), slice(c0, c0 + tc)


def tile_shape(a: ArrayMap) -> tuple[int, int]:
    """Rows x columns of one tile (the whole array when not tiled)."""
    return a.tile if a.tile is not None else a.shape


def tile_origin_um(a: ArrayMap, k: int) -> Optional[tuple[float, float]]:
    """Top-left corner (um) of tile ``k`` on the die: the array's origin plus whole tiles and gaps before it."""
    if a.origin_um is None or a.pitch_um is None:
        return None
    n_c = a.tile_grid[1]
    tr, tc = tile_shape(a)
    px, py = a.pitch_um
    gap = a.tile_gap_um if a.tile is not None else 0.0
    return (a.origin_um[0] + (k % n_c) * (tc * px + gap), a.origin_um[1] + (k // n_c) * (tr * py + gap))


def footprint_um(a: ArrayMap) -> Optional[tuple[float, float]]:
    """Width and height (um) of the array on the die, gaps between its tiles included."""
    if a.pitch_um is None:
        return None
    n_r, n_c = a.tile_grid
    tr, tc = tile_shape(a)
    gap = a.tile_gap_um if a.tile is not None else 0.0
    return (n_c * tc * a.pitch_um[0] + (n_c - 1) * gap, n_r * tr * a.pitch_um[1] + (n_r - 1) * gap)


def pad_rows(v_rows: np.ndarray, a: ArrayMap) -> np.ndarray:
    """Row voltages (..., R) of the layer's own rows extended with 0 V for the mosaic's unused rows."""
    extra = a.shape[0] - v_rows.shape[-1]
    if extra <= 0:
        return v_rows
    return np.concatenate([v_rows, np.zeros(v_rows.shape[:-1] + (extra,))], axis=-1)


def used_columns(a: ArrayMap, g: np.ndarray) -> np.ndarray:
    """The columns of mosaic conductances ``g`` (..., rows, cols) that end in a TIA: the layer's own."""
    return g if a.used_shape is None else g[..., : a.used_shape[1]]


def used_mask(a: ArrayMap) -> np.ndarray:
    """Boolean (rows, cols) of the mosaic: True on the layer's own cells, False on the unused ones."""
    m = np.zeros(a.shape, dtype=bool)
    r, c = a.logical_shape
    m[:r, :c] = True
    return m


def freeze_unused(a: ArrayMap, stuck: np.ndarray) -> np.ndarray:
    """A stuck map (NaN = healthy) with the unused cells held at their state, so re-programming leaves them."""
    if a.tile is None:
        return stuck
    return np.where(~used_mask(a) & np.isnan(stuck), a.g_siemens, stuck)


def embed(a: ArrayMap, g_logical: np.ndarray) -> np.ndarray:
    """The mosaic ``a.g_siemens`` with the layer's own cells replaced by ``g_logical``."""
    if a.tile is None:
        return g_logical
    out = a.g_siemens.copy()
    r, c = a.logical_shape
    out[:r, :c] = g_logical
    return out


def describe(a: ArrayMap) -> str:
    """``"65x16"`` or ``"65x16 on 2x1 tiles of 32x32"`` for messages and ``info``."""
    r, c = a.logical_shape
    if a.tile is None:
        return f"{r}x{c}"
    n_r, n_c = a.tile_grid
    return f"{r}x{c} on {n_r}x{n_c} tiles of {a.tile[0]}x{a.tile[1]}"
