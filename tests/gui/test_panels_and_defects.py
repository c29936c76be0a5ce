"""Every panel on an empty and a full project; the defect editor, the crossbar overlay, undo and redo.

Outcomes are asserted from plot data (curve.getData(), ImageItem arrays) and from the project, not pixels.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage

from app.jobs_qt import QtJobQueue
from app.main_window import MainWindow
from app.panels.crossbar import PAINT
from app.presenters.document import DEFAULT_PROJECT, WorkbenchState
from core.model.defects import Defect
from core.model.project import Project
from gui_helpers import PANELS


# ---- conformance: every panel on an empty and on a full project ------------------------------------------
@pytest.mark.parametrize("full", [False, True], ids=["empty", "example"])
@pytest.mark.parametrize("panel_cls", PANELS, ids=[p.__name__ for p in PANELS])
def test_panel_conformance(qtbot, tmp_path, example, panel_cls, full):
    state = WorkbenchState(example if full else Project(), DEFAULT_PROJECT if full else None)
    jobs_q = QtJobQueue()
    panel = panel_cls(state, jobs_q)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    ms = panel.minimumSize()
    assert 300 <= ms.width() <= 900 and 300 <= ms.height() <= 800, (ms.width(), ms.height())
    path = tmp_path / f"{panel_cls.__name__}.png"
    img = panel.grab()
    assert img.save(str(path))
    back = QImage(str(path))  # the file holds the rendered panel, not a blank image
    assert (back.width(), back.height()) == (img.width(), img.height())
    colours = {back.pixel(x, y) for x in range(0, back.width(), 7) for y in range(0, back.height(), 7)}
    assert len(colours) >= 3
    assert img.width() >= ms.width() and img.height() >= ms.height()
    state.notify("project")  # refreshing must work too
    jobs_q.shutdown()


def test_empty_project_views_say_what_to_do(qtbot):
    state = WorkbenchState(Project(), None)
    w = MainWindow(state, interactive=False)
    qtbot.addWidget(w)
    assert w.crossbar.array == 0 and w.crossbar.overlay.image is None
    assert "No mapped network" in w.crossbar.message.text()
    assert not w.editor.add_button.isEnabled()
    assert not w.queue_panel.controls.eval_button.isEnabled()
    assert w.training.loss_curve.getData()[1] is None or len(w.training.loss_curve.getData()[1]) == 0
    w.jobs.shutdown()


# ---- defects: editor -> crossbar overlay, undo/redo ---------------------------------------------------------
def test_circle_defect_changes_overlay_exactly_and_undo_restores(window):
    ed, cb, st = window.editor, window.crossbar, window.state
    cb.set_array(2)
    shape = st.shape(2)
    assert not cb.overlay_cells().any() and cb.overlay_cells().shape == shape
    ed.array.setValue(2)
    ed.set_fields("circle", {"cx": "0.4", "cy": "0.6", "r": "0.35"})
    ed.stuck.setCurrentIndex(1)  # off
    ed.add_button.click()
    expected = Defect("circle", 2, "off", 0.0, {"cx": 0.4, "cy": 0.6, "r": 0.35}).cells(shape)
    assert expected.any() and not expected.all()
    assert np.array_equal(cb.overlay_cells(), expected)
    assert np.array_equal(cb.overlay_codes()[expected], np.full(expected.sum(), 2))
    assert f"defective {expected.sum()} cells" in cb.info.text()
    assert window.undo_action.isEnabled() and "add circle defect" in window.undo_action.text()
    window.undo_action.trigger()
    assert not cb.overlay_cells().any() and st.draft == []
    window.redo_action.trigger()
    assert np.array_equal(cb.overlay_cells(), expected)


def test_mouse_paint_is_one_undoable_mask_edit(window, qtbot):
    ed, cb, st = window.editor, window.crossbar, window.state
    cb.set_array(1)
    ed.paint_buttons.button(1).click()  # Paint, stuck on
    assert cb.paint_mode == PAINT and window.tabs.currentWidget() is cb
    qtbot.waitExposed(window)
    targets = [(3, 5), (10, 2)]
    for r, c in targets:
        scene = cb.overlay.mapToScene(QPointF(c + 0.5, r + 0.5))
        qtbot.mouseClick(cb.glw.viewport(), Qt.MouseButton.LeftButton, pos=cb.glw.mapFromScene(scene))
    painted = np.zeros(st.shape(1), dtype=bool)
    painted[tuple(np.array(targets).T)] = True
    assert [d.pattern for d in st.draft] == ["mask"]
    assert np.array_equal(st.draft[0].mask, painted)
    assert np.array_equal(cb.overlay_cells(), painted)
    # a drag stroke becomes one command
    n = len(st.stack)
    for c in range(4):
        cb.stroke_point(QPointF(c + 0.5, 20.5))
    cb.finish_stroke()
    assert len(st.stack) == n + 1 and cb.overlay_cells()[20, :4].all()
    window.undo_action.trigger()
    assert np.array_equal(cb.overlay_cells(), painted)
    ed.paint_buttons.button(2).click()  # Erase
    cb.stroke_point(QPointF(5.5, 3.5))
    cb.finish_stroke()
    assert cb.overlay_cells().sum() == 1


@pytest.mark.parametrize(
    "pattern, values, words",
    [
        ("circle", {"r": "5"}, ["circle", "r must be in [0, 2]"]),
        ("circle", {"r": ""}, ["missing required key 'r'"]),
        ("rows", {"start": "70"}, ["rows", "outside array 1"]),
        ("random", {"fraction": "abc"}, ["fraction must be a number in [0, 1]"]),
    ],
)
def test_bad_defect_parameter_shows_message_naming_field(window, pattern, values, words):
    ed = window.editor
    ed.set_fields(pattern, values)
    ed.add_button.click()
    assert ed.message.is_error and all(w in ed.message.text() for w in words), ed.message.text()
    assert window.state.draft == []
    ed.spec_edit.setText("ring:array=1,r_in=0.4,r_out=0.2,stuck=on")
    ed.spec_button.click()
    assert "r_out must be larger than r_in" in ed.message.text()


def test_bad_training_and_sweep_fields_show_messages(window):
    tr = window.training
    tr.fields["epochs"].setText("0")
    assert tr.train() is None
    assert tr.message.is_error and "epochs" in tr.message.text() and "[1, 100000]" in tr.message.text()
    window.undo_action.trigger()  # the parameter edit is undoable
    assert window.state.training["epochs"] == "150" and tr.fields["epochs"].text() == "150"
    c = window.queue_panel.controls
    c.sweep_fields["seeds"].setText("many")
    assert c.sweep() is None and "seeds" in c.message.text()
    c.sweep_fields["seeds"].setText("5")
    c.sweep_fields["arrays"].setText("9")
    assert c.sweep() is None and "arrays: must be from 1 to 4" in c.message.text()
    assert window.jobs.jobs() == []


def test_editor_dock_fills_its_space_and_scrolls_only_below_the_forms_minimum(window, qtbot):
    """At 1024x768 the whole editor fits without a scroll bar; on a shorter screen it scrolls, never crushes."""
    scroll = window.editor_dock.widget()
    window.resize(1008, 720)
    qtbot.waitUntil(lambda: scroll.viewport().height() > 0)
    qtbot.wait(50)
    vp = scroll.viewport().size()
    assert window.editor.minimumSizeHint().height() <= vp.height()
    assert window.editor.size() == vp and not scroll.verticalScrollBar().isVisible()
    window.resize(1008, 420)
    qtbot.wait(50)
    assert window.editor.height() == window.editor.minimumSizeHint().height() > scroll.viewport().height()
    assert scroll.verticalScrollBar().maximum() > 0
