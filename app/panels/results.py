"""Panel 5, results: accuracy vs defect size from a sweep (mean and 95 % CI), simulation results, recovery."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.presenters import forms
from app.presenters.document import WorkbenchState
from app.widgets import color, outside_legend, plot_widget

FIDELITY_COLORS = {"ideal": 7, "behavioral": 0, "nodal": 2, "spice": 1}


def _table(headers) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.verticalHeader().setVisible(False)
    t.verticalHeader().setDefaultSectionSize(22)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    return t


def _fill(table: QTableWidget, rows, formats: dict[int, str] | None = None) -> None:
    """Fill ``table``; floats as ``formats[column]`` (default ``.3f``)."""
    formats = formats or {}
    table.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            text = format(v, formats.get(j, ".3f")) if isinstance(v, float) else str(v)
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            table.setItem(i, j, item)


class ResultsPanel(QWidget):
    """Three tabs: sweep curves, simulation results (bars + table), recovery before/after (bars + table)."""

    title = "Results"

    def __init__(self, state: WorkbenchState, jobs=None, parent=None):
        super().__init__(parent)
        self.state = state
        self.sweep_curves: dict = {}  # (pattern, stuck, array) -> PlotDataItem
        self.sweep_errors: dict = {}  # (pattern, stuck, array) -> ErrorBarItem
        self.sweep_offsets: dict = {}  # (pattern, stuck, array) -> x shift of that curve (dodge)

        # --- sweep ----------------------------------------------------------------------------------
        self.sweep_box = QComboBox()
        self.sweep_array = QComboBox()
        self.sweep_info = QLabel()
        self.sweep_info.setWordWrap(True)
        self.sweep_plot = plot_widget(
            "Accuracy vs defect size (mean, 95 % CI)", "defect size (fraction)", "test accuracy"
        )
        self.sweep_plot.setYRange(0, 1)
        self.sweep_legend = outside_legend(self.sweep_plot)
        top = QHBoxLayout()
        top.addWidget(QLabel("Sweep"))
        top.addWidget(self.sweep_box, 1)
        top.addWidget(QLabel("Array"))
        top.addWidget(self.sweep_array)
        sweep_tab = QWidget()
        sv = QVBoxLayout(sweep_tab)
        sv.addLayout(top)
        sv.addWidget(self.sweep_plot, 1)
        sv.addWidget(self.sweep_info)

        # --- simulations ----------------------------------------------------------------------------
        self.sim_plot = plot_widget("Simulation results", "result", "test accuracy")
        self.sim_plot.setYRange(0, 1)
        self.sim_bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.sim_plot.addItem(self.sim_bars)
        legend = outside_legend(self.sim_plot, "9pt")
        for fid, c in FIDELITY_COLORS.items():  # legend samples only: a square marker per fidelity
            legend.addItem(pg.ScatterPlotItem(symbol="s", size=10, brush=color(c), pen="k"), fid)
        self.sim_table = _table(("id", "fidelity", "scenario", "accuracy", "seconds", "defects"))
        sim_tab = QSplitter(Qt.Orientation.Vertical)
        sim_tab.addWidget(self.sim_plot)
        sim_tab.addWidget(self.sim_table)

        # --- recovery -------------------------------------------------------------------------------
        self.rec_plot = plot_widget("Recovery: accuracy before and after", "recovery run", "test accuracy")
        self.rec_plot.setYRange(0, 1)
        # two-line tick labels (method, scenario): give the axis room so they clear the axis title
        self.rec_plot.getAxis("bottom").setHeight(58)
        self.rec_before = pg.BarGraphItem(x=[], height=[], width=0.35, brush=color(7))
        self.rec_after = pg.BarGraphItem(x=[], height=[], width=0.35, brush=color(2))
        self.rec_plot.addItem(self.rec_before)
        self.rec_plot.addItem(self.rec_after)
        legend = outside_legend(self.rec_plot, "9pt")
        for name, c in (("before", 7), ("after", 2)):
            legend.addItem(pg.ScatterPlotItem(symbol="s", size=10, brush=color(c), pen="k"), name)
        self.rec_table = _table(("id", "method", "fidelity", "scenario", "before", "after"))
        rec_tab = QSplitter(Qt.Orientation.Vertical)
        rec_tab.addWidget(self.rec_plot)
        rec_tab.addWidget(self.rec_table)

        self.tabs = QTabWidget()
        self.tabs.addTab(sweep_tab, "Sweeps")
        self.tabs.addTab(sim_tab, "Simulations")
        self.tabs.addTab(rec_tab, "Recovery")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        self.setMinimumSize(520, 400)

        self.sweep_box.currentIndexChanged.connect(lambda _i: self.draw_sweep())
        self.sweep_array.currentIndexChanged.connect(lambda _i: self.draw_sweep())
        state.on_change(lambda topic: self.refresh() if topic in ("project", "results") else None)
        self.refresh()

    # ---- refresh -------------------------------------------------------------------------------------
    def refresh(self) -> None:
        p = self.state.project
        known = {self.sweep_box.itemData(i) for i in range(self.sweep_box.count())}
        keep = self.sweep_box.currentData()
        new_ids = [s.id for s in p.sweeps if s.id not in known]
        if new_ids and known:
            keep = new_ids[-1]  # a sweep just finished: show it
        self.sweep_box.blockSignals(True)
        self.sweep_box.clear()
        for s in p.sweeps:
            pats = ",".join(s.spec.get("patterns", []))
            self.sweep_box.addItem(f"{s.id}: {pats} ({len(s.rows)} points{', partial' if s.partial else ''})", s.id)
        ids = [s.id for s in p.sweeps]
        self.sweep_box.setCurrentIndex(ids.index(keep) if keep in ids else len(ids) - 1)
        self.sweep_box.blockSignals(False)
        self.sweep_array.blockSignals(True)
        keep_a = self.sweep_array.currentText()
        self.sweep_array.clear()
        self.sweep_array.addItems(["all", *(str(a + 1) for a in range(self.state.n_arrays))])
        self.sweep_array.setCurrentText(keep_a or "all")
        self.sweep_array.blockSignals(False)
        self.draw_sweep()
        self.draw_simulations()
        self.draw_recoveries()

    def current_sweep(self):
        sid = self.sweep_box.currentData()
        return next((s for s in self.state.project.sweeps if s.id == sid), None)

    def draw_sweep(self) -> None:
        for item in (*self.sweep_curves.values(), *self.sweep_errors.values()):
            self.sweep_plot.removeItem(item)
        self.sweep_legend.clear()
        self.sweep_curves, self.sweep_errors, self.sweep_offsets = {}, {}, {}
        sweep = self.current_sweep()
        if sweep is None:
            self.sweep_info.setText("No sweep in this project yet: run one from the simulation queue.")
            return
        a = self.sweep_array.currentText()
        curves = forms.sweep_curves(sweep.rows, None if a in ("", "all") else int(a))
        n_arrays = len({k[2] for k in curves})
        offsets, beam = dodge_offsets(curves)
        self.sweep_legend.setColumnCount(2 if len(curves) > 16 else 1)  # more would squeeze the plot
        for i, (key, (x, mean, lo, hi)) in enumerate(curves.items()):
            pattern, stuck, array = key
            name = f"{pattern} {stuck}" + (f" (array {array})" if n_arrays > 1 else "")
            pen = pg.mkPen(color(i), width=2)
            xs = x + offsets[key]  # curves at the same sizes are shifted apart so their CI bars stay readable
            curve = self.sweep_plot.plot(xs, mean, pen=pen, symbol="o", symbolSize=6, symbolBrush=color(i))
            self.sweep_legend.addItem(curve, name)
            top = np.where(np.isnan(hi), 0.0, hi - mean)
            bottom = np.where(np.isnan(lo), 0.0, mean - lo)
            err = pg.ErrorBarItem(x=xs, y=mean, top=top, bottom=bottom, beam=beam, pen=pen)
            self.sweep_plot.addItem(err)
            self.sweep_curves[key], self.sweep_errors[key] = curve, err
        self.sweep_offsets = offsets
        spec = sweep.spec
        circuit = ""
        if "r_wire_ohm" in spec or "device_model" in spec:
            circuit = f", {spec.get('r_wire_ohm', 0):g} Ω wires, {spec.get('device_model', 'linear')} devices"
        self.sweep_info.setText(
            f"{sweep.id}: {spec.get('fidelity')}{circuit}, {spec.get('n_seeds')} placements per point, "
            f"{len(sweep.rows)} points in {sweep.seconds:.1f} s{' (partial: cancelled)' if sweep.partial else ''}. "
            "Size means radius (circle), width (ring), kept radius (circle_complement), fraction of lines "
            "(rows/columns), period fraction (checkerboard) or fraction of cells (random)."
        )

    def draw_simulations(self) -> None:
        res = self.state.project.results
        x = np.arange(len(res), dtype=float)
        acc = np.array([r.accuracy for r in res], dtype=float)
        brushes = [color(FIDELITY_COLORS.get(r.fidelity, 3)) for r in res]
        self.sim_bars.setOpts(x=x, height=acc, width=0.7, brushes=brushes)
        axis = self.sim_plot.getAxis("bottom")
        axis.setTicks([[(i, r.id.replace("run-", "")) for i, r in enumerate(res)]])
        if len(res):
            self.sim_plot.setXRange(-0.6, len(res) - 0.4, padding=0)
        _fill(
            self.sim_table,
            [
                (
                    r.id,
                    r.fidelity,
                    r.scenario or ("clean" if not r.defect_specs else "draft"),
                    float(r.accuracy),
                    float(r.seconds),
                    "; ".join(r.defect_specs),
                )
                for r in res
            ],
            {4: ".3g"},
        )  # fast behavioural runs take well under a millisecond

    def draw_recoveries(self) -> None:
        rec = self.state.project.recoveries
        x = np.arange(len(rec), dtype=float)
        self.rec_before.setOpts(x=x - 0.18, height=np.array([r.before for r in rec], dtype=float), width=0.35)
        self.rec_after.setOpts(x=x + 0.18, height=np.array([r.after for r in rec], dtype=float), width=0.35)
        self.rec_plot.getAxis("bottom").setTicks(
            [[(i, f"{r.method}\n{r.scenario or r.id}") for i, r in enumerate(rec)]]
        )
        if len(rec):
            self.rec_plot.setXRange(-0.6, len(rec) - 0.4, padding=0)
        _fill(self.rec_table, [(r.id, r.method, r.fidelity, r.scenario, float(r.before), float(r.after)) for r in rec])

    def sim_accuracies(self) -> np.ndarray:
        """Bar heights of the simulation chart (for tests and scripts)."""
        h = self.sim_bars.opts.get("height")
        return np.asarray([] if h is None else h, dtype=float)


def dodge_offsets(curves: dict) -> tuple[dict, float]:
    """({key: x shift}, error-bar beam width) so error bars of curves at the same sizes sit side by side.

    The shifts span 30 % of the smallest gap between sizes, centred on the true size.
    """
    xs = np.unique(np.concatenate([c[0] for c in curves.values()])) if curves else np.array([])
    gap = float(np.min(np.diff(xs))) if len(xs) > 1 else 0.1
    n = len(curves)
    step = 0.3 * gap / (n - 1) if n > 1 else 0.0
    offsets = {key: (i - (n - 1) / 2) * step for i, key in enumerate(curves)}
    return offsets, (min(0.15 * gap, 0.8 * step) if n > 1 else 0.15 * gap)
