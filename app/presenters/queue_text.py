"""The texts of the simulation queue, free of Qt: state, progress, message and time left of each job, and the
details of the selected job.

The time left comes from :class:`EtaTracker`, which watches the progress fraction of each running job. It
measures the rate from the first progress report on, so start-up time (loading data, starting ngspice) does
not inflate the estimate, and says ``estimating…`` until it has seen progress over at least
:data:`MIN_SPAN_S` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from core.model.results import SweepResult
from core.session.job_queue import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobInfo

COLUMNS = ("Job", "State", "Progress", "Message", "Time left")
ESTIMATING = "estimating…"
# the widest texts of the Progress and Time left columns (the table sizes those columns by them)
PROGRESS_SAMPLE = "100 %"
TIME_LEFT_SAMPLES = (ESTIMATING, "almost done", "~59 min 59 s")
MIN_SPAN_S = 1.0  # progress seen over at least this long before a rate is trusted
MIN_FRACTION = 0.05  # or this much done, for the whole-run fallback estimate
MIN_ELAPSED_S = 2.0


def progress_fraction(info: JobInfo) -> float:
    """Fraction done in [0, 1] (1 once done)."""
    if info.state == DONE:
        return 1.0
    return info.progress.fraction if info.progress else 0.0


def progress_text(info: JobInfo) -> str:
    return f"{100 * progress_fraction(info):.0f} %"


def sweep_points(spec: dict) -> int:
    """Grid points of a sweep spec dict (0 if unknown)."""
    try:
        return len(spec["patterns"]) * len(spec["sizes"]) * len(spec["stuck"]) * len(spec["arrays"])
    except (KeyError, TypeError):
        return 0


def message_text(info: JobInfo, project_closed: bool = False) -> str:
    """One line saying what a job is doing or how it ended (shown from the moment it is queued).

    ``project_closed``: the project the job was started for is no longer open (a cancelled sweep's finished
    points were then dropped rather than stored).
    """
    if info.state == QUEUED:
        return "queued: waiting for a free worker"
    if info.state == RUNNING:
        return info.progress.message if info.progress and info.progress.message else "starting …"
    if info.state == FAILED:
        return info.error
    if info.state == CANCELLED:
        text = info.error or "cancelled"
        sweep = info.partial
        if isinstance(sweep, SweepResult) and sweep.rows:
            if project_closed:
                return f"{text}; its project was closed, so its {len(sweep.rows)} finished points were dropped"
            total = sweep_points(sweep.spec)
            return f"{text}; kept {len(sweep.rows)}{f' of {total}' if total else ''} points as a partial sweep"
        return text
    acc = getattr(info.result, "accuracy", None)
    text = (info.progress.message if info.progress else "done") + (
        "" if acc is None or (info.progress and "accuracy" in info.progress.message) else f" (accuracy {acc:.3f})"
    )
    return f"done in {info.seconds:.2f} s: {text}"


def duration_text(seconds: float) -> str:
    """``8 s``, ``2 min 10 s``, ``1 h 05 min`` (rounded to what a person plans with)."""
    s = max(0.0, float(seconds))
    if s < 60:
        return f"{s:.0f} s" if s < 10 else f"{5 * round(s / 5):.0f} s"
    if s < 3600:
        m, rest = divmod(10 * round(s / 10), 60)
        return f"{m:.0f} min" + (f" {rest:.0f} s" if rest else "")
    h, m = divmod(round(s / 60), 60)
    return f"{h:.0f} h {m:02.0f} min"


def remaining_text(seconds: Optional[float], short: bool = True) -> str:
    """Time left: ``estimating…`` (None), ``almost done``, or ``~2 min 10 s`` (``about 2 min 10 s left``)."""
    if seconds is None:
        return ESTIMATING
    if seconds < 1.0:
        return "almost done"
    return f"~{duration_text(seconds)}" if short else f"about {duration_text(seconds)} left"


@dataclass
class _Track:
    attempt: int
    first: tuple[float, float]  # (time, fraction) of the first report with progress
    last: tuple[float, float]


class EtaTracker:
    """Estimates the time left of running jobs from their progress fraction and elapsed time.

    Feed every :class:`JobInfo` snapshot to :meth:`observe` (``now`` on the clock of ``time.monotonic``, like
    :attr:`JobInfo.started_s`); ask :meth:`remaining` or :meth:`text` at any time.
    """

    def __init__(self):
        self._tracks: dict[int, _Track] = {}

    def observe(self, info: JobInfo, now: float) -> None:
        f = progress_fraction(info)
        if info.state != RUNNING or not info.progress or info.progress.total <= 0:
            if info.state != RUNNING:
                self._tracks.pop(info.id, None)
            return
        t = self._tracks.get(info.id)
        if t is None or t.attempt != info.attempts or f < t.last[1]:  # a retry (or a job that restarted) starts over
            if f > 0:
                self._tracks[info.id] = _Track(info.attempts, (now, f), (now, f))
            return
        if f > t.last[1]:
            t.last = (now, f)

    def forget(self, job_id: int) -> None:
        self._tracks.pop(job_id, None)

    def remaining(self, info: JobInfo, now: float) -> Optional[float]:
        """Seconds left of a running job, or None while there is not enough progress to tell."""
        if info.state != RUNNING or not info.progress or info.progress.total <= 0:
            return None
        t = self._tracks.get(info.id)
        if t is None:
            return None
        (t0, f0), (t1, f1) = t.first, t.last
        if f1 >= 1.0:
            return 0.0
        if t1 - t0 >= MIN_SPAN_S and f1 > f0:
            rate = (f1 - f0) / (t1 - t0)
        else:
            # one report so far: the whole run's average, once enough of it is done
            elapsed = t1 - info.started_s if info.started_s else 0.0
            if f1 < MIN_FRACTION or elapsed < MIN_ELAPSED_S:
                return None
            rate = f1 / elapsed
        return max(0.0, (1.0 - f1) / rate - (now - t1))

    def text(self, info: JobInfo, now: float, short: bool = True) -> str:
        """The time left of a job (see :func:`remaining_text`): empty unless it runs with a known total."""
        if info.state != RUNNING:
            return ""
        if info.progress is not None and info.progress.total <= 0:
            return ""
        return remaining_text(self.remaining(info, now), short)


@dataclass(frozen=True)
class Actions:
    cancel: bool
    retry: bool
    remove: bool
    retry_tip: str


def actions(state: str, selected: bool, project_closed: bool) -> Actions:
    """Which of Cancel / Retry / Remove apply to the selected job (``state`` '' when none is selected).

    A retried job stores its result in the project it was started for, so Retry needs that project open.
    """
    retryable = state in (FAILED, CANCELLED)
    return Actions(
        cancel=state in (QUEUED, RUNNING),
        retry=retryable and not project_closed,
        remove=selected,
        retry_tip="its project is no longer open" if project_closed and retryable else "run the selected job again",
    )


def details_text(info: JobInfo, project_closed: bool = False, time_left: str = "") -> str:
    """The details pane of the selected job: name, state, progress, times, the full message and any error."""
    head = [info.state, progress_text(info)]
    if info.started_s:
        head.append(
            f"took {duration_text(info.seconds)}" if info.finished else f"{duration_text(info.seconds)} elapsed"
        )
    if time_left:
        head.append(time_left)
    if info.attempts > 1:
        head.append(f"attempt {info.attempts}")
    lines = [info.name, " · ".join(head), "", message_text(info, project_closed)]
    if info.error and info.state not in (FAILED, CANCELLED):  # their message already starts with the error
        lines.append(f"error: {info.error}")
    return "\n".join(lines)
