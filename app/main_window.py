"""The main window: menus, the five panels (a dock for the defect editor, tabs for the rest), files and settings.

The flow (what replacing or closing a project asks and cancels, where a finished job's result went, the texts)
is in :mod:`app.presenters.window_flow`; this module lays out, forwards, shows questions as message boxes and
reads and writes project files on a worker thread (:class:`app.file_tasks.FileTasks`), so the window keeps
painting and stays responsive while a large project is opened or saved.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Optional

from PySide6.QtCore import QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QTabWidget,
)

from app.dialogs.measured_map import MeasuredMapDialog
from app.dialogs.new_project import ask_new_project
from app.file_tasks import FileTasks
from app.jobs_qt import QtJobQueue
from app.menus import build_menus
from app.panels.crossbar import CrossbarPanel
from app.panels.defects import DefectEditorPanel
from app.panels.die import DiePanel
from app.panels.queue import QueuePanel
from app.panels.results import ResultsPanel
from app.panels.training import TrainingPanel
from app.presenters import file_guard, run_flow, study_flow
from app.presenters import window_flow as flow
from app.presenters.document import WorkbenchState
from app.widgets import FitScrollArea, install_plain_text_labels
from core import project_io
from core.errors import WorkbenchError
from core.model.project import Project
from core.session.job_queue import DONE, JobInfo
from core.session.project_file import FileBase, save_document

FILE_FILTER = "Workbench projects (*.h5 *.hdf5);;All files (*)"
SETTINGS_ORG = SETTINGS_APP = "reram-workbench"
_ROLES = {
    flow.ACCEPT: QMessageBox.ButtonRole.AcceptRole,
    flow.REJECT: QMessageBox.ButtonRole.RejectRole,
    flow.DESTRUCTIVE: QMessageBox.ButtonRole.DestructiveRole,
}


class MainWindow(QMainWindow):
    """The workbench window over one :class:`WorkbenchState` and one :class:`QtJobQueue`.

    Parameters
    ----------
    interactive
        False skips every modal dialog: each question takes its unattended answer (see
        :class:`app.presenters.window_flow.Question`) unless :attr:`answer` is set. Errors still go to the status
        bar and :attr:`last_error`.
    settings
        Where window geometry, dock layout and recent files are remembered. Default: the user's
        ``reram-workbench`` settings when interactive, none (nothing remembered) otherwise.
    """

    def __init__(
        self,
        state: WorkbenchState,
        jobs: Optional[QtJobQueue] = None,
        interactive: bool = True,
        settings: Optional[QSettings] = None,
    ):
        super().__init__()
        install_plain_text_labels()  # names and specs from files show as text, never as HTML
        self.state = state
        self.jobs = jobs or QtJobQueue(parent=self)
        self.interactive = interactive
        self.settings = (
            settings if settings is not None else (QSettings(SETTINGS_ORG, SETTINGS_APP) if interactive else None)
        )
        self.answer: Optional[Callable[[flow.Question], str]] = None  # scripted answers (tests)
        self.last_question: Optional[flow.Question] = None
        self.last_error = ""
        self.last_study: Optional[study_flow.StudyOutcome] = None  # what the last Run study left
        self.last_warning = ""
        self.files = FileTasks(self)  # project reads and writes, off the GUI thread
        self.recent: list[str] = []

        self.training = TrainingPanel(
            state, self.jobs, before_train=self._before_training, accept_trained=self._accept_trained
        )
        self.crossbar = CrossbarPanel(state, self.jobs)
        self.editor = DefectEditorPanel(state, self.jobs)
        self.queue_panel = QueuePanel(state, self.jobs)
        self.results = ResultsPanel(state, self.jobs)
        self.die = DiePanel(state, self.jobs)
        self.panels = [self.training, self.crossbar, self.editor, self.queue_panel, self.results, self.die]

        self.tabs = QTabWidget()
        for p in (self.crossbar, self.die, self.training, self.queue_panel, self.results):
            self.tabs.addTab(p, p.title)
        self.die.array_clicked.connect(self._open_array)
        self.die.tile_clicked.connect(self.crossbar.show_tile)  # after the array opened: zoom to the tile
        self.setCentralWidget(self.tabs)
        self.editor_dock = QDockWidget(self.editor.title, self)
        self.editor_dock.setObjectName("defect-editor")
        # on a small or scaled screen the form scrolls instead of its rows being crushed
        editor_scroll = FitScrollArea(self.editor)
        self.editor_dock.setWidget(editor_scroll)
        self.editor_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.editor_dock)
        self.statusBar().addPermanentWidget(self.files.label)
        self.statusBar().addPermanentWidget(self.files.bar)
        self.files.busy_changed.connect(lambda _text: self._update_actions())

        self.editor.paint_mode_changed.connect(self._paint_mode)
        self.editor.array_changed.connect(self.crossbar.set_array)
        self.crossbar.array_changed.connect(self._array_shown)
        self.results.defects_selected.connect(self._show_defect_map)
        self.jobs.job_finished.connect(self._job_finished)
        state.on_change(self._state_changed)
        self.state.stack.on_change(self._update_actions)
        self.setAcceptDrops(True)
        self._build_menus()
        self._restore_settings()
        self._update_title()
        self._update_actions()
        if state.view_array:
            self.crossbar.set_array(state.view_array)  # the array on screen when the open project was saved
        self._array_shown(self.crossbar.array)
        # ngspice is probed once (a child process, ~0.1 s) off the GUI thread so Help > About never waits for it
        threading.Thread(target=flow.solver_details, name="probe-ngspice", daemon=True).start()

    # ---- menus ---------------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        build_menus(self)

    def _update_actions(self) -> None:
        s = self.state.stack
        self.undo_action.setEnabled(s.can_undo)
        self.redo_action.setEnabled(s.can_redo)
        self.undo_action.setText(f"&Undo {s.undo_text}" if s.can_undo else "&Undo")
        self.redo_action.setText(f"&Redo {s.redo_text}" if s.can_redo else "&Redo")
        for a in self.file_actions:
            a.setEnabled(not self.files.busy)
        self.recent_menu.setEnabled(not self.files.busy and bool(self.recent))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for label, path, exists in flow.recent_entries(self.recent):
            act = self.recent_menu.addAction(label, lambda p=path: self.open_path(p))
            act.setToolTip(path if exists else f"{path} (no longer exists)")
            act.setEnabled(exists)

    def _paint_mode(self, mode: str, stuck: str, ohm: float) -> None:
        self.crossbar.set_paint_mode(mode, stuck, ohm)
        if mode != "off":
            self.tabs.setCurrentWidget(self.crossbar)

    def _array_shown(self, array: int) -> None:
        if array:
            self.state.view_array = array
            self.editor.array.setValue(array)

    def _show_defect_map(self, defects, label: str) -> None:
        self.crossbar.show_defect_map(defects, label)
        self.tabs.setCurrentWidget(self.crossbar)

    # ---- state, questions, messages ------------------------------------------------------------------
    def _state_changed(self, topic: str) -> None:
        if topic == "project" and self.state.view_array:
            self.crossbar.set_array(self.state.view_array)  # the array that was on screen when it was saved
        if topic in ("project", "dirty"):
            self._update_title()

    def _update_title(self) -> None:
        self.setWindowTitle(flow.window_title(self.state))

    def _job_finished(self, info: JobInfo) -> None:
        report = flow.job_report(info, self.jobs.target(info.id), self.state.project)
        if report is None:
            return
        if report.stored_here:
            self.state.results_added()
        self.statusBar().showMessage(report.text, 8000)

    def ask(self, question: flow.Question) -> str:
        """The user's answer (a choice key) to ``question``; scripted or unattended without a user."""
        self.last_question = question
        if self.answer is not None:
            return self.answer(question)
        if not self.interactive:
            return question.unattended
        box = QMessageBox(QMessageBox.Icon.Question, question.title, question.text, parent=self)
        buttons = {box.addButton(c.label, _ROLES[c.role]): c for c in question.choices}
        default = next(b for b, c in buttons.items() if c.key == question.default)
        box.setDefaultButton(default)
        box.exec()
        chosen = buttons.get(box.clickedButton())
        reject = next((c for c in question.choices if c.role == flow.REJECT), question.choices[-1])
        return (chosen or reject).key

    def show_error(self, title: str, text: str) -> None:
        self.last_error = text
        self.statusBar().showMessage(f"{title}: {text}", 15000)
        if self.interactive:
            QMessageBox.critical(self, title, text)

    def show_warning(self, title: str, text: str) -> None:
        self.last_warning = text
        self.statusBar().showMessage(f"{title}: {' '.join(text.split())[:300]}", 15000)
        if self.interactive:
            box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=self)
            box.setTextFormat(Qt.TextFormat.PlainText)  # the text names paths from the file
            box.exec()

    def about(self) -> str:
        """Help > About: versions of the app, the file format and ngspice; returns the text shown."""
        import PySide6
        from PySide6 import QtCore

        text = flow.about_text(*flow.solver_details(), qt=f"Qt {QtCore.qVersion()}, PySide6 {PySide6.__version__}")
        if self.interactive:
            QMessageBox.about(self, "About ReRAM Fault Workbench", text)
        return text

    # ---- Run > Run study… ----------------------------------------------------------------------------
    def run_study(self, folder: Optional[str] = None, **options) -> Optional[int]:
        """Run > Run study…: ask for an output folder, queue the quick study; when it ends, its sweep goes to the
        results panel and the report opens in the browser. Returns the job id (None if nothing was queued)."""
        if folder is None:
            if not self.interactive:
                return None
            start = os.path.dirname(self.state.path or "") or os.getcwd()
            folder = QFileDialog.getExistingDirectory(self, "Output folder for the study report", start)
            if not folder:
                return None
        try:
            plan = study_flow.plan_study(self.state, folder, **options)
        except WorkbenchError as e:
            self.show_error("Cannot run the study", str(e))
            return None
        project = plan.project

        def done(info: JobInfo) -> None:
            outcome = study_flow.study_outcome(info, project, self.state.project)
            self.last_study = outcome
            if outcome.sweep is not None:
                self.state.results_added()
                self.tabs.setCurrentWidget(self.results)
            opened = False
            if outcome.report is not None and self.interactive:
                opened = QDesktopServices.openUrl(QUrl.fromLocalFile(outcome.report))
                if not opened:  # no browser here: say where the report is, in a box that stays
                    QMessageBox.information(
                        self, "Study report", f"The report is at\n{outcome.report}\n(no web browser could open it)."
                    )
            # after the queue's own "finished" line (job_finished is emitted right after this callback); it stays
            QTimer.singleShot(0, lambda: self.statusBar().showMessage(outcome.text))

        job_id = self.jobs.submit(plan.factory, name=plan.name, on_done=done)
        self.statusBar().showMessage(plan.message, 8000)
        return job_id

    # ---- replacing the open project ------------------------------------------------------------------
    def replace_project(
        self, project: Project, path: Optional[str], action: str, *, dirty: bool = False, keep_dirty: bool = False
    ) -> flow.Outcome:
        """Make ``project`` the open one after asking about unfinished jobs and unsaved changes."""
        if self.files.busy:
            return flow.Outcome(False, f"did not {action}: {self.files.busy} (wait for it)")
        return flow.replace_project(
            self.state, self.jobs, project, path, action, self.ask, self.save, dirty=dirty, keep_dirty=keep_dirty
        )

    def import_measured_map(self) -> Optional[MeasuredMapDialog]:
        """File > Import measured map…: the dialog (modal when interactive); returns it (tests drive it)."""
        if self.state.n_arrays == 0:
            self.statusBar().showMessage("No mapped network: train or open a project before importing a map.", 5000)
            return None
        dlg = MeasuredMapDialog(self.state, self)
        dlg.accepted.connect(lambda: self._measured_imported(dlg))
        if self.interactive:
            dlg.exec()
        else:
            dlg.show()
        return dlg

    def export_netlist(self, path: Optional[str] = None) -> Optional[int]:
        """File > Export netlist…: ask for a .cir file, queue writing the draft's circuit; returns the job id."""
        if path is None:
            if not self.interactive:
                return None
            start = os.path.join(os.path.dirname(self.state.path or "") or os.path.expanduser("~"), "circuit.cir")
            path, _ = QFileDialog.getSaveFileName(self, "Export netlist", start, "ngspice netlist (*.cir)")
            if not path:
                return None
        try:
            plan = run_flow.plan_netlist_export(self.state, path)
        except WorkbenchError as e:
            self.show_error("Cannot export the netlist", str(e))
            return None

        def done(info: JobInfo) -> None:
            if info.state == DONE:
                r = info.result
                text = f"wrote {r['netlist']} ({r['n_images']} images, {r['bytes']} bytes); run: ngspice -b {path}"
            else:
                text = f"netlist export {info.state}: {info.error or 'nothing written'}"
            QTimer.singleShot(0, lambda: self.statusBar().showMessage(text, 15000))

        job_id = self.jobs.submit(plan.factory, name=plan.name, on_done=done)
        self.statusBar().showMessage(plan.message, 8000)
        return job_id

    def _open_array(self, array: int) -> None:
        """An array clicked on the die: show it in the crossbar view (and the editor's Array field)."""
        self.crossbar.set_array(array)
        self.editor.array.setValue(array)
        self.tabs.setCurrentWidget(self.crossbar)

    def _measured_imported(self, dlg: MeasuredMapDialog) -> None:
        m = dlg.result_map
        if m is not None:  # the imported scenario is the draft now: name it, and show its array (or the die)
            self.editor.name_edit.setText(m.name)
            if m.is_die:
                self.tabs.setCurrentWidget(self.die)
                return
            self.crossbar.set_array(m.array)
            self.tabs.setCurrentWidget(self.crossbar)

    def new_project(self) -> Optional[int]:
        """File > New project: the New-project dialog, then training in the queue; returns the job id (or None)."""
        self.tabs.setCurrentWidget(self.training)
        if not self.interactive:  # no modal dialog without a user: retrain with the training panel's quick form
            return self.training.train()
        request = ask_new_project(self, self.state)
        return None if request is None else self.training.start_training(request)

    def _before_training(self) -> bool:
        """The trained project replaces the open one: its running jobs would lose their results then."""
        pending = self.jobs.unfinished_for(self.state.project)
        q = flow.jobs_question(pending, "train a new project")
        if q is not None and self.ask(q) != flow.CANCEL_JOBS:
            self.statusBar().showMessage("did not train: jobs of the open project are still running", 8000)
            return False
        note = flow.cancel_jobs(self.jobs, self.state.project, [j.id for j in pending])
        if note:
            self.statusBar().showMessage(flow.training_start_text(note), 8000)
        return True

    def _accept_trained(self, project: Project) -> bool:
        """Open a freshly trained project, unless that would lose unsaved changes (see TrainingPanel)."""
        outcome = self.replace_project(project, None, "open the trained project", dirty=True, keep_dirty=True)
        self.statusBar().showMessage(flow.trained_text(outcome, self.state), 15000 if not outcome.done else 8000)
        return outcome.done

    def close_project(self) -> bool:
        """File > Close: an empty project (after the same questions as opening another one)."""
        outcome = self.replace_project(Project(), None, "close the project")
        done = "closed the project" + (f"; {outcome.note}" if outcome.note else "")
        self.statusBar().showMessage(done if outcome.done else outcome.note, 8000)
        return outcome.done

    # ---- files ---------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", os.path.dirname(self.state.path or ""), FILE_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> bool:
        """Open ``path`` (read on a worker thread); jobs of the current project are cancelled after asking."""
        if self.files.busy:
            self.statusBar().showMessage(f"did not open {path}: {self.files.busy}", 8000)
            return False
        # probed in a child process first: a file that crashes libhdf5 is an error message, not a dead window
        ok, value = self.files.run(
            lambda: project_io.open_project(path), flow.file_task_text("opening", path), path=path
        )
        if not ok:
            self.show_error("Cannot open project", value)
            return False
        outcome = self.replace_project(value.project, value.path, "open another project")
        if not outcome.done:
            self.statusBar().showMessage(outcome.note, 8000)
            return False
        self.state.file_base = FileBase.of(value)
        if value.warnings:
            self.show_warning("Project opened with warnings", file_guard.warnings_text(path, value.warnings))
        self._add_recent(path)
        self.statusBar().showMessage(f"opened {path}" + (f"; {outcome.note}" if outcome.note else ""), 8000)
        return True

    def save(self) -> bool:
        if not self.state.path:
            return self.save_as_dialog()
        return self.save_to(self.state.path)

    def save_as_dialog(self) -> bool:
        # beside the open file, else in the user's home folder (never the folder the app was started from)
        start = self.state.path or os.path.join(os.path.expanduser("~"), "project.h5")
        path, _ = QFileDialog.getSaveFileName(self, "Save project as", start, FILE_FILTER)
        return self.save_to(path) if path else False

    def save_to(self, path: str) -> bool:
        """Save the whole document (draft included) atomically on a worker thread, from a snapshot.

        Edits made while it is written stay unsaved; on failure the error is shown and nothing is lost.
        """
        if self.files.busy:
            self.statusBar().showMessage(f"did not save: {self.files.busy}", 8000)
            return False
        self.state.view_array = self.crossbar.array
        mode = "refuse"  # a file changed on disk, or loaded with warnings, is never saved over without asking
        while True:
            snap, base = self.state.snapshot(), self.state.file_base
            ok, value = self.files.run(
                lambda snap=snap, base=base, mode=mode: save_document(snap.project, path, base, mode),
                flow.file_task_text("saving", path),
            )
            if ok:
                break
            question = file_guard.conflict_question(self.files.last_error)
            if question is None:
                self.show_error("Cannot save project", value)
                return False
            answer = self.ask(question)
            if answer == file_guard.RELOAD:
                return self.reload(path)
            if answer not in (file_guard.MERGE, file_guard.OVERWRITE):
                self.statusBar().showMessage(f"did not save: {value}", 15000)
                return False
            mode = answer
        note = self.state.apply_merge(snap, value)
        saved = self.state.saved(snap, path, value.base)
        self._add_recent(saved)
        self._update_title()
        self.statusBar().showMessage(f"saved {saved}" + (f"; {note}" if note else ""), 8000)
        return True

    def reload(self, path: str) -> bool:
        """Read ``path`` again, dropping this window's unsaved changes (the user chose to)."""
        ok, value = self.files.run(
            lambda: project_io.open_project(path), flow.file_task_text("opening", path), path=path
        )
        if not ok:
            self.show_error("Cannot reload project", value)
            return False
        old = self.state.project
        note = flow.cancel_jobs(self.jobs, old, [j.id for j in self.jobs.unfinished_for(old)])
        self.state.set_project(value.project, value.path, base=FileBase.of(value))
        if value.warnings:
            self.show_warning("Project opened with warnings", file_guard.warnings_text(path, value.warnings))
        self._update_title()
        self.statusBar().showMessage(f"reloaded {path}" + (f"; {note}" if note else ""), 8000)
        return True

    def _add_recent(self, path: str) -> None:
        self.recent = flow.add_recent(self.recent, path)
        if self.settings is not None:
            self.settings.setValue("recent_files", self.recent)
        self._update_actions()

    # ---- drag and drop -------------------------------------------------------------------------------
    def _dropped(self, event) -> Optional[str]:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        return flow.dropped_project(u.toLocalFile() for u in urls if u.isLocalFile())

    def dragEnterEvent(self, event) -> None:
        if self._dropped(event) and not self.files.busy:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        path = self._dropped(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        # after the drop returns: the questions and the read must not run inside the drag-and-drop machinery
        QTimer.singleShot(0, lambda: self.open_path(path))

    # ---- settings and closing ------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry") if s is not None else None
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*flow.first_window_size(self._available_screen()))
        layout = s.value("window/state") if s is not None else None
        if layout is not None:
            self.restoreState(layout)
        recent = s.value("recent_files", []) if s is not None else []
        self.recent = [str(p) for p in ([recent] if isinstance(recent, str) else recent or [])]

    def _available_screen(self) -> tuple[int, int]:
        screen = self.screen() or QApplication.primaryScreen()
        g = screen.availableGeometry() if screen is not None else None
        return (g.width(), g.height()) if g is not None else (1280, 800)

    def save_settings(self) -> None:
        """Remember geometry, dock layout and recent files (done when the window closes)."""
        if self.settings is not None:
            self.settings.setValue("window/geometry", self.saveGeometry())
            self.settings.setValue("window/state", self.saveState())
            self.settings.setValue("recent_files", self.recent)
            self.settings.sync()

    def closeEvent(self, event) -> None:
        if self.files.busy:
            self.statusBar().showMessage(f"cannot quit now: {self.files.busy}", 8000)
            event.ignore()
            return
        unfinished = [j for j in self.jobs.jobs() if not j.finished]
        outcome = flow.may_quit(self.state, unfinished, self.ask, self.save)
        if not outcome.done:
            self.statusBar().showMessage(outcome.note, 8000)
            event.ignore()
            return
        self.save_settings()
        self.editor.shutdown()  # stop a read-out in flight before its receiver goes
        self.jobs.shutdown(timeout_s=10.0)
        event.accept()
