"""A network mapped to crossbars: the physical arrays, their neuron parameters and the layout of weight pairs.

Plain dataclasses and numpy arrays (no torch, no h5py). How trained weights become these objects is
:mod:`core.circuit.mapping`; how they are evaluated is :mod:`core.circuit`.

Every scheme gives each weight of the augmented matrix (n_in + 1, n_out; bias row last) a pair (G+, G-) whose
difference carries it; :func:`split_pairs` reads those pairs off the physical grid. The physical layouts
(``rows x cols`` devices, the grid on which defects live), by :func:`layout`:

``column-pairs`` (``differential-columns``, the default, and ``balanced``)
    rows = n_in + 1 (the last row is the bias row, driven at ``v_read``), cols = 2 n_out; column 2j holds
    G+ of neuron j and column 2j+1 its G-.
``row-pairs`` (``differential-rows``)
    rows = 2 (n_in + 1), cols = n_out; row 2i is driven at +V_i and row 2i+1 at -V_i (bias last).
``reference-column`` (``reference``)
    rows = n_in + 1 (bias last), cols = n_out + 1; column j holds the one device G+ of each weight of neuron
    j, and the last column is the array's reference column: its cell in row i is the G- of *every* weight of
    row i (a single point of failure: a defect there shifts the whole row's weights).

The schemes differ in how a weight becomes conductances (:func:`core.circuit.mapping.weights_to_pairs`) and so in
the conductance difference per unit of normalised weight, :func:`weight_span`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from core.errors import ParameterError
from core.model.devices import SCHEMES, CircuitParams, DeviceParams
from core.model.opamp import OpAmpOffsets, OpAmpParams, sample_offsets
from core.model.variability import DeviceVariability


@dataclass
class ArrayMap:
    """One crossbar: target conductances on the physical grid and its neuron parameters."""

    layer: int
    g_siemens: np.ndarray  # (rows, cols) programmed conductances
    n_in: int
    n_out: int
    w_max: float  # weight that maps to the full window g_on - g_off
    bias_scale: float  # mapped bias-row weight = bias * bias_scale
    r_tia_ohm: float  # TIA feedback resistance
    k_stage2: float  # nominal gain of the difference / inverting stage
    relu: bool  # hidden layers only
    sigma_in: float  # volts per unit activation at the inputs
    sigma_out: float  # volts per unit activation at the outputs
    # cell pitch (x along a word line, y along a bit line) in um; None: unknown (physical defect specs refused,
    # the crossbar view draws square cells)
    pitch_um: Optional[tuple[float, float]] = None
    # top-left corner of the array on the die (um), core.model.floorplan; None: not placed
    origin_um: Optional[tuple[float, float]] = None
    # fixed-size tiles (rows, cols) the layer is split over (core.model.tiling); None: one array of its own size.
    # Tiled, ``g_siemens`` is the whole mosaic of tiles and the layer's own grid (``used_shape``) its top-left part;
    # the other cells are unused devices at ``unused_state`` (``hrs`` or ``unformed``)
    tile: Optional[tuple[int, int]] = None
    used_shape: Optional[tuple[int, int]] = None
    unused_state: str = "hrs"
    # space between neighbouring tiles on the die (um), core.model.floorplan
    tile_gap_um: float = 0.0

    def __post_init__(self) -> None:
        if self.pitch_um is not None:
            self.pitch_um = check_pitch(self.pitch_um, f"array {self.layer + 1} cell pitch")
        if self.origin_um is not None:
            self.origin_um = check_origin(self.origin_um, f"array {self.layer + 1} origin")
        if (self.tile is None) != (self.used_shape is None):
            raise ParameterError(f"array {self.layer + 1} tiles", "a tiled array needs both its tile and used shape")
        if self.tile is not None:
            self.tile = (int(self.tile[0]), int(self.tile[1]))
            self.used_shape = (int(self.used_shape[0]), int(self.used_shape[1]))  # type: ignore[index]
            rows, cols = self.g_siemens.shape
            ur, uc = self.used_shape
            if rows % self.tile[0] or cols % self.tile[1] or ur > rows or uc > cols:
                raise ParameterError(
                    f"array {self.layer + 1} tiles",
                    f"a {rows}x{cols} mosaic is not whole {self.tile[0]}x{self.tile[1]} tiles holding {ur}x{uc}",
                )

    @property
    def shape(self) -> tuple[int, int]:
        """Rows x columns of devices: the whole tile mosaic when tiled (defects live on this grid)."""
        return tuple(self.g_siemens.shape)

    @property
    def logical_shape(self) -> tuple[int, int]:
        """Rows x columns of the layer's own weight grid (:func:`physical_shape`); ``shape`` when not tiled."""
        return self.used_shape if self.used_shape is not None else self.shape

    @property
    def tile_grid(self) -> tuple[int, int]:
        """Tile rows x tile columns of the mosaic ((1, 1) when not tiled)."""
        if self.tile is None:
            return (1, 1)
        return (self.shape[0] // self.tile[0], self.shape[1] // self.tile[1])

    @property
    def n_tiles(self) -> int:
        tr, tc = self.tile_grid
        return tr * tc

    def logical(self, g: np.ndarray) -> np.ndarray:
        """The layer's own cells of a mosaic-shaped array ``g`` (..., rows, cols); ``g`` itself when not tiled."""
        if self.used_shape is None:
            return g
        r, c = self.used_shape
        return g[..., :r, :c]


PITCH_RANGE_UM = (1e-3, 1e3)  # 1 nm .. 1 mm per cell


def check_pitch(pitch, field: str = "cell pitch") -> tuple[float, float]:
    """``(x_um, y_um)`` as floats, each in :data:`PITCH_RANGE_UM`; raises ParameterError naming ``field``."""
    lo, hi = PITCH_RANGE_UM
    try:
        x, y = (float(v) for v in pitch)
    except (TypeError, ValueError):
        raise ParameterError(field, f"must be two numbers (x, y) in um, got {pitch!r}") from None
    for name, v in (("x", x), ("y", y)):
        if not (math.isfinite(v) and lo <= v <= hi):
            raise ParameterError(field, f"{name} must be in [{lo:g}, {hi:g}] um, got {v!r}")
    return (x, y)


DIE_MAX_UM = 1e5  # 10 cm: larger than any die


def check_origin(origin, field: str = "origin") -> tuple[float, float]:
    """``(x_um, y_um)`` of an array's top-left corner on the die, each in [0, :data:`DIE_MAX_UM`]."""
    try:
        x, y = (float(v) for v in origin)
    except (TypeError, ValueError):
        raise ParameterError(field, f"must be two numbers (x, y) in um, got {origin!r}") from None
    for name, v in (("x", x), ("y", y)):
        if not (math.isfinite(v) and 0.0 <= v <= DIE_MAX_UM):
            raise ParameterError(field, f"{name} must be in [0, {DIE_MAX_UM:g}] um, got {v!r}")
    return (x, y)


def parse_pitch(text: str, field: str = "cell pitch") -> tuple[float, float]:
    """``"0.2x0.4"`` (um, x by y) or ``"0.3"`` (square) into ``(x_um, y_um)``."""
    parts = str(text).strip().lower().replace("um", "").split("x")
    if len(parts) not in (1, 2) or not all(p.strip() for p in parts):
        raise ParameterError(field, f"must look like 0.2x0.4 (x by y, in um) or 0.3 (square); got {text!r}")
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise ParameterError(field, f"must look like 0.2x0.4 (x by y, in um) or 0.3 (square); got {text!r}") from None
    return check_pitch(vals * 2 if len(vals) == 1 else vals, field)


@dataclass
class MappedNetwork:
    """A network mapped to crossbars; the input to every fidelity's evaluation.

    ``opamp`` holds the op-amp non-idealities (:mod:`core.model.opamp`; default: the ideal DC macro-model) and
    ``offsets``, if given, the input offsets of every op-amp, one :class:`~core.model.opamp.OpAmpOffsets` per
    array (they replace the ones ``opamp`` would sample). Neither is part of the mapping: evaluations set them
    (:func:`core.circuit.fidelity.with_opamp`). ``variability`` (:mod:`core.model.variability`) is the devices'
    programming error, read noise, drift and stuck values, also set per evaluation
    (:func:`core.circuit.fidelity.with_variability`) and applied by
    :func:`core.circuit.fidelity.defective_conductances`.
    """

    scheme: str
    device: DeviceParams
    circuit: CircuitParams
    arrays: list[ArrayMap]
    opamp: OpAmpParams = field(default_factory=OpAmpParams)
    offsets: Optional[list[OpAmpOffsets]] = None
    variability: DeviceVariability = field(default_factory=DeviceVariability)

    @property
    def shapes(self) -> list[tuple[int, int]]:
        return [a.shape for a in self.arrays]

    @property
    def pitches_um(self) -> list[Optional[tuple[float, float]]]:
        """Each array's cell pitch (x, y) in um, or None where unknown."""
        return [a.pitch_um for a in self.arrays]

    @property
    def n_inputs(self) -> int:
        return self.arrays[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.arrays[-1].n_out

    def conductances(self) -> list[np.ndarray]:
        return [a.g_siemens for a in self.arrays]

    @property
    def tiled(self) -> bool:
        return any(a.tile is not None for a in self.arrays)

    @property
    def tiles(self) -> list[Optional[tuple[int, int]]]:
        """Each array's tile size, or None where it is one array of its own size."""
        return [a.tile for a in self.arrays]

    @property
    def span_siemens(self) -> float:
        """G+ - G- of a weight of +w_max (:func:`weight_span`)."""
        return weight_span(self.scheme, self.device)

    def opamp_counts(self) -> list[tuple[int, int, int]]:
        """Per array: (TIAs = columns, stage-2 amplifiers = n_out, -V row inverters = n_in or 0)."""
        rows_inv = layout(self.scheme) == "row-pairs"
        return [(a.logical_shape[1], a.n_out, a.n_in if rows_inv else 0) for a in self.arrays]

    def opamp_offsets(self) -> Optional[list[OpAmpOffsets]]:
        """The op-amp input offsets in use: ``offsets`` if given (validated), else sampled from ``opamp``'s sigma
        and seed; None when there are none (sigma 0 and none given)."""
        counts = self.opamp_counts()
        if self.offsets is not None:
            if len(self.offsets) != len(counts):
                raise ParameterError(
                    "offsets", f"must hold one entry per array ({len(counts)}), got {len(self.offsets)}"
                )
            return [o.check(n, a) for a, (o, n) in enumerate(zip(self.offsets, counts), 1)]
        if self.opamp.offset_sigma_volt == 0:
            return None
        return sample_offsets(counts, self.opamp.offset_sigma_volt, self.opamp.offset_seed)

    @property
    def ideal_opamps(self) -> bool:
        """The ideal DC op-amp macro-model: no offsets, bias current, swing margin or output resistance."""
        return self.opamp.dc_ideal and self.offsets is None


_LAYOUT_OF = {
    "differential-columns": "column-pairs",
    "differential-rows": "row-pairs",
    "balanced": "column-pairs",
    "reference": "reference-column",
}
assert set(_LAYOUT_OF) == set(SCHEMES)


def layout(scheme: str) -> str:
    """The physical layout of ``scheme``: ``column-pairs``, ``row-pairs`` or ``reference-column``.

    Raises :class:`ParameterError` (field ``scheme``) for an unknown scheme.
    """
    try:
        return _LAYOUT_OF[scheme]
    except (KeyError, TypeError):
        raise ParameterError("scheme", f"must be one of {', '.join(SCHEMES)}; got {scheme!r}") from None


def weight_span(scheme: str, device: DeviceParams) -> float:
    """G+ - G- (S) of a weight of +w_max: dG = g_on - g_off, or dG / 2 for ``reference`` (G = g_mid + u dG / 2
    against g_ref = g_mid)."""
    dg = device.g_on_siemens - device.g_off_siemens
    return 0.5 * dg if layout(scheme) == "reference-column" else dg


def physical_shape(scheme: str, n_in: int, n_out: int) -> tuple[int, int]:
    """Rows x columns of devices for a layer with ``n_in`` inputs (bias excluded) and ``n_out`` neurons."""
    lay = layout(scheme)
    if lay == "column-pairs":
        return n_in + 1, 2 * n_out
    if lay == "row-pairs":
        return 2 * (n_in + 1), n_out
    return n_in + 1, n_out + 1


def split_pairs(scheme: str, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split physical conductances (..., rows, cols) into (G+, G-), each (..., n_in + 1, n_out).

    With ``reference`` G- is a read-only broadcast of the reference column over the row's neurons.
    """
    lay = layout(scheme)
    if lay == "column-pairs":
        return g[..., :, 0::2], g[..., :, 1::2]
    if lay == "row-pairs":
        return g[..., 0::2, :], g[..., 1::2, :]
    own = g[..., :, :-1]
    return own, np.broadcast_to(g[..., :, -1:], own.shape)


def join_pairs(scheme: str, g_pos: np.ndarray, g_neg: np.ndarray) -> np.ndarray:
    """Inverse of :func:`split_pairs`.

    With ``reference`` every column of ``g_neg`` must be the same reference column (else ParameterError).
    """
    rows, cols = g_pos.shape[-2:]
    lay = layout(scheme)
    if lay == "reference-column":
        ref = g_neg[..., :, :1]
        if not np.array_equal(np.broadcast_to(ref, g_neg.shape), g_neg, equal_nan=True):
            raise ParameterError("g_neg", "reference scheme: every weight of a row shares one reference cell")
        return np.concatenate([g_pos, np.broadcast_to(ref, g_pos.shape[:-1] + (1,))], axis=-1)
    if lay == "column-pairs":
        out = np.empty(g_pos.shape[:-1] + (2 * cols,))
        out[..., :, 0::2], out[..., :, 1::2] = g_pos, g_neg
    else:
        out = np.empty(g_pos.shape[:-2] + (2 * rows, cols))
        out[..., 0::2, :], out[..., 1::2, :] = g_pos, g_neg
    return out


def cell_pair(scheme: str, row: int, col: int, n_out: int) -> tuple[int, int, str]:
    """(input i, neuron j, side) of physical cell (row, col); i = n_in is the bias row.

    ``side`` is ``"G+"``, ``"G-"`` or, for the reference column of ``reference`` (shared by every neuron of the
    row), ``"ref"`` with ``j = -1``.
    """
    lay = layout(scheme)
    if lay == "column-pairs":
        return row, col // 2, "G+" if col % 2 == 0 else "G-"
    if lay == "row-pairs":
        return row // 2, col, "G+" if row % 2 == 0 else "G-"
    return (row, -1, "ref") if col == n_out else (row, col, "G+")


def pair_cells(scheme: str, i: int, j: int, n_out: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Physical (row, col) of the G+ and the G- device of pair (input i, neuron j) (G-: the reference cell)."""
    lay = layout(scheme)
    if lay == "column-pairs":
        return (i, 2 * j), (i, 2 * j + 1)
    if lay == "row-pairs":
        return (2 * i, j), (2 * i + 1, j)
    return (i, j), (i, n_out)
