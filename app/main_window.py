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
from app.state import WorkbenchState
from core.errors import WorkbenchError
from core.project import RecoveryResult, SimulationResult, SweepResult
from core.queue import CANCELLED, DONE, JobInfo

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

        self.training = TrainingPanel(state, self.jobs, confirm_discard=self.confirm_discard)
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
        self.editor_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                                     | QDockWidget.DockWidgetFeature.DockWidgetClosable)
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
        stored = (info.state == DONE and isinstance(info.result, (SimulationResult, SweepResult, RecoveryResult))) \
            or (info.state == CANCELLED and isinstance(info.partial, SweepResult) and info.partial.rows)
        if stored:
            self.state.results_added()
        verb = {"done": "finished", "failed": "failed", "cancelled": "was cancelled"}.get(info.state, info.state)
        self.statusBar().showMessage(f"{info.name} {verb}" + (f": {info.error}" if info.error else ""), 8000)

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
            self, "Unsaved changes", "The project has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_project(self) -> Optional[int]:
        """Train a new project with the training panel's settings (a queued job with live curves)."""
        self.tabs.setCurrentWidget(self.training)
        return self.training.train()

    def open_dialog(self) -> None:
        if not self.confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open project", os.path.dirname(self.state.path or ""),
                                              FILE_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> bool:
        try:
            self.state.open(path)
        except WorkbenchError as e:
            self.show_error("Cannot open project", str(e))
            return False
        self.statusBar().showMessage(f"opened {path}", 5000)
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
