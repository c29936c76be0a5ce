"""Device variability (programming error, read noise, drift) and stuck values apart from the window.

Checks
------
* Defaults leave the conductances (the very arrays) and every fidelity's voltages unchanged, exactly.
* Sampling from ``default_rng([VARIABILITY_TAG, seed, array, crc32(kind)])``: the same in every process and
  fidelity; programming error's sample statistics; drift is the power law to the last bit; stuck values.
* Fidelities agree with variability applied: behavioural against nodal at ``r_wire = 0`` to
  ``1e-11 max(1, |v|)`` (tests/test_opamp_nonideal.py's linear-device tolerance), ngspice against nodal to
  1e-5 V (tests/test_fidelity_crosscheck.py).
* A sweep with programming error loses accuracy and reports Student-t intervals over its seeds; each seed is
  an ordinary evaluation with ``--variability-seed k``.
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
from core.circuit import behavioral, nodal
from core.circuit.fidelity import defective_conductances, device_conductances, with_overrides, with_variability
from core.circuit.spice import simulate
from core.cli.main import main
from core.errors import ParameterError
from core.evaluate import evaluate_job
from core.model.defects import parse_spec
from core.model.stats import t_interval
from core.model.variability import VARIABILITY_TAG, DeviceVariability, cell_normals, vary_array
from core.sweeps.job import sweep_job
from core.sweeps.spec import SweepSpec

VAR = DeviceVariability(program_sigma=0.05, read_noise_sigma=0.01, drift_nu=0.02, drift_time_s=3600.0, seed=3)
DEFECTS = ["circle:array=1,cx=0.5,cy=0.5,r=0.3,stuck=on", "columns:array=2,start=2,count=2,stuck=off"]


def _rel(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def _digest(g_list) -> str:
    return "|".join(np.asarray(g, dtype=np.float64).tobytes().hex()[:64] + f"{float(np.sum(g)):.17g}" for g in g_list)


def test_defaults_change_nothing(trained_project):
    mapped = trained_project.mapped
    X = trained_project.load_dataset().X_test
    explicit = with_variability(mapped, DeviceVariability())
    for m in (mapped, explicit):
        g = device_conductances(m)
        assert all(a is b for a, b in zip(g, mapped.conductances()))  # the programmed arrays themselves
    defects = [parse_spec(s) for s in DEFECTS]
    g0, f0 = defective_conductances(mapped, defects)
    g1, f1 = defective_conductances(explicit, defects)
    assert f0 == f1 and all(np.array_equal(a, b) for a, b in zip(g0, g1))
    for fwd in (behavioral.forward_voltages, nodal.forward_voltages):
        assert np.array_equal(fwd(mapped, X, g0), fwd(explicit, X, g1))
    res = jobs.run(evaluate_job(trained_project, fidelity="behavioral"))
    assert "variability" not in res.params


def test_defaults_change_nothing_in_spice(trained_project, ngspice_path):
    mapped = trained_project.mapped
    X = trained_project.load_dataset().X_test[:10]
    g0, _ = defective_conductances(mapped, [])
    g1, _ = defective_conductances(with_variability(mapped, DeviceVariability()), [])
    v0, _ = jobs.run(simulate.output_voltages_job(mapped, X, g0, workers=1))
    v1, _ = jobs.run(simulate.output_voltages_job(mapped, X, g1, workers=1))
    assert np.array_equal(v0, v1)


def test_same_seed_same_conductances_in_every_process(trained_project, tmp_path):
    m = with_variability(trained_project.mapped, VAR)
    g, _ = defective_conductances(m, [])
    assert _digest(g) == _digest(defective_conductances(m, [])[0])
    assert _digest(g) != _digest(defective_conductances(with_variability(m, VAR.with_seed(4)), [])[0])
    # the keying is the documented one
    z = np.random.default_rng([VARIABILITY_TAG, 3, 2, zlib.crc32(b"program")]).standard_normal(g[1].shape)
    assert np.array_equal(cell_normals(3, 2, "program", g[1].shape), z)
    # another process, from the saved project
    path = tmp_path / "p.h5"
    project_io.save(trained_project, str(path))
    code = (
        "import json\n"
        "from core import project_io\n"
        "from core.circuit.fidelity import defective_conductances, with_variability\n"
        "from core.model.variability import DeviceVariability\n"
        f"m = with_variability(project_io.load({str(path)!r}).mapped, DeviceVariability(**{VAR.to_dict()!r}))\n"
        "print(json.dumps([a.tobytes().hex() for a in defective_conductances(m, [])[0]]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [a.tobytes().hex() for a in g]


def test_programming_error_statistics():
    g0 = np.full((300, 300), 5e-5)
    for sigma in (0.02, 0.1, 0.3):
        g = vary_array(g0, DeviceVariability(program_sigma=sigma, seed=1), 1)
        rel_std = float(np.std(g / g0))
        assert abs(rel_std / math.sqrt(math.expm1(sigma**2)) - 1) < 0.1
        assert abs(rel_std / sigma - 1) < 0.1 or sigma > 0.2  # ~sigma for small sigma
        assert abs(float(np.std(np.log(g / g0))) / sigma - 1) < 0.1
        assert abs(float(np.median(g / g0)) - 1) < 0.05 * sigma + 1e-3  # lognormal around the programmed value
    g = vary_array(g0, DeviceVariability(read_noise_sigma=0.02, seed=1), 1)
    assert abs(float(np.std(g / g0)) / 0.02 - 1) < 0.1 and abs(float(np.mean(g / g0)) - 1) < 1e-3


def test_drift_follows_the_power_law_exactly():
    g0 = np.linspace(1e-6, 1e-4, 60).reshape(6, 10)
    for nu, t, t0 in ((0.05, 1e4, 1.0), (0.1, 3600.0, 10.0), (0.02, 0.5, 1.0)):
        var = DeviceVariability(drift_nu=nu, drift_time_s=t, drift_t0_s=t0)
        assert np.array_equal(vary_array(g0, var, 1), g0 * (t / t0) ** (-nu))
    assert DeviceVariability(drift_nu=0.0, drift_time_s=1e6).ideal  # no exponent, no drift


def test_stuck_values_apart_from_the_window(trained_project):
    mapped = trained_project.mapped
    var = DeviceVariability(r_stuck_on_ohm=1e3, r_stuck_off_ohm=1e9)
    defects = [parse_spec(s) for s in DEFECTS]
    g_win, _ = defective_conductances(mapped, defects)
    g, frac = defective_conductances(with_variability(mapped, var), defects)
    on = defects[0].cells(mapped.shapes[0])
    off = defects[1].cells(mapped.shapes[1])
    assert np.all(g[0][on] == 1.0 / 1e3) and np.all(g_win[0][on] == mapped.device.g_on_siemens)
    assert np.all(g[1][off] == 1.0 / 1e9) and np.all(g_win[1][off] == mapped.device.g_off_siemens)
    assert np.array_equal(g[0][~on], mapped.conductances()[0][~on])  # healthy cells untouched
    assert var.ideal and var.changes() == {"r_stuck_on_ohm": 1e3, "r_stuck_off_ohm": 1e9}
    # variability does not touch stuck cells
    g_v, _ = defective_conductances(with_variability(mapped, VAR), defects)
    assert np.all(g_v[0][on] == mapped.device.g_on_siemens) and not np.allclose(g_v[0][~on], g_win[0][~on])
    with pytest.raises(ParameterError, match="r_stuck_on_ohm"):
        DeviceVariability(r_stuck_on_ohm=0.5)
    with pytest.raises(ParameterError, match="program_sigma"):
        DeviceVariability(program_sigma=-0.1)


def test_fidelities_agree_with_variability(trained_project):
    m = with_variability(trained_project.mapped, VAR)
    X = trained_project.load_dataset().X_test
    for defects in ([], [parse_spec(s) for s in DEFECTS]):
        g, _ = defective_conductances(m, defects)
        v_beh = behavioral.forward_voltages(m, X, g)
        assert _rel(nodal.forward_voltages(m, X, g), v_beh) < 1e-11
        assert _rel(v_beh, behavioral.forward_voltages(trained_project.mapped, X)) > 1e-4  # it matters
    view = dataclasses.replace(trained_project, mapped=m)
    beh = jobs.run(evaluate_job(view, fidelity="behavioral"))
    nod = jobs.run(evaluate_job(view, fidelity="nodal"))
    assert beh.accuracy == nod.accuracy and beh.params["variability"] == VAR.changes()


def test_spice_agrees_with_variability(trained_project, ngspice_path):
    m = with_variability(trained_project.mapped, VAR)
    X = trained_project.load_dataset().X_test[:40]
    g, _ = defective_conductances(m, [parse_spec(s) for s in DEFECTS])
    v_spice, _ = jobs.run(simulate.output_voltages_job(m, X, g, workers=2))
    assert np.max(np.abs(nodal.forward_voltages(m, X, g) - v_spice)) < 1e-5


def test_sweep_with_programming_error_loses_accuracy_with_t_intervals(trained_project):
    spec = SweepSpec(patterns=("none",), n_seeds=12)
    clean = jobs.run(sweep_job(trained_project, spec)).rows[0]
    res = jobs.run(sweep_job(trained_project, spec, variability=DeviceVariability(program_sigma=0.3)))
    row = res.rows[0]
    assert clean["std"] < 1e-15 and row["std"] > 0
    assert row["mean_accuracy"] < clean["mean_accuracy"]
    n, mean, std, lo, hi = t_interval(row["accuracies"])
    got = (row["mean_accuracy"], row["ci95_low"], row["ci95_high"])
    assert row["n"] == 12 and np.allclose(got, (mean, lo, hi), rtol=0, atol=1e-12)  # exact sums vs numpy's
    assert lo < mean < hi and res.spec["variability"] == {"program_sigma": 0.3}
    # each seed k is an ordinary evaluation with variability seed k (base seed 0), at any fidelity
    m_k = with_variability(trained_project.mapped, DeviceVariability(program_sigma=0.3, seed=5))
    X, y = trained_project.load_dataset().split("test")
    g, _ = defective_conductances(m_k, [])
    assert float(np.mean(nodal.forward_voltages(m_k, X, g).argmax(1) == y)) == row["accuracies"][5]
    # defects on top of variability: behavioural (batched) and nodal (per map) chunks agree
    small = SweepSpec(patterns=("none", "circle"), sizes=(0.2,), stuck=("on",), arrays=(2,), n_seeds=3)
    var = DeviceVariability(program_sigma=0.1, r_stuck_on_ohm=2e3)
    beh = jobs.run(sweep_job(trained_project, small, chunk_maps=4, variability=var))
    nod = jobs.run(sweep_job(trained_project, SweepSpec(**{**small.to_dict(), "fidelity": "nodal"}), variability=var))
    assert [r["accuracies"] for r in beh.rows] == [r["accuracies"] for r in nod.rows]


def test_cli_variability_flags(trained_project, tmp_path, capsys):
    path = tmp_path / "p.h5"
    project_io.save(trained_project, str(path))
    assert main(["sweep", str(path), "--patterns", "none", "--program-sigma", "0.2", "--seeds", "3", "--json"]) == 0
    sweep = json.loads(capsys.readouterr().out)
    assert sweep["spec"]["variability"] == {"program_sigma": 0.2}
    args = ["evaluate", str(path), "--program-sigma", "0.2", "--variability-seed", "2", "--json"]
    assert main(args) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["accuracy"] == sweep["rows"][0]["accuracies"][2]
    assert ev["variability"] == {"program_sigma": 0.2, "seed": 2}
    stored = project_io.load(str(path))
    assert stored.results[-1].params["variability"] == {"program_sigma": 0.2, "seed": 2}
    assert stored.mapped.variability == DeviceVariability()  # the settings belong to the evaluation
    flags = ["--read-noise", "0.01", "--drift-nu", "0.05", "--drift-time", "1e4", "--r-stuck-on", "1k", "--json"]
    assert main(["evaluate", str(path), "--no-save", *flags]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["variability"] == {
        "read_noise_sigma": 0.01,
        "drift_nu": 0.05,
        "drift_time_s": 1e4,
        "r_stuck_on_ohm": 1e3,
    }
    assert main(["evaluate", str(path), "--program-sigma", "5", "--no-save"]) == 2
    assert "program-sigma" in capsys.readouterr().err
    assert main(["evaluate", str(path), "--drift-time", "0", "--no-save"]) == 2
    assert "drift-time" in capsys.readouterr().err


def test_gap_model_range_is_enforced(trained_project):
    dev = trained_project.mapped.device
    assert dev.i0_amp == 2e-4
    dev.check_gap_window()  # the default window: 0.52 .. 1.67 nm
    gaps = dev.gap_from_conductance(np.array([dev.g_on_siemens, dev.g_off_siemens]))
    assert 0.2e-9 < gaps[0] < gaps[1] < 1.7e-9
    with pytest.raises(ParameterError, match="r_off_ohm.*2.07 nm"):
        dataclasses.replace(dev, i0_amp=1e-3).check_gap_window()
    with pytest.raises(ParameterError, match="r_on_ohm"):
        dataclasses.replace(dev, r_on_ohm=100.0).check_gap_window()
    old = dataclasses.replace(trained_project.mapped, device=dataclasses.replace(dev, i0_amp=1e-3))
    old_gap = dataclasses.replace(old, device=dataclasses.replace(old.device, model="gap"))
    with pytest.raises(ParameterError, match="r_off_ohm"):  # a device that is gap already is checked
        jobs.run(evaluate_job(dataclasses.replace(trained_project, mapped=old_gap), fidelity="nodal"))
    with pytest.raises(ParameterError, match="r_off_ohm"):
        jobs.run(sweep_job(dataclasses.replace(trained_project, mapped=old_gap), SweepSpec(patterns=("none",))))
    # switching a linear device (e.g. of an older file, I0 = 1 mA) to gap fits I0: the HRS at 1.7 nm
    res = jobs.run(evaluate_job(dataclasses.replace(trained_project, mapped=old), device_model="gap"))
    i0 = res.params["gap_i0_amp"]
    assert abs(i0 / (dev.g_off_siemens * dev.v0_volt * math.exp(1.7e-9 / dev.g0_m)) - 1) < 1e-12
    fitted = with_overrides(old, device_model="gap").device
    assert fitted.i0_amp == i0 and abs(fitted.gap_from_conductance(fitted.g_off_siemens) / 1.7e-9 - 1) < 1e-12
    with pytest.raises(ParameterError, match="r_on_ohm"):  # a window wider than the range cannot fit
        with_overrides(
            dataclasses.replace(old, device=dataclasses.replace(dev, r_on_ohm=1e3, r_off_ohm=1e6)), device_model="gap"
        )
    # I0 only sets the gaps: the currents, and so the voltages, do not depend on it
    X = trained_project.load_dataset().X_test[:20]
    new = with_variability(trained_project.mapped, DeviceVariability())
    v_new = nodal.forward_voltages(dataclasses.replace(new, device=dataclasses.replace(dev, model="gap")), X)
    v_old = nodal.forward_voltages(dataclasses.replace(old, device=dataclasses.replace(old.device, model="gap")), X)
    assert _rel(v_new, v_old) < 1e-9
    res = jobs.run(evaluate_job(trained_project, fidelity="behavioral", device_model="gap"))
    assert res.params["device_model"] == "gap"


def _max_tia(mapped, X) -> list[float]:
    _, hidden = behavioral.forward_voltages(mapped, X, return_hidden=True)
    ins = [X * mapped.device.v_read_volt, *hidden[:-1]]
    return [
        float(np.max(np.abs(behavioral.layer_forward(mapped, l, v, a.g_siemens, return_tia=True)[1])))
        for l, (v, a) in enumerate(zip(ins, mapped.arrays))
    ]


def test_tias_are_sized_for_the_gap_model(trained_project):
    from core.circuit.mapping import map_network

    X = trained_project.load_dataset().X_train
    dev = dataclasses.replace(trained_project.device, model="gap")
    cir = trained_project.circuit
    limit = cir.v_rail_volt * cir.headroom
    gap_mapped = map_network(trained_project.weights, dev, cir, X, trained_project.scheme)
    # the first layer sees exactly the calibration inputs: its TIAs are sized on the sinh currents and the
    # largest one uses the headroom (deeper layers are sized on the software network's hidden activations)
    assert abs(_max_tia(gap_mapped, X)[0] / limit - 1) < 1e-3
    # sized for linear devices and then read as gap devices, the first layer overshoots the headroom
    assert _max_tia(with_overrides(trained_project.mapped, device_model="gap"), X)[0] > limit * 1.01
