"""One pattern for all long work: a job is a generator that yields :class:`Progress` and returns a result.

A job function is written as a plain generator::

    def train_job(...):
        try:
            for epoch in range(n):
                ...
                yield Progress(epoch + 1, n, f"epoch {epoch + 1}", partial=history)
            return result
        finally:
            ...  # clean up: runs on completion, failure and cancel alike

:func:`run` drives it synchronously (tests, CLI). Cancellation is cooperative: the driver checks the
cancel flag after each yield and closes the generator, so its ``finally`` blocks kill child processes and
remove temp files. Jobs that wait on something slow (an ngspice child) poll and yield while waiting.
:class:`~core.session.job_queue.JobQueue` runs many jobs on worker threads with priorities.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Optional

from core.errors import WorkbenchError


@dataclass(frozen=True)
class Progress:
    """A progress report from a job: ``done`` of ``total`` units, a message and an optional partial result."""

    done: float
    total: float
    message: str = ""
    partial: Any = None

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, max(0.0, self.done / self.total))


class Cancelled(WorkbenchError):
    """Raised by :func:`run` when a job was cancelled; ``partial`` holds the last partial result."""

    def __init__(self, partial: Any = None, message: str = "cancelled"):
        self.partial = partial
        super().__init__(message)


class Interrupted(Cancelled):
    """Raised by :func:`run` instead of ``KeyboardInterrupt`` (Ctrl-C) so the partial result survives."""

    def __init__(self, partial: Any = None):
        super().__init__(partial, "interrupted")


JobGenerator = Generator[Progress, None, Any]


class CancelToken:
    """A thread-safe cancel flag shared between a job's driver and whoever may cancel it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


def stage(job: JobGenerator, start: float, share: float, total: float = 1.0, label: str = ""):
    """Job: ``job`` as one stage of a longer job, its progress mapped to ``start .. start + share`` of ``total``.

    So a job made of several sub-jobs reports one bar that only moves forward (a sub-job's own 0 of N does not
    reset it); ``label`` prefixes the sub-job's messages. Returns the sub-job's result.
    """
    while True:
        try:
            p = next(job)
        except StopIteration as stop:
            return stop.value
        done = start + share * p.fraction
        message = f"{label}: {p.message}" if label and p.message else (p.message or label)
        yield Progress(done, total, message, p.partial)


def run(
    job: JobGenerator,
    on_progress: Optional[Callable[[Progress], None]] = None,
    cancel: Optional[CancelToken] = None,
    min_interval_s: float = 0.0,
) -> Any:
    """Drive a job generator to completion and return its result.

    Parameters
    ----------
    job
        The generator returned by calling a job function.
    on_progress
        Called with each :class:`Progress` (throttled to one call per ``min_interval_s`` seconds, but the
        last report before completion is always delivered).
    cancel
        When set, the job is closed at its next yield and :class:`Cancelled` is raised.
    min_interval_s
        Minimum time between progress callbacks.

    Raises
    ------
    Cancelled
        If ``cancel`` was set; carries the last partial result.
    Interrupted
        On Ctrl-C (``KeyboardInterrupt``) while the job ran; carries the last partial result.
    """
    last_partial = None
    last_emit = 0.0
    pending: Optional[Progress] = None
    try:
        while True:
            if cancel is not None and cancel.cancelled:
                job.close()
                raise Cancelled(last_partial)
            try:
                p = next(job)
            except StopIteration as stop:
                if pending is not None and on_progress is not None:
                    on_progress(pending)
                return stop.value
            if p.partial is not None:
                last_partial = p.partial
            if on_progress is not None:
                now = time.monotonic()
                if now - last_emit >= min_interval_s:
                    on_progress(p)
                    last_emit = now
                    pending = None
                else:
                    pending = p
    except KeyboardInterrupt:
        job.close()
        raise Interrupted(last_partial) from None
    finally:
        job.close()
