"""What the crossbar view computes, free of Qt: what a cell holds, brush strokes, weight errors, zoom limits.

A physical cell of an array belongs to one differential pair (input ``i``, neuron ``j``), where input ``n_in``
is the bias row (see :mod:`core.model.crossbar`):

``differential-columns``
    cell (r, c) holds G+ of pair (r, c // 2) if c is even, G- if odd.
``differential-rows``
    cell (r, c) holds G+ of pair (r // 2, c) if r is even (the row driven at +V_i), G- if odd (-V_i).

Weights are the crossbar's weights ``(G+ - G-) * w_max / dG`` (the bias row's weight is the bias times the
array's ``bias_scale``), obtained from :func:`core.circuit.mapping.effective_weights`: every cell of a layer
then shares one unit, and a device at G- stuck on shifts its weight by exactly ``-(g_on - G-) * w_max / dG``.

A tiled array (:mod:`core.model.tiling`) is a mosaic of whole tiles: its cells are the top-left
``logical_shape`` block, and every other cell is an **unused device** (at HRS or unformed) that holds no weight.
Weights are read on the logical grid only, so a cell outside it never indexes a weight.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Optional

import numpy as np

from app.presenters.forms import overlay_codes
from core.circuit.mapping import effective_weights
from core.errors import DefectSpecError
from core.model import crossbar, tiling
from core.model.crossbar import ArrayMap, MappedNetwork, layout
from core.model.defects import Defect, apply_stuck, parse_spec, stuck_maps

BRUSH_SHAPES = ("square", "round")
BRUSH_MIN, BRUSH_MAX = 1, 15  # odd sizes only, so a stamp has a centre cell
MIN_VIEW_CELLS = 4  # zooming in stops when this many cells span the view (or the whole array, if smaller)
VIEW_MARGIN_FRACTION = 0.05  # panning and zooming out stop at the array plus this margin on each side
STATE_NAMES = {0: "healthy", 1: "stuck on", 2: "stuck off"}
UNUSED_STATE_NAMES = {"hrs": "programmed to HRS", "unformed": "unformed (never formed)"}


# ---- what a cell holds --------------------------------------------------------------------------------------
def cell_pair(scheme: str, row: int, col: int, n_out: int = 0) -> tuple[int, int, str]:
    """(input i, neuron j, side) of physical cell (row, col): :func:`core.model.crossbar.cell_pair`.

    ``side`` is ``"G+"``, ``"G-"`` or ``"ref"`` (the reference column of the ``reference`` scheme, ``j = -1``);
    i = n_in is the bias row. ``n_out`` (neurons of the layer) matters only for ``reference``.
    """
    return crossbar.cell_pair(scheme, row, col, n_out)


def pair_cells(scheme: str, i: int, j: int, n_out: int = 0) -> tuple[tuple[int, int], tuple[int, int]]:
    """Physical (row, col) of the G+ and the G- device (the reference cell for ``reference``) of pair (i, j)."""
    return crossbar.pair_cells(scheme, i, j, n_out)


def input_name(i: int, n_in: int) -> str:
    return "bias row" if i == n_in else f"input {i}"


def format_ohm(ohm: float) -> str:
    """``50 kΩ``, ``1.5 MΩ``, ``820 Ω``."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if ohm >= scale:
            return f"{ohm / scale:.4g} {prefix}Ω"
    return f"{ohm:.4g} Ω"


def state_name(code: int, stuck_siemens: float) -> str:
    """healthy / stuck on / stuck off / stuck at R (R from the stuck conductance)."""
    if code in STATE_NAMES:
        return STATE_NAMES[code]
    return f"stuck at {format_ohm(1.0 / stuck_siemens)}"


def r_position(stuck_siemens: np.ndarray, r_on_ohm: float, r_off_ohm: float) -> np.ndarray:
    """Where each stuck resistance sits between LRS (0) and HRS (1) on a log scale, clipped; NaN stays NaN.

    A log scale because the window spans decades (10 kΩ to 1 MΩ by default): 50 kΩ and 500 kΩ differ as much
    to a researcher as 10 kΩ and 100 kΩ.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(1.0 / np.asarray(stuck_siemens, dtype=float) / r_on_ohm) / math.log(r_off_ohm / r_on_ohm)
    return np.where(np.isnan(t), np.nan, np.clip(t, 0.0, 1.0))


def crossbar_weights(mapped: MappedNetwork, array: int, g_siemens: np.ndarray) -> np.ndarray:
    """Weights (n_in + 1, n_out) of ``array`` (1-based) with conductances ``g_siemens``, bias row last."""
    a = mapped.arrays[array - 1]
    one = MappedNetwork(mapped.scheme, mapped.device, mapped.circuit, [a])
    (W,), (b,) = effective_weights(one, [np.asarray(g_siemens, dtype=float)])
    return np.vstack([W, b[None, :] * a.bias_scale])


class ArrayReadout:
    """One array under a list of defects: the codes, conductances and weights the view draws and reads out.

    Parameters
    ----------
    mapped
        The project's mapped network.
    array
        1-based array index.
    defects
        The defects to apply (the draft or a result's); only those on ``array`` matter. Raises
        :class:`core.errors.DefectSpecError` if one cannot be placed (e.g. a mask of another shape).
    """

    def __init__(self, mapped: MappedNetwork, array: int, defects: Sequence[Defect]):
        self.mapped, self.array = mapped, array
        self.layer = mapped.arrays[array - 1]
        self.shape = self.layer.shape
        mine = [d for d in defects if d.array == array]
        self.pitch_um = self.layer.pitch_um
        self.logical_shape = self.layer.logical_shape
        self.tiled = self.layer.tile is not None
        self.used = tiling.used_mask(self.layer)  # True on the layer's own cells, False on unused devices
        self.codes = overlay_codes(mine, array, self.shape, self.pitch_um, self.layer.tile)
        self.stuck = stuck_maps(mapped.shapes, mine, mapped.device, pitches_um=mapped.pitches_um, tiles=mapped.tiles)[
            array - 1
        ]
        self.g_programmed = self.layer.g_siemens
        self.g_effective = apply_stuck([self.g_programmed], [self.stuck])[0]
        self.w_programmed = crossbar_weights(mapped, array, self.g_programmed)
        self.w_effective = crossbar_weights(mapped, array, self.g_effective)
        self.weight_error = self.w_effective - self.w_programmed
        dev = mapped.device
        self.r_position = np.where(self.codes == 3, r_position(self.stuck, dev.r_on_ohm, dev.r_off_ohm), np.nan)

    @property
    def n_defective(self) -> int:
        return int(np.count_nonzero(self.codes))

    @property
    def n_defective_used(self) -> int:
        """Defective cells among the layer's own (all of them when not tiled)."""
        return int(np.count_nonzero(self.codes[self.used]))

    def is_unused(self, row: int, col: int) -> bool:
        """True if physical cell (row, col) is an unused device of the tile mosaic (never when not tiled)."""
        return not bool(self.used[row, col])

    def tile_of(self, row: int, col: int) -> int:
        """The tile (row-major, as ``tile=K`` of a defect) that holds cell (row, col); 0 when not tiled."""
        return tile_of(self.layer, row, col)

    def _state(self, r: int, c: int) -> str:
        return state_name(int(self.codes[r, c]), float(self.stuck[r, c]))

    def _weight_line(self, i: int, j: int) -> str:
        if not (0 <= i < self.w_programmed.shape[0] and 0 <= j < self.w_programmed.shape[1]):
            return "holds no weight of this layer"  # never indexes past the logical weight grid
        wp, we = self.w_programmed[i, j], self.w_effective[i, j]
        what = f"bias-row weight of neuron {j}" if i == self.layer.n_in else f"weight w[{i}, {j}]"
        return f"{what}: programmed {wp:+.4g}, effective {we:+.4g} (error {we - wp:+.4g})"

    def cell_text(self, row: int, col: int) -> str:
        """Three lines about physical cell (row, col): where it is, what it holds, its weight and conductance.

        An unused cell of a tiled array reads as such: which tile, why it holds no weight, its state.
        """
        if self.is_unused(row, col):
            return self.unused_text(row, col)
        scheme = self.mapped.scheme
        i, j, side = cell_pair(scheme, row, col, self.layer.n_out)
        if side == "ref":
            where = f"{input_name(i, self.layer.n_in)}, the reference cell shared by all {self.layer.n_out} neurons"
            shift = np.abs(self.w_effective[i] - self.w_programmed[i])
            weight = f"a defect here moves every weight of this row (largest error now {float(shift.max()):.4g})"
        else:
            where = f"{input_name(i, self.layer.n_in)}, neuron {j}, {side} of the pair"
            weight = self._weight_line(i, j)
        tile = f" (tile {self.tile_of(row, col)})" if self.tiled else ""
        return "\n".join(
            (
                f"array {self.array}, row {row}, column {col}{tile}: {where}",
                weight,
                f"conductance: programmed {self.g_programmed[row, col] * 1e6:.4g} µS, "
                f"effective {self.g_effective[row, col] * 1e6:.4g} µS; state: {self._state(row, col)}",
            )
        )

    def unused_text(self, row: int, col: int) -> str:
        """Three lines about an unused device (row, col) of a tiled array: where, why no weight, its state."""
        rows, cols = self.logical_shape
        state = self.layer.unused_state
        if row >= rows and col >= cols:
            why = "its word line is driven at 0 V and its bit line ends at ground (no TIA)"
        elif row >= rows:
            why = "an unused word line, driven at 0 V (its current adds to the column's virtual ground)"
        else:
            why = "an unused bit line, ending at ground (no TIA)"
        code = int(self.codes[row, col])
        stuck = f", now {self._state(row, col)}" if code else ""
        return "\n".join(
            (
                f"array {self.array}, row {row}, column {col} (tile {self.tile_of(row, col)}): unused device, "
                f"outside the layer's {rows} x {cols} cells",
                f"holds no weight: {why}",
                f"conductance: programmed {self.g_programmed[row, col] * 1e6:.4g} µS, "
                f"effective {self.g_effective[row, col] * 1e6:.4g} µS; "
                f"state: unused ({state}: {UNUSED_STATE_NAMES.get(state, state)}){stuck}",
            )
        )

    def pair_text(self, i: int, j: int) -> str:
        """Three lines about pair (input i, neuron j) of the weight grid: its two devices and its weight."""
        (rp, cp), (rn, cn) = pair_cells(self.mapped.scheme, i, j, self.layer.n_out)
        minus = "ref" if layout(self.mapped.scheme) == "reference-column" else "G-"

        def device(side, r, c):
            return (
                f"{side} (row {r}, column {c}) {self.g_programmed[r, c] * 1e6:.4g} -> "
                f"{self.g_effective[r, c] * 1e6:.4g} µS, {self._state(r, c)}"
            )

        return "\n".join(
            (
                f"array {self.array}, {input_name(i, self.layer.n_in)}, neuron {j}",
                self._weight_line(i, j),
                f"{device('G+', rp, cp)}; {device(minus, rn, cn)}",
            )
        )


def weight_levels(error: np.ndarray) -> tuple[float, float]:
    """Symmetric colour levels (-m, m) of a weight-error matrix, so zero is always the middle colour."""
    m = float(np.nanmax(np.abs(error))) if np.size(error) else 0.0
    m = m if m > 0 and math.isfinite(m) else 1.0
    return -m, m


# ---- painting ---------------------------------------------------------------------------------------------
def brush_offsets(size: int, shape: str = "square") -> list[tuple[int, int]]:
    """(d_row, d_col) of the cells one stamp of the brush covers around its centre cell.

    ``square`` covers size x size cells; ``round`` those whose centre lies within ``size / 2 - 1/4`` of the
    centre cell's (a plus sign at 3, a disc from 5 on).
    """
    if not (isinstance(size, (int, np.integer)) and BRUSH_MIN <= size <= BRUSH_MAX and size % 2 == 1):
        raise DefectSpecError(f"brush size: must be an odd integer in [{BRUSH_MIN}, {BRUSH_MAX}]; got {size!r}")
    if shape not in BRUSH_SHAPES:
        raise DefectSpecError(f"brush shape: must be one of {', '.join(BRUSH_SHAPES)}; got {shape!r}")
    r = size // 2
    reach2 = (size / 2 - 0.25) ** 2
    return [
        (dr, dc)
        for dr in range(-r, r + 1)
        for dc in range(-r, r + 1)
        if shape == "square" or dr * dr + dc * dc <= reach2
    ]


def line_cells(start: tuple[int, int], end: tuple[int, int]) -> list[tuple[int, int]]:
    """Cells of the Bresenham line from ``start`` to ``end`` (both included), 8-connected: no gaps."""
    (r0, c0), (r1, c1) = start, end
    dr, dc = abs(r1 - r0), abs(c1 - c0)
    sr, sc = (1 if r1 > r0 else -1), (1 if c1 > c0 else -1)
    err = dc - dr
    out = [(r0, c0)]
    while (r0, c0) != (r1, c1):
        e2 = 2 * err
        if e2 >= -dr:
            err -= dr
            c0 += sc
        if e2 <= dc:
            err += dc
            r0 += sr
        out.append((r0, c0))
    return out


def stroke_cells(
    previous: Optional[tuple[int, int]],
    cell: tuple[int, int],
    array_shape: tuple[int, int],
    size: int = 1,
    shape: str = "square",
) -> np.ndarray:
    """Boolean mask of the cells a stroke segment covers: brush stamps on every cell of the line from
    ``previous`` (None at the stroke's first point) to ``cell``, clipped to the array."""
    rows, cols = array_shape
    centres = np.array(line_cells(previous, cell) if previous is not None else [cell])
    offsets = np.array(brush_offsets(size, shape))
    hit = (centres[:, None, :] + offsets[None, :, :]).reshape(-1, 2)
    keep = (hit[:, 0] >= 0) & (hit[:, 0] < rows) & (hit[:, 1] >= 0) & (hit[:, 1] < cols)
    mask = np.zeros(array_shape, dtype=bool)
    mask[hit[keep, 0], hit[keep, 1]] = True
    return mask


def cell_of(x: float, y: float, array_shape: Optional[tuple[int, int]]) -> Optional[tuple[int, int]]:
    """(row, col) of image coordinates (x = column, y = row, one unit per cell), or None outside the array."""
    if array_shape is None or not (math.isfinite(x) and math.isfinite(y)):
        return None
    r, c = math.floor(y), math.floor(x)
    return (r, c) if 0 <= r < array_shape[0] and 0 <= c < array_shape[1] else None


# ---- zoom and pan -----------------------------------------------------------------------------------------
# In view coordinates cell k spans [k - 0.5, k + 0.5] (the images sit at -0.5, -0.5), so axis ticks fall on
# cell centres and read as row and column indices.
CELL_OFFSET = -0.5


def view_margin(n: int) -> float:
    return max(1.0, VIEW_MARGIN_FRACTION * n)


def view_limits(grid_shape: tuple[int, int], aspect_locked: bool = False) -> dict:
    """Keyword arguments of pyqtgraph's ``ViewBox.setLimits`` for a grid of ``grid_shape`` cells.

    Panning stays within the grid plus a margin, zooming out stops at the grid plus that margin, zooming in
    stops at :data:`MIN_VIEW_CELLS` cells (or the whole side, if it is shorter). With the aspect locked (cells
    to scale) one axis must show more than the grid to keep the other whole, so only the zoom-in limits apply:
    pan and zoom-out limits would make pyqtgraph cut the long side instead.
    """
    rows, cols = grid_shape
    mx, my = view_margin(cols), view_margin(rows)
    if aspect_locked:
        return {
            "xMin": None,
            "xMax": None,
            "yMin": None,
            "yMax": None,
            "minXRange": float(min(MIN_VIEW_CELLS, cols)),
            "maxXRange": None,
            "minYRange": float(min(MIN_VIEW_CELLS, rows)),
            "maxYRange": None,
        }
    return {
        "xMin": CELL_OFFSET - mx,
        "xMax": CELL_OFFSET + cols + mx,
        "yMin": CELL_OFFSET - my,
        "yMax": CELL_OFFSET + rows + my,
        "minXRange": float(min(MIN_VIEW_CELLS, cols)),
        "maxXRange": cols + 2 * mx,
        "minYRange": float(min(MIN_VIEW_CELLS, rows)),
        "maxYRange": rows + 2 * my,
    }


def aspect_ratio(pitch_um: tuple[float, float]) -> float:
    """pyqtgraph's locked aspect (x scale / y scale) that draws one cell ``pitch_um = (x, y)`` to scale.

    One cell is one view unit in x and in y, so x px per unit : y px per unit must be x pitch : y pitch.
    """
    px, py = pitch_um
    return px / py


def pitch_text(pitch_um: Optional[tuple[float, float]], shape: tuple[int, int]) -> str:
    """``, pitch 0.2 x 0.4 um (13 x 6.4 um)`` for the info line, or ``""`` if the pitch is unknown."""
    if pitch_um is None:
        return ""
    px, py = pitch_um
    rows, cols = shape
    return f", pitch {px:g} x {py:g} um ({cols * px:.3g} x {rows * py:.3g} um)"


HOME_PAD = 0.25  # cells around the grid in the reset view: a frame, but no tick of a cell outside the array


def home_range(grid_shape: tuple[int, int]) -> tuple[tuple[float, float], tuple[float, float]]:
    """((x0, x1), (y0, y1)) in view coordinates of the reset view: the whole grid and a thin frame around it."""
    rows, cols = grid_shape
    lo = CELL_OFFSET - HOME_PAD
    return (lo, CELL_OFFSET + cols + HOME_PAD), (lo, CELL_OFFSET + rows + HOME_PAD)


# ---- tiles ------------------------------------------------------------------------------------------------
def tile_of(a: ArrayMap, row: int, col: int) -> int:
    """The tile (row-major, numbered as ``tile=K`` of a defect) of array ``a`` that holds cell (row, col)."""
    if a.tile is None:
        return 0
    return (row // a.tile[0]) * a.tile_grid[1] + col // a.tile[1]


def tile_boundaries(a: ArrayMap) -> tuple[list[int], list[int]]:
    """Mosaic rows and columns where a new tile starts (0 and the far edge excluded): ``([32, 64], [32])``."""
    if a.tile is None:
        return [], []
    n_r, n_c = a.tile_grid
    return [k * a.tile[0] for k in range(1, n_r)], [k * a.tile[1] for k in range(1, n_c)]


def tile_segments(a: ArrayMap) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) in view coordinates of the tile boundaries as line segments (pairs of points), each across the
    whole mosaic between two cells: the line before row ``k`` lies at ``y = k + CELL_OFFSET``."""
    rows, cols = a.shape
    lo_x, hi_x, lo_y, hi_y = CELL_OFFSET, CELL_OFFSET + cols, CELL_OFFSET, CELL_OFFSET + rows
    b_rows, b_cols = tile_boundaries(a)
    xs: list[float] = []
    ys: list[float] = []
    for r in b_rows:
        xs += [lo_x, hi_x]
        ys += [r + CELL_OFFSET] * 2
    for c in b_cols:
        xs += [c + CELL_OFFSET] * 2
        ys += [lo_y, hi_y]
    return np.array(xs, dtype=float), np.array(ys, dtype=float)


def used_outline(a: ArrayMap) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) in view coordinates of the closed outline of the layer's own cells (empty when not tiled)."""
    if a.tile is None:
        return np.zeros(0), np.zeros(0)
    rows, cols = a.logical_shape
    x0, y0, x1, y1 = CELL_OFFSET, CELL_OFFSET, CELL_OFFSET + cols, CELL_OFFSET + rows
    return np.array([x0, x1, x1, x0, x0]), np.array([y0, y0, y1, y1, y0])


UNUSED_SHADE_RGBA = ((255, 255, 255, 150), (255, 255, 255, 70))  # diagonal hatch over the unused cells


def unused_shade(a: ArrayMap) -> np.ndarray:
    """RGBA (rows, cols, 4) uint8 over the mosaic: transparent on the layer's own cells, a light diagonal hatch
    (stripes two cells wide) on the unused ones, so they read as "not this layer's" over any conductance."""
    rows, cols = a.shape
    out = np.zeros((rows, cols, 4), dtype=np.uint8)
    if a.tile is None:
        return out
    r, c = np.indices((rows, cols))
    stripe = ((r + c) // 2) % 2
    shade = np.array(UNUSED_SHADE_RGBA, dtype=np.uint8)[stripe]
    unused = ~tiling.used_mask(a)
    out[unused] = shade[unused]
    return out


TILE_PAD = 0.5  # cells around a tile when the view zooms to it


def tile_range(a: ArrayMap, k: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """((x0, x1), (y0, y1)) in view coordinates that show tile ``k`` of ``a`` and a thin frame around it."""
    rs, cs = tiling.tile_slices(a, k)
    return (
        (cs.start + CELL_OFFSET - TILE_PAD, cs.stop + CELL_OFFSET + TILE_PAD),
        (rs.start + CELL_OFFSET - TILE_PAD, rs.stop + CELL_OFFSET + TILE_PAD),
    )


def tiles_text(a: ArrayMap) -> str:
    """The crossbar view's caption of a tiled array: its tiling and what the shaded cells are; "" untiled."""
    if a.tile is None:
        return ""
    rows, cols = a.logical_shape
    unused = a.shape[0] * a.shape[1] - rows * cols
    state = UNUSED_STATE_NAMES.get(a.unused_state, a.unused_state)
    return (
        f"tiles: {tiling.describe(a)} (mosaic {a.shape[0]} x {a.shape[1]}, tiles 0 to {a.n_tiles - 1} row by "
        f"row); the layer's own cells are the outlined top-left {rows} x {cols}, the {unused} hatched cells are "
        f"unused devices, {state}"
    )


# ---- previews of stored results -----------------------------------------------------------------------------
def defects_from(items: Iterable) -> list[Defect]:
    """Defects from :class:`Defect` objects or spec strings (a result's ``defect_specs``)."""
    return [d if isinstance(d, Defect) else parse_spec(str(d)) for d in items]


def preview_array(defects: Sequence[Defect], current: int, n_arrays: int) -> int:
    """The array a preview opens on: the current one if the defects touch it, else the first one they touch."""
    touched = sorted({d.array for d in defects if 1 <= d.array <= n_arrays})
    return current if not touched or current in touched else touched[0]


def preview_text(label: str, defects: Sequence[Defect], array: int) -> str:
    """The preview bar's text, e.g. ``showing: run-0003 (circle-on-array1)``, plus what is off this array."""
    others = sorted({d.array for d in defects if d.array != array})
    text = f"showing: {label}"
    if not defects:
        text += " (no defects)"
    if others:
        text += f"; also defects on array {', '.join(map(str, others))}"
    return text + " (read-only)"
