"""A job queue: core jobs (see :mod:`core.jobs`) on worker threads with priorities and a concurrency limit.

A queued job holds a zero-argument *factory* that creates its generator, so a failed or cancelled job can be
retried from scratch. Each job runs on its own thread (at most ``max_workers`` at once); higher ``priority``
runs first, equal priorities in submission order. Listeners registered with :meth:`JobQueue.on_update`
receive immutable :class:`JobInfo` snapshots **from worker threads**; a GUI adapts them to Qt signals in one
place. Jobs only return results: whoever owns the project stores them on its own thread with
:func:`core.session.store.store_result`. One failing job (or listener) never stops the others.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Optional

from core import jobs
from core.errors import ParameterError, check_range, describe_error
from core.jobs import CancelToken, JobGenerator, Progress

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED_STATES = (DONE, FAILED, CANCELLED)


@dataclass(frozen=True)
class JobInfo:
    """A snapshot of one job, safe to hand to another thread."""

    id: int
    name: str
    priority: int
    state: str
    progress: Optional[Progress] = None
    partial: Any = None
    result: Any = None
    error: str = ""
    traceback: str = ""
    attempts: int = 0
    submitted_s: float = 0.0
    started_s: float = 0.0
    finished_s: float = 0.0

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def seconds(self) -> float:
        """Run time of the last attempt (so far, if running)."""
        if not self.started_s:
            return 0.0
        return (self.finished_s or time.monotonic()) - self.started_s


class _Job:
    def __init__(self, job_id: int, name: str, priority: int, factory: Callable[[], JobGenerator], order: int):
        self.info = JobInfo(job_id, name, priority, QUEUED, submitted_s=time.monotonic())
        self.factory = factory
        self.order = order
        self.cancel = CancelToken()
        self.remove_when_done = False


class JobQueue:
    """Runs job factories on worker threads.

    Parameters
    ----------
    max_workers
        How many jobs run at once (e.g. the number of ngspice processes the machine can afford).
    progress_interval_s
        Minimum time between progress notifications of one job (state changes are always sent).
    """

    def __init__(self, max_workers: int = 2, progress_interval_s: float = 0.1):
        self._max = check_range("max_workers", max_workers, 1, 256, integer=True)
        self._interval = float(progress_interval_s)
        self._jobs: dict[int, _Job] = {}
        self._listeners: list[Callable[[JobInfo], None]] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._ids = itertools.count(1)
        self._order = itertools.count()
        self._running = 0
        self._active: set[int] = set()  # ids whose worker thread has not finished notifying
        self._closed = False

    # ---- listeners -----------------------------------------------------------------------------------
    def on_update(self, callback: Callable[[JobInfo], None]) -> Callable[[], None]:
        """Register ``callback(JobInfo)``, called from worker threads; returns a function that unregisters."""
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    def _notify(self, info: JobInfo) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for cb in listeners:
            try:
                cb(info)
            except Exception:
                log.exception("job queue listener failed")

    # ---- public API ----------------------------------------------------------------------------------
    @property
    def max_workers(self) -> int:
        return self._max

    def set_max_workers(self, n: int) -> None:
        """Change the concurrency limit; more jobs start at once if it grew."""
        with self._lock:
            self._max = check_range("max_workers", n, 1, 256, integer=True)
        self._dispatch()

    def submit(self, factory: Callable[[], JobGenerator], name: str = "", priority: int = 0) -> int:
        """Queue ``factory`` (a zero-argument callable returning a job generator); returns the job id."""
        if not callable(factory):
            raise ParameterError("factory", "must be a zero-argument callable that returns a job generator")
        with self._lock:
            if self._closed:
                raise ParameterError("queue", "is shut down; no new jobs")
            job = _Job(next(self._ids), name or f"job {len(self._jobs) + 1}", int(priority), factory, next(self._order))
            self._jobs[job.info.id] = job
            info = job.info
        self._notify(info)
        self._dispatch()
        return info.id

    def get(self, job_id: int) -> JobInfo:
        with self._lock:
            return self._job(job_id).info

    def jobs(self) -> list[JobInfo]:
        """Snapshots of all jobs in submission order."""
        with self._lock:
            return [j.info for j in self._jobs.values()]

    def cancel(self, job_id: int) -> None:
        """Cancel a queued job at once, or a running one at its next progress point; no-op if finished."""
        with self._lock:
            job = self._job(job_id)
            if job.info.state == QUEUED:
                job.cancel.cancel()
                job.info = replace(
                    job.info, state=CANCELLED, error="cancelled before it started", finished_s=time.monotonic()
                )
                info = job.info
            elif job.info.state == RUNNING:
                job.cancel.cancel()
                return
            else:
                return
            self._changed.notify_all()
        self._notify(info)

    def retry(self, job_id: int) -> None:
        """Queue a failed or cancelled job again; its factory makes a fresh generator."""
        with self._lock:
            job = self._job(job_id)
            if job.info.state not in (FAILED, CANCELLED):
                raise ParameterError(
                    "job", f"only failed or cancelled jobs can be retried; job {job_id} is {job.info.state}"
                )
            job.cancel = CancelToken()
            job.order = next(self._order)
            job.remove_when_done = False
            job.info = replace(
                job.info,
                state=QUEUED,
                progress=None,
                partial=None,
                result=None,
                error="",
                traceback="",
                submitted_s=time.monotonic(),
                started_s=0.0,
                finished_s=0.0,
            )
            info = job.info
        self._notify(info)
        self._dispatch()

    def remove(self, job_id: int) -> None:
        """Forget a job; a queued one is cancelled first, a running one is cancelled and goes when it stops."""
        with self._lock:
            job = self._job(job_id)
            if job.info.state == RUNNING:
                job.remove_when_done = True
                job.cancel.cancel()
                return
            del self._jobs[job_id]
            self._changed.notify_all()

    def wait(self, job_ids=None, timeout: Optional[float] = None) -> bool:
        """Block until the given jobs (default: all) are finished; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def busy() -> bool:
            ids = set(self._jobs) | self._active if job_ids is None else job_ids
            return any(i in self._active or (i in self._jobs and not self._jobs[i].info.finished) for i in ids)

        with self._changed:
            while busy():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def shutdown(self, cancel: bool = True, timeout: Optional[float] = None) -> bool:
        """Refuse new jobs, cancel (if asked) queued and running ones and wait for them; False on timeout."""
        with self._lock:
            self._closed = True
            ids = list(self._jobs)
        if cancel:
            for i in ids:
                try:
                    self.cancel(i)
                except ParameterError:
                    pass
        return self.wait(timeout=timeout)

    # ---- internals -----------------------------------------------------------------------------------
    def _job(self, job_id: int) -> _Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise ParameterError("job", f"no job with id {job_id!r}") from None

    def _dispatch(self) -> None:
        started = []
        with self._lock:
            while self._running < self._max:
                queued = [j for j in self._jobs.values() if j.info.state == QUEUED]
                if not queued:
                    break
                job = min(queued, key=lambda j: (-j.info.priority, j.order))
                job.info = replace(job.info, state=RUNNING, attempts=job.info.attempts + 1, started_s=time.monotonic())
                self._running += 1
                self._active.add(job.info.id)
                started.append(job)
        for job in started:
            self._notify(job.info)
            threading.Thread(target=self._run, args=(job,), name=f"job-{job.info.id}", daemon=True).start()

    def _run(self, job: _Job) -> None:
        state, result, error, tb, partial = DONE, None, "", "", None
        last_emit = 0.0

        def on_progress(p: Progress) -> None:
            nonlocal last_emit
            with self._lock:
                job.info = replace(
                    job.info, progress=p, partial=p.partial if p.partial is not None else job.info.partial
                )
                info = job.info
            now = time.monotonic()
            if now - last_emit >= self._interval:
                last_emit = now
                self._notify(info)

        try:
            result = jobs.run(job.factory(), on_progress, job.cancel)
        except jobs.Cancelled as c:
            state, error, partial = CANCELLED, "cancelled", c.partial
        except Exception as e:  # noqa: BLE001 - one failing job never stops the others
            state = FAILED
            error = describe_error(e, limit=2000)
            tb = traceback.format_exc()
        with self._lock:
            job.info = info = replace(
                job.info,
                state=state,
                result=result,
                error=error,
                traceback=tb,
                partial=partial if partial is not None else job.info.partial,
                finished_s=time.monotonic(),
            )
            self._running -= 1
            if job.remove_when_done:
                self._jobs.pop(info.id, None)
        self._notify(info)
        # wait() returns only after listeners have heard the final state
        with self._lock:
            self._active.discard(info.id)
            self._changed.notify_all()
        self._dispatch()
