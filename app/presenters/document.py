"""The workbench's document state, free of Qt: the open project, the draft defect scenario and the undo stack.

Saving writes the draft with the project (:attr:`core.model.project.Project.draft`: its defects, name and the
array on screen) and opening restores it, so what was on screen is what reopens. A save writes a
:class:`SaveSnapshot`, so a worker thread can write it while editing goes on.

Panels read this state and change it only through :class:`~core.session.undo.Command` s pushed on
:attr:`WorkbenchState.stack`, so every edit (adding a defect, painting cells, saving a scenario, changing a
training parameter) undoes the same way. Listeners get a *topic* string:

``project``    another project was opened, created or trained (everything must refresh)
``draft``      the draft scenario's defects changed
``scenarios``  ``project.scenarios`` changed
``results``    a result, sweep or recovery was added (by the job queue)
``params``     a training-form field changed
``dirty``      the unsaved-changes flag may have changed
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core import project_io
from core.model.defects import Defect
from core.model.network import NetworkConfig, TrainConfig, preset_name
from core.model.project import Draft, Project, Scenario
from core.session.project_file import FileBase, SaveOutcome, save_document
from core.session.store import store_result
from core.session.undo import Command, CommandStack

log = logging.getLogger(__name__)

DEFAULT_PROJECT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "projects", "digits-paper.h5"
)
_NET, _TRAIN = NetworkConfig(), TrainConfig()
TRAINING_FIELDS = {
    "preset": preset_name(_NET.hidden),
    "hidden": ",".join(map(str, _NET.hidden)),
    "epochs": str(_TRAIN.epochs),
    "seed": str(_TRAIN.seed),
}


def copy_defects(defects) -> list[Defect]:
    """Independent copies (masks included) so an undo snapshot never changes under our feet."""
    return [copy.deepcopy(d) for d in defects]


@dataclass
class SaveSnapshot:
    """What one save writes, taken on the GUI thread, so a worker thread can write it while editing goes on.

    ``project`` shares the arrays and results of the open project (nothing changes those in place: results are
    appended, scenarios and the draft are replaced by commands) but has its own lists, scenarios and draft.
    """

    project: Project
    source: Project  # the open project the snapshot was taken from
    applied: list[int]  # the document edits it contains
    results_serial: int  # how many results had been added when it was taken


def snapshot_project(project: Project, draft: Optional[Draft] = None) -> Project:
    """A copy of ``project`` that later edits and stored results do not change (big arrays are shared)."""
    return dataclasses.replace(
        project,
        scenarios={k: copy.deepcopy(v) for k, v in project.scenarios.items()},
        results=list(project.results),
        sweeps=list(project.sweeps),
        recoveries=list(project.recoveries),
        draft=copy.deepcopy(draft if draft is not None else project.draft),
    )


class WorkbenchState:
    """The open project, its file path, the draft scenario, the training form and the undo stack."""

    def __init__(self, project: Optional[Project] = None, path: Optional[str] = None):
        self.project = project if project is not None else Project()
        self.path = path
        self.stack = CommandStack()
        self.draft: list[Defect] = []
        self.draft_name = self.free_scenario_name()
        self.view_array = 0  # the crossbar array on screen (the window keeps it current; saved with the draft)
        self.training = dict(TRAINING_FIELDS)
        self._results_dirty = False
        self._results_serial = 0  # results added by jobs since the project was opened
        self._results_clean = 0  # ... of which the last save held this many
        # edits of the document (draft, scenarios) applied now, by serial; training-form edits are not in it:
        # the form is not saved with the project, so changing it is not an unsaved change
        self._applied: list[int] = []
        self._clean: list[int] = []
        self._serial = 0
        self._listeners: list[Callable[[str], None]] = []
        self.file_base: Optional[FileBase] = None  # what was read from / last saved to ``path``
        self.stack.on_change(lambda: self.notify("dirty"))
        self._restore_draft()
        self._sync_training_from_project()

    # ---- listeners -----------------------------------------------------------------------------------
    def on_change(self, callback: Callable[[str], None]) -> Callable[[], None]:
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def notify(self, topic: str) -> None:
        for cb in list(self._listeners):
            try:
                cb(topic)
            except Exception:
                log.exception("state listener failed for %s", topic)

    # ---- document ------------------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        """Unsaved changes: draft or scenario edits since the last save, or results added by jobs."""
        return self._results_dirty or self._applied != self._clean

    def next_serial(self) -> int:
        self._serial += 1
        return self._serial

    @property
    def n_arrays(self) -> int:
        return len(self.project.mapped.arrays) if self.project.mapped is not None else 0

    def shape(self, array: int) -> Optional[tuple[int, int]]:
        """(rows, cols) of 1-based ``array``, or None if the project is untrained or has fewer arrays."""
        m = self.project.mapped
        if m is None or not 1 <= array <= len(m.arrays):
            return None
        return tuple(m.shapes[array - 1])

    def tile(self, array: int) -> Optional[tuple[int, int]]:
        """Tile size (rows, cols) of 1-based ``array`` when tiled (core.model.tiling), else None."""
        m = self.project.mapped
        if m is None or not 1 <= array <= len(m.arrays):
            return None
        return m.arrays[array - 1].tile

    def pitch(self, array: int) -> Optional[tuple[float, float]]:
        """Cell pitch (x, y) in um of 1-based ``array``, or None if unknown (or no such array)."""
        m = self.project.mapped
        if m is None or not 1 <= array <= len(m.arrays):
            return None
        return m.arrays[array - 1].pitch_um

    def set_project(
        self, project: Project, path: Optional[str], dirty: bool = False, base: Optional[FileBase] = None
    ) -> None:
        """Replace the open project (history is cleared; the draft is the one saved in the project, if any).

        ``base`` is what was read from ``path`` (:class:`~core.session.project_file.FileBase`): saves compare the
        file on disk with it, so nothing another program stored there meanwhile is silently overwritten.
        """
        self.project, self.path = project, path
        self.file_base = base
        self.stack.clear()
        self._applied, self._clean = [], []
        self._results_dirty = dirty
        self._results_serial = self._results_clean = 0
        self._restore_draft()
        self._sync_training_from_project()
        self.notify("project")
        self.notify("dirty")

    def _restore_draft(self) -> None:
        d = self.project.draft
        self.draft = copy_defects(d.defects) if d is not None else []
        self.draft_name = d.name if d is not None and d.name.strip() else self.free_scenario_name()
        self.view_array = d.array if d is not None and 1 <= d.array <= self.n_arrays else 0

    def current_draft(self) -> Draft:
        """The draft as it will be saved: its defects, its name and the array on screen."""
        return Draft(self.draft_name, copy_defects(self.draft), array=self.view_array)

    def unsaved_summary(self) -> str:
        """What an unsaved-changes question names: '3 edits and 1 new result' ('' when nothing is unsaved)."""
        edits = len(set(self._applied) ^ set(self._clean))
        results = self._results_serial - self._results_clean
        parts = [f"{edits} edit{'s' if edits != 1 else ''}"] if edits else []
        if results > 0:
            parts.append(f"{results} new result{'s' if results != 1 else ''}")
        if not parts and self.dirty:
            parts.append("a new, never saved project" if self.path is None else "unsaved changes")
        return " and ".join(parts)

    def free_scenario_name(self) -> str:
        """``scenario-N`` with the smallest N not yet used by the open project."""
        i = 1
        while f"scenario-{i}" in self.project.scenarios:
            i += 1
        return f"scenario-{i}"

    def open(self, path: str) -> project_io.Opened:
        """Open ``path`` (probed first; raises ProjectFormatError, the open project is kept then)."""
        opened = project_io.open_project(path)
        self.set_project(opened.project, opened.path, base=FileBase.of(opened))
        return opened

    def save(self, path: Optional[str] = None, mode: str = "refuse") -> str:
        """Save atomically to ``path`` (default: the current path), draft included; raises ProjectSaveError.

        If the file changed on disk since it was read or saved, or loaded with integrity warnings, ``mode``
        decides (:func:`core.session.project_file.save_document`: ``refuse`` raises ProjectChangedError or
        ProjectWarningsError, ``merge``, ``overwrite``). On failure nothing changes: the project, the unsaved
        mark and any old file stay as they were.
        """
        target = self.save_target(path)
        snap = self.snapshot()
        outcome = save_document(snap.project, target, self.file_base, mode)
        self.apply_merge(snap, outcome)
        return self.saved(snap, target, outcome.base)

    def apply_merge(self, snap: SaveSnapshot, outcome: SaveOutcome) -> str:
        """Add to the open project what a merging save took from disk; a note for the status bar ('' if none)."""
        if snap.source is not self.project:
            return ""
        for r in outcome.merged_results:
            store_result(self.project, r)
        for key, scenario in outcome.merged_scenarios.items():
            self.project.scenarios.setdefault(key, scenario)
        if outcome.merged_results:
            self.notify("results")
        if outcome.merged_scenarios:
            self.notify("scenarios")
        parts = [f"{len(outcome.merged_results)} result(s)"] if outcome.merged_results else []
        if outcome.merged_scenarios:
            parts.append(f"{len(outcome.merged_scenarios)} scenario(s)")
        return f"merged {' and '.join(parts)} from disk" if parts else ""

    def save_target(self, path: Optional[str] = None) -> str:
        """The file a save goes to (``path`` or the current one); ParameterError if the project has none."""
        target = path or self.path
        if not target:
            from core.errors import ParameterError

            raise ParameterError("path", "this project has no file yet; use Save As")
        return target

    def snapshot(self) -> SaveSnapshot:
        """The document as it is now, the draft included, for :func:`core.project_io.save` on any thread."""
        return SaveSnapshot(
            snapshot_project(self.project, self.current_draft()),
            self.project,
            list(self._applied),
            self._results_serial,
        )

    def saved(self, snap: SaveSnapshot, path: str, base: Optional[FileBase] = None) -> str:
        """Record that ``snap`` was written to ``path`` (``base``: the file now); later edits stay unsaved."""
        if snap.source is not self.project:
            return os.path.abspath(path)  # another project was opened meanwhile: the file is written, nothing else
        self.path = os.path.abspath(path)
        self.file_base = base
        self.project.modified = snap.project.modified
        self.project.draft = snap.project.draft
        self._clean = list(snap.applied)
        self._results_clean = snap.results_serial
        self._results_dirty = snap.results_serial != self._results_serial
        if self._applied == self._clean:
            self.stack.set_clean()
        self.notify("dirty")
        return self.path

    def results_added(self) -> None:
        """Called (on the GUI thread) after the queue stored a result in the project."""
        self._results_dirty = True
        self._results_serial += 1
        self.notify("results")
        self.notify("dirty")

    def _sync_training_from_project(self) -> None:
        p = self.project
        if p.weights is None:
            return
        preset = preset_name(p.network.hidden)
        self.training = {
            "preset": preset,
            "hidden": ",".join(str(h) for h in p.network.hidden),
            "epochs": str(p.training.epochs),
            "seed": str(p.training.seed),
        }

    # ---- edits (each one command) --------------------------------------------------------------------
    def set_draft(self, defects, text: str) -> None:
        """Replace the draft's defects as one undoable command."""
        self.stack.push(DraftCommand(self, copy_defects(self.draft), copy_defects(defects), text))

    def add_defect(self, defect: Defect) -> None:
        self.set_draft([*self.draft, defect], f"add {defect.pattern} defect")

    def remove_defect(self, index: int) -> None:
        if 0 <= index < len(self.draft):
            self.set_draft(self.draft[:index] + self.draft[index + 1 :], "remove defect")

    def paint(self, array: int, cells: np.ndarray, erase: bool, stuck: str = "on", stuck_ohm: float = 0.0) -> None:
        """Paint (or erase) ``cells`` (bool, the array's shape) into the draft as a ``mask`` defect.

        Painting adds the cells to the draft's mask defect of the same array and stuck type (creating one);
        erasing removes them from every mask defect of the array (pattern defects are edited in the form).
        """
        shape = self.shape(array)
        cells = np.asarray(cells, dtype=bool)
        if shape is None or cells.shape != shape or not cells.any():
            return
        new = copy_defects(self.draft)
        if erase:
            for d in new:
                if d.pattern == "mask" and d.array == array:
                    d.mask = d.mask & ~cells
            new = [d for d in new if d.pattern != "mask" or d.mask.any()]
            self.set_draft(new, "erase cells")
            return
        target = next(
            (
                d
                for d in reversed(new)
                if d.pattern == "mask"
                and d.array == array
                and d.stuck == stuck
                and (stuck != "ohm" or d.stuck_ohm == stuck_ohm)
            ),
            None,
        )
        if target is None:
            new.append(Defect("mask", array, stuck, stuck_ohm, {}, mask=cells.copy()))
        else:
            target.mask = target.mask | cells
        self.set_draft(new, "paint cells")

    def save_scenario(self, name: str, description: str = "") -> None:
        """Store the draft in ``project.scenarios[name]`` (replacing one of that name), undoably."""
        from core.errors import ParameterError

        name = name.strip()
        if not name:
            raise ParameterError("scenario name", "must not be empty")
        if not self.draft:
            raise ParameterError("scenario", "has no defects; add or paint some first")
        before = self.project.scenarios.get(name)
        after = Scenario(name, copy_defects(self.draft), description)
        self.stack.push(ScenarioCommand(self, name, before, after))

    def import_measured(self, m) -> None:
        """Add a measured map (:class:`core.model.measured.MeasuredMap`) as scenario ``m.name`` and load it as the
        draft, undoably; the map is kept in the project for provenance."""
        from core.errors import ParameterError

        if not m.name.strip():
            raise ParameterError("scenario name", "must not be empty")
        shape = self.shape(m.array)
        if shape is None or tuple(shape) != m.shape:
            raise ParameterError("map", f"has shape {m.shape}, which array {m.array} of this network is not")
        self.stack.push(MeasuredCommand(self, m))  # one step: the scenario, the map and the draft that shows it

    def load_scenario(self, name: str) -> None:
        sc = self.project.scenarios[name]
        self.draft_name = name
        self.set_draft(sc.defects, f"load scenario {name}")

    def set_training_field(self, name: str, value: str) -> None:
        if self.training.get(name) != value:
            self.stack.push(ParamCommand(self, name, self.training.get(name, ""), value))


class DocumentCommand(Command):
    """A command that changes the document: tracked for :attr:`WorkbenchState.dirty`."""

    def __init__(self, state: WorkbenchState):
        self.state, self.serial = state, state.next_serial()

    def do(self) -> None:
        self.apply()
        self.state._applied.append(self.serial)

    def undo(self) -> None:
        self.revert()
        if self.state._applied and self.state._applied[-1] == self.serial:
            self.state._applied.pop()

    def apply(self) -> None:
        raise NotImplementedError

    def revert(self) -> None:
        raise NotImplementedError


class DraftCommand(DocumentCommand):
    """Swap the draft's defect list between two snapshots."""

    def __init__(self, state: WorkbenchState, before: list[Defect], after: list[Defect], text: str):
        super().__init__(state)
        self.before, self.after, self.text = before, after, text

    def apply(self) -> None:
        self.state.draft = copy_defects(self.after)
        self.state.notify("draft")

    def revert(self) -> None:
        self.state.draft = copy_defects(self.before)
        self.state.notify("draft")


class ScenarioCommand(DocumentCommand):
    """Put a scenario into the project (undo restores the previous one of that name, or removes it)."""

    def __init__(self, state: WorkbenchState, name: str, before: Optional[Scenario], after: Scenario):
        super().__init__(state)
        self.name, self.before, self.after = name, before, after
        self.text = f"save scenario {name}"

    def apply(self) -> None:
        self.state.project.scenarios[self.name] = self.after
        self.state.notify("scenarios")

    def revert(self) -> None:
        if self.before is None:
            self.state.project.scenarios.pop(self.name, None)
        else:
            self.state.project.scenarios[self.name] = self.before
        self.state.notify("scenarios")


class MeasuredCommand(DocumentCommand):
    """Put a measured map and the scenario made from it into the project and load it as the draft, as one step
    (undo restores the scenario, map, draft and draft name that were there)."""

    def __init__(self, state: WorkbenchState, m):
        super().__init__(state)
        self.m, self.text = m, f"import measured map {m.name}"
        self.before_scenario = state.project.scenarios.get(m.name)
        self.before_map = state.project.measured_maps.get(m.name)
        self.before_draft, self.before_name = copy_defects(state.draft), state.draft_name

    def apply(self) -> None:
        p = self.state.project
        sc = Scenario(self.m.name, self.m.defects(), self.m.description())
        p.scenarios[self.m.name] = sc
        p.measured_maps[self.m.name] = self.m
        self.state.draft, self.state.draft_name = copy_defects(sc.defects), self.m.name
        self.state.notify("scenarios")
        self.state.notify("draft")

    def revert(self) -> None:
        p = self.state.project
        for store, before in ((p.scenarios, self.before_scenario), (p.measured_maps, self.before_map)):
            if before is None:
                store.pop(self.m.name, None)
            else:
                store[self.m.name] = before
        self.state.draft, self.state.draft_name = copy_defects(self.before_draft), self.before_name
        self.state.notify("scenarios")
        self.state.notify("draft")


class ParamCommand(Command):
    """Change one training-form field."""

    def __init__(self, state: WorkbenchState, name: str, before: str, after: str):
        self.state, self.name, self.before, self.after = state, name, before, after
        self.text = f"change {name}"

    def do(self) -> None:
        self.state.training[self.name] = self.after
        self.state.notify("params")

    def undo(self) -> None:
        self.state.training[self.name] = self.before
        self.state.notify("params")
