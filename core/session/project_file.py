"""Read-modify-write of a project file without losing what another writer stored meanwhile.

Every write of an existing project happens under its lock (:func:`core.project_io.project_lock`) and after a
look at the file: if it is still the one that was read (same :class:`~core.project_io.FileStamp`), it is simply
saved over. If another process saved it since, what happens depends on who writes:

- the CLI (:func:`store_results`) only adds results, and results are append-only: it re-reads the file, appends
  its new results to what is on disk now and saves that, so both writers' results are kept. If the file on
  disk now holds another network (``new --force`` over it), nothing is stored and the error says why.
- the GUI (:func:`save_document`) holds edits too, so it asks: :class:`ProjectChangedError` names what changed;
  the user picks *reload* (the window reads the file again), *merge* (the results and scenarios that are new on
  disk are added to the document, then it is saved) or *overwrite*.

A file that loaded with integrity warnings (:attr:`core.project_io.Opened.warnings`) is never saved over
automatically: :class:`ProjectWarningsError`, unless the caller says to overwrite it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from core import project_io
from core.errors import WorkbenchError
from core.model.project import Project
from core.project_io import FileStamp, Opened
from core.session.store import Result, store_result

MODES = ("refuse", "merge", "overwrite")


class ProjectChangedError(WorkbenchError):
    """The file changed on disk since it was read; :attr:`new_results` counts what is new there."""

    def __init__(self, path: str, message: str, new_results: int = 0, same_network: bool = True):
        self.path, self.new_results, self.same_network = path, new_results, same_network
        super().__init__(message)


class ProjectWarningsError(WorkbenchError):
    """The file loaded with integrity warnings: saving over it needs an explicit decision."""


@dataclass
class FileBase:
    """What a document knows of its file: the stamp and the results as last read or saved, and any warnings."""

    path: str
    stamp: Optional[FileStamp]
    result_keys: set = field(default_factory=set)
    scenario_names: set = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, opened: Opened) -> FileBase:
        p = opened.project
        return cls(opened.path, opened.stamp, result_keys(p), set(p.scenarios), list(opened.warnings))


@dataclass
class SaveOutcome:
    """What :func:`save_document` did: the new base and the results / scenarios merged in from disk."""

    base: FileBase
    merged_results: list = field(default_factory=list)
    merged_scenarios: dict = field(default_factory=dict)  # key -> Scenario


def result_key(r) -> tuple:
    """Who a result is: ``created`` has whole seconds only, so two writers' ``run-0001`` need their run times too."""
    outcome = getattr(r, "accuracy", getattr(r, "after", None))
    return (type(r).__name__, r.id, r.created, getattr(r, "seconds", None), repr(outcome), getattr(r, "scenario", ""))


def result_keys(p: Project) -> set:
    return {result_key(r) for r in (*p.results, *p.sweeps, *p.recoveries)}


def network_fingerprint(p: Project) -> str:
    """A digest of what results depend on: layer sizes, weights, the mapping's scheme and conductances."""
    h = hashlib.sha256(repr(p.network.layer_sizes).encode())
    if p.weights is not None:
        for a in (*p.weights.weights, *p.weights.biases):
            h.update(np.ascontiguousarray(a).tobytes())
    if p.mapped is not None:
        h.update(p.mapped.scheme.encode())
        for arr in p.mapped.arrays:
            h.update(np.ascontiguousarray(arr.g_siemens).tobytes())
    return h.hexdigest()


def open_for_update(path: str) -> Opened:
    """Open a project a command will store into; refuses a file that loaded with integrity warnings."""
    opened = project_io.open_project(path)
    if opened.warnings:
        raise ProjectWarningsError(_warnings_text(path, opened.warnings))
    return opened


def _warnings_text(path: str, warnings: list[str]) -> str:
    more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
    return (
        f"{os.path.basename(path)} loaded with integrity warnings: {warnings[0]}{more}; not saving over it "
        "(use --no-save, or open it in the workbench and Save As)"
    )


def store_results(opened: Opened, results: list[Result]) -> list[Result]:
    """Store ``results`` into the file ``opened`` was read from, merging what others stored since; returns them.

    Their ids are final afterwards (a result whose id another writer took meanwhile gets the next free one).

    Raises
    ------
    ProjectChangedError
        The file on disk now holds another network, or disappeared; nothing was stored.
    ProjectLockedError
        Another writer held the lock for longer than :data:`core.project_io.lock.LOCK_WAIT_S`.
    ProjectWarningsError
        The file on disk changed and now loads with integrity warnings.
    """
    path = opened.path
    with project_io.project_lock(path):
        target = opened.project
        if _stamp(path) != opened.stamp:
            target = _reread_compatible(opened)
        for r in results:
            store_result(target, r)
        project_io.save(target, path)
        opened.project, opened.stamp = target, FileStamp.of(path)
    return results


def _stamp(path: str) -> Optional[FileStamp]:
    try:
        return FileStamp.of(path)
    except FileNotFoundError:
        return None


def _reread_compatible(opened: Opened) -> Project:
    path, name = opened.path, os.path.basename(opened.path)
    if _stamp(path) is None:
        raise ProjectChangedError(path, f"{name} was removed or renamed since it was read; nothing was stored")
    disk = project_io.open_project(path)
    if disk.warnings:
        raise ProjectWarningsError(_warnings_text(path, disk.warnings))
    if network_fingerprint(disk.project) != network_fingerprint(opened.project):
        raise ProjectChangedError(
            path,
            f"{name} was replaced by another process with a different network since it was read; "
            "the result was not stored (run the command again)",
            same_network=False,
        )
    return disk.project


def save_document(project: Project, path: str, base: Optional[FileBase], mode: str = "refuse") -> SaveOutcome:
    """The GUI's save: ``project`` to ``path`` under the lock, checking the file against ``base`` first.

    ``base`` is what the document knows of ``path`` (None: a new file, or Save As to another one). ``mode``
    decides what happens when the file changed on disk since: ``refuse`` (raise :class:`ProjectChangedError`),
    ``merge`` (results and scenarios new on disk are added to ``project``, which is then saved; the outcome lists
    them so the caller can add them to its open document) or ``overwrite``.

    Raises
    ------
    ProjectChangedError, ProjectWarningsError
        With ``refuse``: the file changed on disk, or it loaded with integrity warnings.
    ProjectSaveError
        As :func:`core.project_io.save`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    path = os.path.abspath(path)
    same_file = base is not None and os.path.abspath(base.path) == path
    outcome_results: list = []
    outcome_scenarios: dict = {}
    with project_io.project_lock(path):
        if same_file and base is not None:
            if base.warnings and mode == "refuse":
                raise ProjectWarningsError(
                    f"{os.path.basename(path)} loaded with integrity warnings ({base.warnings[0]}); "
                    "saving would write that state over it"
                )
            now = _stamp(path)
            if now is not None and now != base.stamp and mode != "overwrite":
                disk = project_io.open_project(path)
                new = [r for r in _all_results(disk.project) if result_key(r) not in base.result_keys]
                same = network_fingerprint(disk.project) == network_fingerprint(project)
                if mode == "refuse" or not same:
                    raise ProjectChangedError(path, _changed_text(path, len(new), same), len(new), same)
                mine = result_keys(project)
                for r in new:
                    if result_key(r) not in mine:
                        outcome_results.append(store_result(project, r))
                for key, sc in disk.project.scenarios.items():
                    if key not in base.scenario_names and key not in project.scenarios:
                        project.scenarios[key] = outcome_scenarios[key] = sc
        project_io.save(project, path)
        stamp = FileStamp.of(path)
    new_base = FileBase(path, stamp, result_keys(project), set(project.scenarios))
    return SaveOutcome(new_base, outcome_results, outcome_scenarios)


def _all_results(p: Project) -> list:
    return [*p.results, *p.sweeps, *p.recoveries]


def _changed_text(path: str, n_new: int, same_network: bool) -> str:
    name = os.path.basename(path)
    if not same_network:
        return (
            f"{name} was replaced on disk by a project with another network since it was opened; "
            "reload it, or save over it (its content is lost), or use Save As"
        )
    what = f"{n_new} new result{'s' if n_new != 1 else ''} there" if n_new else "no new results there"
    return f"{name} changed on disk since it was opened or saved ({what}); reload it, merge, or save over it"
