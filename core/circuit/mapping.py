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

from collections.abc import Sequence

import numpy as np

from core.errors import ParameterError
from core.model.crossbar import ArrayMap, MappedNetwork, join_pairs, physical_shape, split_pairs
from core.model.devices import CircuitParams, DeviceParams
from core.model.network import Weights, forward


def weights_to_pairs(w_aug: np.ndarray, w_max: float, device: DeviceParams) -> tuple[np.ndarray, np.ndarray]:
    """Map an augmented weight matrix (n_in + 1, n_out) to (G+, G-) conductances, quantized if asked."""
    g_off, dg = device.g_off_siemens, device.g_on_siemens - device.g_off_siemens
    mag = device.quantize(g_off + np.abs(w_aug) / w_max * dg)
    g_pos = np.where(w_aug > 0, mag, g_off)
    g_neg = np.where(w_aug < 0, mag, g_off)
    return g_pos, g_neg


def map_network(
    weights: Weights,
    device: DeviceParams,
    circuit: CircuitParams,
    X_calibration: np.ndarray,
    scheme: str = "differential-columns",
) -> MappedNetwork:
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
        arrays.append(
            ArrayMap(
                l,
                g_phys,
                W.shape[0],
                W.shape[1],
                w_max,
                bias_scale,
                r_tia,
                k,
                relu=l < n_layers - 1,
                sigma_in=sigma,
                sigma_out=sigma_out,
            )
        )
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


def map_project(project) -> MappedNetwork:
    """Map a project's trained weights with its current device, circuit and scheme; sets ``project.mapped``.

    The neurons are sized on the project's training split (see :func:`map_network`).
    """
    if project.weights is None:
        raise ParameterError("project", "has no trained network to map")
    project.mapped = map_network(
        project.weights, project.device, project.circuit, project.load_dataset().X_train, project.scheme
    )
    return project.mapped
