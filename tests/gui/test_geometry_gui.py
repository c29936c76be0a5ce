"""Physical geometry in the window: the cell pitch set in the New-project dialog, cells drawn to scale, defects
given in um from the editor's spec line.

Real Qt (offscreen), real training in the window's queue; on-screen sizes are read from the view's mapping of
one cell to device pixels, not from pixels of a screenshot.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from test_new_project import dialog, fill, train_through_queue


def _cell_size_px(cb) -> tuple[float, float]:
    """On-screen width and height (device pixels) of one cell of the crossbar view."""
    vb = cb.plot.getViewBox()
    o = vb.mapViewToDevice(QPointF(0, 0))
    dx = vb.mapViewToDevice(QPointF(1, 0))
    dy = vb.mapViewToDevice(QPointF(0, 1))
    return abs(dx.x() - o.x()), abs(dy.y() - o.y())


def test_cells_are_drawn_to_scale_when_the_pitch_is_known(window, qtbot):
    cb, st = window.crossbar, window.state
    cb.set_array(1)
    qtbot.waitExposed(window)
    qtbot.wait(50)
    assert cb.plot.getViewBox().state["aspectLocked"] is False  # unknown pitch: the grid fills the view
    for a in st.project.mapped.arrays:
        a.pitch_um = (0.2, 0.4)
    cb.refresh()
    qtbot.wait(50)
    w, h = _cell_size_px(cb)
    assert h / w == pytest.approx(2.0, rel=1e-6)  # a cell twice as tall as wide, as on silicon
    (x0, x1), (y0, y1) = cb.plot.getViewBox().viewRange()
    assert y0 <= -0.5 and y1 >= 64.5 and x0 <= -0.5 and x1 >= 15.5  # and the whole 65 x 16 array in view
    assert "pitch 0.2 x 0.4 um (3.2 x 26 um)" in cb.info.text()  # 16 x 0.2 um by 65 x 0.4 um


def test_a_defect_in_um_from_the_spec_line_and_a_bad_one_refused(window, qtbot):
    st, ed = window.state, window.editor
    n0 = len(st.draft)
    ed.spec_edit.setText("circle:array=1,r_um=1,stuck=on")
    assert not ed.add_spec()  # the example project has no pitch: refused with the reason, nothing added
    assert "cell pitch of array 1" in ed.message.text() and len(st.draft) == n0
    for a in st.project.mapped.arrays:
        a.pitch_um = (0.25, 0.25)
    ed.spec_edit.setText("circle:array=1,r_um=1,stuck=on")
    assert ed.add_spec() and len(st.draft) == n0 + 1
    window.crossbar.set_array(1)
    cells = window.crossbar.overlay_cells()
    rows, cols = np.nonzero(cells)
    # hand arithmetic on the 65 x 16 array at 0.25 um: the centre (2, 8.125) um sits between columns 7 and 8 and
    # on row 32; 1 um reaches columns 4..11 (x = 1.125 .. 2.875) and rows 29..35 on the centre column
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (29, 35, 4, 11)


def test_new_project_dialog_takes_a_cell_pitch(window, qtbot):
    dlg = dialog(qtbot, window)
    fill(dlg, layout__cell_pitch="0x1")
    assert dlg.message.is_error and dlg.message.text().startswith("Cell pitch (um): x must be in [0.001, 1000] um")
    fill(dlg, layout__cell_pitch="0.2x0.4", train__epochs="2")
    assert not dlg.bad
    request = dlg.train()
    assert request is not None and request.cell_pitch_um == (0.2, 0.4)
    info = train_through_queue(qtbot, window, request)
    assert info.state == "done"
    assert window.state.project.mapped.pitches_um == [(0.2, 0.4)] * 4


def test_the_die_shows_every_array_to_scale_and_a_die_cluster_on_two_arrays(window, qtbot):
    from core.model.floorplan import auto_floorplan, place

    st, die = window.state, window.die
    assert "no place on a die" in die.message.text() and not die.items
    assert die.glw.isHidden()  # no empty axes above the explanation
    for a in st.project.mapped.arrays:
        a.pitch_um = (0.5, 0.5)
    place(st.project.mapped, auto_floorplan(st.project.mapped))
    st.notify("project")
    assert [k for k, *_ in die.items] == [1, 2, 3, 4] and not die.glw.isHidden()
    rect = die.items[1][3]  # array 2: 16 columns x 9 rows at 0.5 um, 28 um from the die's left edge
    assert (rect.left(), rect.top(), rect.width(), rect.height()) == (28.0, 0.0, 8.0, 4.5)
    assert "4 arrays on a 94 x 32.5 um die" in die.info.text()
    ed = window.editor
    ed.spec_edit.setText("die:pattern=circle,cx_um=18,cy_um=2,r_um=12,stuck=on")
    assert ed.add_spec() and "arrays 1, 2" in ed.message.text()
    overlays = [ov.image for _k, _img, ov, _r in die.items]
    red = [int((o[..., 0] == 230).sum()) for o in overlays]  # stuck-on cells drawn red on each array
    assert red[0] > 0 and red[1] > 0 and red[2] == red[3] == 0
    assert die.array_at(30.0, 2.0) == 2 and die.array_at(20.0, 2.0) == 0  # the gap between arrays
    with qtbot.waitSignal(die.array_clicked, timeout=1000):
        die.array_clicked.emit(2)
    assert window.crossbar.array == 2 and window.tabs.currentWidget() is window.crossbar
