"""Physical geometry in the window: the cell pitch set in the New-project dialog, cells drawn to scale, defects
given in um from the editor's spec line.

Real Qt (offscreen), real training in the window's queue; on-screen sizes are read from the view's mapping of
one cell to device pixels, not from pixels of a screenshot.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from tests.gui.test_new_project import dialog, fill, train_through_queue


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
