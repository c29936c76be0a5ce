"""Mapping schemes: hand-mapped conductances, the neuron's sign, stuck-device shifts, and every fidelity per scheme.

``differential-columns`` / ``differential-rows`` program the idle device of a pair at HRS, ``balanced`` both
devices around g_mid, ``reference`` one device per weight against a reference column (see
:mod:`core.circuit.mapping`). The clean network's classification (at most 1 of 180 test images differs from
the software network), nodal with ideal wires and ngspice with the gap model are checked per scheme by the
parametrized tests of ``tests/test_mapping.py``, ``tests/test_nodal.py`` and ``tests/test_fidelity_crosscheck.py``.
Tolerances, where a check is not exact:

* nodal (ideal wires) against behavioural: 1e-12 of the largest output with linear devices, 1e-5 with the gap
  model (as in ``tests/test_nodal.py``);
* ngspice against behavioural (ideal wires): at most one of the images changes class and the largest output
  difference is within ``max(1 mV, 0.5 % of the output swing)`` (as in ``tests/test_fidelity_crosscheck.py``);
* ngspice against nodal with 1 ohm wires and railing TIAs: 1e-5 V (as there);
* torch against numpy circuit: rtol 1e-10, atol 1e-12 (as in ``tests/test_recovery.py``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core import jobs
from core.circuit import behavioral, nodal
from core.circuit.fidelity import defective_conductances, with_overrides
from core.circuit.mapping import effective_weights, map_network, map_project
from core.errors import ParameterError
from core.model.crossbar import (
    ArrayMap,
    MappedNetwork,
    cell_pair,
    join_pairs,
    layout,
    pair_cells,
    physical_shape,
    split_pairs,
)
from core.model.defects import Defect, apply_stuck, parse_spec, stuck_maps
from core.model.devices import SCHEMES, CircuitParams, DeviceParams
from core.model.network import Weights
from core.recovery.recover import recover_job

US = 1e-6  # conductances below in microsiemens: g_on = 100, g_off = 1, g_mid = 50.5, dG = 99, dG / 2 = 49.5
NEW = ("balanced", "reference")
DEFECTS = ["circle:array=1,cx=0.5,cy=0.5,r=0.3,stuck=on", "columns:array=2,start=2,count=2,stuck=off"]


def one_layer():
    """2 inputs -> 2 neurons (an output layer: no ReLU, so negative outputs show). w_max = 2, so
    u = w_aug / 2 = [[0.5, -0.25], [0.125, 1.0], [0.25, 0.0]] (bias row last, bias scale 1)."""
    return Weights([np.array([[1.0, -0.5], [0.25, 2.0]])], [np.array([0.5, 0.0])])


# hand arithmetic: G = g_off + |u| dG on the weight's side (pair schemes), g_mid +- u dG / 2 (balanced),
# g_mid + u dG / 2 against a g_mid reference column (reference)
HAND = {
    "differential-columns": [
        [50.5, 1.0, 1.0, 25.75],
        [13.375, 1.0, 100.0, 1.0],
        [25.75, 1.0, 1.0, 1.0],
    ],
    "differential-rows": [[50.5, 1.0], [1.0, 25.75], [13.375, 100.0], [1.0, 1.0], [25.75, 1.0], [1.0, 1.0]],
    "balanced": [
        [75.25, 25.75, 38.125, 62.875],
        [56.6875, 44.3125, 100.0, 1.0],
        [62.875, 38.125, 50.5, 50.5],
    ],
    "reference": [
        [75.25, 38.125, 50.5],
        [56.6875, 100.0, 50.5],
        [62.875, 50.5, 50.5],
    ],
}


def _map_one(scheme, opamp_gain=1e5):
    X = np.array([[1.0, 1.0], [0.5, 0.0], [0.0, 1.0]])
    return map_network(one_layer(), DeviceParams(), CircuitParams(opamp_gain=opamp_gain), X, scheme)


def test_every_scheme_has_a_layout_and_unknown_ones_are_refused():
    assert set(SCHEMES) == {"differential-columns", "differential-rows", "balanced", "reference"}
    assert [layout(s) for s in SCHEMES] == ["column-pairs", "row-pairs", "column-pairs", "reference-column"]
    assert [physical_shape(s, 64, 8) for s in SCHEMES] == [(65, 16), (130, 8), (65, 16), (65, 9)]
    with pytest.raises(ParameterError, match="scheme: must be one of differential-columns, differential-rows, bal"):
        layout("offset")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_tiny_layer_conductances_by_hand(scheme):
    m = _map_one(scheme)
    a = m.arrays[0]
    assert a.w_max == 2.0 and a.shape == physical_shape(scheme, 2, 2)
    np.testing.assert_allclose(a.g_siemens, np.array(HAND[scheme]) * US, rtol=1e-12)
    # every weight comes back from its pair
    (W,), (b,) = effective_weights(m, m.conductances())
    np.testing.assert_allclose(W, one_layer().weights[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(b, one_layer().biases[0], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_positive_weights_give_positive_outputs(scheme):
    """With a near-ideal op-amp each neuron outputs sigma_out * (x W + b): the sign convention of every stage 2."""
    m = _map_one(scheme, opamp_gain=1e9)
    a = m.arrays[0]
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.5]])
    z = X @ one_layer().weights[0] + one_layer().biases[0]  # [[1.5, -0.5], [0.75, 2.0], [1.625, 0.5]]
    v = behavioral.forward_voltages(m, X)
    np.testing.assert_allclose(v, a.sigma_out * z, rtol=1e-6)
    assert v[0, 1] < 0 < v[0, 0]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_tia_sizing_uses_each_columns_g_sum(scheme):
    """The largest TIA output on the calibration set is exactly headroom x rail, even at a low open-loop gain
    (A = 100: sizing for an ideal op-amp, R_f = v_max / I_max, would miss it by about 1 %)."""
    X = np.array([[1.0, 1.0], [0.5, 0.0], [0.0, 1.0]])
    cir = CircuitParams(opamp_gain=100.0)
    m = map_network(one_layer(), DeviceParams(), cir, X, scheme)
    _, v_tia = behavioral.layer_forward(m, 0, X * m.device.v_read_volt, m.arrays[0].g_siemens, return_tia=True)
    assert np.max(np.abs(v_tia)) == pytest.approx(cir.headroom * cir.v_rail_volt, rel=1e-12)


# weight (0, 0) has u = 0.5 (w = 1.0, w_max = 2): shift of u when its G+ or G- device is stuck on or off.
# pair schemes: G+ active at g_off + 0.5 dG, G- idle at g_off; balanced: G+- = g_mid +- 0.25 dG, a device covers
# dG / 2 of the difference G+ - G- = u dG; reference: G+ = g_mid + 0.25 dG and G- is the row's reference cell
SHIFT = {
    "differential-columns": {("G+", "on"): 0.5, ("G+", "off"): -0.5, ("G-", "on"): -1.0, ("G-", "off"): 0.0},
    "differential-rows": {("G+", "on"): 0.5, ("G+", "off"): -0.5, ("G-", "on"): -1.0, ("G-", "off"): 0.0},
    # G+ on: +(1 - u) / 2; off: -(1 + u) / 2; G- on: -(1 + u) / 2; off: +(1 - u) / 2
    "balanced": {("G+", "on"): 0.25, ("G+", "off"): -0.75, ("G-", "on"): -0.75, ("G-", "off"): 0.25},
    # G on: +(1 - u); off: -(1 + u); reference cell on: -1, off: +1 (for every weight of the row)
    "reference": {("G+", "on"): 0.5, ("G+", "off"): -1.5, ("G-", "on"): -1.0, ("G-", "off"): 1.0},
}


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("side", ["G+", "G-"])
@pytest.mark.parametrize("stuck", ["on", "off"])
def test_stuck_device_shifts_its_weight_by_the_hand_computed_amount(scheme, side, stuck):
    m = _map_one(scheme)
    a = m.arrays[0]
    (W0,), (b0,) = effective_weights(m, m.conductances())
    cell = pair_cells(scheme, 0, 0, a.n_out)[0 if side == "G+" else 1]
    mask = np.zeros(a.shape, bool)
    mask[cell] = True
    g = apply_stuck(m.conductances(), stuck_maps(m.shapes, [Defect("mask", 1, stuck, 0.0, {}, mask)], m.device))
    (W1,), (b1,) = effective_weights(m, g)
    expect = np.zeros_like(W0)
    if scheme == "reference" and side == "G-":
        expect[0, :] = SHIFT[scheme][(side, stuck)] * a.w_max  # the reference cell: the whole row moves
    else:
        expect[0, 0] = SHIFT[scheme][(side, stuck)] * a.w_max
    np.testing.assert_allclose(W1 - W0, expect, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(b1, b0)


def test_stuck_reference_cells_shift_every_weight_of_their_row(trained_project):
    """The reference column is a single point of failure: one cell moves a whole row, the column kills the net."""
    p = trained_project
    p.scheme = "reference"
    m = map_project(p)
    a = m.arrays[0]
    assert a.shape == (65, 9)
    ds = p.load_dataset()
    W0, b0 = effective_weights(m, m.conductances())
    for stuck, du in (("on", -1.0), ("off", 1.0)):
        mask = np.zeros(a.shape, bool)
        mask[20, a.n_out] = True  # pixel 20's reference cell
        g = apply_stuck(m.conductances(), stuck_maps(m.shapes, [Defect("mask", 1, stuck, 0.0, {}, mask)], m.device))
        W1, b1 = effective_weights(m, g)
        expect = np.zeros_like(W0[0])
        expect[20, :] = du * a.w_max
        np.testing.assert_allclose(W1[0] - W0[0], expect, rtol=0, atol=1e-12 * a.w_max)
        assert all(np.array_equal(x, y) for x, y in zip(W1[1:], W0[1:])) and np.array_equal(b1[0], b0[0])
        # the whole reference column of array 1 stuck: every neuron of the layer is dead or railed -> chance
        g_col, _ = defective_conductances(m, [parse_spec(f"columns:array=1,indices=8,stuck={stuck}")])
        assert behavioral.accuracy(m, ds.X_test, ds.y_test, g_col) <= 0.12
    # while any one neuron's own column stuck off leaves most of the network working
    for j in range(a.n_out):
        g_col, _ = defective_conductances(m, [parse_spec(f"columns:array=1,indices={j},stuck=off")])
        assert behavioral.accuracy(m, ds.X_test, ds.y_test, g_col) >= 0.35


def test_cell_and_pair_helpers_invert_each_other():
    n_in, n_out = 3, 4
    for scheme in SCHEMES:
        rows, cols = physical_shape(scheme, n_in, n_out)
        seen = set()
        for r in range(rows):
            for c in range(cols):
                i, j, side = cell_pair(scheme, r, c, n_out)
                if side == "ref":
                    assert scheme == "reference" and c == n_out and j == -1
                    assert all(pair_cells(scheme, i, jj, n_out)[1] == (r, c) for jj in range(n_out))
                    continue
                assert pair_cells(scheme, i, j, n_out)[0 if side == "G+" else 1] == (r, c)
                seen.add((i, j, side))
        expect = {(i, j, s) for i in range(n_in + 1) for j in range(n_out) for s in ("G+", "G-")}
        assert seen == (expect if scheme != "reference" else {x for x in expect if x[2] == "G+"})
        g = np.arange(float(rows * cols)).reshape(rows, cols)
        gp, gn = split_pairs(scheme, g)
        assert gp.shape == gn.shape == (n_in + 1, n_out)
        np.testing.assert_array_equal(join_pairs(scheme, gp, gn), g)
    with pytest.raises(ParameterError, match="reference cell"):
        join_pairs("reference", np.ones((2, 3)), np.arange(6.0).reshape(2, 3))


# ---- fidelities ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", NEW)
def test_torch_circuit_matches_behavioural(trained_project, scheme):
    import torch

    from core.recovery.retrain import TorchCircuit

    p = trained_project
    p.scheme = scheme
    m = map_project(p)
    ds = p.load_dataset()
    g, _ = defective_conductances(m, [parse_spec(s) for s in DEFECTS])
    v_t = TorchCircuit(m).forward(torch.from_numpy(ds.X_cal), [torch.from_numpy(x) for x in g]).numpy()
    np.testing.assert_allclose(v_t, behavioral.forward_voltages(m, ds.X_cal, g), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("scheme", NEW)
def test_remap_moves_neuron_columns_but_never_the_reference_column(trained_project, scheme):
    from core.recovery.remap import permute_mapped, permute_weights

    p = trained_project
    p.scheme = scheme
    m = map_project(p)
    ds = p.load_dataset()
    rng = np.random.default_rng(0)
    perms = [rng.permutation(a.n_out) for a in m.arrays[:-1]]
    pm = permute_mapped(m, perms)
    np.testing.assert_allclose(behavioral.forward_voltages(pm, ds.X_test), behavioral.forward_voltages(m, ds.X_test))
    fresh = map_network(permute_weights(p.weights, perms), p.device, p.circuit, ds.X_train, scheme)
    for a, b, c in zip(fresh.arrays, pm.arrays, m.arrays):
        np.testing.assert_allclose(a.g_siemens, b.g_siemens, rtol=1e-12)
        if scheme == "reference":
            np.testing.assert_array_equal(b.g_siemens[:, -1], c.g_siemens[:, -1])
    res = jobs.run(recover_job(p, [parse_spec("columns:array=2,start=2,count=3,stuck=off")], "remap"))
    assert res.after >= res.before


def _one_reference_neuron(k=2.0):
    """A 2x2 ``reference`` crossbar: one input row and the bias row, neuron column 0, reference column 1."""
    g = np.array([[1 / 10e3, 1 / 40e3], [1 / 20e3, 1 / 50e3]])
    arr = ArrayMap(0, g, 1, 1, 1.0, 1.0, r_tia_ohm=100e3, k_stage2=k, relu=False, sigma_in=0.2, sigma_out=1.0)
    cir = CircuitParams(v_rail_volt=5.0, opamp_gain=1e5, r_stage2_ohm=10e3)
    return MappedNetwork("reference", DeviceParams(v_read_volt=0.2), cir, [arr])


@pytest.mark.spice
def test_reference_neuron_in_ngspice_against_paper(ngspice_path):
    from core.circuit.spice import simulate

    # x = 0.5: rows at 0.1 V and 0.2 V (bias). Own column: I = 10 + 10 = 20 uA, G_sum = 150 uS; reference
    # column: I = 2.5 + 4 = 6.5 uA, G_sum = 45 uS. TIAs (A = 1e5, Rf = 100k): t = -I / (1/Rf + (G_sum + 1/Rf)/A),
    # t_own = -20e-6 / 1.00016e-5, t_ref = -6.5e-6 / 1.000055e-5; out = k A / (A + 1 + k) (t_ref - t_own) > 0
    t_own, t_ref = -20e-6 / 1.00016e-5, -6.5e-6 / 1.000055e-5
    expect = 2.0 * 1e5 / (1e5 + 3.0) * (t_ref - t_own)
    m = _one_reference_neuron()
    v, _ = jobs.run(simulate.output_voltages_job(m, np.array([[0.5], [0.0]]), workers=1))
    assert v[0, 0] == pytest.approx(expect, rel=1e-9) and expect > 0
    assert behavioral.forward_voltages(m, np.array([[0.5]]))[0, 0] == pytest.approx(expect, rel=1e-12)


def test_reference_tia_drives_every_difference_amplifier(trained_project):
    from core.circuit.spice import netlist

    p = trained_project
    p.scheme = "reference"
    m = map_project(p)
    text, _ = netlist.network_netlist(m, p.load_dataset().X_test[:2], m.conductances(), klu=False)
    plus = [line.split() for line in text.splitlines() if line.lower().startswith("rsb0_")]
    minus = [line.split() for line in text.splitlines() if line.lower().startswith("rsa0_")]
    assert len(plus) == len(minus) == 8
    assert all(f[1] == "t0_8" for f in plus)  # column 8 is the reference column of array 1
    assert sorted(f[1] for f in minus) == sorted(f"t0_{j}" for j in range(8))


def _agree(v_spice, v_ref):
    tol = max(1e-3, 0.005 * float(np.ptp(v_ref)))
    return int(np.sum(v_spice.argmax(1) == v_ref.argmax(1))), float(np.max(np.abs(v_spice - v_ref))), tol


@pytest.mark.spice
@pytest.mark.parametrize("defects", [[], DEFECTS], ids=["clean", "circle-on+columns-off"])
@pytest.mark.parametrize("scheme", NEW)
def test_spice_matches_behavioural_and_nodal(trained_project, ngspice_path, scheme, defects):
    from core.circuit.spice import simulate

    p = trained_project
    p.scheme = scheme
    m = map_project(p)
    X = p.load_dataset().X_test
    g, _ = defective_conductances(m, [parse_spec(s) for s in defects])
    v_ref = behavioral.forward_voltages(m, X, g)
    v_spice, _ = jobs.run(simulate.output_voltages_job(m, X, g, workers=2))
    same, err, tol = _agree(v_spice, v_ref)
    assert same >= len(X) - 1 and err <= tol, f"max |V_spice - V_behavioural| = {err:.3g} V > {tol:.3g} V"
    assert np.max(np.abs(nodal.forward_voltages(m, X, g) - v_ref)) <= 1e-12 * max(1.0, np.max(np.abs(v_ref)))


@pytest.mark.spice
@pytest.mark.parametrize("scheme", NEW)
def test_nodal_and_spice_agree_with_wires_and_saturated_tias(trained_project, ngspice_path, scheme):
    from core.circuit.spice import simulate

    p = trained_project
    p.scheme = scheme
    m = with_overrides(map_project(p), r_wire_ohm=1.0)
    X = p.load_dataset().X_test[:40]
    g, _ = defective_conductances(m, [parse_spec("circle:array=1,r=0.45,stuck=on")])
    _, v_tia = behavioral.layer_forward(m, 0, X * m.device.v_read_volt, g[0], return_tia=True)
    assert np.any(np.abs(v_tia) >= m.circuit.v_rail_volt)
    v_nodal = nodal.forward_voltages(m, X, g)
    v_spice, _ = jobs.run(simulate.output_voltages_job(m, X, g, workers=2))
    assert np.max(np.abs(v_nodal - v_spice)) < 1e-5
    assert np.max(np.abs(behavioral.forward_voltages(m, X, g) - v_spice)) > 1e-3  # the wires matter


@pytest.mark.parametrize("scheme", NEW)
def test_quantized_levels_keep_zero_weights_at_the_reference(trained_project, scheme):
    p = trained_project
    dev = dataclasses.replace(p.device, levels=4)  # even: g_mid is no level, so g_ref snaps like any device
    m = map_network(p.weights, dev, p.circuit, p.load_dataset().X_train, scheme)
    levels = np.linspace(dev.g_off_siemens, dev.g_on_siemens, 4)
    g = np.concatenate([a.g_siemens.ravel() for a in m.arrays])
    assert np.all(np.min(np.abs(g[:, None] - levels[None, :]), axis=1) < 1e-15)
    zero = Weights([np.zeros_like(w) for w in p.weights.weights], [np.zeros_like(b) for b in p.weights.biases])
    mz = map_network(zero, dev, p.circuit, p.load_dataset().X_train[:5], scheme)
    for a in mz.arrays:
        gp, gn = split_pairs(scheme, a.g_siemens)
        np.testing.assert_array_equal(gp, gn)


@pytest.mark.parametrize("scheme", NEW)
def test_project_file_round_trip(trained_project, tmp_path, scheme):
    from core import project_io

    p = trained_project
    p.scheme = scheme
    m = map_project(p)
    path = str(tmp_path / "p.h5")
    project_io.save(p, path)
    q = project_io.load(path)
    assert q.scheme == scheme and q.mapped.scheme == scheme and q.mapped.shapes == m.shapes
    X = p.load_dataset().X_test[:20]
    np.testing.assert_array_equal(behavioral.forward_voltages(q.mapped, X), behavioral.forward_voltages(m, X))
