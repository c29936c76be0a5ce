"""Helpers of the window tests: private settings files, new windows, mouse drags on the crossbar view, a long sweep."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtTest import QTest

from app.main_window import MainWindow
from app.presenters.document import WorkbenchState

MOUSE_EVENT_MS = 16  # pyqtgraph drops mouse moves closer than 10 ms apart, as it would a real mouse's


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


def viewport_pos(cb, r: int, c: int):
    return cb.glw.mapFromScene(cb.overlay.mapToScene(QPointF(c + 0.5, r + 0.5)))


def drag(cb, qtbot, cells) -> None:
    vp = cb.glw.viewport()
    qtbot.wait(MOUSE_EVENT_MS)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, pos=viewport_pos(cb, *cells[0]))
    for cell in cells[1:]:
        qtbot.wait(MOUSE_EVENT_MS)
        QTest.mouseMove(vp, viewport_pos(cb, *cell))
    qtbot.wait(MOUSE_EVENT_MS)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=viewport_pos(cb, *cells[-1]))


def long_sweep(window) -> int:
    c = window.queue_panel.controls
    c.sweep_fields["sizes"].setText("0.05:0.5:10")
    c.sweep_fields["arrays"].setText("all")
    c.sweep_fields["seeds"].setText("2000")
    return c.sweep()
