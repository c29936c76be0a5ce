"""Non-ideal op-amps (input offset, bias current, finite gain, swing margin, output resistance) at every fidelity.

Checks
------
* Defaults: the ideal macro-model takes the old code path everywhere; explicit all-zero offsets (the non-ideal
  code path) give the same voltages, and the same netlist text to the character.
* Hand arithmetic: one TIA, and one whole neuron (two TIAs and a difference amplifier), with V_os, I_b, R_o,
  against formulas written out below (``V_os (1 + R_f G)`` noise gain, ``(1 + k) V_os`` of stage 2, ...).
* Fidelities against each other with every non-ideality set, for every scheme, with and without wires.
* Offsets are drawn from ``default_rng([OFFSET_TAG, seed, array, crc32(kind), position])`` in every fidelity and
  process; the offset sweep loses accuracy with sigma and reports Student-t intervals over its seeds.

Tolerances
----------
Behavioural against nodal at ``r_wire = 0``: ``1e-11 max(1, |v|)`` for linear devices. The two solve the same
equations in different forms (Thevenin closed forms against column-end voltages plus an affine termination);
the TIA drive ``A (V_os - n)`` cancels to ~1e-5 of its terms, and that rounding, times noise gains up to 45,
measures 1e-12 per layer (3.6e-12 V worst over the four layers; the ideal path's 1e-12 would be too tight).
Gap devices: ``1e-5 max(1, |v|)`` as in ``tests/test_nodal.py`` (the behavioural model linearizes the devices
around the column-end potential ``V_os``). ngspice against nodal (with and without wires): 1e-6 V absolute, 10x
tighter than the ideal model's nodal-against-ngspice 1e-5 V of ``tests/test_fidelity_crosscheck.py``. Most outputs
agree to 1e-12 V; the worst measured, 7e-8 V, is one staircase point where ngspice's Newton iteration stopped at
its ``reltol = 1e-6`` after op-amps changed state (the same image simulated alone agrees to 2e-12 V). The
smallest effect checked against it, the output resistance's loads, is 7e-5 V (70x the tolerance).
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import zlib

import numpy as np
import pytest

from core import jobs, project_io
from core.circuit import behavioral, nodal, opamp
from core.circuit.fidelity import with_opamp, with_overrides
from core.circuit.mapping import map_project
from core.circuit.spice import netlist, simulate
from core.cli.main import main
from core.errors import ParameterError
from core.model.crossbar import ArrayMap, MappedNetwork
from core.model.devices import CircuitParams, DeviceParams
from core.model.opamp import OFFSET_TAG, OpAmpOffsets, OpAmpParams, parse_quantity, sample_offsets
from core.model.stats import t_interval
from core.sweeps.job import sweep_job
from core.sweeps.spec import SweepSpec

TOL_SPICE = 1e-6  # V, ngspice against nodal (module docstring)
SCHEMES = ("differential-columns", "differential-rows", "balanced", "reference")
NONIDEAL = OpAmpParams(
    offset_sigma_volt=2e-3, offset_seed=5, bias_current_amp=20e-9, swing_margin_volt=1.2, r_out_ohm=100.0
)


def _rel(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def _zero_offsets(mapped: MappedNetwork) -> list[OpAmpOffsets]:
    return [OpAmpOffsets(np.zeros(t), np.zeros(s), np.zeros(i)) for t, s, i in mapped.opamp_counts()]


def _one_neuron(r_tia_ohm=100e3, k=2.0, offsets=None, opamp_params=None):
    """The 2x2 differential-columns neuron of ``tests/test_spice.py``: one input row, the bias row, G+ col 0."""
    g = np.array([[1 / 10e3, 1 / 40e3], [1 / 20e3, 1 / 50e3]])
    arr = ArrayMap(0, g, 1, 1, 1.0, 1.0, r_tia_ohm=r_tia_ohm, k_stage2=k, relu=False, sigma_in=0.2, sigma_out=1.0)
    cir = CircuitParams(v_rail_volt=5.0, opamp_gain=1e5, r_stage2_ohm=10e3)
    return MappedNetwork(
        "differential-columns", DeviceParams(v_read_volt=0.2), cir, [arr], opamp_params or OpAmpParams(), offsets
    )


# ---- defaults ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", SCHEMES)
def test_defaults_take_the_ideal_path_and_zero_offsets_change_nothing(trained_project, scheme):
    trained_project.scheme = scheme
    m = map_project(trained_project)
    assert m.opamp == OpAmpParams() and m.offsets is None and m.ideal_opamps and m.opamp_offsets() is None
    X = trained_project.load_dataset().X_test[:40]
    zero = with_opamp(m, offsets=_zero_offsets(m))
    assert not zero.ideal_opamps  # the non-ideal code path ...
    v = behavioral.forward_voltages(m, X)
    assert _rel(behavioral.forward_voltages(zero, X), v) <= 1e-12  # ... reduces to today's closed form
    assert _rel(nodal.forward_voltages(zero, X), v) <= 1e-11
    wired, wired0 = with_overrides(m, r_wire_ohm=1.0), with_overrides(zero, r_wire_ohm=1.0)
    assert _rel(nodal.forward_voltages(wired0, X), nodal.forward_voltages(wired, X)) <= 1e-11
    text, _ = netlist.network_netlist(m, X[:3], m.conductances(), True)
    assert netlist.network_netlist(zero, X[:3], m.conductances(), True)[0] == text
    names = [line.split()[0].lower() for line in text.splitlines()[1:] if line and not line.startswith(".")]
    assert not any(n.startswith(("vos", "iib", "rro", "cp", "bp")) for n in names)


# ---- hand arithmetic --------------------------------------------------------------------------------------
def test_single_tia_by_hand():
    """V_os = 1 mV, A = 1e5, R_f = 10k, the column's G = 1e-4 S to ground, no input current.

    KCL: n = c + d t with c = (I - I_b)/(G + Gf) and d = Gf/(G + Gf) = 1/2; t = A (V_os - n) gives
    t = A (V_os - c) / (1 + A d) = 1e5 * 1e-3 / 50001 = 100/50001 V (ideal op-amp: V_os (1 + R_f G) = 2 mV).
    A bias current of 10 nA adds c = -5e-5: t = 1e5 * 1.05e-3 / 50001 = 105/50001 (ideal: 2 mV + I_b R_f).
    """
    m = opamp.OpAmpModel(a=1e5, e_sat=5.0, r_o=0.0, i_b=0.0)
    assert opamp.tia_loaded(0.0, 1e-4, 10e3, m, 1e-3, 0.0) == pytest.approx(100 / 50001, rel=1e-14)
    mb = dataclasses.replace(m, i_b=10e-9)
    assert opamp.tia_loaded(0.0, 1e-4, 10e3, mb, 1e-3, 0.0) == pytest.approx(105 / 50001, rel=1e-14)
    # R_o = 100 ohm: D = 1 + R_o Gf - (R_o Gf - A) d = 1.01 + 49999.995 = 50001.005; T = (A V_os + (R_o Gf - A) c)/D
    #   = (100 + (0.01 - 1e5)(-5e-5)) / D = 104.9999995 / 50001.005, and Z = R_o / D. A 1k load to ground:
    mo = dataclasses.replace(mb, r_o=100.0)
    th, z = 104.9999995 / 50001.005, 100.0 / 50001.005
    assert opamp.tia_loaded(0.0, 1e-4, 10e3, mo, 1e-3, 0.0) == pytest.approx(th, rel=1e-13)
    assert opamp.tia_loaded(0.0, 1e-4, 10e3, mo, 1e-3, 1e-3) == pytest.approx(th / (1 + z * 1e-3), rel=1e-13)
    # swing: 1 mA into the TIA wants -10 V; with a 1.5 V margin on 5 V rails it sits at -3.5 V
    ms = dataclasses.replace(m, e_sat=3.5)
    assert opamp.tia_loaded(1e-3, 1e-4, 10e3, ms, 0.0, 0.0) == -3.5


def _hand_neuron(x, vos_t0, vos_t1, vos_s, i_b=0.0, a=1e5, k=2.0, r2=10e3, rf=100e3):
    """The one neuron's output by hand (R_o = 0, so the TIA outputs do not depend on their loads).

    TIA j: t_j = A (V_os_j - c_j) / (1 + A d_j), c_j = (I_j - I_b)/(G_j + Gf), d_j = Gf/(G_j + Gf).
    Difference amplifier (KCL at m: (t0 - m)/R2 + (s - m)/(k R2) - I_b = 0; p = k/(1+k) t1; s = A (p + V_os - m)):
    s = A (k (t1 - t0) + (1 + k) V_os + k I_b R2) / (1 + k + A).
    """
    v_in, v_b = 0.2 * x, 0.2
    cur = [v_in / 10e3 + v_b / 20e3, v_in / 40e3 + v_b / 50e3]
    gsum = [1 / 10e3 + 1 / 20e3, 1 / 40e3 + 1 / 50e3]
    gf = 1 / rf
    t = [a * (v - (i - i_b) / (g + gf)) / (1 + a * gf / (g + gf)) for i, g, v in zip(cur, gsum, (vos_t0, vos_t1))]
    return a * (k * (t[1] - t[0]) + (1 + k) * vos_s + k * i_b * r2) / (1 + k + a)


@pytest.mark.spice
def test_one_neuron_with_offsets_and_bias_by_hand_at_every_fidelity(ngspice_path):
    """Offsets +1 mV and -1 mV on the TIAs, +1 mV on stage 2, 10 nA bias current: x = 0.5 gives
    t0 = 1e5 (1e-3 - 20e-6/160e-6)/(1 + 1e5/16) (= -2 V + 16 mV noise-gain offset, minus the finite-gain loss)."""
    offs = [OpAmpOffsets(np.array([1e-3, -1e-3]), np.array([1e-3]), np.zeros(0))]
    X = np.array([[0.5], [1.0], [0.0]])
    for i_b in (0.0, 10e-9):
        m = _one_neuron(offsets=offs, opamp_params=OpAmpParams(bias_current_amp=i_b))
        expect = np.array([[_hand_neuron(x[0], 1e-3, -1e-3, 1e-3, i_b)] for x in X])
        assert np.max(np.abs(behavioral.forward_voltages(m, X) - expect)) <= 1e-12 * np.max(np.abs(expect))
        assert np.max(np.abs(nodal.forward_voltages(m, X) - expect)) <= 1e-12 * np.max(np.abs(expect))
        v_spice, _ = jobs.run(simulate.output_voltages_job(m, X, workers=1))
        assert np.max(np.abs(v_spice - expect)) <= TOL_SPICE
    # the offsets are visible: V_os (1 + R_f G) is +16 mV on TIA 0 and -5.5 mV on TIA 1, stage 2 adds (1 + k) 1 mV:
    # k (t1 - t0) moves by 2 (-5.5 - 16) mV, so the neuron moves by -43 + 3 = -40 mV (finite gain: 1e-4 relative)
    assert _hand_neuron(0.5, 1e-3, -1e-3, 1e-3) - _hand_neuron(0.5, 0, 0, 0) == pytest.approx(
        -2 * (16e-3 * 1 + 5.5e-3) + 3e-3, rel=2e-3
    )


def test_swing_margin_and_output_resistance_at_rail():
    """R_f = 1 M drives TIA 0 (wanting -10 V at x = 0) into the rail: with a 0.5 V margin and R_o = 0 it sits at
    -4.5 V, so the neuron is k A/(A+1+k) (t1 + 4.5) with t1 = -3.998 V the linear TIA 1. With R_o = 1k the clamped
    internal source sits behind R_o, and the loads (R_f and the stage-2 input R2) pull the output off -4.5 V."""
    m = _one_neuron(r_tia_ohm=1e6, opamp_params=OpAmpParams(swing_margin_volt=0.5))
    t1 = -4e-6 / (1e-6 + (45e-6 + 1e-6) / 1e5)
    x0 = np.array([[0.0]])
    v = behavioral.forward_voltages(m, x0)[0, 0]
    assert v == pytest.approx(200000 / 100003 * (t1 + 4.5), rel=1e-12)
    assert nodal.forward_voltages(m, x0)[0, 0] == pytest.approx(v, rel=1e-12)
    mo = with_opamp(m, OpAmpParams(swing_margin_volt=0.5, r_out_ohm=1e3))
    _, v_tia = behavioral.layer_forward(mo, 0, x0 * 0.2, mo.arrays[0].g_siemens, return_tia=True)
    assert -4.5 < v_tia[0, 0] < -4.0 and v_tia[0, 1] == pytest.approx(t1, rel=1e-4)
    assert nodal.forward_voltages(mo, x0)[0, 0] == pytest.approx(behavioral.forward_voltages(mo, x0)[0, 0], rel=1e-12)


# ---- fidelities against each other --------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", SCHEMES)
def test_behavioural_and_nodal_agree_with_every_nonideality(trained_project, scheme):
    trained_project.scheme = scheme
    m = with_opamp(map_project(trained_project), NONIDEAL)
    X = trained_project.load_dataset().X_test
    v_b = behavioral.forward_voltages(m, X)
    assert _rel(nodal.forward_voltages(m, X), v_b) <= 1e-11
    assert _rel(v_b, behavioral.forward_voltages(map_project(trained_project), X)) > 1e-3  # the op-amps matter
    gap = with_overrides(m, device_model="gap")
    assert _rel(nodal.forward_voltages(gap, X[:40]), behavioral.forward_voltages(gap, X[:40])) <= 1e-5


@pytest.mark.spice
@pytest.mark.parametrize("r_wire", [0.0, 1.0], ids=["ideal-wires", "1-ohm-wires"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_ngspice_matches_nodal_with_every_nonideality(trained_project, ngspice_path, scheme, r_wire):
    trained_project.scheme = scheme
    m = with_overrides(with_opamp(map_project(trained_project), NONIDEAL), r_wire_ohm=r_wire)
    X = trained_project.load_dataset().X_test[:40]
    v_n = nodal.forward_voltages(m, X)
    v_s, _ = jobs.run(simulate.output_voltages_job(m, X, workers=2))
    assert np.max(np.abs(v_s - v_n)) <= TOL_SPICE
    if r_wire == 0:
        assert np.max(np.abs(v_s - behavioral.forward_voltages(m, X))) <= TOL_SPICE
    else:  # the wires matter
        assert np.max(np.abs(behavioral.forward_voltages(m, X) - v_s)) > 1e-3
    # and so do R_o's loads: without them the nodal answer is outside the tolerance
    no_ro = with_opamp(m, dataclasses.replace(NONIDEAL, r_out_ohm=0.0))
    assert np.max(np.abs(nodal.forward_voltages(no_ro, X) - v_s)) > 10 * TOL_SPICE


@pytest.mark.spice
def test_ngspice_gap_devices_with_offsets_and_wires(trained_project, ngspice_path):
    m = with_overrides(with_opamp(trained_project.mapped, NONIDEAL), r_wire_ohm=1.0, device_model="gap")
    X = trained_project.load_dataset().X_test[:20]
    v_s, _ = jobs.run(simulate.output_voltages_job(m, X, workers=2))
    assert np.max(np.abs(v_s - nodal.forward_voltages(m, X))) <= 1e-7  # the chord iteration stops at 1e-12 steps


@pytest.mark.spice
def test_dominant_pole_and_slew_leave_the_dc_plateaus_unchanged(trained_project, ngspice_path):
    op = OpAmpParams(offset_sigma_volt=1e-3, gbw_hz=1e6, slew_volt_per_s=1e6)
    m = with_opamp(trained_project.mapped, op)
    X = trained_project.load_dataset().X_test[:12]
    text, _ = netlist.network_netlist(m, X, m.conductances(), True)
    assert "cpt0_0" in text.lower() and "bpt0_0" in text.lower()  # a pole capacitor and its charging source
    v_s, _ = jobs.run(simulate.output_voltages_job(m, X, workers=1))
    assert np.max(np.abs(v_s - behavioral.forward_voltages(m, X))) <= 1e-6  # transient reltol 1e-6
    with pytest.raises(ParameterError, match="slew"):
        netlist.network_netlist(with_opamp(m, OpAmpParams(slew_volt_per_s=1e6)), X, m.conductances(), True)


# ---- offsets: one draw for every fidelity ---------------------------------------------------------------
def test_same_seed_gives_the_same_offsets_in_every_fidelity_and_process(trained_project):
    m = with_opamp(trained_project.mapped, OpAmpParams(offset_sigma_volt=1e-3, offset_seed=7))
    offs = m.opamp_offsets()
    assert [o.tia.shape + o.stage2.shape + o.inverter.shape for o in offs] == [
        (16, 8, 0),
        (16, 8, 0),
        (16, 8, 0),
        (20, 10, 0),
    ]
    z = np.random.default_rng([OFFSET_TAG, 7, 2, zlib.crc32(b"stage2"), 3]).standard_normal()
    assert offs[1].stage2[3] == 1e-3 * z
    # common random numbers: sigma scales one draw; another seed is another draw
    twice = with_opamp(m, OpAmpParams(offset_sigma_volt=2e-3, offset_seed=7)).opamp_offsets()
    assert np.array_equal(twice[0].tia, 2 * offs[0].tia)
    assert not np.allclose(
        with_opamp(m, OpAmpParams(offset_sigma_volt=1e-3, offset_seed=8)).opamp_offsets()[0].tia, offs[0].tia
    )
    # another process draws the same numbers
    code = (
        "from core.model.opamp import sample_offsets; "
        "print(repr(float(sample_offsets([(16, 8, 0)] * 3 + [(20, 10, 0)], 1e-3, 7)[3].tia[19])))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert float(out.stdout) == offs[3].tia[19]
    # the netlist carries exactly these offsets in series with each non-inverting input
    text, _ = netlist.network_netlist(m, trained_project.load_dataset().X_test[:2], m.conductances(), True)
    lines = {line.split()[0].lower(): line.split() for line in text.splitlines() if line.lower().startswith("vos")}
    assert float(lines["vost3_19"][3]) == offs[3].tia[19] and float(lines["voss1_3"][3]) == offs[1].stage2[3]
    assert len(lines) == sum(16 + 8 for _ in range(3)) + 30
    # behavioural and nodal read the same offsets (they agree to rounding; another draw differs by far more)
    X = trained_project.load_dataset().X_test
    v_b = behavioral.forward_voltages(m, X)
    assert _rel(nodal.forward_voltages(m, X), v_b) <= 1e-11
    other = with_opamp(m, OpAmpParams(offset_sigma_volt=1e-3, offset_seed=8))
    assert _rel(behavioral.forward_voltages(other, X), v_b) > 1e-4


def test_inverter_offsets_of_differential_rows(trained_project):
    trained_project.scheme = "differential-rows"
    m = with_opamp(map_project(trained_project), OpAmpParams(offset_sigma_volt=1e-3))
    offs = m.opamp_offsets()
    assert [o.inverter.shape for o in offs] == [(64,), (8,), (8,), (8,)]
    # the -V row of input i sits at -A/(A+2) x + 2 A/(A+2) V_os: only the inverter offsets move the rows
    only_inv = [OpAmpOffsets(np.zeros_like(o.tia), np.zeros_like(o.stage2), o.inverter) for o in offs]
    from core.circuit.mapping import row_voltages

    x = np.full((1, 64), 0.1)
    rows = row_voltages(m.scheme, x, 0.2, m.circuit, 0, m.opamp, only_inv[0].inverter)
    a = m.circuit.opamp_gain
    np.testing.assert_allclose(rows[0, 1:-1:2], a / (a + 2) * (2 * offs[0].inverter - 0.1), rtol=1e-13)
    X = trained_project.load_dataset().X_test
    m_inv = with_opamp(m, offsets=only_inv)
    assert _rel(nodal.forward_voltages(m_inv, X), behavioral.forward_voltages(m_inv, X)) <= 1e-11


def test_explicit_offsets_are_checked(trained_project):
    m = trained_project.mapped
    bad = _zero_offsets(m)
    bad[2] = OpAmpOffsets(np.zeros(15), np.zeros(8), np.zeros(0))
    with pytest.raises(ParameterError, match="array 3: tia"):
        with_opamp(m, offsets=bad).opamp_offsets()
    with pytest.raises(ParameterError, match="swing_margin_volt"):
        behavioral.forward_voltages(with_opamp(m, OpAmpParams(swing_margin_volt=5.0)), np.zeros((1, 64)))
    with pytest.raises(ParameterError, match="offset_sigma_volt"):
        OpAmpParams(offset_sigma_volt=0.5)
    zero = sample_offsets([(4, 2, 3)], 0.0, 1)[0]
    assert [z.tolist() for z in (zero.tia, zero.stage2, zero.inverter)] == [[0.0] * 4, [0.0] * 2, [0.0] * 3]
    assert parse_quantity("0.5m", "x") == 0.5e-3 and parse_quantity("2mV", "x") == 2e-3
    assert parse_quantity("500u", "x") == pytest.approx(5e-4) and parse_quantity("10meg", "x", "hz") == 1e7
    with pytest.raises(ParameterError, match="offset-sigma"):
        parse_quantity("2x", "offset-sigma")


# ---- Monte-Carlo over offsets ---------------------------------------------------------------------------
def test_offset_sweep_loses_accuracy_with_sigma_with_t_intervals(trained_project):
    sigmas = (0.0, 1e-3, 2e-3, 5e-3)
    spec = SweepSpec(patterns=("none",), n_seeds=12, offset_sigma_volt=sigmas)
    res = jobs.run(sweep_job(trained_project, spec))
    assert [r["offset_sigma_volt"] for r in res.rows] == list(sigmas)
    assert res.spec["offset_sigma_volt"] == list(sigmas)
    clean = float(
        np.mean(
            behavioral.forward_voltages(trained_project.mapped, trained_project.load_dataset().X_test).argmax(1)
            == trained_project.load_dataset().y_test
        )
    )
    assert res.rows[0]["accuracies"] == [clean] * 12 and res.rows[0]["std"] < 1e-15
    means = [r["mean_accuracy"] for r in res.rows]
    assert means[0] > means[1] > means[2] > means[3] and means[3] < clean - 0.1
    for r in res.rows:
        # the table's aggregates are exact sums rounded once (core.sweeps.table); numpy rounds at every
        # addition: equal within a few ulps (1e-12 absolute is far below one image in 180, 0.0056)
        n, mean, std, lo, hi = t_interval(r["accuracies"])
        assert r["n"] == n and abs(r["mean_accuracy"] - mean) < 1e-12 and abs(r["std"] - std) < 1e-12
        assert (abs(r["ci95_low"] - lo) < 1e-12 and abs(r["ci95_high"] - hi) < 1e-12) or (
            math.isnan(lo) and math.isnan(r["ci95_low"])
        )
    # each seed is an ordinary evaluation with offset seed = seed index (base seed 0), at any fidelity
    k, sigma = 4, 2e-3
    m_k = with_opamp(trained_project.mapped, OpAmpParams(offset_sigma_volt=sigma, offset_seed=k))
    X, y = trained_project.load_dataset().split("test")
    assert float(np.mean(nodal.forward_voltages(m_k, X).argmax(1) == y)) == res.rows[2]["accuracies"][k]
    small = SweepSpec(
        patterns=("none", "circle"), sizes=(0.2,), stuck=("on",), arrays=(2,), n_seeds=3, offset_sigma_volt=(0.0, 2e-3)
    )
    beh = jobs.run(sweep_job(trained_project, small, chunk_maps=4))
    nod = jobs.run(sweep_job(trained_project, dataclasses.replace(small, fidelity="nodal")))
    assert [r["accuracies"] for r in beh.rows] == [r["accuracies"] for r in nod.rows]
    assert [(r["pattern"], r["offset_sigma_volt"]) for r in beh.rows] == [
        ("none", 0.0),
        ("none", 2e-3),
        ("circle", 0.0),
        ("circle", 2e-3),
    ]


def test_cli_offset_flags(trained_project, tmp_path, capsys):
    path = tmp_path / "p.h5"
    project_io.save(trained_project, str(path))
    assert main(["sweep", str(path), "--patterns", "none", "--offset-sigma", "0,1m,2m", "--seeds", "3", "--json"]) == 0
    sweep = json.loads(capsys.readouterr().out)
    assert [r["offset_sigma_volt"] for r in sweep["rows"]] == [0.0, 1e-3, 2e-3]
    assert main(["evaluate", str(path), "--offset-sigma", "2m", "--offset-seed", "2", "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["accuracy"] == sweep["rows"][2]["accuracies"][2]
    assert ev["opamp"] == {"offset_sigma_volt": 2e-3, "offset_seed": 2}
    stored = project_io.load(str(path))
    assert stored.results[-1].params["opamp"] == {"offset_sigma_volt": 2e-3, "offset_seed": 2}
    assert stored.mapped.opamp == OpAmpParams()  # the op-amp settings belong to the evaluation, not the project
    assert main(["evaluate", str(path), "--offset-sigma", "1", "--no-save"]) == 2
    assert "offset-sigma" in capsys.readouterr().err
    assert main(["sweep", str(path), "--patterns", "none", "--offset-sigma", "1m,x", "--no-save"]) == 2
    assert (
        main(
            [
                "evaluate",
                str(path),
                "--bias-current",
                "10n",
                "--r-out",
                "100",
                "--swing-margin",
                "1",
                "--json",
                "--no-save",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["opamp"] == {
        "bias_current_amp": 1e-8,
        "swing_margin_volt": 1.0,
        "r_out_ohm": 100.0,
    }


@pytest.mark.spice
def test_step_response_settling_time_scales_with_gbw_and_slew(trained_project, ngspice_path):
    from core.circuit.spice.transient import step_response_job

    X = trained_project.load_dataset().X_test
    base = trained_project.mapped

    def settle(**kw):
        return jobs.run(step_response_job(with_opamp(base, OpAmpParams(**kw)), X[0], X[1]))

    r1, r2 = settle(gbw_hz=1e6), settle(gbw_hz=2e6)
    assert np.max(np.abs(r1.v_out[-1] - r1.v_final)) <= 1e-9  # the run ends on the DC solution of image 1
    assert 1e-6 < r1.settling_s < 1e-3 and 1.8 < r1.settling_s / r2.settling_s < 2.2  # one dominant pole: 1/GBW
    slow = settle(gbw_hz=1e7, slew_volt_per_s=1e5)
    step = float(np.max(np.abs(slow.v_final - slow.v_out[0])))
    assert slow.settling_s >= 0.99 * step / 1e5 > settle(gbw_hz=1e7).settling_s
    with pytest.raises(ParameterError, match="gbw_hz"):
        jobs.run(step_response_job(base, X[0], X[1]))
