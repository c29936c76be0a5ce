"""Mapping trained weights onto physical crossbars of differential conductance pairs.

Every weight matrix plus its bias becomes one crossbar. A weight ``w`` is a pair (G+, G-): the side of its
sign gets ``g_off + |w| / w_max * (g_on - g_off)``, the other side ``g_off``, so ``G+ - G- = w * dG / w_max``
and the largest |w| of the layer uses the full conductance window.

Physical layouts (``rows x cols`` devices, the grid on which defects live):

``differential-columns`` (default)
    rows = n_in + 1 (the last row is the bias row, driven at ``v_read``), cols = 2 n_out; column 2j holds
    G+ of neuron j and column 2j+1 its G-.
``differential-rows``
    rows = 2 (n_in + 1), cols = n_out; row 2i is driven at +V_i and row 2i+1 at -V_i (bias last).

Voltage scaling: an activation ``h`` of layer l is carried as the voltage ``sigma_l * h`` with
``sigma_0 = v_read``. The bias row weight is ``b * sigma_{l-1} / v_read`` so the bias stays consistent, and
the TIA feedback resistance and stage-2 gain are chosen per layer from the training set: the TIAs use at most
``headroom`` of the rail; the largest hidden activation becomes ``v_read`` (it drives the next crossbar, whose
devices must only see read voltages) and the largest output uses ``headroom`` of the rail.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from core.devices import SCHEMES, CircuitParams, DeviceParams
from core.errors import ParameterError
from core.network import Weights, forward


@dataclass
class ArrayMap:
    """One crossbar: target conductances on the physical grid and its neuron parameters."""

    layer: int
    g_siemens: np.ndarray  # (rows, cols) programmed conductances
    n_in: int
    n_out: int
    w_max: float            # weight that maps to the full window g_on - g_off
    bias_scale: float       # mapped bias-row weight = bias * bias_scale
    r_tia_ohm: float        # TIA feedback resistance
    k_stage2: float         # nominal gain of the difference / inverting stage
    relu: bool              # hidden layers only
    sigma_in: float         # volts per unit activation at the inputs
    sigma_out: float        # volts per unit activation at the outputs

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


def weights_to_pairs(w_aug: np.ndarray, w_max: float, device: DeviceParams) -> tuple[np.ndarray, np.ndarray]:
    """Map an augmented weight matrix (n_in + 1, n_out) to (G+, G-) conductances, quantized if asked."""
    g_off, dg = device.g_off_siemens, device.g_on_siemens - device.g_off_siemens
    mag = device.quantize(g_off + np.abs(w_aug) / w_max * dg)
    g_pos = np.where(w_aug > 0, mag, g_off)
    g_neg = np.where(w_aug < 0, mag, g_off)
    return g_pos, g_neg


def map_network(weights: Weights, device: DeviceParams, circuit: CircuitParams, X_calibration: np.ndarray,
                scheme: str = "differential-columns") -> MappedNetwork:
    """Map trained weights to crossbars and size the neurons on ``X_calibration`` (normally the train set).

    Parameters
    ----------
    weights
        Trained network.
    device, circuit
        Device and neuron parameters.
    X_calibration
        Inputs (n, n_in) in [0, 1] used to size TIA feedback and stage-2 gains so nothing clips.
    scheme
        ``differential-columns`` or ``differential-rows``.
    """
    physical_shape(scheme, 1, 1)  # validates the scheme name
    v_bias = device.v_read_volt
    dg = device.g_on_siemens - device.g_off_siemens
    rail = circuit.v_rail_volt * circuit.headroom
    _, acts = forward(weights.weights, weights.biases, X_calibration, return_hidden=True)
    sigma = device.v_read_volt
    h_in = np.asarray(X_calibration, dtype=np.float64)
    arrays = []
    n_layers = weights.n_layers
    for l, (W, b) in enumerate(zip(weights.weights, weights.biases)):
        bias_scale = sigma / v_bias
        w_aug = np.vstack([W, b[None, :] * bias_scale])
        w_max = float(np.max(np.abs(w_aug))) or 1.0
        g_pos, g_neg = weights_to_pairs(w_aug, w_max, device)
        g_phys = join_pairs(scheme, g_pos, g_neg)
        # the largest single-column current on the calibration set sizes the TIA feedback
        v_rows = row_voltages(scheme, sigma * h_in, v_bias, circuit, l)
        i_cols = v_rows @ g_phys
        i_max = float(np.max(np.abs(i_cols))) or 1e-12
        r_tia = rail / i_max
        z_max = float(np.max(np.abs(acts[l]))) or 1.0
        # hidden activations drive the next crossbar, so they stay within the read-voltage range;
        # the output layer may use the rail
        sigma_out = (device.v_read_volt if l < n_layers - 1 else rail) / z_max
        # sigma_out = k * r_tia * dG / w_max * sigma_in   (differential current -> stage-2 output)
        k = sigma_out * w_max / (r_tia * dg * sigma)
        arrays.append(ArrayMap(l, g_phys, W.shape[0], W.shape[1], w_max, bias_scale, r_tia, k,
                               relu=l < n_layers - 1, sigma_in=sigma, sigma_out=sigma_out))
        sigma = sigma_out
        h_in = acts[l]
    return MappedNetwork(scheme, device, circuit, arrays)


def row_voltages(scheme: str, v_in: np.ndarray, v_bias: float, circuit: CircuitParams, layer: int) -> np.ndarray:
    """Voltages on the physical rows for input voltages ``v_in`` (..., n_in).

    ``differential-rows`` drives row 2i+1 from a unity-gain inverting amplifier of row 2i's signal
    (finite gain included); the bias rows come from ideal +-v_bias references.
    """
    bias = np.full(v_in.shape[:-1] + (1,), v_bias)
    v_aug = np.concatenate([v_in, bias], axis=-1)
    if scheme == "differential-columns":
        return v_aug
    out = np.empty(v_aug.shape[:-1] + (2 * v_aug.shape[-1],))
    out[..., 0::2] = v_aug
    out[..., 1::2] = -circuit.inverter_factor() * v_aug
    out[..., -1] = -v_bias
    return out


def effective_weights(mapped: MappedNetwork, g_list: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Software-equivalent (W, b) of crossbars with conductances ``g_list`` (ideal op-amps, linear devices).

    Works on a leading batch dimension too. A device at G- stuck on shifts its weight by exactly
    ``-(g_on - G-_programmed) * w_max / dG``.
    """
    dg = mapped.device.g_on_siemens - mapped.device.g_off_siemens
    Ws, bs = [], []
    for a, g in zip(mapped.arrays, g_list):
        gp, gn = split_pairs(mapped.scheme, np.asarray(g))
        w_aug = (gp - gn) * a.w_max / dg
        Ws.append(w_aug[..., :-1, :])
        bs.append(w_aug[..., -1, :] / a.bias_scale)
    return Ws, bs
