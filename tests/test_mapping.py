"""Weight-to-conductance mapping and the behavioural crossbar model, checked by hand and against software."""

import dataclasses

import numpy as np
import pytest

from core.circuit import behavioral
from core.circuit.mapping import effective_weights, map_network
from core.errors import ParameterError
from core.model import network
from core.model.crossbar import physical_shape, split_pairs
from core.model.defects import apply_stuck, parse_spec, stuck_maps
from core.model.devices import SCHEMES, CircuitParams, DeviceParams
from core.model.network import Weights


def tiny():
    """A 2-input, 1-hidden... network small enough to map by hand: 2 -> 2 -> 2 -> 2 -> 2."""
    W = [np.array([[1.0, -0.5], [0.25, 2.0]]), np.eye(2), np.eye(2), np.array([[1.0, -1.0], [-1.0, 1.0]])]
    b = [np.array([0.5, 0.0]), np.zeros(2), np.zeros(2), np.zeros(2)]
    return Weights(W, b)


def test_tiny_network_conductances_by_hand():
    dev = DeviceParams(r_on_ohm=10e3, r_off_ohm=1e6)
    m = map_network(tiny(), dev, CircuitParams(), np.array([[1.0, 1.0], [0.5, 0.0]]))
    a = m.arrays[0]
    assert a.shape == (3, 4)  # 2 inputs + bias row, 2 neurons x (G+, G-)
    g_on, g_off = 1e-4, 1e-6
    dg = g_on - g_off
    assert a.w_max == 2.0  # largest |w| of layer 1 (bias row scaled by sigma_0 / v_read = 1)
    # w = 1.0 at (0, 0): G+ = g_off + 0.5 dG, G- = g_off;  w = -0.5 at (0, 1): G+ = g_off, G- = g_off + 0.25 dG
    expect = np.array(
        [
            [g_off + 0.5 * dg, g_off, g_off, g_off + 0.25 * dg],
            [g_off + 0.125 * dg, g_off, g_off + dg, g_off],
            [g_off + 0.25 * dg, g_off, g_off, g_off],
        ]
    )
    np.testing.assert_allclose(a.g_siemens, expect, rtol=1e-12)


def test_stuck_on_shifts_effective_weight_by_exactly_the_computed_amount():
    dev = DeviceParams()
    m = map_network(tiny(), dev, CircuitParams(), np.array([[1.0, 1.0]]))
    g = m.conductances()
    W0, b0 = effective_weights(m, g)
    np.testing.assert_allclose(W0[0], tiny().weights[0], rtol=1e-12)
    np.testing.assert_allclose(b0[0], tiny().biases[0], rtol=1e-12, atol=1e-15)
    # weight (0, 0) = 1.0 sits on column 0 (G+) and its partner G- is column 1; stick G- (row 0, col 1) on
    mask = np.zeros((3, 4), bool)
    mask[0, 1] = True
    st = stuck_maps(
        m.shapes, [parse_spec("rows:array=1,start=0,stuck=on").__class__("mask", 1, "on", 0.0, {}, mask)], dev
    )
    W1, _ = effective_weights(m, apply_stuck(g, st))
    a = m.arrays[0]
    dg = dev.g_on_siemens - dev.g_off_siemens
    shift = -(dev.g_on_siemens - a.g_siemens[0, 1]) * a.w_max / dg
    assert shift == pytest.approx(-a.w_max)
    assert W1[0][0, 0] - W0[0][0, 0] == pytest.approx(shift, rel=1e-12)
    changed = ~np.isclose(W1[0], W0[0])
    assert changed.sum() == 1  # nothing else moved


def test_behavioural_output_of_a_single_column_matches_the_op_amp_closed_form():
    """One neuron computed on paper: TIA with finite gain, then the difference stage."""
    dev, cir = DeviceParams(), CircuitParams(opamp_gain=1e3)  # low gain so the correction is visible
    m = map_network(tiny(), dev, cir, np.array([[1.0, 1.0]]))
    a = m.arrays[0]
    x = np.array([[1.0, 0.5]])
    v_rows = np.array([0.2, 0.1, 0.2])  # inputs * v_read and the bias row
    i = v_rows @ a.g_siemens
    gsum = a.g_siemens.sum(0)
    A, R = 1e3, a.r_tia_ohm
    v_tia = -i / (1 / R + (gsum + 1 / R) / A)
    k = a.k_stage2
    expect = max(0.0, k * A / (A + 1 + k) * (v_tia[1] - v_tia[0]))
    got = behavioral.layer_forward(m, 0, x * dev.v_read_volt, a.g_siemens)
    assert got[0, 0] == pytest.approx(expect, rel=1e-12)
    # it carries the software activation at the layer's voltage scale, up to the finite-gain error, which
    # shrinks with the open-loop gain: ~2% at A = 1e3 (the G+ TIA's noise gain 1 + G_sum R_f is ~19 here),
    # ~1e-5 at A = 1e6
    z = max((x @ tiny().weights[0] + tiny().biases[0])[0, 0], 0)
    assert got[0, 0] == pytest.approx(a.sigma_out * z, rel=3e-2)
    assert got[0, 0] != pytest.approx(a.sigma_out * z, rel=1e-3)
    m6 = map_network(tiny(), dev, CircuitParams(opamp_gain=1e6), np.array([[1.0, 1.0]]))
    got6 = behavioral.layer_forward(m6, 0, x * dev.v_read_volt, m6.arrays[0].g_siemens)
    assert got6[0, 0] == pytest.approx(m6.arrays[0].sigma_out * z, rel=1e-4)


def test_rails_clip_and_relu():
    m = map_network(tiny(), DeviceParams(), CircuitParams(v_rail_volt=1.0), np.array([[1.0, 1.0]]))
    v = behavioral.forward_voltages(m, np.array([[1.0, 1.0], [0.0, 0.0], [50.0, 50.0]]), return_hidden=True)[1]
    for h in v[:-1]:
        assert (h >= 0).all() and (h <= 1.0).all()
    assert np.abs(v[-1]).max() <= 1.0


@pytest.mark.parametrize("scheme", SCHEMES)
def test_clean_mapped_network_classifies_like_software(trained_project, scheme):
    p = trained_project
    ds = p.load_dataset()
    m = map_network(p.weights, p.device, p.circuit, ds.X_train, scheme)
    assert m.shapes == [
        physical_shape(scheme, i, o) for i, o in zip(p.network.layer_sizes[:-1], p.network.layer_sizes[1:])
    ]
    v, hidden = behavioral.forward_voltages(m, ds.X_test, return_hidden=True)
    rail = p.circuit.v_rail_volt
    assert all(np.abs(h).max() < rail for h in hidden), "something clipped: the comparison needs unclipped outputs"
    sw = network.forward(p.weights.weights, p.weights.biases, ds.X_test)
    assert np.sum(v.argmax(1) != sw.argmax(1)) <= 1
    # outputs are the software logits at the output layer's voltage scale, up to op-amp finite-gain errors
    # (G_sum / (A / R_tia) per layer: ~5e-4 relative with 130-row arrays, four layers deep)
    np.testing.assert_allclose(v, sw * m.arrays[-1].sigma_out, atol=5e-3 * np.abs(v).max())


def test_quantized_levels_snap_conductances(trained_project):
    p = trained_project
    dev = dataclasses.replace(p.device, levels=4)
    m = map_network(p.weights, dev, p.circuit, p.load_dataset().X_train)
    levels = np.linspace(dev.g_off_siemens, dev.g_on_siemens, 4)
    g = np.concatenate([a.g_siemens.ravel() for a in m.arrays])
    assert np.all(np.min(np.abs(g[:, None] - levels[None, :]), axis=1) < 1e-15)


def test_batch_of_defect_maps_equals_one_at_a_time(trained_project):
    m = trained_project.mapped
    ds = trained_project.load_dataset()
    specs = [
        "circle:array=1,r=0.3,stuck=on",
        "columns:array=2,start=0,count=2,stuck=off",
        "random:array=4,fraction=0.2,seed=1,stuck=on",
    ]
    singles = [
        behavioral.accuracy(
            m, ds.X_test, ds.y_test, apply_stuck(m.conductances(), stuck_maps(m.shapes, [parse_spec(s)], m.device))
        )
        for s in specs
    ]
    from core.model.defects import stack_scenarios

    st = stack_scenarios(m.shapes, [[parse_spec(s)] for s in specs], m.device)
    batch = behavioral.batch_accuracy(m, ds.X_test, ds.y_test, apply_stuck(m.conductances(), st), chunk=2)
    np.testing.assert_array_equal(batch, singles)
    assert min(singles) < behavioral.accuracy(m, ds.X_test, ds.y_test)


def test_split_pairs_layout():
    g = np.arange(12.0).reshape(3, 4)
    gp, gn = split_pairs("differential-columns", g)
    assert gp.tolist() == [[0, 2], [4, 6], [8, 10]] and gn[0].tolist() == [1, 3]
    gp, gn = split_pairs("differential-rows", np.arange(12.0).reshape(4, 3))
    assert gp.tolist() == [[0, 1, 2], [6, 7, 8]] and gn[0].tolist() == [3, 4, 5]


def test_bad_parameters_name_the_field():
    with pytest.raises(ParameterError, match="r_off_ohm: must be larger than r_on_ohm"):
        DeviceParams(r_on_ohm=1e6, r_off_ohm=1e4)
    with pytest.raises(ParameterError, match=r"v_read_volt: must be in \(0, 5\]"):
        DeviceParams(v_read_volt=0)
    with pytest.raises(ParameterError, match="levels"):
        DeviceParams(levels=1)
    with pytest.raises(ParameterError, match="scheme: must be one of"):
        physical_shape("diagonal", 2, 2)
