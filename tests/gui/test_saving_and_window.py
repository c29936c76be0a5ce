"""Saving and sharing without loss, and the window around it: the draft in the file, saving and opening off the GUI
thread, questions before quitting or replacing a project with running jobs, drag and drop, recent files, About,
redo keys, remembered geometry and dock layout.

Settings never touch the user's: every window here gets a QSettings file in tmp_path, and QSettings' default
paths point into a temporary folder for this module.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, QStandardPaths, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow
from app.presenters import window_flow as flow
from app.presenters.document import DEFAULT_PROJECT, WorkbenchState
from core import project_io
from core.model.defects import parse_spec
from core.model.results import RecoveryResult
from core.project_io import FORMAT_VERSION
from core.version import __version__
from gui_helpers import ROOT

MOUSE_EVENT_MS = 16  # pyqtgraph drops mouse moves closer than 10 ms apart, as it would a real mouse's


@pytest.fixture(autouse=True, scope="module")
def _private_settings(tmp_path_factory):
    """Default QSettings locations point into a temporary folder while this module runs."""
    folder = str(tmp_path_factory.mktemp("qsettings"))
    QStandardPaths.setTestModeEnabled(True)
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, folder)
    yield
    QStandardPaths.setTestModeEnabled(False)


def settings_at(path) -> QSettings:
    return QSettings(str(path), QSettings.Format.IniFormat)


def new_window(qtbot, settings=None, project_path=None, interactive=False) -> MainWindow:
    state = WorkbenchState()
    if project_path:
        state.open(project_path)
    w = MainWindow(state, interactive=interactive, settings=settings)
    qtbot.addWidget(w)
    w.show()
    return w


def _viewport_pos(cb, r: int, c: int):
    return cb.glw.mapFromScene(cb.overlay.mapToScene(QPointF(c + 0.5, r + 0.5)))


def _drag(cb, qtbot, cells) -> None:
    vp = cb.glw.viewport()
    qtbot.wait(MOUSE_EVENT_MS)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, pos=_viewport_pos(cb, *cells[0]))
    for cell in cells[1:]:
        qtbot.wait(MOUSE_EVENT_MS)
        QTest.mouseMove(vp, _viewport_pos(cb, *cell))
    qtbot.wait(MOUSE_EVENT_MS)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=_viewport_pos(cb, *cells[-1]))


def _long_sweep(window) -> int:
    c = window.queue_panel.controls
    c.sweep_fields["sizes"].setText("0.05:0.5:10")
    c.sweep_fields["arrays"].setText("all")
    c.sweep_fields["seeds"].setText("2000")
    return c.sweep()


# ---- the draft in the file ---------------------------------------------------------------------------------
def test_painted_draft_is_saved_and_reopens_cell_for_cell(window, qtbot, tmp_path):
    st, cb, ed = window.state, window.crossbar, window.editor
    ed.spec_edit.setText("rows:array=2,start=1,count=2,stuck=off")
    ed.spec_button.click()
    cb.set_array(3)
    ed.stuck.setCurrentIndex(1)  # stuck off
    ed.paint_buttons.button(1).click()  # Paint
    qtbot.waitExposed(window)
    qtbot.wait(50)
    _drag(cb, qtbot, [(2, c) for c in range(0, 9)])
    ed.name_edit.setText("painted by hand")
    assert [d.pattern for d in st.draft] == ["rows", "mask"] and st.draft[1].mask.sum() >= 9
    painted = st.draft[1].mask.copy()
    path = str(tmp_path / "painted.h5")
    assert window.save_to(path) and not st.dirty and not window.windowTitle().endswith("*")

    other = new_window(qtbot, project_path=None)
    assert other.open_path(path)
    s2 = other.state
    assert not s2.dirty and not other.windowTitle().endswith("*") and other.windowTitle().endswith("painted.h5")
    assert [d.to_spec() for d in s2.draft] == [d.to_spec() for d in st.draft]
    assert np.array_equal(s2.draft[1].mask, painted) and s2.draft[1].stuck == "off" and s2.draft[1].array == 3
    assert other.editor.name_edit.text() == "painted by hand" and other.editor.draft_list.count() == 2
    assert other.crossbar.array == 3 and other.editor.array.value() == 3  # the array that was on screen
    assert np.array_equal(other.crossbar.overlay_cells(), painted)

    # Ctrl+S (the Save action) writes to the file it came from, the draft included
    s2.set_draft(s2.draft[:1], "remove defect")
    assert s2.dirty
    other.save_action.trigger()
    assert not s2.dirty and [d.pattern for d in project_io.load(path).draft.defects] == ["rows"]


def test_a_failed_save_loses_nothing_and_says_why(window, tmp_path):
    st = window.state
    window.editor.spec_edit.setText("circle:array=1,r=0.3,stuck=on")
    window.editor.spec_button.click()
    locked = tmp_path / "locked.h5"
    shutil.copy(DEFAULT_PROJECT, locked)
    before = locked.read_bytes()
    os.chmod(locked, 0o444)
    try:
        assert not window.save_to(str(locked))
    finally:
        os.chmod(locked, 0o644)
    assert "read-only" in window.last_error and "Cannot save project" in window.statusBar().currentMessage()
    assert locked.read_bytes() == before  # the old file is untouched
    assert not window.save_to(str(tmp_path / "no-such-folder" / "p.h5"))
    assert "cannot save project" in window.last_error
    assert not window.save_to(str(tmp_path))  # a folder, not a file
    assert st.dirty and window.windowTitle().endswith("*") and st.path == DEFAULT_PROJECT
    assert [d.pattern for d in st.draft] == ["circle"]
    assert window.save_action.isEnabled() and window.save_to(str(tmp_path / "fine.h5")) and not st.dirty
    assert [d.pattern for d in project_io.load(str(tmp_path / "fine.h5")).draft.defects] == ["circle"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_save_as_into_a_read_only_folder_fails_cleanly(window, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o555)
    try:
        assert not window.save_to(str(folder / "p.h5"))
    finally:
        os.chmod(folder, 0o755)
    assert "cannot save project" in window.last_error and window.state.path == DEFAULT_PROJECT


# ---- off the GUI thread ------------------------------------------------------------------------------------
class Ticks:
    """A 10 ms timer on the GUI thread: how often it ran, the longest gap, and what it saw while it ran."""

    def __init__(self, window, probe=None):
        self.times, self.seen = [], []
        self.window, self.probe = window, probe
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self):
        self.times.append(time.perf_counter())
        self.seen.append(
            (
                self.window.files.bar.isVisible(),
                self.window.save_action.isEnabled(),
                self.window.open_action.isEnabled(),
            )
        )
        if self.probe is not None:
            self.probe(len(self.times))

    @property
    def max_gap_ms(self) -> float:
        return 1000 * float(np.max(np.diff(self.times))) if len(self.times) > 1 else float("inf")


def _heavy_copy(example):
    """The example plus 6 M random floats (a recovery's arrays): a file that takes about a second to save."""
    p = copy.deepcopy(example)
    rng = np.random.default_rng(0)
    p.recoveries.append(
        RecoveryResult("rec-big", "retrain", [], "behavioral", 0.5, 0.6, {"big": rng.random(6_000_000)}, {})
    )
    return p


def test_saving_and_opening_run_off_the_gui_thread(window, qtbot, tmp_path, example):
    window.state.set_project(_heavy_copy(example), None)
    path = str(tmp_path / "heavy.h5")

    def edit_during_save(n):
        if n == 5:  # an edit while the file is written: it is not in the file and stays unsaved
            window.state.add_defect(parse_spec("rows:array=2,start=0,count=1,stuck=on"))

    ticks = Ticks(window, edit_during_save)
    ticks.timer.start()
    assert window.save_to(path)
    ticks.timer.stop()
    took = window.files.last_seconds
    print(f"save {took:.2f} s, {len(ticks.times)} ticks, longest gap {ticks.max_gap_ms:.0f} ms")
    assert took > 0.3 and len(ticks.times) >= 0.3 * took / 0.010  # the event loop kept running
    assert any(busy for busy, _, _ in ticks.seen)  # the busy indicator showed
    assert not any(save_on or open_on for _, save_on, open_on in ticks.seen)  # no second save or open meanwhile
    assert window.save_action.isEnabled() and not window.files.bar.isVisible()
    assert window.state.dirty and window.state.unsaved_summary() == "1 edit"
    assert project_io.load(path).draft.defects == []

    window.state.stack.undo()  # back to what the file holds
    assert not window.state.dirty
    ticks = Ticks(window)
    ticks.timer.start()
    assert window.open_path(path)
    ticks.timer.stop()
    print(f"open {window.files.last_seconds:.2f} s, {len(ticks.times)} ticks, longest gap {ticks.max_gap_ms:.0f} ms")
    assert window.state.project.recoveries[-1].arrays["big"].shape == (6_000_000,)
    assert len(ticks.times) >= 0.3 * window.files.last_seconds / 0.010


# ---- questions before jobs are lost ------------------------------------------------------------------------
def test_quitting_with_a_running_job_asks_and_no_keeps_it(window, qtbot):
    job = _long_sweep(window)
    qtbot.waitUntil(lambda: window.jobs.queue.get(job).state == "running", timeout=10_000)
    answers = []
    window.answer = lambda q: answers.append(q) or flow.KEEP_JOBS
    assert not window.close()
    q = answers[-1]
    assert q.title == "Jobs still running" and "Quitting cancels them" in q.text
    assert f"{window.jobs.queue.get(job).name} (running)" in q.text
    assert [c.label for c in q.choices] == ["Cancel jobs and quit", "Don't quit"]
    qtbot.wait(300)
    assert window.isVisible() and window.jobs.queue.get(job).state == "running"
    assert "did not quit" in window.statusBar().currentMessage()

    # opening another file, closing the project and training ask the same about the open project's jobs
    assert not window.open_path(DEFAULT_PROJECT) and answers[-1].title == "Jobs still running"
    assert "open another project" in answers[-1].text
    assert not window.close_project() and "close the project" in answers[-1].text
    assert window.new_project() is None and "train a new project" in answers[-1].text
    assert window.jobs.queue.get(job).state == "running" and not window.training.training_active()

    window.answer = lambda q: (
        answers.append(q) or (flow.CANCEL_JOBS if q.title == "Jobs still running" else q.unattended)
    )
    assert window.close()
    assert window.jobs.queue.get(job).state == "cancelled"


def test_file_close_gives_an_empty_project_after_the_unsaved_question(window):
    window.editor.spec_edit.setText("circle:array=1,r=0.3,stuck=on")
    window.editor.spec_button.click()
    answers = []
    window.answer = lambda q: answers.append(q) or flow.CANCEL
    window.close_action.trigger()
    assert answers[-1].title == "Unsaved changes" and "(1 edit)" in answers[-1].text
    assert window.state.path == DEFAULT_PROJECT and window.state.draft
    window.answer = lambda q: flow.DISCARD
    assert window.close_project()
    assert window.state.project.mapped is None and window.state.path is None and not window.state.dirty
    assert window.windowTitle() == "ReRAM Fault Workbench — untitled"


# ---- drag and drop, recent files, About, keys --------------------------------------------------------------
def _drop(window, path, kind) -> bool:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    move = Qt.DropAction.CopyAction
    if kind == "enter":
        ev = QDragEnterEvent(QPoint(50, 50), move, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    else:
        ev = QDropEvent(QPointF(50, 50), move, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, ev)
    return ev.isAccepted()


def test_dropping_a_project_file_opens_it_after_the_unsaved_question(window, qtbot, tmp_path):
    dropped = tmp_path / "dropped.h5"
    shutil.copy(DEFAULT_PROJECT, dropped)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a project")
    assert not _drop(window, notes, "enter")
    assert _drop(window, dropped, "enter")
    window.editor.spec_edit.setText("circle:array=1,r=0.3,stuck=on")
    window.editor.spec_button.click()
    answers = []
    window.answer = lambda q: answers.append(q) or flow.DISCARD
    assert _drop(window, dropped, "drop")
    qtbot.waitUntil(lambda: window.state.path == str(dropped), timeout=10_000)
    assert [q.title for q in answers] == ["Unsaved changes"]
    assert not window.state.dirty and window.state.draft == [] and window.recent[0] == str(dropped)


def test_recent_files_menu_updates_and_is_remembered(qtbot, tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    shutil.copy(DEFAULT_PROJECT, a)
    ini = tmp_path / "settings.ini"
    w = new_window(qtbot, settings=settings_at(ini))
    assert w.recent == [] and not w.recent_menu.isEnabled()
    assert w.open_path(str(a)) and w.save_to(str(b))
    assert w.recent == [str(b), str(a)] and w.recent_menu.isEnabled()
    w.recent_menu.aboutToShow.emit()
    actions = w.recent_menu.actions()
    assert [x.text() for x in actions] == [f"&1 b.h5  ({tmp_path})", f"&2 a.h5  ({tmp_path})"]
    actions[1].trigger()  # Open Recent > a.h5
    assert w.state.path == str(a) and w.recent == [str(a), str(b)]
    assert w.close()
    os.remove(b)
    w2 = new_window(qtbot, settings=settings_at(ini))
    assert w2.recent == [str(a), str(b)]
    w2.recent_menu.aboutToShow.emit()
    assert [x.isEnabled() for x in w2.recent_menu.actions()] == [True, False]  # b.h5 is gone
    assert not w2.open_path(str(b)) and "no such file" in w2.last_error


def test_about_shows_the_versions(window):
    text = window.about()
    assert f"ReRAM Fault Workbench {__version__}" in text and f"Project file format version {FORMAT_VERSION}" in text
    solver, _ = flow.solver_details()
    assert (f"ngspice {solver['version']}" in text) if solver else ("ngspice not found" in text)
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert window.about_action in help_menu.actions()


def test_ctrl_y_and_ctrl_shift_z_redo(window, qtbot):
    st = window.state
    keys = {k.toString() for k in window.redo_action.shortcuts()}
    assert {"Ctrl+Y", "Ctrl+Shift+Z"} <= keys
    st.add_defect(parse_spec("circle:array=1,r=0.3,stuck=on"))
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    for key, mods in ((Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier),) + (
        (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier),
    ):
        QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert st.draft == [] and st.stack.can_redo
        QTest.keyClick(window, key, mods)
        assert [d.pattern for d in st.draft] == ["circle"], key


SETTINGS_SCRIPT = r"""
import json, sys
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.main_window import MainWindow
from app.presenters.document import DEFAULT_PROJECT, WorkbenchState
ini = sys.argv[1]
w = MainWindow(WorkbenchState(), interactive=False, settings=QSettings(ini, QSettings.Format.IniFormat))
w.show(); app.processEvents()
first = [w.width(), w.height()]
w.resize(1500, 930); w.move(60, 40)
w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, w.editor_dock)
app.processEvents()
w.close(); app.processEvents()
w2 = MainWindow(WorkbenchState(), interactive=False, settings=QSettings(ini, QSettings.Format.IniFormat))
w2.show(); app.processEvents()
print(json.dumps({"first": first, "size": [w2.width(), w2.height()], "pos": [w2.x(), w2.y()],
                  "dock": w2.dockWidgetArea(w2.editor_dock).name}))
w2.close()
"""


def test_window_geometry_and_dock_layout_are_restored(tmp_path):
    """In a child process with a 1920 x 1200 offscreen screen (the default offscreen screen is too small)."""
    screens = tmp_path / "screens.json"
    screens.write_text(json.dumps({"screens": [{"name": "s", "x": 0, "y": 0, "width": 1920, "height": 1200}]}))
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={screens}")
    r = subprocess.run(
        [sys.executable, "-c", SETTINGS_SCRIPT, str(tmp_path / "s.ini")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["first"] == [1280, 800]  # nothing remembered yet: the default size
    assert out["size"] == [1500, 930] and out["pos"] == [60, 40] and out["dock"] == "RightDockWidgetArea"


# ---- wiring of the other panels ----------------------------------------------------------------------------
def test_file_new_project_opens_the_dialog_and_trains_its_setup(qtbot, tmp_path):
    from app.dialogs.new_project import NewProjectDialog

    w = new_window(qtbot, settings=settings_at(tmp_path / "s.ini"), project_path=DEFAULT_PROJECT, interactive=True)
    w.answer = lambda q: q.unattended  # no message box may block the test
    w.tabs.setCurrentWidget(w.crossbar)
    seen = []

    def press_train():
        dlg = QApplication.activeModalWidget()
        seen.append(dlg)
        assert isinstance(dlg, NewProjectDialog)
        for key, text in (
            ("scheme", "differential-rows"),
            ("network.preset", "custom"),
            ("network.hidden", "5,4,3"),
            ("train.epochs", "2"),
        ):
            widget = dlg.widgets[key]
            if hasattr(widget, "setCurrentText"):
                widget.setCurrentText(text)
            else:
                widget.setText(text)
                widget.editingFinished.emit()
        dlg.train_button.click()

    ids = []
    with qtbot.waitSignal(
        w.jobs.job_finished, timeout=120_000, check_params_cb=lambda info: bool(ids) and info.id == ids[0]
    ) as blocker:
        QTimer.singleShot(0, press_train)
        w.new_action.trigger()
        ids.append(w.training.job_id)
        assert ids[0] is not None and w.tabs.currentWidget() is w.training
    assert seen and blocker.args[0].state == "done"
    p = w.state.project
    assert p is blocker.args[0].result and p.scheme == "differential-rows" and p.network.hidden == (5, 4, 3)
    assert p.training.epochs == 2 and w.state.path is None and w.state.dirty
    # Cancel in the dialog trains nothing
    n = len(w.jobs.jobs())
    QTimer.singleShot(0, lambda: QApplication.activeModalWidget().cancel_button.click())
    assert w.new_project() is None and len(w.jobs.jobs()) == n


def test_clicking_a_result_shows_its_defect_map_in_the_crossbar_view(window, qtbot):
    window.tabs.setCurrentWidget(window.results)
    defects = [parse_spec("rows:array=2,start=1,count=2,stuck=off")]
    window.results.defects_selected.emit(defects, "run-0003 (behavioral)")
    assert window.tabs.currentWidget() is window.crossbar
    assert window.crossbar.previewing and window.crossbar.array == 2
    assert window.state.draft == []  # a preview, not an edit
    codes = window.crossbar.overlay_codes()
    assert codes[1:3].all() and codes[0].sum() == 0 and (codes[1:3] == 2).all()  # rows 1 and 2 stuck off
