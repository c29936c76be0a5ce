"""The window beyond files: drag and drop, recent files, About, redo keys, remembered layout, wiring of the panels."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.presenters import window_flow as flow
from app.presenters.document import DEFAULT_PROJECT
from core.model.defects import parse_spec
from core.project_io import FORMAT_VERSION
from core.version import __version__
from gui_helpers import ROOT
from window_helpers import new_window, settings_at

pytestmark = pytest.mark.usefixtures("private_settings")  # QSettings in a temporary folder


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
    import platform

    from PySide6 import QtCore

    assert f"Python {platform.python_version()}" in text and f"Qt {QtCore.qVersion()}" in text
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
