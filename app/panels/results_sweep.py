"""The sweep tab of the results panel: accuracy vs defect size, filtered by pattern, stuck type and array.

Curves are drawn at their true sizes (optionally spread sideways for reading, never in an export), with a
colour x dash x symbol style unique among the visible curves, a tooltip and hover read-out per point, and a
click on a point that emits :attr:`SweepView.defects_selected` with its first placement.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.presenters import results_view as rv
from app.presenters.document import WorkbenchState
from app.widgets import MessageLabel, color, cut, outside_legend, plot_widget

DASH_STYLES = {
    "solid": Qt.PenStyle.SolidLine,
    "dash": Qt.PenStyle.DashLine,
    "dot": Qt.PenStyle.DotLine,
    "dashdot": Qt.PenStyle.DashDotLine,
}
HINT = "Hover over a point for n, mean and interval; click it to see its first placement in the crossbar view."


def combo() -> QComboBox:
    c = QComboBox()
    c.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    return c


class SweepView(QWidget):
    """Sweep selector, filters (default: all patterns and stuck types of the sweep's first array) and the plot."""

    defects_selected = Signal(object, str)

    def __init__(self, state: WorkbenchState, message: MessageLabel, export_button: QWidget, parent=None):
        super().__init__(parent)
        self.state, self.message = state, message
        self.curves: dict = {}  # (pattern, stuck, array) -> PlotDataItem
        self.errors: dict = {}  # (pattern, stuck, array) -> ErrorBarItem
        self.offsets: dict = {}  # (pattern, stuck, array) -> x shift of that curve (drawing only)
        self.styles: dict = {}  # (pattern, stuck, array) -> CurveStyle

        self.box = combo()
        self.box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.box.setMinimumContentsLength(24)
        self.pattern, self.stuck, self.array = combo(), combo(), combo()
        self.dodge = QCheckBox("spread CIs")
        self.dodge.setToolTip("shift curves sideways so their intervals do not overlap (drawing only)")
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.point = QLabel(HINT)
        self.point.setWordWrap(True)
        self.plot = plot_widget("Accuracy vs defect size (mean, 95 % CI)", "defect size (fraction)", "test accuracy")
        self.plot.setYRange(0, 1)
        self.legend = outside_legend(self.plot)
        row1 = QHBoxLayout()
        row1.addWidget(QLabel("Sweep"))
        row1.addWidget(self.box, 1)
        row1.addWidget(export_button)
        row2 = QHBoxLayout()
        for text, w in (("Pattern", self.pattern), ("Stuck", self.stuck), ("Array", self.array)):
            row2.addWidget(QLabel(text))
            row2.addWidget(w)
        row2.addWidget(self.dodge)
        row2.addStretch(1)
        v = QVBoxLayout(self)
        v.addLayout(row1)
        v.addLayout(row2)
        v.addWidget(self.plot, 1)
        v.addWidget(self.point)
        v.addWidget(self.info)

        self.box.currentIndexChanged.connect(lambda _i: self.sweep_changed())
        for w in (self.pattern, self.stuck, self.array):
            w.currentIndexChanged.connect(lambda _i: self.draw())
        self.dodge.toggled.connect(lambda _on: self.draw())

    def refresh(self) -> None:
        """List the project's sweeps (a sweep that just finished is selected) and redraw."""
        sweeps = self.state.project.sweeps
        known = {self.box.itemData(i) for i in range(self.box.count())}
        keep = self.box.currentData()
        new_ids = [s.id for s in sweeps if s.id not in known]
        if new_ids and known:
            keep = new_ids[-1]  # a sweep just finished: show it
        self.box.blockSignals(True)
        self.box.clear()
        for s in sweeps:
            self.box.addItem(cut(rv.sweep_title(s)), s.id)
            self.box.setItemData(
                self.box.count() - 1, ", ".join(s.spec.get("patterns", [])), Qt.ItemDataRole.ToolTipRole
            )
        ids = [s.id for s in sweeps]
        self.box.setCurrentIndex(ids.index(keep) if keep in ids else len(ids) - 1)
        self.box.blockSignals(False)
        self.sweep_changed()

    def current_sweep(self):
        sid = self.box.currentData()
        return next((s for s in self.state.project.sweeps if s.id == sid), None)

    def sweep_changed(self) -> None:
        """Fill the filters with the sweep's patterns, stuck types and arrays (kept where they still apply)."""
        sweep = self.current_sweep()
        patterns, stucks, arrays = rv.sweep_choices(sweep.rows) if sweep else ([], [], [])
        choices = (
            (self.pattern, [("all", rv.ALL), *((p, p) for p in patterns)], rv.ALL),
            (self.stuck, [("all", rv.ALL), *((s, s) for s in stucks)], rv.ALL),
            (self.array, [*((str(a), a) for a in arrays), ("all", rv.ALL)], arrays[0] if arrays else rv.ALL),
        )
        # the user's filter choices survive a refresh of the same sweep; another sweep starts at the defaults
        same = sweep is not None and getattr(self, "_filters_for", None) == sweep.id
        self._filters_for = sweep.id if sweep is not None else None
        for box, items, default in choices:
            keep = box.currentData() if same else default
            box.blockSignals(True)
            box.clear()
            for text, data in items:
                box.addItem(text, data)
            values = [d for _t, d in items]
            box.setCurrentIndex(values.index(keep) if keep in values else values.index(default))
            box.blockSignals(False)
        self.draw()

    def draw(self) -> None:
        for item in (*self.curves.values(), *self.errors.values()):
            self.plot.removeItem(item)
        self.legend.clear()
        self.curves, self.errors, self.offsets, self.styles = {}, {}, {}, {}
        sweep = self.current_sweep()
        if sweep is None:
            self.info.setText("No sweep in this project yet: run one from the simulation queue.")
            return
        pattern, stuck, array = (w.currentData() for w in (self.pattern, self.stuck, self.array))
        curves = rv.select_curves(sweep.rows, pattern, stuck, array)
        styles = rv.curve_styles([c.key for c in curves], sweep.rows)
        offsets, beam = rv.dodge_offsets(curves, self.dodge.isChecked())
        show_array = len({c.key[2] for c in curves}) > 1
        self.legend.setColumnCount(2 if len(curves) > 16 else 1)  # more would squeeze the plot
        for c in curves:
            st = styles[c.key]
            col = color(st.color)
            xs = c.size + offsets[c.key]  # zero unless "spread CIs" is on; never the sizes of an export
            curve = pg.PlotDataItem(
                xs, c.mean, pen=pg.mkPen(col, width=2, style=DASH_STYLES[st.dash]), symbol=st.symbol,
                symbolSize=9, symbolBrush=col, symbolPen=pg.mkPen(col), data=list(c.rows),
            )  # fmt: skip
            # PlotDataItem passes neither option on to its scatter, which reads both when hovered
            curve.scatter.opts["hoverable"] = True
            curve.scatter.opts["tip"] = lambda x, y, data, rows=sweep.rows: rv.point_text(rows[data])
            curve.sigPointsClicked.connect(self._clicked)
            curve.sigPointsHovered.connect(self._hovered)
            self.plot.addItem(curve)
            self.legend.addItem(curve, rv.curve_label(c.key, show_array))
            top = np.where(np.isnan(c.hi), 0.0, c.hi - c.mean)
            bottom = np.where(np.isnan(c.lo), 0.0, c.mean - c.lo)
            err = pg.ErrorBarItem(x=xs, y=c.mean, top=top, bottom=bottom, beam=beam, pen=pg.mkPen(col, width=1))
            self.plot.addItem(err)
            self.curves[c.key], self.errors[c.key], self.styles[c.key] = curve, err, st
        self.offsets = offsets
        spec = sweep.spec
        r_wire, model = rv.circuit_of(spec, self.state.project)
        self.info.setText(  # the spec comes from the file: plain text (app.widgets.PlainTextLabels), cut
            f"{cut(sweep.id)}: {cut(spec.get('fidelity'))}, {r_wire:g} Ω wires, {model} devices, {spec.get('n_seeds')} "
            f"placements per point, {len(sweep.rows)} points in {sweep.seconds:.1f} s"
            f"{' (partial: cancelled)' if sweep.partial else ''}; showing {len(curves)} of "
            f"{len(rv.select_curves(sweep.rows))} curves. Size means radius (circle), width (ring), kept radius "
            "(circle_complement), fraction of lines (rows/columns), period fraction (checkerboard) or fraction "
            "of cells (random)."
        )

    def _hovered(self, _item, points, _ev) -> None:
        sweep = self.current_sweep()
        if sweep is not None and len(points):
            self.point.setText(cut(rv.point_text(sweep.rows[points[0].data()]).replace("\n", " · "), 1000))

    def _clicked(self, _item, points, _ev) -> None:
        if len(points):
            self.select_point(int(points[0].data()))

    def select_point(self, row_index: int) -> None:
        """Emit :attr:`defects_selected` with the first placement of row ``row_index`` of the current sweep."""
        sweep = self.current_sweep()
        if sweep is None or not 0 <= row_index < len(sweep.rows):
            return
        row = sweep.rows[row_index]
        self.point.setText(cut(rv.point_text(row).replace("\n", " · "), 1000))
        shape = self.state.shape(int(row["array"]))
        if shape is None:
            self.message.error(f"array {row['array']} is not in this project's network")
            return
        defects, label = rv.sweep_point_defects(sweep, row, shape)
        self.defects_selected.emit(defects, label)
