"""The ngspice fidelity: hand-countable circuit, exported netlists, cancel, errors and netlist hygiene."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess

import numpy as np
import pytest

from core import jobs
from core.circuit.fidelity import defective_conductances
from core.circuit.spice import netlist, runner, simulate
from core.errors import ParameterError, SimulationError
from core.model.crossbar import ArrayMap, MappedNetwork
from core.model.defects import parse_spec
from core.model.devices import CircuitParams, DeviceParams
from core.model.project import Scenario

pytestmark = pytest.mark.spice


def _one_neuron(r_tia_ohm=100e3, k=2.0):
    """A 2x2 differential-columns crossbar: one input row, the bias row, one neuron (G+ col 0, G- col 1)."""
    g = np.array([[1 / 10e3, 1 / 40e3], [1 / 20e3, 1 / 50e3]])
    arr = ArrayMap(
        0,
        g,
        n_in=1,
        n_out=1,
        w_max=1.0,
        bias_scale=1.0,
        r_tia_ohm=r_tia_ohm,
        k_stage2=k,
        relu=False,
        sigma_in=0.2,
        sigma_out=1.0,
    )
    return MappedNetwork(
        "differential-columns",
        DeviceParams(v_read_volt=0.2),
        CircuitParams(v_rail_volt=5.0, opamp_gain=1e5, r_stage2_ohm=10e3),
        [arr],
    )


def test_two_by_two_against_paper(ngspice_path):
    mapped = _one_neuron()
    X = np.array([[0.5], [1.0], [0.0]])
    v, solver = jobs.run(simulate.output_voltages_job(mapped, X, workers=1))
    # Paper, image x = 0.5: input row 0.1 V, bias row 0.2 V.
    #   column 0: I = 0.1/10k + 0.2/20k = 10 uA + 10 uA = 20 uA,  G_sum = 1/10k + 1/20k = 150 uS
    #   column 1: I = 0.1/40k + 0.2/50k = 2.5 uA + 4 uA = 6.5 uA, G_sum = 1/40k + 1/50k = 45 uS
    #   TIA (A = 1e5, Rf = 100k): t = -I / (1/Rf + (G_sum + 1/Rf)/A)
    #     t0 = -20e-6 / (1e-5 + 160e-6/1e5) = -20e-6 / 1.00016e-5 = -1.999680051...
    #     t1 = -6.5e-6 / (1e-5 + 55e-6/1e5) = -6.5e-6 / 1.000055e-5 = -0.649964252...
    #   difference amp (k = 2): out = k A/(A + 1 + k) (t1 - t0) = 200000/100003 * 1.349715799... = 2.699350...
    t0 = -20e-6 / 1.00016e-5
    t1 = -6.5e-6 / 1.000055e-5
    assert v[0, 0] == pytest.approx(200000 / 100003 * (t1 - t0), abs=1e-6)
    assert v[0, 0] == pytest.approx(2.7, abs=1e-3)  # ideal op-amps: 2 * (2.0 - 0.65)
    # x = 1: I0 = 20 + 10 = 30 uA, I1 = 5 + 4 = 9 uA -> ideal 2 * (3.0 - 0.9) = 4.2 V
    assert v[1, 0] == pytest.approx(4.2, abs=1e-3)
    # x = 0: I0 = 10 uA, I1 = 4 uA -> ideal 2 * (1.0 - 0.4) = 1.2 V
    assert v[2, 0] == pytest.approx(1.2, abs=1e-3)
    # a TIA feedback ten times larger drives column 0 (t0 = -30 V ideal) into the -5 V rail:
    #   x = 1: t1 = -9 V also clips, so out = k A/(A+1+k) (-5 + 5) = 0
    #   x = 0: t0 = -10 V clips to -5, t1 = -4 V: out = 200000/100003 * 1 V = 1.99994 V
    v_sat, _ = jobs.run(simulate.output_voltages_job(_one_neuron(r_tia_ohm=1e6), X[1:], workers=1))
    assert v_sat[0, 0] == pytest.approx(0.0, abs=1e-6)
    t1 = -4e-6 / (1e-6 + (45e-6 + 1e-6) / 1e5)
    assert v_sat[1, 0] == pytest.approx(200000 / 100003 * (t1 + 5.0), abs=1e-6)
    assert solver.startswith("ngspice ")


def test_solver_info_reports_version_and_klu(ngspice_path):
    info = simulate.solver_info()
    assert info["path"] == ngspice_path
    assert float(info["version"]) >= 30
    assert info["solver"] == f"ngspice {info['version']} {'klu' if info['klu'] else 'sparse'}"
    out = subprocess.run([ngspice_path, "-v"], capture_output=True, text=True).stdout
    assert info["klu"] == ("KLU" in out)


def test_missing_ngspice_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SimulationError, match="apt-get install"):
        simulate.solver_info()


def test_exported_netlist_runs_in_ngspice_batch(trained_project, ngspice_path, tmp_path):
    mapped = trained_project.mapped
    X = trained_project.load_dataset().X_test[:3]
    (tmp_path / "circuit.cir").write_text(simulate.build_netlist_text(mapped, X))
    proc = subprocess.run(
        [ngspice_path, "-b", "-r", "out.raw", "circuit.cir"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    vectors = runner.parse_raw((tmp_path / "out.raw").read_bytes())
    t = vectors["time"]
    v_ref, _ = jobs.run(simulate.output_voltages_job(mapped, X, workers=1))
    for k in range(3):
        i = np.flatnonzero(t <= k + netlist.HOLD_S)[-1]
        got = [runner.vector(vectors, f"v(s3_{j})")[i] for j in range(10)]
        np.testing.assert_allclose(got, v_ref[k], atol=1e-9)


def test_cancel_kills_the_ngspice_child(trained_project, ngspice_path):
    mapped = trained_project.mapped
    X = np.tile(trained_project.load_dataset().X_test, (4, 1))
    spawned, running_at_first_progress = [], []
    token = jobs.CancelToken()

    def on_progress(p):
        running_at_first_progress.extend(proc.poll() is None for proc, _ in spawned)
        token.cancel()

    job = simulate.output_voltages_job(mapped, X, workers=1, on_spawn=lambda p, d: spawned.append((p, d)))
    with pytest.raises(jobs.Cancelled):
        jobs.run(job, on_progress=on_progress, cancel=token)
    assert spawned and all(running_at_first_progress)
    for proc, workdir in spawned:
        assert proc.returncode is not None  # reaped, so not a zombie
        with pytest.raises(ProcessLookupError):
            os.kill(proc.pid, 0)
        assert not os.path.exists(workdir)  # temp files removed


def test_timeout_kills_and_reports(ngspice_path):
    g = np.full((40, 80), 1e-5)
    text, _ = netlist.crossbar_netlist(
        g, np.random.default_rng(0).uniform(0, 0.2, (2000, 40)), 1.0, DeviceParams(), klu=True
    )
    spawned = []
    with pytest.raises(SimulationError, match="timed out"):
        jobs.run(runner.run_batch_job([text], timeout_s=0.2, on_spawn=lambda p, d: spawned.append(p)))
    assert spawned[0].returncode is not None


def test_unreadable_raw_file_is_a_simulation_error():
    with pytest.raises(SimulationError, match="no binary data"):
        runner.parse_raw(b"Title: x\nNo. Variables: 1\n")
    head = (
        b"Title: t\nFlags: real\nNo. Variables: 2\nNo. Points: 3\n"
        b"Variables:\n\t0\ttime\ttime\n\t1\tv(a)\tvoltage\nBinary:\n"
    )
    with pytest.raises(SimulationError, match="truncated"):
        runner.parse_raw(head + np.zeros(5).tobytes())
    assert runner.parse_raw(head + np.arange(6.0).tobytes())["v(a)"].tolist() == [1.0, 3.0, 5.0]


_LINE = re.compile(
    r"^(\.title reram-workbench circuit|[RBV][a-z0-9_]+ [a-z0-9_]+ [a-z0-9_]+ [-+0-9.e]+"
    r"|B[a-z0-9_]+ [a-z0-9_]+ 0 [vi]=[-+*/(),. a-z0-9_]+|\.options [a-z0-9=.\- ]+"
    r"|\.save( [vi]\([a-z0-9_]+\))+|\.print tran( v\([a-z0-9_]+\))+|\.tran [0-9. e\-]+|\.end"
    # the compiled Verilog-A gap device (va-gap): its library, model card and instances
    r"|\.control|pre_osdi /[A-Za-z0-9_./-]+\.osdi|\.endc|\.model vagap rram_gap( [igv]0=[-+0-9.e]+){3}"
    r"|N[a-z0-9_]+ [a-z0-9_]+ [a-z0-9_]+ vagap gap=[-+0-9.e]+"
    # our fixed header comments (inert in SPICE; checked so they too carry no user text)
    r"|\* (generated by reram-workbench|image k is applied|run: ngspice)[-a-zA-Z0-9_ .,:;=+()/]*|)$"
)


def test_va_gap_netlist_takes_no_user_text_and_one_control_block(trained_project):
    from core.circuit.fidelity import with_overrides

    evil = ".control\nshell rm -rf /"
    trained_project.scenarios[evil] = Scenario(evil, [parse_spec("circle:array=1,r=0.2,stuck=on")], description=evil)
    mapped = with_overrides(trained_project.mapped, r_wire_ohm=1.0, device_model="va-gap")
    mapped = dataclasses.replace(mapped, circuit=mapped.circuit.with_wires(r_driver_ohm=5.0, r_tia_in_ohm=2.0))
    g_list, _ = defective_conductances(mapped, trained_project.scenarios[evil].defects)
    text = simulate.build_netlist_text(mapped, trained_project.load_dataset().X_test[:4], g_list)
    assert "shell" not in text and "rm -rf" not in text
    bad = [line for line in text.splitlines() if not _LINE.match(line)]
    assert not bad, bad[:3]
    lines = text.splitlines()
    start = lines.index(".control")
    assert lines.count(".control") == 1 and lines[start + 2] == ".endc" and lines[start + 1].startswith("pre_osdi /")
    assert sum(line.startswith("N") for line in lines) == sum(a.shape[0] * a.shape[1] for a in mapped.arrays)


def test_netlist_takes_no_user_text(trained_project):
    evil = ".control\nshell rm -rf /"
    trained_project.scenarios[evil] = Scenario(evil, [parse_spec("circle:array=1,r=0.2,stuck=on")], description=evil)
    trained_project.dataset.name = evil
    mapped = trained_project.mapped
    g_list, _ = defective_conductances(mapped, trained_project.scenarios[evil].defects)
    text = simulate.build_netlist_text(mapped, trained_project.load_dataset().X_test[:4], g_list)
    assert "shell" not in text and ".control" not in text and "rm -rf" not in text
    bad = [line for line in text.splitlines() if not _LINE.match(line)]
    assert not bad, bad[:3]
    with pytest.raises(ParameterError, match="finite"):
        netlist.num(float("nan"), "r_tia_ohm")
    g_bad = [g.copy() for g in g_list]
    g_bad[0][0, 0] = np.inf
    with pytest.raises(ParameterError, match="g_list"):
        simulate.build_netlist_text(mapped, trained_project.load_dataset().X_test[:2], g_bad)
