"""Mapping trained weights onto physical crossbars: every weight becomes a pair (G+, G-) whose difference carries it.

Every weight matrix plus its bias becomes one crossbar; ``u = w / w_max`` is the weight normalised by the
layer's largest |w| (bias row included), so ``u`` is in [-1, 1]. With ``dG = g_on - g_off`` and
``g_mid = (g_on + g_off) / 2``, the schemes program (:func:`weights_to_pairs`; every device quantized to the
device's levels):

``differential-columns``, ``differential-rows``
    the side of the weight's sign gets ``g_off + |u| dG``, the other (idle) side ``g_off`` (HRS):
    ``G+ - G- = u dG``. Stuck on, the active device moves u by 1 - |u| away from zero and the idle one by 1
    towards the other sign; stuck off, the active device sets u to 0 and the idle one changes nothing.
``balanced``
    ``G+- = g_mid +- u dG / 2``: ``G+ - G- = u dG`` as above, but both devices sit around mid-window. G+ stuck
    on moves u by +(1 - u) / 2, stuck off by -(1 + u) / 2; G- stuck on by -(1 + u) / 2, stuck off by
    +(1 - u) / 2: on and off shifts of the same size on average (1/2 over a symmetric weight distribution).
``reference``
    one device per weight, ``G = g_mid + u dG / 2``, against the array's reference column at
    ``g_ref = g_mid`` (quantized like any device, so a zero weight is exactly ``G = g_ref``):
    ``G - g_ref = u dG / 2``. The neuron's stage 2 takes (reference TIA) - (own TIA), the same sign convention
    as (G- TIA) - (G+ TIA) of the pair schemes, so positive weights give positive outputs. G stuck on moves u by
    +(1 - u), stuck off by -(1 + u); a reference cell stuck on moves every weight of its row by -1, stuck off
    by +1 (a single point of failure).

:func:`core.model.crossbar.weight_span` is ``G+ - G-`` at ``u = 1`` (dG, or dG / 2 for ``reference``).
Physical layouts: :mod:`core.model.crossbar`.

Voltage scaling: an activation ``h`` of layer l is carried as the voltage ``sigma_l * h`` with
``sigma_0 = v_read``. The bias row weight is ``b * sigma_{l-1} / v_read`` so the bias stays consistent, and
the TIA feedback resistance and stage-2 gain are chosen per layer from the training set: the TIAs use at most
``headroom`` of the rail (taking each column's real current, common mode of ``balanced`` and ``reference``
included, and its finite-gain TIA factor with the column's G_sum; gap devices pass ``G V0 sinh(V / V0)``,
:func:`device_currents`); the largest hidden activation becomes
``v_read`` (it drives the next crossbar, whose devices must only see read voltages) and the largest output uses
``headroom`` of the rail.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np

from core.circuit.opamp import OpAmpModel, inverter_outputs
from core.errors import ParameterError
from core.model import tiling
from core.model.crossbar import ArrayMap, MappedNetwork, join_pairs, layout, split_pairs, weight_span
from core.model.devices import CircuitParams, DeviceParams
from core.model.network import Weights, forward
from core.model.opamp import OpAmpParams


def weights_to_pairs(
    w_aug: np.ndarray, w_max: float, device: DeviceParams, scheme: str = "differential-columns"
) -> tuple[np.ndarray, np.ndarray]:
    """Map an augmented weight matrix (n_in + 1, n_out) to (G+, G-) conductances of ``scheme``, quantized if asked.

    For ``reference`` G- is the reference cell of each row, repeated over the row's neurons (see the module
    docstring for every scheme's rule).
    """
    g_off, g_on = device.g_off_siemens, device.g_on_siemens
    dg = g_on - g_off
    u = np.asarray(w_aug, dtype=np.float64) / w_max
    if scheme in ("differential-columns", "differential-rows"):
        mag = device.quantize(g_off + np.abs(u) * dg)
        return np.where(u > 0, mag, g_off), np.where(u < 0, mag, g_off)
    layout(scheme)  # validates the name

    def prog(g):
        return np.clip(device.quantize(g), g_off, g_on)

    g_pos = prog(device.g_mid_siemens + 0.5 * u * dg)
    if scheme == "balanced":
        return g_pos, prog(device.g_mid_siemens - 0.5 * u * dg)
    return g_pos, np.full_like(g_pos, prog(np.float64(device.g_mid_siemens)))


def device_currents(device: DeviceParams, v_rows: np.ndarray) -> np.ndarray:
    """Per unit of small-signal conductance, the current a device passes at row voltage ``v_rows`` with its column at
    virtual ground: ``v`` (linear) or ``V0 sinh(v / V0)`` (gap), so the TIAs are sized on the device model used."""
    if device.uses_gap_iv:
        return device.v0_volt * np.sinh(np.asarray(v_rows) / device.v0_volt)
    return np.asarray(v_rows)


def tia_feedback(i_cols: np.ndarray, g_sum: np.ndarray, v_max: float, opamp_gain: float) -> float:
    """Largest TIA feedback R_f (ohm) keeping every |v_tia| of column currents ``i_cols`` (N, cols) within ``v_max``.

    With finite gain A, |v_tia| = |I| / ((1 + 1/A) / R_f + G_sum / A) (the column's ``g_sum``, (cols,)), so
    ``1/R_f = max (|I| / v_max - G_sum / A) / (1 + 1/A)``.
    """
    a = opamp_gain
    inv_r = float(np.max((np.abs(i_cols) / v_max - g_sum / a) / (1.0 + 1.0 / a))) if np.size(i_cols) else 0.0
    return 1.0 / max(inv_r, 1e-12 / v_max)


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
        One of :data:`core.model.devices.SCHEMES` (module docstring).
    """
    span = weight_span(scheme, device)  # validates the scheme name
    v_bias = device.v_read_volt
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
        g_pos, g_neg = weights_to_pairs(w_aug, w_max, device, scheme)
        g_phys = join_pairs(scheme, g_pos, g_neg)
        # the largest single-column current on the calibration set sizes the TIA feedback
        v_rows = row_voltages(scheme, sigma * h_in, v_bias, circuit, l)
        r_tia = tia_feedback(device_currents(device, v_rows) @ g_phys, g_phys.sum(axis=0), rail, circuit.opamp_gain)
        z_max = float(np.max(np.abs(acts[l]))) or 1.0
        # hidden activations drive the next crossbar, so they stay within the read-voltage range;
        # the output layer may use the rail
        sigma_out = (device.v_read_volt if l < n_layers - 1 else rail) / z_max
        # sigma_out = k * r_tia * span / w_max * sigma_in   (differential current -> stage-2 output)
        k = sigma_out * w_max / (r_tia * span * sigma)
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


def row_voltages(
    scheme: str,
    v_in: np.ndarray,
    v_bias: float,
    circuit: CircuitParams,
    layer: int,
    opamp: Optional[OpAmpParams] = None,
    inverter_offsets: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Voltages on the physical rows for input voltages ``v_in`` (..., n_in).

    Column-pair and reference-column layouts drive row i at ``v_in[i]`` (bias last). ``differential-rows`` drives
    row 2i+1 from a unity-gain inverting amplifier of row 2i's signal (finite gain included; with non-ideal
    ``opamp`` or ``inverter_offsets`` (..., n_in) also offset, bias current and swing:
    :func:`core.circuit.opamp.inverter_outputs`); the bias rows come from ideal +-v_bias references.
    """
    bias = np.full(v_in.shape[:-1] + (1,), v_bias)
    v_aug = np.concatenate([v_in, bias], axis=-1)
    if layout(scheme) != "row-pairs":
        return v_aug
    if (opamp is None or opamp.dc_ideal) and inverter_offsets is None:
        out = np.empty(v_aug.shape[:-1] + (2 * v_aug.shape[-1],))
        out[..., 0::2] = v_aug
        out[..., 1::2] = -circuit.inverter_factor() * v_aug
        out[..., -1] = -v_bias
        return out
    m = OpAmpModel.of(circuit, opamp or OpAmpParams())
    vos = 0.0 if inverter_offsets is None else np.asarray(inverter_offsets)[..., None, :]
    neg = inverter_outputs(v_in, m, vos, circuit.r_stage2_ohm)
    lead = np.broadcast_shapes(v_aug.shape[:-1], neg.shape[:-1])
    out = np.empty(lead + (2 * v_aug.shape[-1],))
    out[..., 0::2] = v_aug
    out[..., 1:-1:2] = neg
    out[..., -1] = -v_bias
    return out


def effective_weights(mapped: MappedNetwork, g_list: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Software-equivalent (W, b) of crossbars with conductances ``g_list`` (ideal op-amps, linear devices).

    ``w_aug = (G+ - G-) * w_max / span`` with :func:`core.model.crossbar.weight_span`; works on a leading batch
    dimension too. So a device at G- stuck on shifts its weight by exactly ``-(g_on - G-_programmed) * w_max /
    span``, and with ``reference`` a stuck reference cell shifts every weight of its row by that amount.
    """
    span = mapped.span_siemens
    Ws, bs = [], []
    for a, g in zip(mapped.arrays, g_list):
        gp, gn = split_pairs(mapped.scheme, a.logical(np.asarray(g)))  # tiled: the layer's own cells
        w_aug = (gp - gn) * a.w_max / span
        Ws.append(w_aug[..., :-1, :])
        bs.append(w_aug[..., -1, :] / a.bias_scale)
    return Ws, bs


def map_project(project) -> MappedNetwork:
    """Map a project's trained weights with its current device, circuit and scheme; sets ``project.mapped``.

    The neurons are sized on the project's training split (see :func:`map_network`).
    """
    if project.weights is None:
        raise ParameterError("project", "has no trained network to map")
    old = project.mapped
    project.mapped = map_network(
        project.weights, project.device, project.circuit, project.load_dataset().X_train, project.scheme
    )
    # the tiling, cell pitch and place on the die are the layout's, not the mapping's: a re-mapped network keeps them
    project.mapped = tiling.retile_like(project.mapped, old)
    return project.mapped
