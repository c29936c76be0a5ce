"""Text from a project file is shown as text: no HTML (an ``<img src='/dev/zero'>`` would make Qt read that
device until memory runs out), and cut to a sane length (a 1 MiB name must not be laid out whole)."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from app.main_window import MainWindow
from app.presenters.document import WorkbenchState
from app.widgets import MAX_SHOWN_CHARS
from core import project_io
from core.model.project import Scenario

MARKUP = "<img src='/dev/zero'>"
HUGE = "<b>big</b>" + "y" * ((1 << 20) - 1000)  # just under the reader's 1 MiB string bound


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024


def test_markup_and_megabyte_names_from_a_file_show_literally_and_cut(qtbot, example, tmp_path):
    some = next(iter(example.scenarios.values()))
    for name in (MARKUP, HUGE):
        example.scenarios[name] = Scenario(name, list(some.defects), description=MARKUP)
    sweep = example.sweeps[0]
    example.sweeps[0] = dataclasses.replace(sweep, id=MARKUP + " " + HUGE, spec={**sweep.spec, "fidelity": MARKUP})
    path = tmp_path / "hostile.h5"
    project_io.save(example, str(path))
    loaded = project_io.load(str(path))
    assert MARKUP in loaded.scenarios and HUGE in loaded.scenarios

    rss0 = _rss_mb()
    w = MainWindow(WorkbenchState(loaded, str(path)), interactive=False)
    qtbot.addWidget(w)
    w.show()
    view = w.results.sweep_view
    view.box.setCurrentIndex(0)
    qtbot.wait(200)

    info = view.info.text()
    assert view.info.textFormat() == Qt.TextFormat.PlainText
    assert MARKUP in info and len(info) < 3 * MAX_SHOWN_CHARS + 1000  # literal markup, megabyte id cut
    assert f"({len(HUGE) + len(MARKUP) + 1:,} characters)" in info
    titles = [view.box.itemText(i) for i in range(view.box.count())]
    assert all(len(t) < MAX_SHOWN_CHARS + 40 for t in titles)

    box = w.editor.scenario_box
    shown = {box.itemData(i): box.itemText(i) for i in range(box.count())}
    assert shown[MARKUP] == MARKUP
    assert shown[HUGE].startswith("<b>big</b>yyy") and len(shown[HUGE]) < MAX_SHOWN_CHARS + 40
    box.setCurrentIndex(box.findData(MARKUP))
    assert "&lt;img" in box.toolTip() and "<img" not in box.toolTip()  # the full name, escaped: never rendered
    assert box.view().minimumWidth() > box.fontMetrics().horizontalAdvance(shown[MARKUP])  # the list shows it whole
    box.setCurrentIndex(box.findData(HUGE))
    assert len(box.toolTip()) < 8 * MAX_SHOWN_CHARS  # a megabyte name is cut in the tooltip too
    w.editor._load_selected()  # the cut text still finds the full-named scenario
    assert w.editor.draft_list.count() == len(some.defects)
    assert w.editor.name_edit.text().startswith("<b>big</b>yyy")  # a QLineEdit: plain text by nature

    # every label in the window is plain text except the legends that carry our own markup
    rich = [lb for lb in w.findChildren(QLabel) if lb.textFormat() != Qt.TextFormat.PlainText]
    assert all(lb.property("workbenchRichText") is True for lb in rich), [lb.text()[:60] for lb in rich]
    assert _rss_mb() - rss0 < 400  # no multi-gigabyte growth (it was 4-5 GB)
    w.jobs.shutdown(timeout_s=20)
