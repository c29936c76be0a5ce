"""File > Import measured map…: read a real file, move the thresholds, add the scenario, undo it, save it.

Real Qt (offscreen) and real files; outcomes are read from the dialog's widgets and the document."""

from __future__ import annotations

import math

import numpy as np

from core import project_io


def _map(tmp_path, shape=(65, 16)):
    rng = np.random.default_rng(3)
    r = 10 ** rng.uniform(4, 6, shape)  # programmed cells inside the 10 kohm .. 1 Mohm window
    r[:, 3] = 60.0  # a shorted bit line
    r[5:8, 10:13] = 4e9  # an unformed patch
    path = tmp_path / "die7.csv"
    np.savetxt(path, r, delimiter=",")
    return str(path), r


def test_import_measured_map_classifies_adds_and_undoes(window, qtbot, tmp_path):
    path, r = _map(tmp_path)
    dlg = window.import_measured_map()
    qtbot.addWidget(dlg)
    dlg.path_edit.setText(path)
    assert dlg.read()
    # defaults from the device window: half the LRS and twice the HRS
    assert dlg.on_edit.text() == "5k" and dlg.off_edit.text() == "2meg"
    assert dlg.stats.text().startswith("65 x 16 cells: 65 stuck on, 9 stuck off")
    assert "looks like: column fault" in dlg.stats.text() and dlg.add_button.isEnabled()
    x, y = dlg.curve.getData()
    assert y.sum() == r.size  # the histogram counts every cell
    # a threshold dragged on the histogram (log10 ohm) lands in the field and reclassifies
    dlg.off_line.setValue(math.log10(5e5))
    dlg._line_moved()
    assert dlg.off_edit.text() == "500k" and f"{int((r >= 5e5).sum())} stuck off" in dlg.stats.text()
    dlg.off_edit.setText("1k")  # below the stuck-on threshold
    dlg.off_edit.editingFinished.emit()
    assert not dlg.add_button.isEnabled() and "must be above the stuck-on threshold" in dlg.message.text()
    dlg.off_edit.setText("2meg")
    dlg.array.setValue(2)  # 9 x 16: the map does not fit
    assert "array 2 is 9 rows x 16 columns" in dlg.message.text() and not dlg.add_button.isEnabled()
    assert "pick the array, tile or whole die it was measured on" in dlg.message.text()
    dlg.array.setValue(1)
    st = window.state
    assert dlg.add() is not None
    assert "die7" in st.project.scenarios and st.project.measured_maps["die7"].source == "die7.csv"
    assert st.draft_name == "die7" and sum(int(d.mask.sum()) for d in st.draft) == 65 + 9
    assert window.editor.name_edit.text() == "die7" and window.crossbar.array == 1
    draft_before = len(st.draft)
    st.stack.undo()  # one undo takes back the whole import: scenario, map and the draft that showed it
    assert "die7" not in st.project.scenarios and "die7" not in st.project.measured_maps
    assert st.draft_name != "die7"
    st.stack.redo()
    assert st.draft_name == "die7" and len(st.draft) == draft_before and "die7" in st.project.measured_maps
    out = str(tmp_path / "saved.h5")
    st.save(out)
    assert project_io.load(out).measured_maps["die7"].on_below_ohm == 5e3


def test_a_file_that_is_not_a_map_says_why(window, qtbot, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2\n3 oops\n")
    dlg = window.import_measured_map()
    qtbot.addWidget(dlg)
    dlg.path_edit.setText(str(bad))
    assert not dlg.read() and "cannot read" in dlg.message.text() and not dlg.add_button.isEnabled()


def test_enter_in_the_path_field_reads_the_map_but_adds_nothing(window, qtbot, tmp_path):
    from PySide6.QtCore import Qt

    path, _ = _map(tmp_path)
    dlg = window.import_measured_map()
    qtbot.addWidget(dlg)
    dlg.path_edit.setFocus()
    dlg.path_edit.setText(path)
    qtbot.keyClick(dlg.path_edit, Qt.Key.Key_Return)
    assert dlg.add_button.isEnabled() and dlg.isVisible()  # read and classified, waiting for the user
    assert "die7" not in window.state.project.scenarios


def test_the_name_follows_the_file_until_the_user_types_one(window, qtbot, tmp_path):
    path, r = _map(tmp_path)
    other = str(tmp_path / "wafer2.csv")
    np.savetxt(other, r, delimiter=",")
    dlg = window.import_measured_map()
    qtbot.addWidget(dlg)
    dlg.path_edit.setText(path)
    dlg.read()
    assert dlg.name_edit.text() == "die7"
    dlg.path_edit.setText(other)  # another file: the name is not left stale
    dlg.read()
    assert dlg.name_edit.text() == "wafer2"
    dlg.name_edit.clear()
    qtbot.keyClicks(dlg.name_edit, "my map")  # typed by the user: kept from now on
    dlg.path_edit.setText(path)
    dlg.read()
    assert dlg.name_edit.text() == "my map"


def test_a_whole_die_map_on_a_tiled_project_adds_per_tile_masks_and_shows_its_statistics(window, qtbot, tmp_path):
    from core.model import measured, tiling
    from core.model.floorplan import die_map_layout

    st = window.state
    st.project.mapped = tiling.tile_network(st.project.mapped, (32, 8))  # mosaics 96x16, 32x16, 32x16, 32x24
    r = np.zeros((96, 72))  # cells without a device hold 0: ignored
    for piece in die_map_layout(st.project.mapped):
        r[piece.slices] = 1e5
    r[30:34, 6:10] = 50.0  # where array 1's tiles 0, 1, 2 and 3 meet
    r[5, 20] = 2e5  # array 2, tile 0 (columns 16-23), far from both states
    path = str(tmp_path / "wafer.csv")
    np.savetxt(path, r, delimiter=",")
    dlg = window.import_measured_map()
    qtbot.addWidget(dlg)
    dlg.path_edit.setText(path)
    assert not dlg.read()  # read as array 1: the wrong shape, and the message says which one array 1 is
    assert "array 1 is 96 rows x 16 columns" in dlg.message.text()
    dlg.scope.setCurrentIndex(1)  # one tile: still the wrong shape
    assert "tile 0 of array 1 is 32 rows x 8 columns" in dlg.message.text() and not dlg.add_button.isEnabled()
    dlg.scope.setCurrentIndex(2)
    assert dlg.add_button.isEnabled() and not dlg.array.isEnabled()
    assert dlg.stats.text().startswith("96 x 72 cells on the whole die (4 arrays, 13 tiles): 16 stuck on, 0 stuck off")
    dlg.band_check.setChecked(True)
    dlg.band_lo_edit.setText("150k")
    dlg.band_hi_edit.setText("250k")
    dlg.band_lo_edit.editingFinished.emit()
    assert ", 1 stuck at their value" in dlg.stats.text()
    assert dlg.band_lines[0].isVisible() and abs(dlg.band_lines[1].value() - math.log10(2.5e5)) < 1e-12
    m = dlg.add()
    assert m is not None and m.is_die and window.tabs.currentWidget() is window.die
    got = sorted((d.array, d.tile, d.stuck, int(d.mask.sum())) for d in st.draft)
    assert got == [(1, 0, "on", 4), (1, 1, "on", 4), (1, 2, "on", 4), (1, 3, "on", 4), (2, 0, "ohm", 1)]
    listed = [window.editor.draft_list.item(i).text() for i in range(window.editor.draft_list.count())]
    assert "mask: array=1, tile=2, stuck=on, 4 cells" in listed and not any("painted" in t for t in listed)
    ohm = [d for d in st.draft if d.stuck == "ohm"][0]
    assert abs(ohm.stuck_ohm / 2e5 - 1) < 0.0101 and ohm.mask[5, 4]
    out = str(tmp_path / "saved.h5")
    st.save(out)
    back = project_io.load(out).measured_maps["wafer"]
    assert back.is_die and back.band_ohm == (1.5e5, 2.5e5) and len(back.layout) == 13
    # the stored map's statistics again, from a fresh dialog
    dlg2 = window.import_measured_map()
    qtbot.addWidget(dlg2)
    assert dlg2.stored_box.currentData() == "wafer"
    text = dlg2.show_map_statistics()
    assert dlg2.stored_text.toPlainText() == text and dlg2.stored_text.isVisible()
    assert "defective 17 of 3328 cells" in text and "array 1 tile 3: 4 of 256 defective" in text
    assert measured.DIE == back.array
    st.stack.undo()
    assert "wafer" not in st.project.measured_maps
