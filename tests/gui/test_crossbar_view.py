"""The crossbar view as a researcher uses it: hover read-out, brush strokes, zoom, weight errors, previews.

Mouse input goes through real Qt events on the view's viewport; outcomes are read from the draft, the undo
stack, the ImageItem arrays and the labels, never from pixels.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from app.panels.crossbar import VIEW_WEIGHT_ERROR
from app.presenters import crossbar_view as cv
from app.widgets import OVERLAY_RGBA, stuck_r_rgba
from core.model.defects import Defect

# pyqtgraph's scene drops move events closer than 1 / mouseRateLimit (10 ms) apart, as a real mouse's would be
# at a high rate; space them like a real mouse (about 60 Hz) so each one counts
MOUSE_EVENT_MS = 16


def _viewport_pos(cb, r: int, c: int):
    """Viewport pixel of the centre of cell (r, c) of the crossbar view."""
    scene = cb.overlay.mapToScene(QPointF(c + 0.5, r + 0.5))
    return cb.glw.mapFromScene(scene)


def _ready(window, qtbot):
    """Shown and laid out: the view box takes its final geometry a few events after the window is exposed."""
    qtbot.waitExposed(window)
    qtbot.wait(50)


def _painting(window, qtbot, array=1):
    cb = window.crossbar
    cb.set_array(array)
    window.editor.paint_buttons.button(1).click()  # Paint, stuck on
    _ready(window, qtbot)
    return cb, window.state


def _mask(shape, cells):
    m = np.zeros(shape, dtype=bool)
    m[tuple(np.array(cells).T)] = True
    return m


def test_hovering_a_cell_shows_what_it_holds(window, qtbot):
    cb, st = window.crossbar, window.state
    st.load_scenario("circle-on-array1")
    cb.set_array(1)
    _ready(window, qtbot)
    for r, c in [(32, 7), (64, 3), (5, 0)]:  # in the stuck-on circle, the bias row, a healthy cell
        qtbot.wait(MOUSE_EVENT_MS)
        QTest.mouseMove(cb.glw.viewport(), _viewport_pos(cb, r, c))
        qtbot.waitUntil(lambda r=r, c=c: f"row {r}, column {c}:" in cb.hover.text(), timeout=2000)
        assert cb.hover.text() == cv.ArrayReadout(st.project.mapped, 1, st.draft).cell_text(r, c)
    assert "bias row, neuron 1, G- of the pair" in cv.ArrayReadout(st.project.mapped, 1, []).cell_text(64, 3)
    assert cb.hover.text().endswith("state: healthy")  # (5, 0)
    st.paint(1, _mask(st.shape(1), [(5, 0)]), False, "off")  # an edit under a still mouse updates the read-out
    assert cb.hover.text().endswith("state: stuck off")
    qtbot.wait(MOUSE_EVENT_MS)
    QTest.mouseMove(cb.glw.viewport(), _viewport_pos(cb, 32, 7))
    qtbot.waitUntil(lambda: "state: stuck on" in cb.hover.text(), timeout=2000)
    assert "input 32, neuron 3, G- of the pair" in cb.hover.text()


def _drag(cb, qtbot, cells):
    """Press on the first cell, one move event per further cell, release on the last."""
    vp = cb.glw.viewport()
    qtbot.wait(MOUSE_EVENT_MS)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, pos=_viewport_pos(cb, *cells[0]))
    for cell in cells[1:]:
        qtbot.wait(MOUSE_EVENT_MS)
        QTest.mouseMove(vp, _viewport_pos(cb, *cell))
    qtbot.wait(MOUSE_EVENT_MS)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=_viewport_pos(cb, *cells[-1]))


def test_fast_drag_paints_a_contiguous_line_in_one_undo_step(window, qtbot):
    cb, st = _painting(window, qtbot)
    n = len(st.stack)
    _drag(cb, qtbot, [(20, c) for c in range(0, 15, 2)])  # the mouse reports every second cell only
    assert len(st.stack) == n + 1 and [d.pattern for d in st.draft] == ["mask"]
    assert np.array_equal(st.draft[0].mask, _mask(st.shape(1), [(20, c) for c in range(15)]))
    _drag(cb, qtbot, [(30 + k, k) for k in range(0, 15, 2)])  # a diagonal, two cells per event as well
    assert len(st.stack) == n + 2
    line = [(20, c) for c in range(15)]
    assert np.array_equal(st.draft[0].mask, _mask(st.shape(1), line + [(30 + k, k) for k in range(15)]))
    window.undo_action.trigger()
    assert np.array_equal(cb.overlay_cells(), _mask(st.shape(1), [(20, c) for c in range(15)]))


def test_brush_3_paints_3x3(window, qtbot):
    cb, st = _painting(window, qtbot)
    cb.brush_size.setValue(3)
    qtbot.mouseClick(cb.glw.viewport(), Qt.MouseButton.LeftButton, pos=_viewport_pos(cb, 10, 5))
    block = _mask(st.shape(1), [(r, c) for r in (9, 10, 11) for c in (4, 5, 6)])
    assert np.array_equal(st.draft[0].mask, block) and np.array_equal(cb.overlay_cells(), block)
    cb.brush_size.setValue(4)  # a typed even width becomes the next odd one
    assert cb.brush_size.value() == 5


def test_zoom_limits_hold_and_reset_restores(window, qtbot):
    cb = window.crossbar
    cb.set_array(1)
    _ready(window, qtbot)
    vb = cb.plot.getViewBox()
    home = cv.home_range(cb.state.shape(1))
    lim = cv.view_limits(cb.state.shape(1))

    def spans():
        (x0, x1), (y0, y1) = vb.viewRange()
        return x1 - x0, y1 - y0

    assert spans() == pytest.approx((home[0][1] - home[0][0], home[1][1] - home[1][0]))
    vb.scaleBy((50.0, 50.0))  # zoom far out
    w, h = spans()
    assert w <= lim["maxXRange"] + 1e-9 and h <= lim["maxYRange"] + 1e-9
    vb.scaleBy((1e-4, 1e-4))  # zoom far in
    w, h = spans()
    assert w >= lim["minXRange"] - 1e-9 and h >= lim["minYRange"] - 1e-9 and w < 10
    vb.translateBy(x=1000.0, y=1000.0)  # pan far away: stops at the margin
    (x0, x1), (y0, y1) = vb.viewRange()
    assert x1 <= lim["xMax"] + 1e-9 and y1 <= lim["yMax"] + 1e-9
    cb.reset_button.click()
    assert np.allclose(vb.viewRange(), home)


def test_weight_error_view_shows_the_presenters_matrix(window, qtbot):
    cb, st = window.crossbar, window.state
    st.load_scenario("circle-on-array1")
    cb.set_array(1)
    cb.view_buttons.button(1).click()
    assert cb.view_mode == VIEW_WEIGHT_ERROR and not cb.overlay.isVisible()
    expected = cv.ArrayReadout(st.project.mapped, 1, st.draft).weight_error
    assert np.abs(expected).max() > 0.1
    assert np.array_equal(cb.image.image, expected)
    lo, hi = cb.colorbar.levels()
    assert lo == -hi == -np.abs(expected).max()
    window.undo_action.trigger()  # back to an empty draft: the errors vanish
    assert np.array_equal(cb.image.image, np.zeros_like(expected))
    cb.view_buttons.button(0).click()
    assert np.array_equal(cb.image.image, st.project.mapped.arrays[0].g_siemens * 1e6)


def test_stuck_at_r_cells_are_coloured_by_their_value(window):
    cb, st = window.crossbar, window.state
    cb.set_array(2)
    shape = st.shape(2)
    a, b = _mask(shape, [(1, 1), (1, 2)]), _mask(shape, [(4, 4)])
    st.set_draft([Defect("mask", 2, "ohm", 50e3, {}, mask=a), Defect("mask", 2, "ohm", 500e3, {}, mask=b)], "test")
    img, dev = cb.overlay.image, st.project.mapped.device
    col_a = stuck_r_rgba(cv.r_position(np.array(1 / 50e3), dev.r_on_ohm, dev.r_off_ohm))
    col_b = stuck_r_rgba(cv.r_position(np.array(1 / 500e3), dev.r_on_ohm, dev.r_off_ohm))
    assert np.all(img[a] == col_a) and np.all(img[b] == col_b)
    assert not np.array_equal(col_a, col_b)
    assert all(not np.array_equal(col, OVERLAY_RGBA[k]) for col in (col_a, col_b) for k in (1, 2))
    assert np.all(cb.overlay_codes()[a | b] == 3) and cb.overlay_cells().sum() == 3
    assert "10 kΩ (LRS)" in cb.r_legend.text() and "1 MΩ (HRS)" in cb.r_high.text()


def test_show_defect_map_previews_a_result_read_only_and_returns_to_the_draft(window, qtbot):
    cb, st = _painting(window, qtbot, array=2)
    qtbot.mouseClick(cb.glw.viewport(), Qt.MouseButton.LeftButton, pos=_viewport_pos(cb, 3, 3))
    draft = st.draft[0].mask.copy()
    result = next(r for r in st.project.results if getattr(r, "scenario", "") == "circle-on-array1")
    cb.show_defect_map(result.defect_specs, f"{result.id} (circle-on-array1)")
    assert cb.previewing and cb.array == 1  # opened on the array the result's defects are on
    assert cb.preview_bar.isVisible() and cb.preview_label.text().startswith(f"showing: {result.id} (circle-on-array1)")
    circle = st.project.scenarios["circle-on-array1"].defects[0].cells(st.shape(1))
    assert np.array_equal(cb.overlay_cells(), circle)
    n = len(st.stack)
    _drag(cb, qtbot, [(1, 1), (1, 5)])  # painting is off while previewing
    assert len(st.stack) == n and not cb.can_paint
    cb.draft_button.click()
    assert not cb.previewing and not cb.preview_bar.isVisible()
    assert not cb.overlay_cells().any()  # array 1 of the draft is clean
    cb.set_array(2)
    assert np.array_equal(cb.overlay_cells(), draft) and cb.can_paint
