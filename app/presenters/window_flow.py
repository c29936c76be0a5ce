"""The main window's flow, free of Qt: which project a result goes to, what replacing the open project asks and
cancels, what quitting asks, the texts of those questions, recent files, dropped files and the About text.

Questions are plain :class:`Question` objects; the window shows them as message boxes (or, without a user,
takes :attr:`Question.unattended`) and hands the chosen :attr:`Choice.key` back. The flows here take that
``ask`` callable, so they run the same in the window and in tests without a screen.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Protocol

from app.presenters.document import WorkbenchState
from core.model.project import Project
from core.model.results import RecoveryResult, SimulationResult, SweepResult
from core.session.job_queue import CANCELLED, DONE, FAILED, JobInfo

# answer keys
SAVE, DISCARD, CANCEL = "save", "discard", "cancel"
CANCEL_JOBS, KEEP_JOBS = "cancel-jobs", "keep-jobs"
ACCEPT, REJECT, DESTRUCTIVE = "accept", "reject", "destructive"  # button roles

PROJECT_SUFFIXES = (".h5", ".hdf5")
MAX_RECENT = 8
MAX_LISTED_JOBS = 8


@dataclass(frozen=True)
class Choice:
    """One button of a question: the key handed back, its label and its role (accept, reject, destructive)."""

    key: str
    label: str
    role: str = ACCEPT


@dataclass(frozen=True)
class Question:
    """A question to the user; ``default`` is the preselected key, ``unattended`` the answer when nobody can answer."""

    title: str
    text: str
    choices: tuple[Choice, ...]
    default: str
    unattended: str

    def keys(self) -> list[str]:
        return [c.key for c in self.choices]


Ask = Callable[[Question], str]


class JobsView(Protocol):
    """What the flows need of the job queue (:class:`app.jobs_qt.QtJobQueue` has it)."""

    def unfinished_for(self, project: Any) -> list[JobInfo]: ...

    def cancel(self, job_id: int) -> None: ...


# ---- questions ----------------------------------------------------------------------------------------------
def _job_lines(pending: Sequence[JobInfo]) -> str:
    lines = [f"  • {j.name} ({j.state})" for j in pending[:MAX_LISTED_JOBS]]
    return "\n".join(lines) + ("\n  …" if len(pending) > MAX_LISTED_JOBS else "")


def jobs_question(pending: Sequence[JobInfo], action: str) -> Optional[Question]:
    """Asked before ``action`` (e.g. 'open another project') replaces a project whose jobs are unfinished."""
    if not pending:
        return None
    return Question(
        "Jobs still running",
        f"{len(pending)} job(s) of the open project are queued or running:\n{_job_lines(pending)}\n\n"
        f"Their results belong to this project and would be lost if you {action}. Cancel them?",
        (Choice(CANCEL_JOBS, "Cancel jobs and continue", DESTRUCTIVE), Choice(KEEP_JOBS, f"Don't {action}", REJECT)),
        default=KEEP_JOBS,
        unattended=CANCEL_JOBS,
    )


def quit_question(unfinished: Sequence[JobInfo]) -> Optional[Question]:
    """Asked before quitting while any job (of any project, training included) is queued or running."""
    if not unfinished:
        return None
    return Question(
        "Jobs still running",
        f"{len(unfinished)} job(s) are queued or running:\n{_job_lines(unfinished)}\n\n"
        "Quitting cancels them; results they have not delivered yet are lost. Quit anyway?",
        (Choice(CANCEL_JOBS, "Cancel jobs and quit", DESTRUCTIVE), Choice(KEEP_JOBS, "Don't quit", REJECT)),
        default=KEEP_JOBS,
        unattended=CANCEL_JOBS,
    )


def unsaved_question(state: WorkbenchState, action: str, unattended: str = DISCARD) -> Optional[Question]:
    """Asked before ``action`` replaces or closes a project with unsaved changes (None if there are none)."""
    if not state.dirty:
        return None
    name = os.path.basename(state.path) if state.path else "the new project"
    what = state.unsaved_summary()
    return Question(
        "Unsaved changes",
        f"{name} has unsaved changes ({what}). Save them before you {action}?\n\n"
        "Discard loses them; the draft scenario is saved with the project.",
        (Choice(SAVE, "Save", ACCEPT), Choice(DISCARD, "Discard", DESTRUCTIVE), Choice(CANCEL, "Cancel", REJECT)),
        default=SAVE,
        unattended=unattended,
    )


# ---- replacing the open project -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What a flow did: ``done`` or not, and a note for the status bar (why not, or what was cancelled)."""

    done: bool
    note: str = ""


def cancel_note(n: int, whose: str = "the previous project") -> str:
    """'cancelled 2 jobs of the previous project' ('' for none)."""
    return f"cancelled {n} job{'s' if n != 1 else ''} of {whose}" if n else ""


def cancel_jobs(jobs: JobsView, project: Any, job_ids: Iterable[int]) -> str:
    """Cancel those of ``job_ids`` that are still unfinished jobs of ``project``; returns :func:`cancel_note`."""
    still = {j.id for j in jobs.unfinished_for(project)}
    todo = [i for i in job_ids if i in still]
    for job_id in todo:
        jobs.cancel(job_id)
    return cancel_note(len(todo))


def replace_project(
    state: WorkbenchState,
    jobs: JobsView,
    project: Project,
    path: Optional[str],
    action: str,
    ask: Ask,
    save: Callable[[], bool],
    *,
    dirty: bool = False,
    keep_dirty: bool = False,
) -> Outcome:
    """Make ``project`` the open one, after asking about unfinished jobs and unsaved changes.

    Parameters
    ----------
    action
        What the user is doing, for the questions ('open another project').
    save
        Saves the open project (Save or Save As); False if it was not saved (the flow stops then).
    dirty
        The new project starts with unsaved changes (a freshly trained one).
    keep_dirty
        Unattended, keep a project with unsaved changes rather than discard them (a finished training).
    """
    old = state.project
    pending = jobs.unfinished_for(old)
    q = jobs_question(pending, action)
    if q is not None and ask(q) != CANCEL_JOBS:
        return Outcome(False, f"did not {action}: jobs of the open project are still running")
    q = unsaved_question(state, action, unattended=CANCEL if keep_dirty else DISCARD)
    if q is not None:
        answer = ask(q)
        if answer == SAVE:
            if not save():
                return Outcome(False, f"did not {action}: the open project was not saved")
        elif answer != DISCARD:
            return Outcome(False, f"did not {action}: the open project has unsaved changes")
    note = cancel_jobs(jobs, old, [j.id for j in pending])
    state.set_project(project, path, dirty=dirty)
    return Outcome(True, note)


def trained_text(outcome: Outcome, state: WorkbenchState) -> str:
    """The status bar after a training finished: opened, or parked behind 'Open trained project'."""
    if outcome.done:
        return "training finished; the new project is open (unsaved)" + (f"; {outcome.note}" if outcome.note else "")
    why = " has unsaved changes and" if state.dirty else ""
    return f"training finished; the open project{why} was kept (use 'Open trained project' in the training panel)"


def training_start_text(note: str) -> str:
    return f"training a new project; {note}" if note else ""


# ---- quitting -----------------------------------------------------------------------------------------------
def may_quit(state: WorkbenchState, unfinished: Sequence[JobInfo], ask: Ask, save: Callable[[], bool]) -> Outcome:
    """Ask about unfinished jobs, then unsaved changes; ``done`` means quit (the window cancels every job)."""
    q = quit_question(unfinished)
    if q is not None and ask(q) != CANCEL_JOBS:
        return Outcome(False, "did not quit: jobs are still running")
    q = unsaved_question(state, "quit")
    if q is not None:
        answer = ask(q)
        if answer == SAVE:
            if not save():
                return Outcome(False, "did not quit: the project was not saved")
        elif answer != DISCARD:
            return Outcome(False, "did not quit: the project has unsaved changes")
    return Outcome(True)


# ---- finished jobs ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobReport:
    """What a finished job means for the window: refresh the results views? and the status bar text."""

    stored_here: bool
    text: str


def job_report(info: JobInfo, target: Any, open_project: Project) -> Optional[JobReport]:
    """The report of a finished job whose result went (or not) to ``target``; None for a finished training.

    A done simulation, sweep or recovery and the finished points of a cancelled or failed sweep are stored into
    the job's target project by the queue (:func:`core.session.store.partial_sweep`); only if that is the open
    project do the views change.
    """
    if info.state == DONE and isinstance(info.result, Project):
        return None  # a finished training: the training flow says what became of it
    partial_rows = getattr(info.partial, "rows", None) if isinstance(info.partial, SweepResult) else None
    stored = (info.state == DONE and isinstance(info.result, (SimulationResult, SweepResult, RecoveryResult))) or (
        info.state in (CANCELLED, FAILED) and bool(partial_rows)
    )
    elsewhere = target is not None and target is not open_project
    verb = {"done": "finished", "failed": "failed", "cancelled": "was cancelled"}.get(info.state, info.state)
    text = f"{info.name} {verb}" + (f": {info.error}" if info.error and info.error != info.state else "")
    if stored and info.state in (CANCELLED, FAILED) and not elsewhere:
        text += f"; kept the {len(partial_rows or [])} finished points as a partial sweep"
    if elsewhere:
        text += " (its project is no longer open; nothing was added to this one)"
    return JobReport(stored and not elsewhere, text)


# ---- files --------------------------------------------------------------------------------------------------
def is_project_file(path: str) -> bool:
    return str(path).lower().endswith(PROJECT_SUFFIXES)


def dropped_project(paths: Iterable[str]) -> Optional[str]:
    """The project file to open from paths dropped on the window (the first ``.h5``/``.hdf5``), or None."""
    return next((p for p in paths if p and is_project_file(p)), None)


def add_recent(recent: Sequence[str], path: str, limit: int = MAX_RECENT) -> list[str]:
    """``path`` first, then the others (no duplicates, same file counted once), at most ``limit``."""
    new = os.path.abspath(path)
    out = [new]
    for p in recent:
        p = os.path.abspath(str(p))
        if p not in out:
            out.append(p)
    return out[:limit]


def recent_entries(recent: Sequence[str]) -> list[tuple[str, str, bool]]:
    """(menu label, path, exists) for File > Open Recent: '&1 name.h5  (folder)'."""
    return [
        (f"&{i} {os.path.basename(p)}  ({os.path.dirname(p)})", p, os.path.isfile(p)) for i, p in enumerate(recent, 1)
    ]


def file_task_text(verb: str, path: str) -> str:
    """'saving p.h5 …' / 'opening p.h5 …' for the status bar while a file is read or written."""
    return f"{verb} {os.path.basename(path)} …"


def window_title(state: WorkbenchState) -> str:
    name = os.path.basename(state.path) if state.path else "untitled"
    return f"ReRAM Fault Workbench — {name}{' *' if state.dirty else ''}"


def about_text(solver: Optional[dict], solver_error: str = "", qt: str = "") -> str:
    """Help > About: the app version, the project format version and the ngspice found (or 'ngspice not found')."""
    from core.project_io import FORMAT_VERSION
    from core.version import __version__, library_versions

    if solver is not None:
        kind = "KLU" if solver.get("klu") else "sparse"
        spice = f"ngspice {solver.get('version', '?')}, {kind} solver ({solver.get('path', '')})"
    else:
        spice = "ngspice not found" + (f": {solver_error}" if solver_error else "")
    return (
        f"ReRAM Fault Workbench {__version__}\n"
        f"Project file format version {FORMAT_VERSION}\n"
        f"SPICE: {spice}\n"
        f"{library_versions()}" + (f"; {qt}" if qt else "") + "\n\n"
        "Stuck-at defects in ReRAM crossbar arrays, their effect on an analog neural network and its recovery."
    )


def solver_details() -> tuple[Optional[dict], str]:
    """(:func:`core.circuit.spice.runner.solver_info`, '') or (None, why not): may take ~0.1 s the first time."""
    from core.circuit.spice.runner import solver_info
    from core.errors import WorkbenchError

    try:
        return solver_info(), ""
    except WorkbenchError as e:
        return None, str(e)


PREFERRED_WINDOW_SIZE = (1280, 800)


def first_window_size(
    available: tuple[int, int], preferred: tuple[int, int] = PREFERRED_WINDOW_SIZE
) -> tuple[int, int]:
    """The window's size at its first start: the preferred size, shrunk to fit the screen's free area.

    A window manager places a window larger than the screen partly off it (at 1024x768 the right edge and
    the status bar were lost), so leave room for its frame and title bar.
    """
    frame_w, frame_h = 16, 48
    return (max(640, min(preferred[0], available[0] - frame_w)), max(480, min(preferred[1], available[1] - frame_h)))
