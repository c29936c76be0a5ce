"""At 1024 x 768 every label, field and button of the New-project dialog and the simulation queue shows its whole
text (measured with the font's metrics), and the dialog still fills a large screen without scrolling."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLineEdit

from app.dialogs.new_project import NewProjectDialog
from tests.gui.fit_helpers import clipped, line_edit_room
from tests.gui.gui_helpers import wait_job

SCREEN = QSize(1024, 768)
DIALOG_AT_1024 = QSize(1000, 690)  # 1024 x 768 less the window frame, a title bar and a panel


@pytest.fixture
def dlg(qtbot):
    d = NewProjectDialog()
    qtbot.addWidget(d)
    d.show()
    qtbot.waitUntil(lambda: not d.reading(), timeout=20_000)  # the bundled digits' preview and summary
    return d


@pytest.mark.parametrize("size", [DIALOG_AT_1024, QSize(1880, 1000)], ids=["1024x768", "1920x1080"])
def test_new_project_dialog_shows_every_text_whole_without_scrolling(dlg, qtbot, size):
    assert dlg.sizeHint().width() <= SCREEN.width() and dlg.sizeHint().height() <= SCREEN.height()
    dlg.resize(size)
    qtbot.wait(50)
    assert not dlg.scroll.horizontalScrollBar().isVisible() and not dlg.scroll.verticalScrollBar().isVisible()
    assert clipped(dlg) == []
    content = dlg.scroll.widget()
    assert content.width() >= dlg.scroll.viewport().width() - 1  # the form fills the dialog


def test_new_project_dialog_scrolls_on_a_small_screen_and_shows_long_paths_in_the_tooltip(dlg, qtbot, tmp_path):
    dlg.resize(700, 500)
    qtbot.wait(50)
    assert dlg.scroll.horizontalScrollBar().isVisible() and dlg.scroll.verticalScrollBar().isVisible()
    numbers = [w for w in dlg.findChildren(QLineEdit) if w.text() and w.isVisibleTo(dlg)]
    assert numbers and all(w.fontMetrics().horizontalAdvance(w.text()) <= line_edit_room(w) for w in numbers)
    long_path = str(tmp_path / ("a-folder-with-a-long-name-" * 3) / "data.npz")
    dlg.source_radios["npz"].setChecked(True)
    dlg.widgets["dataset.npz"].setText(long_path)
    assert dlg.widgets["dataset.npz"].toolTip().startswith(long_path)


def test_queue_panel_fields_and_buttons_read_whole_at_1024x768(window, qtbot):
    window.resize(1024, 740)
    window.tabs.setCurrentWidget(window.queue_panel)
    qtbot.waitExposed(window)
    qp = window.queue_panel
    info = wait_job(qtbot, window.jobs, lambda: qp.controls.evaluate("behavioral"))
    qp.select_job(info.id)
    qtbot.wait(50)
    assert clipped(qp) == []
    t = qp.table
    fm, hh = t.fontMetrics(), t.horizontalHeader()
    for col in range(t.columnCount()):  # every column title reads whole
        assert hh.fontMetrics().horizontalAdvance(t.horizontalHeaderItem(col).text()) <= t.columnWidth(col)
    assert fm.horizontalAdvance("estimating…") <= t.columnWidth(4) and fm.horizontalAdvance("100 %") <= t.columnWidth(2)
    assert sum(t.columnWidth(c) for c in range(t.columnCount())) <= t.viewport().width() + 2
    # an elided name or message is whole in the details pane
    assert info.name in qp.details.toPlainText() and qp.message_text(info) in qp.details.toPlainText()


def test_a_short_training_has_epoch_ticks_at_whole_numbers_and_the_box_keeps_its_width(window, qtbot):
    tr = window.training
    window.resize(1024, 740)
    window.tabs.setCurrentWidget(tr)
    qtbot.waitExposed(window)
    width = tr.summary.parent().width()
    tr.show_history(
        {"loss": [2.0, 1.5, 1.1, 0.9, 0.8], "train_accuracy": [0.3, 0.5, 0.6, 0.7, 0.7], "test_accuracy": [0.2] * 5}
    )
    tr.message.info("training … epoch 5/5: loss 0.8000, test accuracy 0.2000 " * 3)
    qtbot.wait(50)
    for plot in (tr.loss_plot, tr.acc_plot):
        ticks = [v for _spacing, values in plot.getAxis("bottom").tickValues(1, 5, 400) for v in values]
        assert ticks and all(float(v).is_integer() for v in ticks), ticks
    assert tr.summary.parent().width() == width  # a long message wraps; the box does not grow
