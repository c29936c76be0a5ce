"""JobQueue: priorities, concurrency limit, cancel, retry, remove, failure isolation, storing results."""

from __future__ import annotations

import threading
import time

import pytest

from core.errors import ParameterError
from core.jobs import Progress
from core.session.job_queue import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobQueue
from core.session.store import partial_sweep, store_result

TIMEOUT = 20


def counting_job(n: int, log: list, name: str, step_s: float = 0.0):
    """Yields n steps, appends (name, 'start'/'end') to log; returns n."""
    log.append((name, "start"))
    for i in range(n):
        if step_s:
            time.sleep(step_s)
        yield Progress(i + 1, n, f"{name} step {i + 1}", partial=i + 1)
    log.append((name, "end"))
    return n


def blocking_job(release: threading.Event, started: threading.Event, closed: list):
    """Runs until ``release`` is set; records in ``closed`` that its finally ran."""
    started.set()
    try:
        i = 0
        while not release.is_set():
            i += 1
            time.sleep(0.01)
            yield Progress(i, 0, "waiting", partial=i)
        return "released"
    finally:
        closed.append(True)


def failing_job():
    yield Progress(0, 1, "about to fail")
    raise ValueError("boom: matrix is singular")


@pytest.fixture
def queue():
    q = JobQueue(max_workers=1, progress_interval_s=0.0)
    yield q
    assert q.shutdown(cancel=True, timeout=TIMEOUT)


def test_priorities_run_highest_first(queue):
    release, started, closed, log = threading.Event(), threading.Event(), [], []
    blocker = queue.submit(lambda: blocking_job(release, started, closed), "blocker")
    assert started.wait(TIMEOUT)
    queue.submit(lambda: counting_job(2, log, "low"), "low", priority=0)
    queue.submit(lambda: counting_job(2, log, "high"), "high", priority=5)
    queue.submit(lambda: counting_job(2, log, "mid"), "mid", priority=1)
    queue.submit(lambda: counting_job(2, log, "low2"), "low2", priority=0)
    assert [j.state for j in queue.jobs()] == [RUNNING, QUEUED, QUEUED, QUEUED, QUEUED]
    release.set()
    assert queue.wait(timeout=TIMEOUT)
    starts = [n for n, what in log if what == "start"]
    assert starts == ["high", "mid", "low", "low2"]
    assert queue.get(blocker).result == "released"
    assert all(j.state == DONE for j in queue.jobs())
    assert [j.result for j in queue.jobs()[1:]] == [2, 2, 2, 2]


def test_concurrency_limit_is_respected():
    q = JobQueue(max_workers=2, progress_interval_s=0.0)
    lock, running, peak = threading.Lock(), [0], [0]

    def job(i):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            for k in range(5):
                time.sleep(0.02)
                yield Progress(k + 1, 5)
            return i * i
        finally:
            with lock:
                running[0] -= 1

    ids = [q.submit(lambda i=i: job(i), f"j{i}") for i in range(6)]
    assert q.wait(timeout=TIMEOUT)
    assert peak[0] == 2
    assert [q.get(i).result for i in ids] == [i * i for i in range(6)]
    q.set_max_workers(3)
    assert q.max_workers == 3
    assert q.shutdown(timeout=TIMEOUT)


def test_cancel_running_closes_generator_and_keeps_partial(queue):
    release, started, closed = threading.Event(), threading.Event(), []
    jid = queue.submit(lambda: blocking_job(release, started, closed), "long")
    log = []
    queued = queue.submit(lambda: counting_job(1, log, "never"), "queued")
    assert started.wait(TIMEOUT)
    queue.cancel(queued)
    assert queue.get(queued).state == CANCELLED
    time.sleep(0.05)
    queue.cancel(jid)
    assert queue.wait([jid], timeout=TIMEOUT)
    info = queue.get(jid)
    assert info.state == CANCELLED and info.error == "cancelled"
    assert closed == [True]  # the job's finally ran
    assert isinstance(info.partial, int) and info.partial >= 1
    assert log == []  # the cancelled queued job never started
    queue.cancel(jid)  # cancelling a finished job is a no-op
    assert queue.get(jid).state == CANCELLED


def test_retry_runs_the_factory_again(queue):
    calls = []

    def factory():
        calls.append(1)
        if len(calls) == 1:
            return failing_job()
        return counting_job(3, [], "second try")

    jid = queue.submit(factory, "flaky")
    assert queue.wait(timeout=TIMEOUT)
    info = queue.get(jid)
    assert info.state == FAILED and "ValueError: boom" in info.error and "Traceback" in info.traceback
    queue.retry(jid)
    assert queue.wait(timeout=TIMEOUT)
    info = queue.get(jid)
    assert info.state == DONE and info.result == 3 and info.error == "" and info.attempts == 2
    with pytest.raises(ParameterError, match="only failed or cancelled"):
        queue.retry(jid)


def test_remove_finished_queued_and_running(queue):
    release, started, closed = threading.Event(), threading.Event(), []
    done_id = queue.submit(lambda: counting_job(1, [], "a"), "a")
    assert queue.wait(timeout=TIMEOUT)
    queue.remove(done_id)
    with pytest.raises(ParameterError, match="no job"):
        queue.get(done_id)
    running = queue.submit(lambda: blocking_job(release, started, closed), "b")
    queued = queue.submit(lambda: counting_job(1, [], "c"), "c")
    assert started.wait(TIMEOUT)
    queue.remove(queued)
    queue.remove(running)
    assert queue.wait(timeout=TIMEOUT)
    assert queue.jobs() == [] and closed == [True]


def test_one_failure_does_not_stop_others_and_listeners_run_on_worker_threads():
    finished, updates, threads = [], [], set()

    def listener(info):
        updates.append((info.id, info.state))
        threads.add(threading.current_thread().name)

    def bad_listener(info):
        raise RuntimeError("listener bug")

    q = JobQueue(max_workers=2, progress_interval_s=0.0)
    q.on_update(bad_listener)
    q.on_update(lambda info: info.finished and finished.append(info))
    unsubscribe = q.on_update(listener)
    bad = q.submit(failing_job, "bad")
    good = q.submit(lambda: counting_job(3, [], "good", 0.01), "good")
    bad_factory = q.submit(lambda: 1 / 0, "factory raises")
    assert q.wait(timeout=TIMEOUT)
    assert q.get(bad).state == FAILED and "boom" in q.get(bad).error
    assert q.get(good).state == DONE and q.get(good).result == 3
    assert q.get(bad_factory).state == FAILED and "ZeroDivisionError" in q.get(bad_factory).error
    assert sorted(i.id for i in finished) == sorted([bad, good, bad_factory])
    assert (good, DONE) in updates and (bad, FAILED) in updates and (good, RUNNING) in updates
    assert any(n.startswith("job-") for n in threads)
    unsubscribe()
    n = len(updates)
    q.submit(lambda: counting_job(1, [], "x"))
    assert q.wait(timeout=TIMEOUT)
    assert len(updates) == n
    assert q.shutdown(timeout=TIMEOUT)
    with pytest.raises(ParameterError, match="shut down"):
        q.submit(lambda: counting_job(1, [], "y"))


def test_results_stored_on_the_callers_thread_keep_sweeps_and_partial_sweeps(trained_project):
    from core.sweeps.job import sweep_job
    from core.sweeps.spec import SweepSpec

    p = trained_project
    q = JobQueue(max_workers=2)
    spec = SweepSpec(patterns=("circle", "rows"), sizes=(0.1, 0.3), stuck=("on",), arrays=(1, 4), n_seeds=4)
    a = q.submit(lambda: sweep_job(p, spec), "sweep a")
    b = q.submit(lambda: sweep_job(p, spec), "sweep b")
    assert q.wait(timeout=60)
    assert q.get(a).state == DONE and q.get(b).state == DONE
    assert p.sweeps == []  # jobs never write into the project
    for job_id in (a, b):
        store_result(p, q.get(job_id).result)
    assert len(p.sweeps) == 2 and len({s.id for s in p.sweeps}) == 2  # ids given on storing, not clashing
    assert p.sweeps[0].rows == p.sweeps[1].rows and not p.sweeps[0].partial

    # a cancelled sweep keeps its finished points, marked partial
    big = SweepSpec(patterns=("circle", "ring"), sizes=(0.1, 0.2, 0.3), stuck=("on", "off"), n_seeds=50)
    has_rows = threading.Event()
    q.on_update(lambda info: info.partial is not None and info.partial.rows and has_rows.set())
    c = q.submit(lambda: sweep_job(p, big, workers=1, chunk_maps=5), "big sweep")
    assert has_rows.wait(60)
    q.cancel(c)
    assert q.wait([c], timeout=60)
    assert q.get(c).state == CANCELLED
    store_result(p, partial_sweep(q.get(c).partial))
    assert len(p.sweeps) == 3 and p.sweeps[2].partial
    assert 1 <= len(p.sweeps[2].rows) < len(big.with_arrays(4).points())
    assert all(r["n"] == 50 for r in p.sweeps[2].rows)
    assert q.shutdown(timeout=TIMEOUT)
