"""The main window: menus, the five panels (a dock for the defect editor, tabs for the rest), file handling."""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMessageBox, QTabWidget

from app.jobs_qt import QtJobQueue
from app.panels.crossbar import CrossbarPanel
from app.panels.defects import DefectEditorPanel
from app.panels.queue import QueuePanel
from app.panels.results import ResultsPanel
from app.panels.training import TrainingPanel
from app.presenters.document import WorkbenchState
from core import project_io
from core.errors import WorkbenchError
from core.model.project import Project
from core.model.results import RecoveryResult, SimulationResult, SweepResult
from core.session.job_queue import CANCELLED, DONE, JobInfo

FILE_FILTER = "Workbench projects (*.h5 *.hdf5);;All files (*)"


class MainWindow(QMainWindow):
    """The workbench window over one :class:`WorkbenchState` and one :class:`QtJobQueue`.

    Parameters
    ----------
    interactive
        False skips every modal dialog (unsaved-changes prompt, error boxes): tests and the smoke test.
        Errors still go to the status bar and :attr:`last_error`.
    """

    def __init__(self, state: WorkbenchState, jobs: Optional[QtJobQueue] = None, interactive: bool = True):
        super().__init__()
        self.state = state
        self.jobs = jobs or QtJobQueue(parent=self)
        self.interactive = interactive
        self.last_error = ""
        self.last_replace_note = ""  # what replacing the project did to running jobs (for the status bar)

        self.training = TrainingPanel(
            state, self.jobs, before_train=self._before_training, accept_trained=self._accept_trained
        )
        self.crossbar = CrossbarPanel(state, self.jobs)
        self.editor = DefectEditorPanel(state, self.jobs)
        self.queue_panel = QueuePanel(state, self.jobs)
        self.results = ResultsPanel(state, self.jobs)
        self.panels = [self.training, self.crossbar, self.editor, self.queue_panel, self.results]

        self.tabs = QTabWidget()
        for p in (self.crossbar, self.training, self.queue_panel, self.results):
            self.tabs.addTab(p, p.title)
        self.setCentralWidget(self.tabs)
        self.editor_dock = QDockWidget(self.editor.title, self)
        self.editor_dock.setObjectName("defect-editor")
        self.editor_dock.setWidget(self.editor)
        self.editor_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.editor_dock)

        self.editor.paint_mode_changed.connect(self._paint_mode)
        self.editor.array_changed.connect(self.crossbar.set_array)
        self.crossbar.array_changed.connect(lambda a: self.editor.array.setValue(a) if a else None)
        self.jobs.job_finished.connect(self._job_finished)
        state.on_change(self._state_changed)
        self.state.stack.on_change(self._update_actions)
        self._build_menus()
        self._update_title()
        self._update_actions()
        self.resize(1280, 800)

    # ---- menus ---------------------------------------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(shortcut)
        act.triggered.connect(lambda _checked=False: slot())
        menu.addAction(act)
        return act

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self.new_action = self._action(m, "&New project…", self.new_project, QKeySequence.StandardKey.New)
        self.open_action = self._action(m, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.save_action = self._action(m, "&Save", self.save, QKeySequence.StandardKey.Save)
        self.save_as_action = self._action(m, "Save &As…", self.save_as_dialog, QKeySequence.StandardKey.SaveAs)
        m.addSeparator()
        self.quit_action = self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        e = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(e, "&Undo", self.state.stack.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(e, "&Redo", self.state.stack.redo, QKeySequence.StandardKey.Redo)
        v = self.menuBar().addMenu("&View")
        v.addAction(self.editor_dock.toggleViewAction())

    def _update_actions(self) -> None:
        s = self.state.stack
        self.undo_action.setEnabled(s.can_undo)
        self.redo_action.setEnabled(s.can_redo)
        self.undo_action.setText(f"&Undo {s.undo_text}" if s.can_undo else "&Undo")
        self.redo_action.setText(f"&Redo {s.redo_text}" if s.can_redo else "&Redo")

    def _paint_mode(self, mode: str, stuck: str, ohm: float) -> None:
        self.crossbar.set_paint_mode(mode, stuck, ohm)
        if mode != "off":
            self.tabs.setCurrentWidget(self.crossbar)

    # ---- state ---------------------------------------------------------------------------------------
    def _state_changed(self, topic: str) -> None:
        if topic in ("project", "dirty"):
            self._update_title()

    def _update_title(self) -> None:
        name = os.path.basename(self.state.path) if self.state.path else "untitled"
        self.setWindowTitle(f"ReRAM Fault Workbench — {name}{' *' if self.state.dirty else ''}")

    def _job_finished(self, info: JobInfo) -> None:
        if info.state == DONE and isinstance(info.result, Project):
            return  # a finished training: _accept_trained has said what became of it
        stored = (info.state == DONE and isinstance(info.result, (SimulationResult, SweepResult, RecoveryResult))) or (
            info.state == CANCELLED and isinstance(info.partial, SweepResult) and info.partial.rows
        )
        target = self.jobs.target(info.id)
        elsewhere = target is not None and target is not self.state.project
        if stored and not elsewhere:
            self.state.results_added()
        verb = {"done": "finished", "failed": "failed", "cancelled": "was cancelled"}.get(info.state, info.state)
        text = f"{info.name} {verb}" + (f": {info.error}" if info.error and info.error != info.state else "")
        if stored and info.state == CANCELLED and not elsewhere:
            text += f"; kept the {len(info.partial.rows)} finished points as a partial sweep"
        if elsewhere:
            text += " (its project is no longer open; nothing was added to this one)"
        self.statusBar().showMessage(text, 8000)

    def show_error(self, title: str, text: str) -> None:
        self.last_error = text
        self.statusBar().showMessage(f"{title}: {text}", 15000)
        if self.interactive:
            QMessageBox.critical(self, title, text)

    # ---- file handling -------------------------------------------------------------------------------
    def confirm_discard(self) -> bool:
        """True if the open project may be replaced (saved, discarded, or nothing unsaved)."""
        if not self.state.dirty or not self.interactive:
            return True
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            "The project has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def confirm_cancel_jobs(self, action: str) -> Optional[list[int]]:
        """Jobs of the open project that must be cancelled before ``action`` replaces it, or None to abort.

        Their results would go to a project that is no longer open (and never saved). Interactive: ask;
        otherwise they are to be cancelled. The caller cancels them (:meth:`cancel_jobs`) once it proceeds.
        """
        pending = self.jobs.unfinished_for(self.state.project)
        if not pending or not self.interactive:
            return [j.id for j in pending]
        names = "\n".join(f"  • {j.name} ({j.state})" for j in pending[:8]) + ("\n  …" if len(pending) > 8 else "")
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Jobs still running",
            f"{len(pending)} job(s) of the open project are queued or running:\n{names}\n\n"
            f"Their results belong to this project and would be lost if you {action}. "
            "Cancel them?",
            parent=self,
        )
        cancel_jobs = box.addButton("Cancel jobs and continue", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(f"Don't {action}", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        if box.clickedButton() is not cancel_jobs:
            self.statusBar().showMessage(f"did not {action}: jobs of the open project are still running", 8000)
            return None
        return [j.id for j in pending]

    def cancel_jobs(self, job_ids: list[int]) -> str:
        """Cancel ``job_ids`` (finished ones are skipped); returns a note for the status bar ('' if none)."""
        n = 0
        for job_id in job_ids:
            if not self.jobs.queue.get(job_id).finished:
                self.jobs.cancel(job_id)
                n += 1
        return f"cancelled {n} job{'s' if n != 1 else ''} of the previous project" if n else ""

    def replace_project(
        self, project: Project, path: Optional[str], action: str, *, dirty: bool = False, keep_dirty: bool = False
    ) -> bool:
        """Make ``project`` the open one after asking about running jobs and unsaved changes.

        Parameters
        ----------
        action
            What the user is doing, for the questions ("open another project").
        keep_dirty
            Without dialogs (``interactive=False``) keep a project with unsaved changes instead of replacing it.
        """
        if keep_dirty and not self.interactive and self.state.dirty:
            return False
        to_cancel = self.confirm_cancel_jobs(action)
        if to_cancel is None or not self.confirm_discard():
            return False
        note = self.cancel_jobs(to_cancel)
        self.state.set_project(project, path, dirty=dirty)
        self.last_replace_note = note
        return True

    def new_project(self) -> Optional[int]:
        """Train a new project with the training panel's settings (a queued job with live curves)."""
        self.tabs.setCurrentWidget(self.training)
        return self.training.train()

    def _before_training(self) -> bool:
        """The trained project replaces the open one: its running jobs would lose their results then."""
        to_cancel = self.confirm_cancel_jobs("train a new project")
        if to_cancel is None:
            return False
        note = self.cancel_jobs(to_cancel)
        if note:
            self.statusBar().showMessage(f"training a new project; {note}", 8000)
        return True

    def _accept_trained(self, project: Project) -> bool:
        """Open a freshly trained project, unless that would lose unsaved changes (see TrainingPanel)."""
        if not self.replace_project(project, None, "open the trained project", dirty=True, keep_dirty=True):
            why = " has unsaved changes and" if self.state.dirty else ""
            self.statusBar().showMessage(
                f"training finished; the open project{why} was kept (use 'Open trained project' in the training panel)",
                15000,
            )
            return False
        note = self.last_replace_note
        self.statusBar().showMessage(
            "training finished; the new project is open (unsaved)" + (f"; {note}" if note else ""), 8000
        )
        return True

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", os.path.dirname(self.state.path or ""), FILE_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> bool:
        """Open ``path``; jobs of the current project are cancelled (asked first when interactive)."""
        try:
            project = project_io.load(path)
        except WorkbenchError as e:
            self.show_error("Cannot open project", str(e))
            return False
        if not self.replace_project(project, os.path.abspath(path), "open another project"):
            return False
        note = self.last_replace_note
        self.statusBar().showMessage(f"opened {path}" + (f"; {note}" if note else ""), 8000)
        return True

    def save(self) -> bool:
        if not self.state.path:
            return self.save_as_dialog()
        return self.save_to(self.state.path)

    def save_as_dialog(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save project as", self.state.path or "project.h5", FILE_FILTER)
        return self.save_to(path) if path else False

    def save_to(self, path: str) -> bool:
        """Save atomically; on failure the error is shown and the project (and any old file) is unchanged."""
        try:
            saved = self.state.save(path)
        except (WorkbenchError, OSError) as e:
            self.show_error("Cannot save project", str(e))
            return False
        self._update_title()
        self.statusBar().showMessage(f"saved {saved}", 5000)
        return True

    def closeEvent(self, event) -> None:
        if not self.confirm_discard():
            event.ignore()
            return
        self.jobs.shutdown(timeout_s=10.0)
        event.accept()
