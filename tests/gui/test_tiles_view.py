"""Tiled arrays in the window: tile boundaries and unused devices in the crossbar view, one rectangle per tile on
the die, and a click on a tile opening its array zoomed to that tile.

Real Qt (offscreen). The project is the bundled example (arrays 65x16, 9x16, 9x16, 9x20) split over 32x8 tiles,
saved and read back through the project file, with a 0.5 x 1 um cell pitch (unequal, so swapped axes show) and
the arrays placed on the die: array 1 is a 96x16 mosaic of 3x2 tiles. Mouse input goes through real Qt events;
positions are checked against :mod:`core.model.tiling`, not against this module's own arithmetic.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import SIGNAL, QPointF, Qt
from PySide6.QtTest import QTest

from app.main_window import MainWindow
from app.panels.crossbar import VIEW_CONDUCTANCE, VIEW_WEIGHT_ERROR
from app.presenters import crossbar_view as cv
from app.presenters.document import WorkbenchState
from core import project_io
from core.model import tiling
from core.model.defects import Defect, parse_spec
from core.model.floorplan import auto_floorplan, place

TILE = (32, 8)
PITCH = (0.5, 1.0)
MOUSE_EVENT_MS = 16  # pyqtgraph drops move events closer than 10 ms apart


def _tiled_project(example, tmp_path, unused="hrs"):
    example.mapped = tiling.tile_network(example.mapped, TILE, unused_state=unused)
    for a in example.mapped.arrays:
        a.pitch_um = PITCH
    place(example.mapped, auto_floorplan(example.mapped))
    example.scenarios = {}  # a few of the example's scenarios are masks of the untiled shapes
    path = str(tmp_path / "tiled.h5")
    project_io.save(example, path)
    return project_io.load(path), path


def _wire_tile_zoom(w: MainWindow) -> None:
    """The main window itself links die.tile_clicked -> crossbar.show_tile (a click on the die zooms to the tile)."""
    assert w.die.receivers(SIGNAL("tile_clicked(int,int)")) >= 1


@pytest.fixture
def tiled(qtbot, example, tmp_path):
    project, path = _tiled_project(example, tmp_path)
    w = MainWindow(WorkbenchState(project, path), interactive=False)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    qtbot.wait(50)
    yield w
    w.jobs.shutdown(timeout_s=20)


def _viewport_pos(cb, r: int, c: int):
    """Viewport pixel of the centre of cell (r, c) of the crossbar view."""
    return cb.glw.mapFromScene(cb.overlay.mapToScene(QPointF(c + 0.5, r + 0.5)))


def _segments(item) -> set[tuple[float, float, float, float]]:
    x, y = item.getData()
    return {(x[i], y[i], x[i + 1], y[i + 1]) for i in range(0, len(x), 2)}


# ---- crossbar view ------------------------------------------------------------------------------------------
def test_tile_boundaries_lie_between_the_tiles_over_the_heat_map(tiled, qtbot):
    cb = tiled.crossbar
    cb.set_array(1)
    a = tiled.state.project.mapped.arrays[0]
    assert a.shape == (96, 16) and a.tile_grid == (3, 2)
    assert cb.tile_lines.isVisible() and cb.used_frame.isVisible()
    # between rows 31 | 32 and 63 | 64 across all 16 columns, and between columns 7 | 8 down all 96 rows
    assert _segments(cb.tile_lines) == {
        (-0.5, 31.5, 15.5, 31.5),
        (-0.5, 63.5, 15.5, 63.5),
        (7.5, -0.5, 7.5, 95.5),
    }
    assert cv.tile_boundaries(a) == ([32, 64], [8])
    # the layer's own 65 x 16 cells outlined
    x, y = cb.used_frame.getData()
    assert (x.min(), x.max(), y.min(), y.max()) == (-0.5, 15.5, -0.5, 64.5)
    # drawn over the heat map: a near-white line on screen where the boundary crosses the layer's own cells
    # (viridis has no white; its yellow has little blue)
    img = cb.glw.grab().toImage()
    vb = cb.plot.getViewBox()

    def whitest(x_view, y_view):
        p = cb.glw.mapFromScene(vb.mapViewToScene(QPointF(x_view, y_view)))
        return max(min(img.pixelColor(p.x() + dx, p.y() + dy).getRgb()[:3]) for dx in (-1, 0, 1) for dy in (-1, 0, 1))

    assert whitest(3.0, 31.5) > 200 and whitest(3.0, 63.5) > 200 and whitest(7.5, 20.0) > 200
    assert whitest(3.0, 20.0) < 200 and whitest(12.0, 45.0) < 200  # inside tiles: the heat map, no line
    # the device grid's lines are not drawn over the weight-error view (another grid)
    cb.set_view(VIEW_WEIGHT_ERROR)
    assert not cb.tile_lines.isVisible() and not cb.unused_shade.isVisible()
    cb.set_view(VIEW_CONDUCTANCE)
    assert cb.tile_lines.isVisible()
    # another array, another mosaic: array 4 is 9x20 on 1x3 tiles of 32x8 (32x24), columns 8 and 16
    cb.set_array(4)
    assert _segments(cb.tile_lines) == {(7.5, -0.5, 7.5, 31.5), (15.5, -0.5, 15.5, 31.5)}


def _screen_rgb(cb, img, r: int, c: int) -> tuple[int, int, int]:
    """On-screen colour of the centre of cell (r, c) in a grab ``img`` of the crossbar view."""
    p = _viewport_pos(cb, r, c)
    return img.pixelColor(p.x(), p.y()).getRgb()[:3]


def test_the_unused_cells_are_hatched_and_the_caption_names_the_tiling(tiled, qtbot):
    cb = tiled.crossbar
    cb.set_array(1)
    qtbot.wait(50)
    a = tiled.state.project.mapped.arrays[0]
    assert cb.tile_caption.isVisible() and tiling.describe(a) in cb.tile_caption.text()
    assert "65x16 on 3x2 tiles of 32x8" in cb.tile_caption.text()
    assert "65x16 on 3x2 tiles of 32x8" in cb.array_box.currentText()
    shade = cb.unused_shade.image
    assert cb.unused_shade.isVisible() and shade.shape == (96, 16, 4)
    used = tiling.used_mask(a)
    assert (shade[used, 3] == 0).all() and (shade[~used, 3] > 0).all()  # exactly the unused cells
    # on screen: an unused device at HRS is washed lighter than one of the layer's own cells at HRS (viridis'
    # dark purple, (68, 1, 84)), whichever stripe of the hatch it is in
    img = cb.glw.grab().toImage()
    own = np.argwhere(tiling.used_mask(a) & (a.g_siemens == a.g_siemens.min()))[0]
    assert min(_screen_rgb(cb, img, *own)) < 30
    assert all(min(_screen_rgb(cb, img, r, c)) > 50 for r, c in [(70, 2), (70, 3), (80, 10), (90, 6)])


def test_hovering_an_unused_cell_says_it_is_unused_and_never_raises(tiled, qtbot):
    cb, st = tiled.crossbar, tiled.state
    m = st.project.mapped
    g_off_us = m.device.g_off_siemens * 1e6
    # array 1 (65x16 in 96x16): unused rows; array 4 (9x20 in 32x24): unused columns, and both
    cases = [
        (1, 80, 3, "an unused word line, driven at 0 V"),
        (4, 3, 22, "an unused bit line, ending at ground"),
        (4, 20, 22, "its word line is driven at 0 V and its bit line ends at ground"),
    ]
    for k, r, c, why in cases:
        cb.set_array(k)
        qtbot.wait(MOUSE_EVENT_MS)
        QTest.mouseMove(cb.glw.viewport(), _viewport_pos(cb, r, c))
        qtbot.waitUntil(lambda r=r, c=c: f"row {r}, column {c} " in cb.hover.text(), timeout=2000)
        text = cb.hover.text()
        assert text.startswith(f"array {k}, row {r}, column {c} (tile {cv.tile_of(m.arrays[k - 1], r, c)}): unused")
        assert "unused device" in text and why in text and "weight w[" not in text
        assert f"programmed {g_off_us:.4g} µS" in text and "state: unused (hrs" in text
    cb.set_array(1)
    # a layer's own cell still reads as its weight, now naming its tile
    qtbot.wait(MOUSE_EVENT_MS)
    QTest.mouseMove(cb.glw.viewport(), _viewport_pos(cb, 40, 9))
    qtbot.waitUntil(lambda: "row 40, column 9" in cb.hover.text(), timeout=2000)
    assert "(tile 3): input 40, neuron 4, G- of the pair" in cb.hover.text() and "weight w[40, 4]" in cb.hover.text()
    # every cell of every mosaic reads out, every pair of the weight grid too
    for k in range(1, 5):
        ro = cv.ArrayReadout(m, k, [])
        texts = [ro.cell_text(r, c) for r in range(ro.shape[0]) for c in range(ro.shape[1])]
        n_unused = int((~tiling.used_mask(m.arrays[k - 1])).sum())
        assert sum("unused device" in t for t in texts) == n_unused > 0
        [ro.pair_text(i, j) for i in range(ro.weight_error.shape[0]) for j in range(ro.weight_error.shape[1])]
    # a defect on an unused device: its state and effective conductance
    mask = np.zeros((96, 16), dtype=bool)
    mask[80, 3] = True
    st.paint(1, mask, False, "on")
    text = cv.ArrayReadout(m, 1, st.draft).cell_text(80, 3)
    assert "unused device" in text and "now stuck on" in text
    assert f"effective {m.device.g_on_siemens * 1e6:.4g} µS" in text
    assert cb.readout.n_defective == 1 and cb.readout.n_defective_used == 0
    assert "0 of them the layer's own" in cb.info.text()


def test_an_unformed_unused_cell_reads_as_unformed(example, tmp_path):
    project, _ = _tiled_project(example, tmp_path, unused="unformed")
    m = project.mapped
    text = cv.ArrayReadout(m, 2, []).cell_text(20, 5)  # array 2 is 9x16: row 20 is unused
    g = tiling.unused_conductance(m.device, "unformed") * 1e6
    assert "unused device" in text and "state: unused (unformed" in text and f"programmed {g:.4g} µS" in text


# ---- die view -----------------------------------------------------------------------------------------------
def test_the_die_draws_one_rectangle_per_tile_with_its_slice_of_the_defects(tiled):
    die, st = tiled.die, tiled.state
    m = st.project.mapped
    assert len(die.tiles) == len(die.items) == sum(a.n_tiles for a in m.arrays) == 6 + 2 + 2 + 3
    for a in m.arrays:
        mine = [t for t in die.tiles if t.array == a.layer + 1]
        assert [t.tile for t in mine] == list(range(a.n_tiles))
        for t in mine:
            x, y = tiling.tile_origin_um(a, t.tile)
            r = t.rect
            assert (r.left(), r.top(), r.width(), r.height()) == pytest.approx(
                (x, y, a.tile[1] * a.pitch_um[0], a.tile[0] * a.pitch_um[1])
            )
    # array 1's six tiles: 4 um wide, 32 um tall, 10 um apart
    a1 = [t.rect for t in die.tiles if t.array == 1]
    assert (a1[1].left(), a1[2].top()) == (14.0, 42.0)
    # the gap between two tiles holds no array
    assert die.array_at(2.0, 37.0) == 0 and die.array_at(2.0, 45.0) == 1 and die.tile_at(16.0, 50.0).tile == 3
    # a defect on tile 3 only: its rows 0-1 blue (stuck off) in that tile's rectangle, nowhere else
    st.add_defect(parse_spec("rows:array=1,tile=3,start=0,count=2,stuck=off"))
    blue = [int((ov.image[..., 2] == 230).sum()) for k, _img, ov, _r in die.items if k == 1]
    assert blue == [0, 0, 0, 16, 0, 0]
    ov3 = next(ov for (k, _img, ov, _r), t in zip(die.items, die.tiles) if k == 1 and t.tile == 3).image
    assert (ov3[:2, :, 2] == 230).all() and ov3.shape[:2] == TILE
    # the unused devices are washed out, the layer's own healthy cells are not
    ov5 = die.items[5][2].image  # tile 5: rows 64-95, columns 8-15; row 64 is the layer's bias row
    assert ov5[0, 0, 3] == 0 and ov5[1, 0, 3] > 0
    assert "in 13 tiles" in die.info.text()


def test_clicking_a_tile_opens_its_array_zoomed_to_that_tile(tiled, qtbot):
    w = tiled
    _wire_tile_zoom(w)
    cb, die = w.crossbar, w.die
    cb.set_array(2)
    w.tabs.setCurrentWidget(die)
    qtbot.wait(50)
    a = w.state.project.mapped.arrays[0]
    rect = next(t.rect for t in die.tiles if t.array == 1 and t.tile == 3)
    vp = die.glw.mapFromScene(die.plot.getViewBox().mapViewToScene(rect.center()))
    seen = []
    die.array_clicked.connect(lambda k: seen.append(("array", k)))
    die.tile_clicked.connect(lambda k, t: seen.append(("tile", k, t)))
    with qtbot.waitSignals([die.array_clicked, die.tile_clicked], order="strict", timeout=2000):
        QTest.mouseClick(die.glw.viewport(), Qt.MouseButton.LeftButton, pos=vp)
    assert seen == [("array", 1), ("tile", 1, 3)]  # the array opens first, then the view zooms
    assert cb.array == 1 and w.tabs.currentWidget() is cb
    qtbot.wait(50)  # the crossbar tab takes its size; the zoom must survive it
    (x0, x1), (y0, y1) = cb.plot.getViewBox().viewRange()
    rs, cs = tiling.tile_slices(a, 3)  # rows 32-63, columns 8-15
    # the whole tile in view, centred on it, and the view no larger than the tile (plus its frame) on one axis:
    # the cells keep their aspect, so the other axis may show more
    assert x0 <= cs.start - 0.5 and x1 >= cs.stop - 0.5 and y0 <= rs.start - 0.5 and y1 >= rs.stop - 0.5
    assert (x0 + x1) / 2 == pytest.approx((cs.start + cs.stop - 1) / 2, abs=0.01)
    assert (y0 + y1) / 2 == pytest.approx((rs.start + rs.stop - 1) / 2, abs=0.01)
    assert min(x1 - x0 - 8, y1 - y0 - 32) <= 2 * cv.TILE_PAD + 0.01
    assert y1 - y0 < 48  # not the whole 96-row mosaic
    # Reset view shows the whole mosaic again
    cb.reset_view()
    (_x0, _x1), (y0, y1) = cb.plot.getViewBox().viewRange()
    assert y0 <= -0.5 and y1 >= 95.5


def test_show_tile_refuses_a_tile_the_array_does_not_have(tiled):
    cb = tiled.crossbar
    cb.show_tile(1, 6)
    assert cb.message.is_error and "tiles 0 to 5" in cb.message.text()


# ---- untiled projects as before -----------------------------------------------------------------------------
def test_an_untiled_project_draws_no_tiles_and_a_die_click_zooms_nothing(window, qtbot):
    cb, die, st = window.crossbar, window.die, window.state
    _wire_tile_zoom(window)
    cb.set_array(1)
    assert not cb.tile_lines.isVisible() and not cb.unused_shade.isVisible() and not cb.tile_caption.isVisible()
    assert cb.tile_lines.getData()[0].size == 0
    assert cb.array_box.itemText(0) == "1: layer 1 (65 x 16)"
    assert cb.info.text().startswith("shape 65 rows x 16 columns; defective ") and "own" not in cb.info.text()
    text = cb.readout.cell_text(5, 0)
    assert text.startswith("array 1, row 5, column 0: input 5") and "tile" not in text
    for a in st.project.mapped.arrays:
        a.pitch_um = (0.5, 0.5)
    place(st.project.mapped, auto_floorplan(st.project.mapped))
    st.notify("project")
    assert [t.tile for t in die.tiles] == [0, 0, 0, 0] and not any(t.tiled for t in die.tiles)
    assert "Click an array to open it" in die.info.text() and [lab.textItem.toPlainText() for lab in die._labels] == [
        f"array {k}" for k in range(1, 5)
    ]
    with qtbot.assertNotEmitted(die.tile_clicked):
        with qtbot.waitSignal(die.array_clicked, timeout=1000):
            die.select_tile(2, 0)
    assert cb.array == 2


def test_a_defect_on_one_tile_shows_on_that_tile_in_the_crossbar_view(tiled):
    cb, st = tiled.crossbar, tiled.state
    cb.set_array(1)
    st.add_defect(Defect("rows", 1, "on", 0.0, {"start": 0, "count": 1}, tile=4))  # tile 4: rows 64-95, cols 0-7
    rows, cols = np.nonzero(cb.overlay_codes())
    assert set(rows) == {64} and (cols.min(), cols.max()) == (0, 7)
