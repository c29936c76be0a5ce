"""Separate word-line, bit-line, row-driver and TIA input resistances: nodal against hand arithmetic, a dense MNA
solve written here, ngspice; defaults, old files and the command line.

Tolerances: against hand arithmetic and the dense solve 1e-12 relative (direct float64 solves of systems with
condition numbers ~1e5; the gap model iterates to 1e-12 of the largest node voltage); against ngspice 1e-9
relative on linear column currents (a linear circuit converges in one Newton step, so what is left is rounding),
2e-6 with gap devices (ngspice's Newton stops at reltol = 1e-6), and 1e-10 V on the paper network's outputs.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from core import jobs, project_io
from core.circuit import nodal
from core.circuit.fidelity import circuit_params, with_opamp, with_overrides
from core.circuit.mapping import map_project
from core.circuit.spice import netlist, runner, simulate
from core.errors import ParameterError
from core.model.devices import CircuitParams, DeviceParams, Wires
from core.model.opamp import OpAmpParams
from project_builders import V1_FILE

WIRES = Wires(word_line_ohm=1.5, bit_line_ohm=2.5, driver_ohm=40.0, tia_in_ohm=25.0)
# each zero joins two nodes: every way of doing so, and the case with all four set
WIRE_CASES = [
    WIRES,
    Wires(0.0, 2.5, 40.0, 25.0),  # a row is one node behind its driver resistance
    Wires(0.0, 2.5, 0.0, 25.0),  # rows are their drivers (known voltages)
    Wires(1.5, 0.0, 40.0, 25.0),  # a column is one node before its TIA input resistance
    Wires(1.5, 0.0, 40.0, 0.0),  # columns are their ends
    Wires(0.0, 0.0, 40.0, 25.0),  # one node per row and per column
    Wires(1.5, 2.5, 0.0, 0.0),  # a single wire resistance per line
]


def _dense_mna(g, v_row, w: Wires, device: DeviceParams, term=None):
    """Column currents into 0 V ends (term None) or column-end voltages (term (cols,) S to ground) of one input
    (rows,), by modified nodal analysis over every node of the drawn circuit: drivers as voltage sources, every
    zero resistance as a 0 V source, series resistors with their middle node kept. Newton for gap devices."""
    rows, cols = g.shape
    names: dict[str, int] = {}

    def node(name):
        return names.setdefault(name, len(names))

    node("0")

    res, srcs = [], []  # (p, q, ohm), (p, q, volt) with p the + node; node "0" is ground
    for i in range(rows):
        srcs.append((f"d{i}", "0", v_row[i]))
        res.append((f"d{i}", f"rd{i}", w.driver_ohm))
        for j in range(cols):
            res.append((f"rd{i}" if j == 0 else f"a{i}_{j - 1}", f"a{i}_{j}", w.word_line_ohm))
    for j in range(cols):
        for i in range(rows):
            res.append((f"b{i}_{j}", f"b{i + 1}_{j}" if i < rows - 1 else f"rt{j}", w.bit_line_ohm))
        res.append((f"rt{j}", f"n{j}", w.tia_in_ohm))
        if term is None:
            srcs.append((f"n{j}", "0", 0.0))  # the ammeter
    for p, q, _ in res:
        node(p), node(q)
    shorts = [(p, q) for p, q, r in res if r == 0]
    branches = srcs + [(p, q, 0.0) for p, q in shorts]
    n_v = len(names)
    size = n_v + len(branches)
    gnd = names["0"]
    coef = device.i0_amp * np.exp(-device.gap_from_conductance(g) / device.g0_m) if device.uses_gap_iv else None
    x = np.zeros(size)
    for _ in range(100):
        jac = np.zeros((size, size))
        f = np.zeros(size)

        def stamp(p, q, cond, cur, f=f, jac=jac):  # a branch p -> q of current cur and conductance d cur / d (vp - vq)
            for a, s in ((p, 1.0), (q, -1.0)):
                f[a] += s * cur
                jac[a, p] += s * cond
                jac[a, q] -= s * cond

        volts = x[:n_v]
        for p, q, r in res:
            if r > 0:
                stamp(names[p], names[q], 1.0 / r, (volts[names[p]] - volts[names[q]]) / r)
        for i in range(rows):
            for j in range(cols):
                a, b = names[f"a{i}_{j}"], names[f"b{i}_{j}"]
                vd = volts[a] - volts[b]
                if coef is None:
                    stamp(a, b, g[i, j], g[i, j] * vd)
                else:
                    u = vd / device.v0_volt
                    stamp(a, b, coef[i, j] * np.cosh(u) / device.v0_volt, coef[i, j] * np.sinh(u))
        if term is not None:
            for j in range(cols):
                n = names[f"n{j}"]
                f[n] += term[j] * volts[n]
                jac[n, n] += term[j]
        for k, (p, q, volt) in enumerate(branches):
            pi, qi = node(p), node(q)
            bi = n_v + k
            f[pi] += x[bi]
            f[qi] -= x[bi]
            jac[pi, bi] += 1.0
            jac[qi, bi] -= 1.0
            f[bi] = volts[pi] - volts[qi] - volt
            jac[bi, pi] += 1.0
            jac[bi, qi] -= 1.0
        # ground: node "0" is fixed at 0 V
        f[gnd] = x[gnd]
        jac[gnd, :] = 0.0
        jac[gnd, gnd] = 1.0
        step = np.linalg.solve(jac, f)
        x -= step
        if np.max(np.abs(step[:n_v])) <= 1e-17:
            break
    if term is not None:
        return np.array([x[names[f"n{j}"]] for j in range(cols)])
    # the ammeter of column j is the source n{j} -> 0; its branch current leaves n{j} through it to ground
    return np.array([x[n_v + rows + j] for j in range(cols)])


def _spice_currents(g, v_rows, wires, device):
    """Column currents (N, cols) of one crossbar in ngspice (``crossbar_netlist`` with :class:`Wires`)."""
    text, saves = netlist.crossbar_netlist(g, v_rows, wires, device, klu=runner.solver_info()["klu"])
    ((vectors, _klu, _err),) = jobs.run(runner.run_batch_job([text]))
    t = runner.vector(vectors, "time")
    idx = [np.flatnonzero(t <= k + netlist.HOLD_S + 1e-9)[-1] for k in range(len(v_rows))]
    return np.stack([runner.vector(vectors, s)[idx] for s in saves], axis=1)


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# ---- hand arithmetic --------------------------------------------------------------------------------------
def test_one_by_one_is_a_series_circuit():
    # driver 0.2 V -> 40 ohm -> 1.5 ohm -> 10 kOhm device -> 2.5 ohm -> 25 ohm -> 0 V:
    # I = 0.2 / (40 + 1.5 + 10000 + 2.5 + 25) = 0.2 / 10069 = 19.86294567484358 uA
    g = np.array([[1e-4]])
    i = nodal.column_currents(g, np.array([[0.2]]), WIRES)
    assert i[0, 0] == pytest.approx(0.2 / 10069.0, rel=1e-12)
    # into a TIA (A = 1e5, R_f = 100 kOhm): the column end sees (1 + A)/R_f = 1.00001 S to ground, so
    # v_n = 0.2 / (10069 + 1/1.00001) * (1/1.00001) ... and v_out = -A v_n = -I R_f A/(1 + A)
    a, rf = 1e5, 1e5
    r_in = rf / (1 + a)
    vn = 0.2 * r_in / (10069.0 + r_in)
    v = nodal.tia_outputs(g, np.array([[0.2]]), WIRES, rf, DeviceParams(), a, 50.0)
    assert v[0, 0] == pytest.approx(-a * vn, rel=1e-12)


def test_one_by_two_word_line_divides_the_drive():
    # one row, two columns: driver -40- -1.5- a0 -1.5- a1; a_j -1/G_j- b_j -(2.5 + 25)- 0 V
    g = np.array([[1 / 10e3, 1 / 20e3]])
    r0, r1 = 10e3 + 27.5, 20e3 + 27.5  # the two column branches seen from their row nodes
    r_far = 1.5 + r1  # a0 sees column 1 through one more word-line segment
    r_total = 41.5 + r0 * r_far / (r0 + r_far)
    v_a0 = 0.2 - 0.2 / r_total * 41.5
    want = np.array([v_a0 / r0, v_a0 / r_far])
    got = nodal.column_currents(g, np.array([[0.2]]), WIRES)[0]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # the same with a single 1.5 ohm wire on both lines and no driver/TIA resistance (today's circuit)
    r0, r1 = 10e3 + 1.5, 20e3 + 1.5
    r_far = 1.5 + r1
    r_total = 1.5 + r0 * r_far / (r0 + r_far)
    v_a0 = 0.2 - 0.2 / r_total * 1.5
    np.testing.assert_allclose(nodal.column_currents(g, np.array([[0.2]]), 1.5)[0], [v_a0 / r0, v_a0 / r_far], 1e-12)


def test_two_by_one_bit_line_segments_add_up():
    # one column, two rows: row i -(40 + 1.5)- a_i -G_i- b_i; b0 -2.5- b1 -(2.5 + 25)- 0 V
    g = np.array([[1 / 10e3], [1 / 20e3]])
    v = np.array([[0.2, 0.1]])
    ra, rb = 41.5 + 10e3, 41.5 + 20e3  # driver to column node of each row
    # KCL at b0 and b1 (unknowns): (0.2 - b0)/ra = (b0 - b1)/2.5; (b0 - b1)/2.5 + (0.1 - b1)/rb = b1/27.5
    mat = np.array([[1 / ra + 1 / 2.5, -1 / 2.5], [-1 / 2.5, 1 / 2.5 + 1 / rb + 1 / 27.5]])
    b0, b1 = np.linalg.solve(mat, [0.2 / ra, 0.1 / rb])
    assert nodal.column_currents(g, v, WIRES)[0, 0] == pytest.approx(b1 / 27.5, rel=1e-12)


# ---- dense solve and ngspice ------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["linear", "gap"])
@pytest.mark.parametrize("wires", WIRE_CASES, ids=lambda w: "-".join(f"{v:g}" for v in dataclasses.astuple(w)))
def test_nodal_matches_a_dense_mna_solve(model, wires):
    rng = np.random.default_rng(3)
    dev = DeviceParams(model=model)
    g = rng.uniform(dev.g_off_siemens, dev.g_on_siemens, (5, 4))
    v = rng.uniform(0, 0.2, (3, 5))
    got = nodal.column_currents(g, v, wires, dev)
    want = np.stack([_dense_mna(g, row, wires, dev) for row in v])
    assert _rel(got, want) <= 1e-12
    term = np.full(4, (1 + 1e5) / 50e3)
    vn = -nodal.tia_outputs(g, v, wires, 50e3, dev, 1e5, 1e3) / 1e5
    want_n = np.stack([_dense_mna(g, row, wires, dev, term) for row in v])
    assert _rel(vn, want_n) <= 1e-11


@pytest.mark.spice
@pytest.mark.parametrize("model", ["linear", "gap"])
@pytest.mark.parametrize("wires", WIRE_CASES[:6], ids=lambda w: "-".join(f"{v:g}" for v in dataclasses.astuple(w)))
def test_nodal_matches_ngspice_on_a_random_crossbar(model, wires, ngspice_path):
    rng = np.random.default_rng(5)
    dev = DeviceParams(model=model)
    g = rng.uniform(dev.g_off_siemens, dev.g_on_siemens, (7, 6))
    v = rng.uniform(0, 0.2, (4, 7))
    got = nodal.column_currents(g, v, wires, dev)
    # linear: one Newton step, so rounding only; gap: ngspice stops its Newton at reltol = 1e-6
    assert _rel(got, _spice_currents(g, v, wires, dev)) <= (1e-9 if model == "linear" else 2e-6)
    # the wires matter: far more than the tolerance
    assert _rel(nodal.column_currents(g, v, 0.0, dev), got) > 1e-4


@pytest.mark.spice
@pytest.mark.slow
@pytest.mark.parametrize(
    "scheme,opamp",
    [("differential-columns", None), ("differential-rows", None), ("reference", "nonideal")],
)
def test_paper_network_nodal_matches_ngspice_with_distinct_wires(trained_project, ngspice_path, scheme, opamp):
    trained_project.scheme = scheme
    mapped = map_project(trained_project)
    if opamp:  # offsets shift every column end, output resistance couples the TIAs: the affine termination path
        mapped = with_opamp(mapped, OpAmpParams(offset_sigma_volt=1e-3, r_out_ohm=50.0, bias_current_amp=1e-8))
    cir = mapped.circuit.with_wires(r_word_line_ohm=1.0, r_bit_line_ohm=2.0, r_driver_ohm=20.0, r_tia_in_ohm=10.0)
    wired = dataclasses.replace(mapped, circuit=cir)
    X = trained_project.load_dataset().X_test[:6]
    v_nodal = nodal.forward_voltages(wired, X)
    v_spice, _ = jobs.run(simulate.output_voltages_job(wired, X, workers=2))
    assert np.max(np.abs(v_nodal - v_spice)) <= 1e-10
    # and each resistance changes the outputs by far more than that
    for field in ("r_word_line_ohm", "r_bit_line_ohm", "r_driver_ohm", "r_tia_in_ohm"):
        other = dataclasses.replace(wired, circuit=dataclasses.replace(cir, **{field: 0.0}))
        assert np.max(np.abs(nodal.forward_voltages(other, X) - v_nodal)) > 1e-6, field


# ---- one rule, defaults, files, front ends ----------------------------------------------------------------
def test_r_wire_means_both_lines_unless_a_line_has_its_own_value():
    assert CircuitParams().wires == Wires() and CircuitParams().wires.ideal
    assert CircuitParams(r_wire_ohm=2.0).wires == Wires(2.0, 2.0, 0.0, 0.0)
    assert CircuitParams(r_wire_ohm=2.0, r_bit_line_ohm=0.5).wires == Wires(2.0, 0.5, 0.0, 0.0)
    assert CircuitParams(r_wire_ohm=2.0, r_word_line_ohm=0.0).wires == Wires(0.0, 2.0, 0.0, 0.0)
    for field, value in [("r_word_line_ohm", -0.5), ("r_bit_line_ohm", 2e4), ("r_driver_ohm", -1.0)]:
        with pytest.raises(ParameterError, match=field):
            CircuitParams(**{field: value})
    with pytest.raises(ParameterError, match="driver_ohm"):
        Wires(driver_ohm=float("nan"))


def test_defaults_give_todays_circuit_bit_for_bit(trained_project):
    rng = np.random.default_rng(0)
    g = rng.uniform(1e-6, 1e-4, (4, 3))
    v = rng.uniform(0, 0.2, (5, 4))
    for model in ("linear", "gap"):
        dev = DeviceParams(model=model)
        wires = CircuitParams(r_wire_ohm=2.0).wires
        text_new, _ = netlist.crossbar_netlist(g, v, wires, dev, klu=True)
        text_old, _ = netlist.crossbar_netlist(g, v, 2.0, dev, klu=True)
        assert text_new == text_old and "Rwd" not in text_new and "Rwt" not in text_new
        assert np.array_equal(nodal.column_currents(g, v, wires, dev), nodal.column_currents(g, v, 2.0, dev))
    # a mapped network with r_wire only: the stored result names no new field
    m = with_overrides(trained_project.mapped, r_wire_ohm=2.0)
    assert not any(k in circuit_params(m) for k in ("r_word_line_ohm", "r_driver_ohm"))
    m2 = dataclasses.replace(m, circuit=m.circuit.with_wires(r_driver_ohm=5.0))
    assert circuit_params(m2)["r_driver_ohm"] == 5.0


def test_old_project_file_loads_with_defaults_and_new_fields_round_trip(trained_project, tmp_path):
    with h5py.File(V1_FILE, "r") as f:
        assert "r_word_line_ohm" not in f["circuit"].attrs and "r_driver_ohm" not in f["circuit"].attrs
    old = project_io.load(V1_FILE)
    for cir in (old.circuit, old.require_mapped().circuit):
        assert (cir.r_word_line_ohm, cir.r_bit_line_ohm, cir.r_driver_ohm, cir.r_tia_in_ohm) == (-1.0, -1.0, 0.0, 0.0)
        assert cir.wires == Wires(cir.r_wire_ohm, cir.r_wire_ohm)
    p = trained_project
    p.circuit = p.circuit.with_wires(r_word_line_ohm=1.25, r_bit_line_ohm=0.0, r_driver_ohm=7.0, r_tia_in_ohm=3.0)
    p.mapped = dataclasses.replace(p.mapped, circuit=p.circuit)
    path = tmp_path / "wires.h5"
    project_io.save(p, str(path))
    with h5py.File(path, "r") as f:
        assert f["circuit"].attrs["r_driver_ohm"] == 7.0 and f["mapping/circuit"].attrs["r_tia_in_ohm"] == 3.0
    back = project_io.load(str(path))
    assert back.circuit == p.circuit and back.require_mapped().circuit.wires == Wires(1.25, 0.0, 7.0, 3.0)


def test_new_project_form_offers_the_wire_fields():
    from app.presenters.new_project import NUMBER_FIELDS, default_values

    for name in ("r_word_line_ohm", "r_bit_line_ohm", "r_driver_ohm", "r_tia_in_ohm"):
        assert f"circuit.{name}" in NUMBER_FIELDS
    assert default_values()["circuit.r_word_line_ohm"] == "-1" and default_values()["circuit.r_driver_ohm"] == "0"


def _cli(*args):
    p = subprocess.run([sys.executable, "-m", "core", *map(str, args)], capture_output=True, text=True, timeout=300)
    return p


def test_cli_wire_flags_reach_the_circuit(trained_project, tmp_path):
    path = tmp_path / "p.h5"
    project_io.save(trained_project, str(path))
    p = _cli("evaluate", path, *"--fidelity nodal --r-wire 1 --r-bl 3 --r-driver 30 --r-tia-in 20 --json".split())
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    want = dataclasses.replace(
        trained_project.mapped,
        circuit=trained_project.mapped.circuit.with_wires(
            r_wire_ohm=1.0, r_bit_line_ohm=3.0, r_driver_ohm=30.0, r_tia_in_ohm=20.0
        ),
    )
    X, y = trained_project.load_dataset().split("test")
    acc = float(np.mean(np.argmax(nodal.forward_voltages(want, X), axis=1) == y))
    assert got["accuracy"] == pytest.approx(acc, abs=1e-12)
    stored = project_io.load(str(path)).results[-1].params
    assert (stored["r_wire_ohm"], stored["r_bit_line_ohm"], stored["r_driver_ohm"]) == (1.0, 3.0, 30.0)
    assert "r_word_line_ohm" not in stored  # word lines follow --r-wire
    sweep = _cli(
        "sweep",
        path,
        *"--patterns random --sizes 0.1 --stuck on --arrays 1 --seeds 1 --fidelity nodal".split(),
        *"--r-tia-in 15 --no-save --json".split(),
    )
    assert sweep.returncode == 0, sweep.stderr
    assert json.loads(sweep.stdout)["spec"]["r_tia_in_ohm"] == 15.0
    new = tmp_path / "new.h5"
    made = _cli("new", new, *"--epochs 1 --r-wire 2 --r-bl 0.5 --r-driver 12 --json".split())
    assert made.returncode == 0, made.stderr
    cir = project_io.load(str(new)).require_mapped().circuit
    assert cir.wires == Wires(2.0, 0.5, 12.0, 0.0) and cir.r_word_line_ohm == -1.0
    bad = _cli("evaluate", path, "--fidelity", "nodal", "--r-wl", "-0.5", "--no-save")
    assert bad.returncode == 2 and "r-wl" in bad.stderr and "-1" in bad.stderr, bad.stderr
