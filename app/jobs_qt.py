"""The one place where worker threads meet Qt: :class:`core.session.job_queue.JobQueue` callbacks become Qt signals.

The queue calls its listeners on worker threads. :class:`QtJobQueue` only records the newest
:class:`~core.session.job_queue.JobInfo` per job under a lock and wakes the GUI thread through a queued signal; the GUI
thread then emits :attr:`QtJobQueue.job_updated` (throttled to a few updates per second; state changes
are delivered at once) and :attr:`QtJobQueue.job_finished`. No other app code touches threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Optional

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from core.session.job_queue import CANCELLED, DONE, FAILED, JobInfo, JobQueue
from core.session.store import RESULT_TYPES, partial_sweep, store_result

_gc_guard = None


def collect_garbage_on_gui_thread_only() -> None:
    """Move Python's cyclic garbage collection onto the GUI thread, for good.

    The collector runs in whichever thread happens to allocate. If that is a worker thread and the garbage
    holds Qt wrappers (a closed dialog, a replaced plot), their C++ destructors run there, take a Qt mutex and
    then wait for the GIL, while the GUI thread holds the GIL and waits for that mutex: a deadlock (seen in
    the test suite). pyqtgraph's GarbageCollector disables automatic collection and collects on a GUI-thread
    timer instead; one per process.
    """
    global _gc_guard
    if _gc_guard is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _gc_guard = GarbageCollector(interval=0.5)


def import_worker_modules_on_gui_thread() -> None:
    """Import, on the GUI thread, the heavy modules that worker threads would otherwise import first.

    A first import inside a worker thread (scikit-learn when a job loads the dataset, scipy's sparse solver and
    special functions, PySpice) runs while the GUI thread may be importing through shiboken's import hook; a
    crash in ``open_path`` was seen exactly then. Importing them once, up front, takes a few hundred
    milliseconds and leaves worker threads nothing to import.
    """
    import scipy.sparse.linalg
    import scipy.special  # noqa: F401 - sweep intervals
    import sklearn.datasets
    import sklearn.model_selection  # noqa: F401 - the data split


def release_garbage_collection() -> None:
    """Collect now (call on the GUI thread) and give automatic collection back to Python (tests, shutdown)."""
    import gc

    global _gc_guard
    if _gc_guard is not None:
        _gc_guard.timer.stop()
        _gc_guard = None
    gc.collect()
    gc.enable()


class QtJobQueue(QObject):
    """A :class:`JobQueue` whose updates arrive as signals on the GUI thread.

    Signals
    -------
    job_updated(JobInfo)
        A job was queued, started, made progress (throttled) or finished.
    job_finished(JobInfo)
        A job is done, failed or cancelled; its result is already stored in its project.
    job_removed(int)
        A job was removed from the queue.
    """

    job_updated = Signal(object)
    job_finished = Signal(object)
    job_removed = Signal(int)
    _wake = Signal()

    def __init__(self, max_workers: int = 2, interval_s: float = 0.25, parent: Optional[QObject] = None):
        super().__init__(parent)
        collect_garbage_on_gui_thread_only()  # before any worker thread starts
        import_worker_modules_on_gui_thread()
        self.interval_s = float(interval_s)
        self.queue = JobQueue(max_workers=max_workers, progress_interval_s=0.05)
        self._lock = threading.Lock()
        self._pending: dict[int, JobInfo] = {}
        self._finished: list[JobInfo] = []
        self._states: dict[int, str] = {}
        self._targets: dict[int, object] = {}  # job id -> project that receives its result
        self._callbacks: dict[int, Callable[[JobInfo], None]] = {}
        self._last_flush = 0.0
        self._urgent = False
        self._removed: set[int] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._flush)
        # the signal is emitted on worker threads; the queued connection runs _flush on our (GUI) thread
        self._wake.connect(self._flush, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = self.queue.on_update(self._on_update)

    # ---- called on worker threads --------------------------------------------------------------------
    def _on_update(self, info: JobInfo) -> None:
        with self._lock:
            self._pending[info.id] = info
            if self._states.get(info.id) != info.state:
                self._urgent = True  # state changes are shown at once, progress is throttled
            self._states[info.id] = info.state
            if info.finished:
                self._finished.append(info)
        # emitting from a worker thread is safe: the connection is queued
        self._wake.emit()

    # ---- GUI thread ----------------------------------------------------------------------------------
    def _flush(self) -> None:
        wait_s = self.interval_s - (time.monotonic() - self._last_flush)
        with self._lock:
            if not self._urgent and wait_s > 0:
                if self._pending and not self._timer.isActive():
                    self._timer.start(int(wait_s * 1000) + 1)
                return
            self._urgent = False
            pending, self._pending = self._pending, {}
            finished, self._finished = self._finished, []
        if not pending and not finished:
            return
        self._last_flush = time.monotonic()
        for info in pending.values():
            if info.id not in self._removed:
                self.job_updated.emit(info)
        for info in finished:
            self._store(info)
            cb = self._callbacks.get(info.id)
            if cb is not None:
                cb(info)
            self.job_finished.emit(info)

    def _store(self, info: JobInfo) -> None:
        """Put a finished job's result (or a cancelled or failed sweep's finished points) into its project."""
        target = self._targets.get(info.id)
        if target is None:
            return
        item = info.result if info.state == DONE else None
        if info.state in (CANCELLED, FAILED):
            item = partial_sweep(info.partial)
        if isinstance(item, RESULT_TYPES):  # other jobs (training) hand their result to their on_done callback
            store_result(target, item)

    # ---- public API (GUI thread) ---------------------------------------------------------------------
    def submit(
        self, factory, name: str, project=None, on_done: Optional[Callable[[JobInfo], None]] = None, priority: int = 0
    ) -> int:
        """Queue ``factory`` (zero-argument callable returning a core job).

        Parameters
        ----------
        project
            Finished results are stored into this project on the GUI thread (:func:`core.session.store.store_result`).
        on_done
            Called on the GUI thread with the final JobInfo of every attempt, before :attr:`job_finished`.
        """
        job_id = self.queue.submit(factory, name=name, priority=priority)
        # results are stored on this thread when the job's final state is flushed, never before this returns
        if project is not None:
            self._targets[job_id] = project
        if on_done is not None:
            self._callbacks[job_id] = on_done
        return job_id

    def jobs(self) -> list[JobInfo]:
        return self.queue.jobs()

    def cancel(self, job_id: int) -> None:
        self.queue.cancel(job_id)

    def retry(self, job_id: int) -> None:
        """Run a failed or cancelled job again (same factory, project and callback)."""
        self.queue.retry(job_id)

    def remove(self, job_id: int) -> None:
        """Forget a job (a running one is cancelled first; its partial sweep is still stored)."""
        self.queue.remove(job_id)
        self._removed.add(job_id)
        self.job_removed.emit(job_id)

    def busy(self) -> bool:
        return any(not j.finished for j in self.queue.jobs())

    def target(self, job_id: int):
        """The project that receives ``job_id``'s result (None for jobs without one, e.g. training)."""
        return self._targets.get(job_id)

    def unfinished_for(self, project) -> list[JobInfo]:
        """Queued or running jobs whose results go to ``project``."""
        return [j for j in self.queue.jobs() if not j.finished and self._targets.get(j.id) is project]

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Cancel every job and wait for the workers (called when the window closes)."""
        self._unsubscribe()
        return self.queue.shutdown(cancel=True, timeout=timeout_s)
