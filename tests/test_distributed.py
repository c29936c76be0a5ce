"""Sweeps on a real dask.distributed LocalCluster (2 worker processes on 127.0.0.1) equal the local run."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time

import distributed
import pytest

from core import jobs
from core.errors import ParameterError
from core.jobs import Cancelled, CancelToken
from core.session.store import partial_sweep
from core.sweeps.job import sweep_job
from core.sweeps.spec import SweepSpec

SPEC = SweepSpec(
    patterns=("circle", "ring", "columns", "checkerboard"),
    sizes=(0.1, 0.3),
    stuck=("on", "off"),
    n_seeds=5,
    base_seed=3,
)


@pytest.fixture(scope="module")
def cluster():
    # worker processes: the data really crosses the wire (serialization as on a remote cluster)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=40
    ) as c:
        yield c


def test_dask_sweep_equals_local_and_survives_a_killed_worker(trained_project, cluster):
    p = trained_project
    local = jobs.run(sweep_job(p, SPEC, workers=2, chunk_maps=8))
    remote = jobs.run(sweep_job(p, SPEC, scheduler=cluster.scheduler_address, chunk_maps=8))
    assert json.dumps(remote.rows) == json.dumps(local.rows)
    assert len(remote.rows) == 4 * 2 * 2 * 4 and not remote.partial and p.sweeps == []  # jobs never store

    # kill one worker process in the middle of a sweep: its tasks are recomputed elsewhere, same numbers
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        pids = client.run(os.getpid)
        killed = []

        def kill_one(prog):
            if not killed and prog.done >= 16:
                os.kill(next(iter(pids.values())), signal.SIGKILL)
                killed.append(time.monotonic())

        again = jobs.run(sweep_job(p, SPEC, scheduler=client, chunk_maps=2), kill_one)
        assert killed
        assert json.dumps(again.rows) == json.dumps(local.rows)
        assert client.wait_for_workers(2, timeout=30) is None  # the nanny restarted the killed worker


def test_dask_sweep_cancel_keeps_finished_points(trained_project, cluster):
    p = trained_project
    token = CancelToken()

    def on_progress(prog):
        if prog.partial is not None and len(prog.partial.rows) >= 2:
            token.cancel()

    spec = SweepSpec.from_dict({**SPEC.to_dict(), "n_seeds": 20})
    with pytest.raises(Cancelled) as exc:
        jobs.run(sweep_job(p, spec, scheduler=cluster.scheduler_address, chunk_maps=1), on_progress, token)
    stored = partial_sweep(exc.value.partial)
    assert stored.partial and 2 <= len(stored.rows) < len(spec.with_arrays(4).points())
    assert all(r["n"] == 20 for r in stored.rows)
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        deadline = time.monotonic() + 10
        while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and time.monotonic() < deadline:
            time.sleep(0.1)
        # cancelled futures are forgotten by the scheduler: nothing left over from the sweep
        assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0


def test_unreachable_scheduler_names_the_field(trained_project):
    from core.sweeps.dask_backend import connect

    with pytest.raises(ParameterError, match="scheduler: cannot connect"):
        connect("tcp://127.0.0.1:9", timeout_s=1)
    with pytest.raises(ParameterError, match="scheduler"):
        jobs.run(sweep_job(trained_project, SPEC, scheduler="not an address"))


def test_study_runs_its_sweeps_on_the_scheduler_and_equals_the_local_study(_trained_paper, cluster, tmp_path):
    """The study's defect sweeps on the LocalCluster (`study --scheduler`) give the local tables."""
    import copy

    from test_study import TINY

    from core.study.job import study_job
    from core.study.spec import StudySpec

    plan = dataclasses.replace(TINY, size_sweep=((2, 1),), data_sweep_images=(60,), program_sigmas=(0.0,))
    runs, counts = {}, []

    def transitions():
        with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
            return client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)

    for where, sched in (("local", None), ("dask", cluster.scheduler_address)):
        project = copy.deepcopy(_trained_paper)
        before = transitions()
        study = jobs.run(study_job(project, StudySpec(scheduler=sched), str(tmp_path / where), plan=plan))
        counts.append(transitions() - before)
        runs[where] = study["sections"]["defects"]["sweeps"]
    assert counts[0] == 0 and counts[1] > 0  # the local study never touched the cluster; the other ran there
    assert list(runs["local"]) == list(runs["dask"]) and runs["local"]
    for scheme in runs["local"]:
        local, remote = runs["local"][scheme]["rows"], runs["dask"][scheme]["rows"]
        assert [r["accuracies"] for r in local] == [r["accuracies"] for r in remote]
        assert runs["dask"][scheme]["n_maps"] == runs["local"][scheme]["n_maps"] > 0
