"""The defect editor's live read-out, free of Qt: a "latest edit wins" background computer and its texts.

Every edit of the draft submits ``(project, defects)`` from the GUI thread (:meth:`ReadoutComputer.submit`
returns at once). One worker thread computes :func:`core.evaluate.defect_readout`; edits that arrive while it
computes replace each other, so only the newest is computed next and the older ones are dropped. A finished
read-out reaches ``on_result`` as a :class:`ReadoutOutcome` carrying the edit's serial number; ``on_result`` is
called on the worker thread. The outcome is also kept for :meth:`ReadoutComputer.take_latest`, so a widget
only needs to wake the GUI thread (a queued signal without arguments, as :mod:`app.jobs_qt` does: no Python
object crosses threads inside Qt) and take the newest outcome there. A failure of the computation becomes the
outcome's ``error`` text, never an exception.

The worker thread lives only while there is work: it ends when nothing is pending and the next submit starts
a new one, so an idle editor holds no thread and a forgotten computer none either.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from core.errors import WorkbenchError, describe_error
from core.evaluate import DefectReadout, defect_readout
from core.model.defects import Defect
from core.model.project import Project

log = logging.getLogger(__name__)

COMPUTING = "computing…"


@dataclass(frozen=True)
class ReadoutOutcome:
    """The read-out of edit ``serial``: ``readout`` on success, else ``error`` (one line for the user)."""

    serial: int
    readout: Optional[DefectReadout] = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.readout is not None

    @property
    def text(self) -> str:
        return readout_text(self.readout) if self.readout is not None else f"no read-out: {self.error}"


class ReadoutComputer:
    """Compute read-outs on one background thread; the latest edit wins.

    Parameters
    ----------
    on_result
        ``on_result(outcome)``, called on the worker thread for each computed edit, serials increasing
        (after the outcome became :meth:`take_latest`'s).
    compute
        ``compute(project, defects) -> DefectReadout``; default :func:`core.evaluate.defect_readout`.
    """

    def __init__(
        self,
        on_result: Callable[[ReadoutOutcome], None],
        compute: Callable[[Any, Sequence[Defect]], DefectReadout] = defect_readout,
    ):
        self._on_result = on_result
        self._compute = compute
        self._lock = threading.Lock()
        self._pending: Optional[tuple[int, Any, list[Defect]]] = None
        self._serial = 0  # of the newest submit (or invalidate)
        self._delivered = 0  # serial of the newest outcome handed to on_result
        self._floor = 0  # results of this serial or older are stale (set by invalidate)
        self._outbox: Optional[ReadoutOutcome] = None  # newest delivered outcome not yet taken
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        self.computed = 0  # computations run (tests and the benchmark read it)

    # ---- GUI thread ----------------------------------------------------------------------------------
    def submit(self, project: Project, defects: Sequence[Defect]) -> int:
        """Queue the read-out of ``defects`` on ``project`` (replacing any not yet started); its serial.

        ``defects`` is used as given: pass a snapshot the caller no longer changes (the state's draft list
        is replaced, never changed in place, by its commands).
        """
        with self._lock:
            self._serial += 1
            serial = self._serial
            if self._closed:
                return serial
            self._pending = (serial, project, list(defects))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="defect-readout", daemon=True)
                self._thread.start()
        return serial

    def invalidate(self) -> int:
        """Drop any pending edit and make every result still being computed stale (e.g. no network now)."""
        with self._lock:
            self._serial += 1
            self._pending = None
            self._outbox = None
            self._floor = self._serial
            return self._serial

    @property
    def latest(self) -> int:
        """Serial of the newest submit."""
        return self._serial

    @property
    def delivered(self) -> int:
        """Serial of the newest outcome delivered."""
        return self._delivered

    @property
    def busy(self) -> bool:
        """True while the newest submit has no outcome yet (show a "computing…" hint)."""
        with self._lock:
            return self._delivered < self._serial and (self._pending is not None or self._thread is not None)

    def take_latest(self) -> Optional[ReadoutOutcome]:
        """The newest delivered outcome not taken yet (older ones it overtook are gone), or None."""
        with self._lock:
            outcome, self._outbox = self._outbox, None
        return outcome

    def is_current(self, serial: int) -> bool:
        """True if edit ``serial`` is the newest one submitted: its read-out is the final one for now."""
        return serial == self._serial

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop: drop pending work, wait for a running computation to end; later submits do nothing."""
        with self._lock:
            self._closed = True
            self._pending = None
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    # ---- worker thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._lock:
                job = self._pending
                self._pending = None
                if job is None or self._closed:
                    self._thread = None  # the next submit starts a new worker
                    return
            serial, project, defects = job
            try:
                outcome = ReadoutOutcome(serial, readout=self._compute(project, defects))
            except Exception as e:  # any failure becomes text in the panel, never a traceback
                if not isinstance(e, WorkbenchError):  # a user's defect that does not fit is no bug
                    log.exception("defect read-out failed")
                outcome = ReadoutOutcome(serial, error=describe_error(e))
            self.computed += 1
            with self._lock:
                # one worker computes edits in order, so this holds; stated so a stale result can never show
                stale = serial <= max(self._delivered, self._floor) or self._closed
                if not stale:
                    self._delivered, self._outbox = serial, outcome
            if stale:
                continue
            try:
                self._on_result(outcome)
            except Exception:  # a broken receiver must not stop later read-outs
                log.exception("defect read-out receiver failed")


# ---- texts --------------------------------------------------------------------------------------------
def _fraction(f: float) -> str:
    """A defective fraction as a percentage: 0% and 100% exact, small non-zero ones never shown as 0%."""
    if f <= 0:
        return "0%"
    if f >= 1:
        return "100%"
    pct = 100 * f
    return f"{pct:.1f}%" if pct >= 0.05 else "<0.1%"


def _interval(r: DefectReadout) -> str:
    if math.isnan(r.ci_low):
        return "no interval"
    return f"95% CI {r.ci_low:.2f}-{r.ci_high:.2f}"


def accuracy_text(r: DefectReadout) -> str:
    """``accuracy 0.422 (95% CI 0.35-0.50), -0.494 vs defect-free 0.917``."""
    return f"accuracy {r.accuracy:.3f} ({_interval(r)}), {r.delta:+.3f} vs defect-free {r.clean_accuracy:.3f}"


def fraction_items(r: DefectReadout) -> list[tuple[str, float, str]]:
    """(``array N``, fraction, text such as ``12.3%``) for each array, array 1 first."""
    return [(f"array {i}", f, _fraction(f)) for i, f in enumerate(r.defect_fraction, start=1)]


def readout_text(r: DefectReadout) -> str:
    """The whole read-out in one line: accuracy, interval, change, and the defective fraction of each array."""
    arrays = ", ".join(f"{name} {text}" for name, _f, text in fraction_items(r))
    return f"{accuracy_text(r)}; defective: {arrays}"


def readout_tooltip(r: DefectReadout) -> str:
    """What the numbers are, for the read-out's tooltip."""
    return (
        f"Behavioural circuit model (ideal wires, the project's device model) on the {r.n_images} {r.split} "
        f"images. The interval is the 95% Wilson score interval of the accuracy over those images; the change "
        f"is against the same circuit without defects."
    )
