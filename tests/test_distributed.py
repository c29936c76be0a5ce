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
    """The study's defect sweeps on the LocalCluster (`study --scheduler`) give the local tables.

    The study runs once, on the cluster; the local reference is the same section's sweep job run here (the
    study's other sections run in this process either way, so running them twice would prove nothing more).
    """
    import copy

    from test_study import TINY

    from core.study import defect_study
    from core.study.job import study_job
    from core.study.spec import StudySpec

    plan = dataclasses.replace(TINY, size_sweep=((2, 1),), data_sweep_images=(60,), program_sigmas=(0.0,))

    def transitions():
        with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
            return client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)

    project = copy.deepcopy(_trained_paper)
    before = transitions()
    study = jobs.run(study_job(project, StudySpec(scheduler=cluster.scheduler_address), str(tmp_path), plan=plan))
    assert transitions() - before > 0  # the cluster ran tasks
    remote = study["sections"]["defects"]["sweeps"]
    sweep_spec = defect_study.defect_sweep_spec(plan, StudySpec().fidelity, StudySpec().seed)
    schemes = defect_study.scheme_order(_trained_paper)
    assert list(remote) == list(schemes) and remote
    before = transitions()
    for scheme in schemes:
        local = jobs.run(defect_study.scheme_sweep_job(copy.deepcopy(_trained_paper), scheme, sweep_spec))
        assert [r["accuracies"] for r in local["rows"]] == [r["accuracies"] for r in remote[scheme]["rows"]]
        assert remote[scheme]["n_maps"] == local["n_maps"] > 0
    assert transitions() == before  # the local reference never touched the cluster
