"""Panel 5, results: accuracy vs defect size from a sweep (mean and 95 % CI), simulation results, recovery.

What is shown and exported is computed in :mod:`app.presenters.results_view`; figures are written by
:mod:`app.figure_export`. Clicking a sweep point or a result row emits :attr:`ResultsPanel.defects_selected`.
"""

from __future__ import annotations

import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import figure_export
from app.panels.results_sweep import SweepView
from app.presenters import results_tables as rt
from app.presenters import results_view as rv
from app.presenters.document import WorkbenchState
from app.widgets import PALETTE, MessageLabel, color, cut, outside_legend, plain_tip, plot_widget

FIDELITY_COLORS = {"ideal": 7, "behavioral": 0, "nodal": 2, "spice": 1}
KINDS = ("sweep", "simulations", "recovery")

figure_export.install_menu_exporters()  # the plots' right-click Export… gets working SVG and PDF entries


class _Item(QTableWidgetItem):
    """A table cell that sorts by a value (numbers as numbers, NaN first) rather than by its text."""

    def __init__(self, text: str, key):
        super().__init__(cut(text))  # cells show names and specs from the file: cut, and tooltips literal
        self.setToolTip(plain_tip(text))
        self._key = key

    def __lt__(self, other):
        a, b = self._key, getattr(other, "_key", other.text())
        try:
            return bool(a < b)
        except TypeError:
            return str(a) < str(b)


def _table(headers) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.verticalHeader().setVisible(False)
    t.verticalHeader().setDefaultSectionSize(22)
    hh = t.horizontalHeader()
    hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    hh.setStretchLastSection(True)
    hh.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # project order until the user clicks a header
    t.setSortingEnabled(True)
    return t


def _key(v):
    if isinstance(v, float) and np.isnan(v):
        return -np.inf
    return v


def _fill(table: QTableWidget, rows: list[tuple], ids: list[str]) -> None:
    """Fill ``table`` with (text, sort key) cells; ``ids[i]`` is kept on row i's first cell."""
    table.setSortingEnabled(False)  # else each setItem re-sorts and rows scatter while filling
    table.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, (text, key) in enumerate(row):
            item = _Item(text, _key(key))
            if j == 0:
                item.setData(Qt.ItemDataRole.UserRole, ids[i])
            table.setItem(i, j, item)
    table.setSortingEnabled(True)


# what an empty tab says (a new project has no results): where the results come from
EMPTY_HINTS = {
    "simulations": "No evaluations in this project yet: run Evaluate from the simulation queue (or "
    "reram-workbench evaluate); each one adds a row here.",
    "recovery": "No recovery runs in this project yet: run Recover from the simulation queue (or "
    "reram-workbench recover); each method adds a row here.",
}


class ResultsPanel(QWidget):
    """Three tabs: sweep curves, simulation results (grouped bars + table), recovery before/after (bars + table).

    Signals
    -------
    defects_selected(list[Defect], str)
        A sweep point or a result row was clicked: its defects (for a sweep point its first placement) and a
        label saying what they are.
    """

    title = "Results"
    defects_selected = Signal(object, str)

    def __init__(self, state: WorkbenchState, jobs=None, parent=None):
        super().__init__(parent)
        self.state = state
        self.sim_chart = rv.simulation_chart([])
        self._sim_items: list = []
        self.hints: dict[str, QLabel] = {}
        self.message = MessageLabel()

        self.sweep_view = SweepView(state, self.message, self._export_button("sweep"))
        self.sweep_view.defects_selected.connect(self.defects_selected)

        # --- simulations ----------------------------------------------------------------------------
        self.sim_plot = plot_widget("Accuracy by scenario and fidelity", "test accuracy (95 % Wilson interval)", "")
        self.sim_plot.getPlotItem().invertY(True)  # first scenario on top, like the table
        self.sim_plot.setXRange(0, 1)
        self.sim_legend = outside_legend(self.sim_plot, "9pt")
        self.sim_table = _table(rt.SIM_HEADERS)
        sim_tab = self._tab("simulations", self.sim_plot, self.sim_table)

        # --- recovery -------------------------------------------------------------------------------
        self.rec_plot = plot_widget(
            "Recovery: accuracy before and after (95 % Wilson)", "recovery run", "test accuracy"
        )
        self.rec_plot.setYRange(0, 1)
        # two-line tick labels (method, scenario): give the axis room so they clear the axis title
        self.rec_plot.getAxis("bottom").setHeight(58)
        self.rec_before = pg.BarGraphItem(x=[], height=[], width=0.35, brush=color(7))
        self.rec_after = pg.BarGraphItem(x=[], height=[], width=0.35, brush=color(2))
        self.rec_errors = pg.ErrorBarItem(x=np.array([]), y=np.array([]), pen=pg.mkPen("k"))
        for item in (self.rec_before, self.rec_after, self.rec_errors):
            self.rec_plot.addItem(item)
        legend = outside_legend(self.rec_plot, "9pt")
        for name, c in (("before", 7), ("after", 2)):
            legend.addItem(pg.ScatterPlotItem(symbol="s", size=10, brush=color(c), pen="k"), name)
        self.rec_table = _table(rt.REC_HEADERS)
        rec_tab = self._tab("recovery", self.rec_plot, self.rec_table)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.sweep_view, "Sweeps")
        self.tabs.addTab(sim_tab, "Simulations")
        self.tabs.addTab(rec_tab, "Recovery")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.message)
        self.setMinimumSize(520, 400)

        self.sim_table.cellClicked.connect(lambda r, _c: self._row_clicked(self.sim_table, state.project.results, r))
        self.rec_table.cellClicked.connect(lambda r, _c: self._row_clicked(self.rec_table, state.project.recoveries, r))
        state.on_change(lambda topic: self.refresh() if topic in ("project", "results") else None)
        self.refresh()

    def _tab(self, kind: str, plot, table) -> QWidget:
        top = QHBoxLayout()
        hint = self.hints[kind] = QLabel()  # the click hint, or what to do while the tab is empty (_show_hint)
        hint.setWordWrap(True)
        top.addWidget(hint, 1)
        top.addWidget(self._export_button(kind))
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(plot)
        split.addWidget(table)
        split.setChildrenCollapsible(False)
        tab = QWidget()
        v = QVBoxLayout(tab)
        v.addLayout(top)
        v.addWidget(split, 1)
        return tab

    def _show_hint(self, kind: str, empty: bool) -> None:
        self.hints[kind].setText(
            EMPTY_HINTS[kind]
            if empty
            else "Click a row to see its defect map in the crossbar view; click a header to sort."
        )

    def _export_button(self, kind: str) -> QPushButton:
        # a push button keeps room for its menu arrow beside the text (a tool button draws it over the text)
        b = QPushButton("Export")
        b.setToolTip(f"save the {kind} table as CSV or the figure as PNG, SVG or PDF")
        b.setAutoDefault(False)
        menu = QMenu(b)
        menu.addAction("Table as CSV…", lambda: self._export_dialog(kind, "csv"))
        for fmt in figure_export.FORMATS:
            menu.addAction(f"Figure as {fmt.upper()}…", lambda fmt=fmt: self._export_dialog(kind, fmt))
        b.setMenu(menu)
        return b

    # ---- the sweep tab (kept here under the names scripts and tests use) -------------------------------
    @property
    def sweep_box(self):
        return self.sweep_view.box

    @property
    def sweep_array(self):
        return self.sweep_view.array

    @property
    def sweep_plot(self):
        return self.sweep_view.plot

    @property
    def sweep_curves(self) -> dict:
        return self.sweep_view.curves

    @property
    def sweep_errors(self) -> dict:
        return self.sweep_view.errors

    @property
    def sweep_offsets(self) -> dict:
        return self.sweep_view.offsets

    def current_sweep(self):
        return self.sweep_view.current_sweep()

    def draw_sweep(self) -> None:
        self.sweep_view.draw()

    # ---- refresh -------------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.sweep_view.refresh()
        self.draw_simulations()
        self.draw_recoveries()

    def draw_simulations(self) -> None:
        p = self.state.project
        for item in self._sim_items:
            self.sim_plot.removeItem(item)
        self._sim_items = []
        self.sim_legend.clear()
        chart = self.sim_chart = rv.simulation_chart(p.results, p)
        used: set[int] = set()
        for c, (name, fid) in enumerate(zip(chart.conditions, chart.condition_fidelity)):
            # each fidelity has its colour; a second condition of one fidelity (other wires) takes a free one
            ci = FIDELITY_COLORS.get(fid, 3)
            if ci in used:
                ci = next(i for i in range(len(PALETTE)) if i not in used and i not in FIDELITY_COLORS.values())
            used.add(ci)
            bars = [b for b in chart.bars if b.condition == c]
            acc, y = np.array([b.accuracy for b in bars]), np.array([b.y for b in bars])
            lo, hi = np.array([b.lo for b in bars]), np.array([b.hi for b in bars])
            item = pg.BarGraphItem(x0=0, y=y, width=acc, height=0.9 * chart.thickness, brush=color(ci), pen="k")
            err = pg.ErrorBarItem(
                x=acc, y=y, left=np.nan_to_num(acc - lo), right=np.nan_to_num(hi - acc),
                beam=0.5 * chart.thickness, pen=pg.mkPen("k"),
            )  # fmt: skip
            for it in (item, err):
                self.sim_plot.addItem(it)
                self._sim_items.append(it)
            self.sim_legend.addItem(pg.ScatterPlotItem(symbol="s", size=10, brush=color(ci), pen="k"), name)
        self.sim_plot.getAxis("left").setTicks([list(enumerate(chart.groups))])
        if chart.groups:
            self.sim_plot.setYRange(-0.5, len(chart.groups) - 0.5, padding=0)
        rows = rt.simulation_table(p)
        _fill(self.sim_table, rt.simulation_cells(rows), [r["id"] for r in rows])
        self._show_hint("simulations", not rows)

    def draw_recoveries(self) -> None:
        rec = self.state.project.recoveries
        self._show_hint("recovery", not rec)
        x = np.arange(len(rec), dtype=float)
        before = np.array([r.before for r in rec], dtype=float)
        after = np.array([r.after for r in rec], dtype=float)
        self.rec_before.setOpts(x=x - 0.18, height=before, width=0.35)
        self.rec_after.setOpts(x=x + 0.18, height=after, width=0.35)
        ci = np.array([rt.recovery_interval(r, w) for w in ("before", "after") for r in rec], dtype=float)
        ci = ci.reshape(-1, 2)
        ys = np.concatenate([before, after])
        self.rec_errors.setData(
            x=np.concatenate([x - 0.18, x + 0.18]), y=ys, top=np.nan_to_num(ci[:, 1] - ys),
            bottom=np.nan_to_num(ys - ci[:, 0]), beam=0.12,
        )  # fmt: skip
        if len(rec):
            self.rec_plot.setXRange(-0.6, len(rec) - 0.4, padding=0)
        ticks = [(i, f"{r.method}\n{rv.scenario_label(r)}") for i, r in enumerate(rec)]
        self.rec_plot.getAxis("bottom").setTicks([ticks])
        rows = rt.recovery_table(self.state.project)
        _fill(self.rec_table, rt.recovery_cells(rows), [r["id"] for r in rows])

    def _row_clicked(self, table: QTableWidget, results, row: int) -> None:
        item = table.item(row, 0)
        rid = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        result = next((r for r in results if r.id == rid), None)
        if result is not None:
            defects, label = rv.simulation_defects(self.state.project, result)
            self.defects_selected.emit(defects, label)

    def sim_accuracies(self) -> np.ndarray:
        """Bar lengths of the simulation chart, in the order of the results they show (for tests and scripts)."""
        return np.array([b.accuracy for b in sorted(self.sim_chart.bars, key=lambda b: b.result)], dtype=float)

    # ---- export --------------------------------------------------------------------------------------
    def table_rows(self, kind: str) -> tuple[tuple, list[dict]]:
        """(columns, rows) of the CSV of ``kind`` (``sweep``: the sweep selected above the plot, every row)."""
        p = self.state.project
        if kind == "sweep":
            sweep = self.current_sweep()
            return rv.SWEEP_COLUMNS, rt.sweep_table(sweep, p) if sweep is not None else []
        if kind == "simulations":
            return rv.SIM_COLUMNS, rt.simulation_table(p)
        if kind == "recovery":
            return rv.REC_COLUMNS, rt.recovery_table(p)
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")

    def export_table(self, kind: str, path: str) -> str:
        """Write the table of ``kind`` as CSV; returns the path written."""
        columns, rows = self.table_rows(kind)
        return rt.write_csv(path, columns, rows)

    def plot_of(self, kind: str) -> pg.PlotWidget:
        return {"sweep": self.sweep_plot, "simulations": self.sim_plot, "recovery": self.rec_plot}[kind]

    def export_figure(self, kind: str, path: str, fmt: str = "") -> str:
        """Write the figure of ``kind`` as PNG, SVG or PDF (``fmt`` or the suffix of ``path``)."""
        return figure_export.export_plot(self.plot_of(kind), path, fmt)

    def _export_dialog(self, kind: str, fmt: str) -> None:
        stem = os.path.splitext(os.path.basename(self.state.path or "project"))[0]
        sweep = self.current_sweep()
        name = f"{stem}-{sweep.id if kind == 'sweep' and sweep else kind}.{fmt}"
        start = os.path.join(os.path.dirname(self.state.path), name) if self.state.path else name
        path, _ = QFileDialog.getSaveFileName(self, f"Export {kind} as {fmt.upper()}", start, f"*.{fmt}")
        if not path:
            return
        try:
            written = self.export_table(kind, path) if fmt == "csv" else self.export_figure(kind, path, fmt)
            self.message.info(f"wrote {written}")
        except OSError as e:
            self.message.error(f"could not write {path}: {e.strerror or e}")
