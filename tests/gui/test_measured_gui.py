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
    assert "pick the array it was measured on" in dlg.message.text() and not dlg.add_button.isEnabled()
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
