"""ngspice children never outlive their purpose: real CLI processes, real signals, real /proc.

The stand-ins are real executables put first on PATH: a "hanging ngspice" (a shell script that answers ``-v``
and then sleeps, with a grandchild in its process group) and a "NaN ngspice" (the real ngspice, whose binary raw
output is then overwritten with NaN). Every process a test starts carries a unique environment token, so
``/proc/*/environ`` finds each descendant wherever it went (another group, reparented to init).
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from core import jobs
from core.circuit.spice import runner, simulate
from core.errors import SimulationError

pytestmark = pytest.mark.spice

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "projects", "digits-paper.h5")
VERSION = "echo '** ngspice-46 : Circuit level simulation program'; echo '** Compiled with KLU Direct Linear Solver'"

HANGING = f"""#!/bin/sh
case "$1" in -v) {VERSION}; exit 0;; esac
sleep 300 &          # a grandchild in ngspice's process group
exec sleep 301
"""
SLEEPS = ["sleep 300", "sleep 300", "sleep 301", "sleep 301"]
HANGING_NO_GRANDCHILD = f"""#!/bin/sh
case "$1" in -v) {VERSION}; exit 0;; esac
exec sleep 301
"""
HUNG_PROBE = """#!/bin/sh
exec sleep 302
"""
NAN_NGSPICE = f"""#!{sys.executable}
import subprocess, sys
args = sys.argv[1:]
rc = subprocess.run(["/usr/bin/ngspice", *args]).returncode
if "-r" in args:
    raw = args[args.index("-r") + 1]
    data = open(raw, "rb").read()
    cut = data.find(b"Binary:\\n") + len(b"Binary:\\n")
    open(raw, "wb").write(data[:cut] + b"\\x00\\x00\\x00\\x00\\x00\\x00\\xf8\\x7f" * ((len(data) - cut) // 8))
sys.exit(rc)
"""


def _stand_in(tmp_path, text: str) -> str:
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    exe = d / "ngspice"
    exe.write_text(text)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return str(d)


def _tagged(token: str) -> list[tuple[int, str]]:
    """(pid, command) of every live process whose environment holds ``token``."""
    out = []
    needle = f"RERAM_TEST_TOKEN={token}".encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                if needle not in fh.read().split(b"\0"):
                    continue
            with open(f"/proc/{name}/stat", "rb") as fh:
                st = fh.read().decode()
            if st[st.rindex(")") + 2] == "Z":
                continue  # a zombie is dead (its parent, killed, cannot reap it; init will)
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                out.append((int(name), fh.read().replace(b"\0", b" ").decode().strip()))
        except OSError:
            continue
    return out


def _wait_for(pred, timeout_s: float, step_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step_s)
    return pred()


def _env(token: str, bin_dir: str | None = None) -> dict:
    env = {**os.environ, "RERAM_TEST_TOKEN": token, "PYTHONPATH": ROOT}
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return env


def _start_cli(tmp_path, token: str, bin_dir: str | None, *extra: str) -> subprocess.Popen:
    proj = tmp_path / "p.h5"
    shutil.copy(EXAMPLE, proj)
    cmd = [sys.executable, "-m", "core", "evaluate", str(proj), "--fidelity", "spice", "--quiet", *extra]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=_env(token, bin_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_terminating_signals_kill_ngspice_and_its_grandchildren(tmp_path, sig, status):
    token = uuid.uuid4().hex
    cli = _start_cli(tmp_path, token, _stand_in(tmp_path, HANGING), "--workers", "2")
    try:
        # two runs: each stand-in (now `sleep 301`) and its grandchild `sleep 300` are running under the CLI
        kids = _wait_for(lambda: sorted(c for _, c in _tagged(token) if c.startswith("sleep")), 60)
        kids = _wait_for(lambda: sorted(c for _, c in _tagged(token) if c.startswith("sleep")) == SLEEPS, 10)
        assert kids, _tagged(token)
        t0 = time.monotonic()
        cli.send_signal(sig)
        _, err = cli.communicate(timeout=10)
        left = _wait_for(lambda: not _tagged(token), 5) or _tagged(token)
        elapsed = time.monotonic() - t0
    finally:
        if cli.poll() is None:
            cli.kill()
    assert left is True, f"still running after {signal.Signals(sig).name}: {_tagged(token)}"
    assert cli.returncode == status
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert elapsed < 5


def test_sigkill_of_the_cli_takes_real_ngspice_along(tmp_path, ngspice_path):
    token = uuid.uuid4().hex
    cli = _start_cli(tmp_path, token, None, "--workers", "2", "--no-save")
    try:
        running = _wait_for(lambda: [p for p, c in _tagged(token) if "ngspice -b" in c], 60, 0.02)
        assert running, "the evaluation finished before ngspice could be caught running"
        cli.kill()
        cli.wait(timeout=10)
        gone = _wait_for(lambda: not _tagged(token), 5)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert gone, f"ngspice outlived its SIGKILLed parent: {_tagged(token)}"


def test_sigkill_of_the_cli_takes_a_hanging_ngspice_along(tmp_path):
    token = uuid.uuid4().hex
    cli = _start_cli(tmp_path, token, _stand_in(tmp_path, HANGING_NO_GRANDCHILD))
    try:
        assert _wait_for(lambda: [p for p, c in _tagged(token) if c == "sleep 301"], 60)
        cli.kill()
        cli.wait(timeout=10)
        gone = _wait_for(lambda: not _tagged(token), 5)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert gone, f"ngspice outlived its SIGKILLed parent: {_tagged(token)}"


def test_timeout_kills_the_whole_process_group(tmp_path, monkeypatch):
    token = uuid.uuid4().hex
    monkeypatch.setenv("RERAM_TEST_TOKEN", token)
    monkeypatch.setenv("PATH", f"{_stand_in(tmp_path, HANGING)}{os.pathsep}{os.environ['PATH']}")
    t0 = time.monotonic()
    with pytest.raises(SimulationError, match="timed out after 1 s"):
        jobs.run(runner.run_batch_job([".title x\n.end\n"], timeout_s=1.0))
    assert time.monotonic() - t0 < 3
    assert _wait_for(lambda: not _tagged(token), 3), _tagged(token)  # the grandchild `sleep 300` too


def test_cli_timeout_stops_evaluate_with_one_line(tmp_path):
    token = uuid.uuid4().hex
    t0 = time.monotonic()
    cli = _start_cli(tmp_path, token, _stand_in(tmp_path, HANGING), "--timeout", "2")
    _, err = cli.communicate(timeout=60)
    assert cli.returncode == 2
    assert err.startswith("reram-workbench: error: timeout: not finished within --timeout 2 s"), err
    assert err.count("\n") == 1
    assert time.monotonic() - t0 < 30
    assert _wait_for(lambda: not _tagged(token), 3), _tagged(token)


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "soon"])
def test_cli_timeout_is_validated(tmp_path, bad):
    for command in (["evaluate", EXAMPLE, "--fidelity", "spice"], ["recover", EXAMPLE, "--defect", "rows:size=0.1"]):
        p = subprocess.run(
            [sys.executable, "-m", "core", *command, "--timeout", bad, "--no-save"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert p.returncode == 2 and p.stderr.startswith("reram-workbench: error: timeout: must be"), p.stderr
        assert "Traceback" not in p.stderr


def test_hung_probe_honours_the_timeout_and_is_not_repeated(tmp_path, monkeypatch):
    token = uuid.uuid4().hex
    monkeypatch.setenv("RERAM_TEST_TOKEN", token)
    monkeypatch.setenv("PATH", f"{_stand_in(tmp_path, HUNG_PROBE)}{os.pathsep}{os.environ['PATH']}")
    t0 = time.monotonic()
    with pytest.raises(SimulationError, match="gave no answer within 1.5 s"):
        runner.solver_info(timeout_s=1.5)
    first = time.monotonic() - t0
    assert 1.4 < first < 3
    assert _wait_for(lambda: not _tagged(token), 3), _tagged(token)
    t0 = time.monotonic()
    for _ in range(5):  # every later map fails at once with the same reason
        with pytest.raises(SimulationError, match="hung"):
            jobs.run(simulate.run_circuit_job(np.full((2, 2), 1e-5), np.ones((1, 2)), timeout_s=60))
    assert time.monotonic() - t0 < 0.5
    assert not _tagged(token)


def test_nan_output_fails_the_evaluation_with_a_reason(tmp_path):
    token = uuid.uuid4().hex
    cli = _start_cli(tmp_path, token, _stand_in(tmp_path, NAN_NGSPICE), "--workers", "1")
    out, err = cli.communicate(timeout=300)
    assert cli.returncode == 2, (out, err)
    assert "is not finite (NaN or infinity)" in err and "Traceback" not in err, err
    assert "accuracy" not in out


def test_nan_output_in_a_sweep_is_a_failed_map_not_accuracy_0_1(trained_project, tmp_path, monkeypatch):
    from core.sweeps.job import sweep_job
    from core.sweeps.spec import SweepSpec

    monkeypatch.setenv("PATH", f"{_stand_in(tmp_path, NAN_NGSPICE)}{os.pathsep}{os.environ['PATH']}")
    spec = SweepSpec(patterns=("circle",), sizes=(0.1,), stuck=("on",), arrays=(1,), n_seeds=1, fidelity="spice")
    res = jobs.run(sweep_job(trained_project, spec, workers=1))
    (row,) = res.rows
    assert row["status"] == "failed" and row["failures"] == 1 and row["n"] == 0, row
    assert "not finite (NaN or infinity)" in row["failure_reasons"][0], row
    assert np.isnan(row["accuracies"][0])
