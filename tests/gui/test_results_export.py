"""Results that read and export well, and a queue that says how long a job has left (real Qt, real files)."""

from __future__ import annotations

import csv
import threading
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from pyqtgraph.exporters import SVGExporter, listExporters
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QApplication

from app import figure_export
from app.jobs_qt import QtJobQueue
from app.panels.queue import QueuePanel
from app.presenters.document import WorkbenchState
from core.jobs import Progress
from core.model.project import Project
from core.sweeps.spec import make_defect

SIZES = [0.1, 0.2, 0.3, 0.4, 0.5]


@pytest.fixture
def results(window, qtbot):
    window.resize(1024, 768)
    window.tabs.setCurrentWidget(window.results)
    window.results.tabs.setCurrentIndex(0)
    qtbot.waitExposed(window)
    return window.results


def _rows_of(sweep, key):
    rows = [r for r in sweep.rows if (r["pattern"], r["stuck"], r["array"]) == key]
    return sorted(rows, key=lambda r: r["size"])


def test_default_sweep_plot_shows_one_array_and_filters_change_the_curves(results):
    sweep = results.current_sweep()
    view = results.sweep_view
    assert set(results.sweep_curves) == {(p, s, 1) for p in sweep.spec["patterns"] for s in ("on", "off")}
    for key, curve in results.sweep_curves.items():
        x, y = curve.getData()
        rows = _rows_of(sweep, key)
        assert list(x) == SIZES and np.allclose(y, [r["mean_accuracy"] for r in rows])
    # every visible curve looks different: colour x dash x symbol of the items actually drawn
    looks = {
        (c.opts["pen"].color().name(), c.opts["pen"].style(), c.opts["symbol"]) for c in results.sweep_curves.values()
    }
    assert len(looks) == len(results.sweep_curves) == 12
    view.pattern.setCurrentIndex(view.pattern.findData("ring"))
    assert set(results.sweep_curves) == {("ring", "on", 1), ("ring", "off", 1)}
    view.stuck.setCurrentIndex(view.stuck.findData("off"))
    view.array.setCurrentIndex(view.array.findData("all"))
    assert set(results.sweep_curves) == {("ring", "off", a) for a in (1, 2, 3, 4)}
    x, y = results.sweep_curves[("ring", "off", 3)].getData()
    assert np.allclose(y, [r["mean_accuracy"] for r in _rows_of(sweep, ("ring", "off", 3))])
    looks = {(c.opts["pen"].style(), c.opts["symbol"]) for c in results.sweep_curves.values()}
    assert len(looks) == 4  # same pattern and stuck type: the arrays differ by symbol
    assert len(results.sweep_view.legend.items) == 4


def test_a_sweep_arriving_in_an_empty_results_view_also_shows_one_array(qtbot, example):
    """The filters of a view that had no sweep must not keep "all": a new sweep starts at its first array."""
    from app.panels.results import ResultsPanel

    sweep = example.sweeps[0]
    example.sweeps = []
    state = WorkbenchState(example)
    panel = ResultsPanel(state, QtJobQueue())
    qtbot.addWidget(panel)
    assert panel.sweep_curves == {}
    example.sweeps.append(sweep)
    state.results_added()
    assert panel.sweep_view.array.currentData() == 1
    assert {key[2] for key in panel.sweep_curves} == {1}


def test_empty_tabs_say_where_their_results_come_from(qtbot, example):
    from app.panels.results import EMPTY_HINTS, ResultsPanel

    results, recoveries = list(example.results), list(example.recoveries)
    assert results and recoveries  # the example has both: they fill the tabs below
    example.results, example.recoveries = [], []
    state = WorkbenchState(example)
    panel = ResultsPanel(state, QtJobQueue())
    qtbot.addWidget(panel)
    assert panel.hints["simulations"].text() == EMPTY_HINTS["simulations"] and "Evaluate" in EMPTY_HINTS["simulations"]
    assert panel.hints["recovery"].text() == EMPTY_HINTS["recovery"] and "Recover" in EMPTY_HINTS["recovery"]
    example.results.extend(results)
    example.recoveries.extend(recoveries)
    state.results_added()
    assert all(h.text().startswith("Click a row") for h in panel.hints.values())


def test_csv_export_holds_true_sizes_and_named_columns(results, tmp_path):
    results.sweep_view.dodge.setChecked(True)  # spread for reading: the file must still hold the true sizes
    x, _ = results.sweep_curves[("circle", "on", 1)].getData()
    assert not np.allclose(x, SIZES)
    path = results.export_table("sweep", str(tmp_path / "sweep"))
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0])
    for name in ("pattern", "stuck", "array", "size", "n", "mean", "std", "ci_low", "ci_high", "fidelity",
                 "r_wire_ohm", "device_model", "failures"):  # fmt: skip
        assert name in header
    sweep = results.current_sweep()
    assert len(rows) == len(sweep.rows) and sorted({float(r["size"]) for r in rows}) == SIZES
    assert [float(r["size"]) for r in rows] == [r["size"] for r in sweep.rows]
    path = results.export_table("simulations", str(tmp_path / "sims.csv"))
    with open(path, newline="") as f:
        sims = list(csv.DictReader(f))
    assert [s["id"] for s in sims] == [r.id for r in results.state.project.results]
    assert {"scenario", "fidelity", "ci_low", "ci_high", "r_wire_ohm", "device_model"} <= set(sims[0])
    path = results.export_table("recovery", str(tmp_path / "rec.csv"))
    with open(path, newline="") as f:
        (rec,) = list(csv.DictReader(f))
    assert rec["method"] == "correction" and rec["scenario"] == "ring-on-array4"


@pytest.mark.parametrize("kind", ["sweep", "simulations", "recovery"])
def test_figures_export_as_svg_png_and_pdf(results, qtbot, tmp_path, kind):
    results.tabs.setCurrentIndex(["sweep", "simulations", "recovery"].index(kind))
    qtbot.wait(20)
    plot = results.plot_of(kind)
    svg = results.export_figure(kind, str(tmp_path / f"{kind}.svg"))
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    drawn = [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] in ("path", "polyline", "rect")]
    texts = " ".join(e.text or "" for e in root.iter() if e.tag.endswith("text"))
    assert len(drawn) > 20 and "accuracy" in texts
    assert not [e for e in root.iter() if e.tag.endswith("image")]  # vectors, not a screenshot inside an SVG
    png = results.export_figure(kind, str(tmp_path / f"{kind}.png"))
    img = QImage(png)
    vp = plot.viewport().size()
    assert not img.isNull() and (img.width(), img.height()) == (2 * vp.width(), 2 * vp.height())
    assert len({img.pixel(x, y) for x in range(0, img.width(), 17) for y in range(0, img.height(), 17)}) > 3
    pdf = results.export_figure(kind, str(tmp_path / f"{kind}.pdf"))
    data = open(pdf, "rb").read()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:] and len(data) > 5000
    # the right-click Export dialog offers the working SVG writer, not pyqtgraph's broken one
    names = [e.Name for e in listExporters()]
    assert figure_export.SvgExporter in listExporters() and SVGExporter not in listExporters(), names
    figure_export.SvgExporter(plot.getPlotItem()).export(str(tmp_path / "menu.svg"))
    assert ET.parse(tmp_path / "menu.svg").getroot().tag.endswith("svg")


def test_clicking_a_sweep_point_emits_its_first_placement(results, qtbot):
    sweep = results.current_sweep()
    curve = results.sweep_curves[("circle", "on", 1)]
    mean = _rows_of(sweep, ("circle", "on", 1))[2]["mean_accuracy"]  # the point at size 0.3
    assert len(curve.scatter.pointsAt(QPointF(0.3, mean))) == 1
    viewport = results.sweep_plot.viewport()
    qtbot.wait(200)  # let the layout and the auto range settle: they decide where the point is drawn

    def at_point() -> QPoint:
        return results.sweep_plot.mapFromScene(curve.scatter.mapToScene(QPointF(0.3, mean)))

    # hovering shows n, mean and interval (tooltip and read-out line)
    for offset in (QPoint(30, 30), QPoint(0, 0)):  # real moves: offscreen QTest.mouseMove sends none without a button
        qtbot.wait(30)  # pyqtgraph drops moves closer together than its rate limit
        p = at_point() + offset
        move = QMouseEvent(
            QEvent.Type.MouseMove, QPointF(p), QPointF(viewport.mapToGlobal(p)), Qt.MouseButton.NoButton,
            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
        )  # fmt: skip
        QApplication.sendEvent(viewport, move)
    qtbot.waitUntil(lambda: "size 0.3" in results.sweep_view.point.text(), timeout=2000)
    vb = results.sweep_plot.getPlotItem().vb
    assert "circle, stuck on, array 1" in vb.toolTip() and "95 % CI" in vb.toolTip()
    with qtbot.waitSignal(results.defects_selected, timeout=2000) as blocker:
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=at_point())
    defects, label = blocker.args
    shape = results.state.shape(1)
    assert [d.to_spec() for d in defects] == [make_defect("circle", 0.3, "on", 1, 0, shape, 0).to_spec()]
    assert defects[0].params["r"] == 0.3 and "sweep-0001" in label and "size 0.3" in label
    assert "n = 10" in results.sweep_view.point.text()


def test_simulations_table_sorts_and_a_row_shows_its_defects(results, qtbot):
    results.tabs.setCurrentIndex(1)
    t = results.sim_table
    headers = [t.horizontalHeaderItem(j).text() for j in range(t.columnCount())]
    acc, scen = headers.index("accuracy"), headers.index("scenario")
    assert headers[:3] == ["id", "scenario", "fidelity"] and "wire R (Ω)" in headers and "device" in headers
    assert t.item(0, scen).text() == "clean" and t.item(2, scen).text() == "circle-on-array1"
    header = t.horizontalHeader()
    at = QPoint(header.sectionViewportPosition(acc) + header.sectionSize(acc) // 2, header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=at)
    values = [float(t.item(i, acc).text()) for i in range(t.rowCount())]
    assert values == sorted(values) and values != [float(f"{r.accuracy:.3f}") for r in results.state.project.results]
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=at)
    values = [float(t.item(i, acc).text()) for i in range(t.rowCount())]
    assert values == sorted(values, reverse=True)
    # numbers sort as numbers, not as text ("12.5" < "4.82" as text)
    results.state.project.results[3].seconds = 12.5
    results.state.notify("results")
    sec = headers.index("seconds")
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(header.sectionViewportPosition(sec) + 5, 5)
    )
    values = [float(t.item(i, sec).text()) for i in range(t.rowCount())]
    assert values == sorted(values) and values[-1] == 12.5
    row = next(i for i in range(t.rowCount()) if t.item(i, 0).text() == "run-0004")
    rect = t.visualItemRect(t.item(row, scen))
    with qtbot.waitSignal(results.defects_selected, timeout=2000) as blocker:
        qtbot.mouseClick(t.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    defects, label = blocker.args
    assert [d.to_spec() for d in defects] == ["ring:array=1,stuck=off,cx=0.5,cy=0.5,r_in=0.2,r_out=0.35"]
    assert label.startswith("run-0004: ring-off-array1")
    # the chart: one bar per result of the example, with the Wilson interval around each
    assert len(results.sim_chart.bars) == len(results.state.project.results)
    assert all(b.lo < b.accuracy < b.hi for b in results.sim_chart.bars)


def test_queue_shows_time_left_for_a_running_job(qtbot):
    q = QtJobQueue(max_workers=1, interval_s=0.05)
    panel = QueuePanel(WorkbenchState(Project(), None), q)
    qtbot.addWidget(panel)
    panel.resize(1024, 600)
    panel.show()
    gate, stop = threading.Event(), threading.Event()

    def steady():
        yield Progress(1, 20, "ngspice: 1 of 20 runs done")
        gate.wait(10)
        for k in range(2, 21):
            if stop.wait(0.15):
                break
            yield Progress(k, 20, f"ngspice: {k} of 20 runs done")
        return 1

    job = q.submit(steady, "spice evaluation")
    qtbot.waitUntil(lambda: panel.row_state(job) == "running" and "1 of 20" in panel.row_message(job))
    assert panel.row_time_left(job) == "estimating…"
    gate.set()
    qtbot.waitUntil(lambda: panel.row_time_left(job).startswith("~"), timeout=10_000)
    panel.select_job(job)
    text = panel.details.toPlainText()
    assert "spice evaluation" in text and "of 20 runs done" in text and "left" in text
    stop.set()
    qtbot.waitUntil(lambda: panel.row_state(job) == "done", timeout=10_000)
    assert panel.row_time_left(job) == ""
    q.shutdown()
