"""Dask faults are failures with reasons: bad addresses, a scheduler killed mid-sweep, the only worker dying.

The cluster is real: a ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import distributed
import pytest

from core import jobs
from core.errors import ParameterError
from core.sweeps.dask_backend import DaskLimits, connect, parse_address
from core.sweeps.job import SweepFailed, sweep_job
from core.sweeps.spec import SweepSpec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "projects", "digits-paper.h5")
SPEC = SweepSpec(patterns=("circle", "ring", "columns", "rows"), sizes=(0.1, 0.3), stuck=("on", "off"), n_seeds=25)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Cluster:
    """A scheduler and worker processes, each its own OS process, so each can be SIGKILLed."""

    def __init__(self, n_workers: int = 1, nanny: bool = False):
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": ROOT}
        dask = [sys.executable, "-m", "dask"]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": ROOT}
        self.scheduler = subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"], **quiet
        )
        self.workers = [
            subprocess.Popen(
                [*dask, "worker", self.address, "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"]
                + ([] if nanny else ["--no-nanny"]),
                **quiet,
            )
            for _ in range(n_workers)
        ]
        with distributed.Client(self.address, timeout=60, set_as_default=False) as c:
            c.wait_for_workers(n_workers, timeout=60)

    def close(self) -> None:
        for p in [self.scheduler, *self.workers]:
            if p.poll() is None:
                p.kill()
            p.wait()


@pytest.fixture
def cluster_factory():
    made = []

    def make(**kw):
        made.append(_Cluster(**kw))
        return made[-1]

    yield make
    for c in made:
        c.close()


BAD_ADDRESSES = [
    ("tls://x", "needs a port"),
    ("ucx://x:1", "scheme ucx:// unsupported"),
    ("ws://127.0.0.1:9", "scheme ws:// unsupported"),
    ("inproc://x", "scheme inproc:// unsupported"),
    ("garbage", "needs a port"),
    ("tcp://", "needs a port"),
    ("tcp://127.0.0.1:0", "port must be an integer from 1 to 65535"),
    ("tcp://127.0.0.1:99999", "port must be an integer from 1 to 65535"),
    ("tcp://127.0.0.1:-5", "port must be an integer from 1 to 65535"),
    ("tcp://[::1", "needs a host"),
    ("tcp://:8786", "needs a host"),
    ("tcp://a b:1", "needs a host"),
]


@pytest.mark.parametrize(("address", "why"), BAD_ADDRESSES)
def test_malformed_addresses_are_named_without_touching_the_network(address, why):
    t0 = time.monotonic()
    with pytest.raises(ParameterError, match="scheduler: " + why.replace("(", r"\(")):
        parse_address(address)
    with pytest.raises(ParameterError, match="scheduler: "):
        connect(address, timeout_s=1)
    assert time.monotonic() - t0 < 0.5


@pytest.mark.parametrize(
    "address", ["tcp://127.0.0.1:9", "127.0.0.1:9", "tcp://nohost.invalid:1", "tcp://10.255.255.1:1"]
)
def test_unreachable_addresses_fail_within_the_connect_timeout(address):
    t0 = time.monotonic()
    with pytest.raises(ParameterError, match="scheduler: cannot connect to tcp://"):
        connect(address, timeout_s=1.5)
    assert time.monotonic() - t0 < 1.5 + 1.5


def test_cli_bad_scheduler_is_one_line_exit_2(tmp_path):
    for address in ("tls://x", "ucx://host:1", "tcp://127.0.0.1:9"):
        t0 = time.monotonic()
        p = subprocess.run(
            [sys.executable, "-m", "core", "sweep", EXAMPLE, "--scheduler", address, "--seeds", "1", "--no-save"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert p.returncode == 2, p.stderr
        assert p.stderr.startswith("reram-workbench: error: scheduler: ") and p.stderr.count("\n") == 1, p.stderr
        assert time.monotonic() - t0 < 40


def _kill_after(proc: subprocess.Popen, n_rows: int, killed: list):
    def on_progress(prog):
        if not killed and prog.partial is not None and len(prog.partial.rows) >= n_rows:
            proc.send_signal(signal.SIGKILL)
            killed.append(time.monotonic())

    return on_progress


def test_scheduler_killed_mid_sweep_ends_it_with_the_finished_points(trained_project, cluster_factory):
    cluster = cluster_factory(n_workers=1)
    killed: list = []
    limits = DaskLimits(lost_scheduler_s=3.0, no_workers_s=30.0)
    job = sweep_job(trained_project, SPEC, scheduler=cluster.address, chunk_maps=1, dask_limits=limits)
    with pytest.raises(SweepFailed, match="dask: lost the scheduler") as exc:
        jobs.run(job, _kill_after(cluster.scheduler, 2, killed))
    ended = time.monotonic() - killed[0]
    assert ended < 10 + 10, ended  # the client's own reconnect attempts (connect_s = 10 s) and slack
    partial = exc.value.partial
    total = len(SPEC.with_arrays(4).points())
    assert partial.partial and 2 <= len(partial.rows) < total
    assert all(r["n"] == SPEC.n_seeds for r in partial.rows)  # finished points are whole, not cut


def test_the_only_worker_dying_fails_the_sweep_with_that_reason(trained_project, cluster_factory):
    cluster = cluster_factory(n_workers=1, nanny=False)
    killed: list = []
    limits = DaskLimits(lost_scheduler_s=30.0, no_workers_s=3.0)
    job = sweep_job(trained_project, SPEC, scheduler=cluster.address, chunk_maps=1, dask_limits=limits)
    with pytest.raises(SweepFailed, match="dask: no worker connected for 3 s") as exc:
        jobs.run(job, _kill_after(cluster.workers[0], 2, killed))
    ended = time.monotonic() - killed[0]
    assert ended < 3.0 + 10, ended
    assert 2 <= len(exc.value.partial.rows)


def test_cli_sweep_with_a_killed_scheduler_stores_the_partial_table(tmp_path, cluster_factory):
    import shutil

    from core import project_io

    cluster = cluster_factory(n_workers=1)
    proj = tmp_path / "p.h5"
    shutil.copy(EXAMPLE, proj)
    cmd = [sys.executable, "-m", "core", "sweep", str(proj), "--scheduler", cluster.address]
    cmd += ["--seeds", "30", "--chunk", "1", "--quiet"]
    cli = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # wait until some 300 chunks (30 maps each point, one map a chunk) have finished on the worker and give
        # the client a second to take them in, so some points have finished; thousands of chunks are left, so the
        # sweep cannot end before the kill
        def executed(c) -> int:
            return sum(c.run(lambda dask_worker: dask_worker.state.executed_count).values())

        with distributed.Client(cluster.address, set_as_default=False) as c:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and executed(c) < 300:
                time.sleep(0.2)
        time.sleep(1.0)
        cluster.scheduler.kill()
        t0 = time.monotonic()
        _, err = cli.communicate(timeout=120)
        ended = time.monotonic() - t0
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 2, err
    assert err.startswith("reram-workbench: error: dask: lost the scheduler") and err.count("\n") == 1, err
    assert "marked partial" in err
    assert ended < 15 + 15, ended  # LOST_SCHEDULER_S and slack on a loaded machine
    before = project_io.load(EXAMPLE).sweeps
    sweeps = project_io.load(str(proj)).sweeps
    assert len(sweeps) == len(before) + 1 and sweeps[-1].partial and sweeps[-1].rows
