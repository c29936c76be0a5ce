"""A network mapped to crossbars: the physical arrays, their neuron parameters and the layout of weight pairs.

Plain dataclasses and numpy arrays (no torch, no h5py). How trained weights become these objects is
:mod:`core.circuit.mapping`; how they are evaluated is :mod:`core.circuit`.

Physical layouts (``rows x cols`` devices, the grid on which defects live):

``differential-columns`` (default)
    rows = n_in + 1 (the last row is the bias row, driven at ``v_read``), cols = 2 n_out; column 2j holds
    G+ of neuron j and column 2j+1 its G-.
``differential-rows``
    rows = 2 (n_in + 1), cols = n_out; row 2i is driven at +V_i and row 2i+1 at -V_i (bias last).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ParameterError
from core.model.devices import SCHEMES, CircuitParams, DeviceParams


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

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.g_siemens.shape)


@dataclass
class MappedNetwork:
    """A network mapped to crossbars; the input to every fidelity's evaluation."""

    scheme: str
    device: DeviceParams
    circuit: CircuitParams
    arrays: list[ArrayMap]

    @property
    def shapes(self) -> list[tuple[int, int]]:
        return [a.shape for a in self.arrays]

    @property
    def n_inputs(self) -> int:
        return self.arrays[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.arrays[-1].n_out

    def conductances(self) -> list[np.ndarray]:
        return [a.g_siemens for a in self.arrays]


def physical_shape(scheme: str, n_in: int, n_out: int) -> tuple[int, int]:
    """Rows x columns of devices for a layer with ``n_in`` inputs (bias excluded) and ``n_out`` neurons."""
    if scheme == "differential-columns":
        return n_in + 1, 2 * n_out
    if scheme == "differential-rows":
        return 2 * (n_in + 1), n_out
    raise ParameterError("scheme", f"must be one of {', '.join(SCHEMES)}; got {scheme!r}")


def split_pairs(scheme: str, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split physical conductances (..., rows, cols) into (G+, G-), each (..., n_in + 1, n_out)."""
    if scheme == "differential-columns":
        return g[..., :, 0::2], g[..., :, 1::2]
    return g[..., 0::2, :], g[..., 1::2, :]


def join_pairs(scheme: str, g_pos: np.ndarray, g_neg: np.ndarray) -> np.ndarray:
    """Inverse of :func:`split_pairs`."""
    rows, cols = g_pos.shape[-2:]
    if scheme == "differential-columns":
        out = np.empty(g_pos.shape[:-1] + (2 * cols,))
        out[..., :, 0::2], out[..., :, 1::2] = g_pos, g_neg
    else:
        out = np.empty(g_pos.shape[:-2] + (2 * rows, cols))
        out[..., 0::2, :], out[..., 1::2, :] = g_pos, g_neg
    return out
