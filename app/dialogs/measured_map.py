"""File > Import measured map…: a measured resistance map of one array, classified by thresholds the user picks on
its histogram, added to the project as a scenario (the map and thresholds are kept for provenance).

All arithmetic is :mod:`core.model.measured`'s; this dialog only shows it. Text from the file (its name, values)
is shown as plain text.
"""

from __future__ import annotations

import math
import os
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from app.presenters.document import WorkbenchState
from app.widgets import OVERLAY_RGBA, MessageLabel
from core.errors import WorkbenchError
from core.model import measured
from core.model.defects import parse_resistance


def _ohm_text(r: float) -> str:
    for div, suffix in ((1e9, "g"), (1e6, "meg"), (1e3, "k")):
        if r >= div:
            return f"{r / div:.4g}{suffix}"
    return f"{r:.4g}"


class MeasuredMapDialog(QDialog):
    """Pick a map file, its unit and array; drag the two thresholds on the histogram; Add scenario."""

    def __init__(self, state: WorkbenchState, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import measured map")
        self.state = state
        self.resistance: Optional[np.ndarray] = None
        self.result_map: Optional[measured.MeasuredMap] = None

        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText(".npy, .csv or .txt matrix, one value per cell")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        self.unit = QComboBox()
        self.unit.addItems(list(measured.UNITS))
        self.array = QSpinBox()
        self.array.setRange(1, max(1, state.n_arrays))
        self.name_edit = QLineEdit()
        self.on_edit = QLineEdit()
        self.off_edit = QLineEdit()
        self.on_edit.setToolTip("cells at or below this resistance are stuck on (e.g. 5k)")
        self.off_edit.setToolTip("cells at or above this resistance are stuck off (e.g. 2meg)")
        form = QFormLayout()
        form.addRow("Map file", path_row)
        form.addRow("Unit", self.unit)
        form.addRow("Array", self.array)
        form.addRow("Scenario name", self.name_edit)
        thr = QHBoxLayout()
        thr.addWidget(QLabel("stuck on <="))
        thr.addWidget(self.on_edit)
        thr.addWidget(QLabel("ohm;  stuck off >="))
        thr.addWidget(self.off_edit)
        thr.addWidget(QLabel("ohm"))
        form.addRow("Thresholds", thr)

        self.hist = pg.PlotWidget()
        self.hist.setBackground("w")
        self.hist.setLabel("bottom", "resistance (ohm, log scale)")
        self.hist.setLabel("left", "cells")
        self.hist.setLogMode(x=True, y=False)
        self.hist.getAxis("bottom").enableAutoSIPrefix(False)  # ohm on a log axis: no "x1e+09" scale
        self.hist.setMinimumHeight(160)
        self.curve = self.hist.plot([], [], stepMode="center", fillLevel=0, brush=(120, 120, 120, 120), pen="k")
        self.on_line = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(OVERLAY_RGBA[1][:3], width=2))
        self.off_line = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(OVERLAY_RGBA[2][:3], width=2))
        for line in (self.on_line, self.off_line):
            self.hist.addItem(line)
            line.setVisible(False)  # until a map is read
            line.sigPositionChangeFinished.connect(self._line_moved)

        self.map_view = pg.PlotWidget()
        self.map_view.setBackground("w")
        self.map_view.invertY(True)
        self.map_view.setMinimumHeight(160)
        self.map_view.setLabel("bottom", "column")
        self.map_view.setLabel("left", "row")
        self.map_image = pg.ImageItem(axisOrder="row-major")
        self.map_view.addItem(self.map_image)

        self.stats = QLabel()
        self.stats.setTextFormat(Qt.TextFormat.PlainText)
        self.stats.setWordWrap(True)
        self.message = MessageLabel()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.add_button = self.buttons.addButton("Add scenario", QDialogButtonBox.ButtonRole.AcceptRole)
        self.add_button.setEnabled(False)
        self.buttons.accepted.connect(self.add)
        self.buttons.rejected.connect(self.reject)

        plots = QHBoxLayout()
        plots.addWidget(self.hist, 3)
        plots.addWidget(self.map_view, 2)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(plots, 1)
        lay.addWidget(self.stats)
        lay.addWidget(self.message)
        lay.addWidget(self.buttons)
        self.resize(760, 520)

        self.path_edit.editingFinished.connect(self.read)
        self.unit.currentTextChanged.connect(lambda _t: self.read())
        self.array.valueChanged.connect(lambda _v: self.update_preview())
        self.on_edit.editingFinished.connect(self.update_preview)
        self.off_edit.editingFinished.connect(self.update_preview)

    def keyPressEvent(self, event) -> None:
        # Enter in a field reads the file or reclassifies (the field's editingFinished); it never adds the
        # scenario behind the user's back: only the Add scenario button does
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            return
        super().keyPressEvent(event)

    # ---- input -----------------------------------------------------------------------------------------
    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Measured map", "", "Maps (*.npy *.csv *.txt)")
        if path:
            self.path_edit.setText(path)
            self.read()

    def read(self) -> bool:
        """Read the file in the chosen unit; thresholds default to half the LRS and twice the HRS."""
        path = self.path_edit.text().strip()
        self.resistance = None
        self.add_button.setEnabled(False)
        if not path:
            return False
        try:
            self.resistance = measured.load_map_file(path, self.unit.currentText())
        except WorkbenchError as e:
            self.message.error(str(e))
            self.curve.setData([], [])
            self.map_image.clear()
            self.on_line.setVisible(False)
            self.off_line.setVisible(False)
            self.stats.setText("")
            return False
        if not self.name_edit.text().strip():
            self.name_edit.setText(os.path.splitext(os.path.basename(path))[0][:80])
        m = self.state.project.mapped
        if m is not None and not (self.on_edit.text().strip() and self.off_edit.text().strip()):
            on, off = measured.suggest_thresholds(self.resistance, m.device.r_on_ohm, m.device.r_off_ohm)
            self.on_edit.setText(_ohm_text(on))
            self.off_edit.setText(_ohm_text(off))
        counts, edges = measured.log_histogram(self.resistance)
        self.curve.setData(edges, counts)
        self.hist.autoRange()
        return self.update_preview()

    def thresholds(self) -> tuple[float, float]:
        """(on_below_ohm, off_above_ohm) from the two fields; raises WorkbenchError naming the field."""
        vals = []
        for edit, label in ((self.on_edit, "stuck-on threshold"), (self.off_edit, "stuck-off threshold")):
            try:
                vals.append(parse_resistance(edit.text()))
            except WorkbenchError:
                raise WorkbenchError(
                    f"{label}: must be a resistance in [1, 1e12] ohm such as 5k, 1.5meg or 2e5; got {edit.text()!r}"
                ) from None
        measured.check_thresholds(vals[0], vals[1])
        return vals[0], vals[1]

    def _line_moved(self) -> None:
        # under the histogram's log x axis the lines sit at log10(ohm)
        self.on_edit.setText(_ohm_text(10 ** self.on_line.value()))
        self.off_edit.setText(_ohm_text(10 ** self.off_line.value()))
        self.update_preview()

    # ---- output ----------------------------------------------------------------------------------------
    def update_preview(self) -> bool:
        """Classify with the thresholds and show the map and its statistics; False (message shown) if invalid."""
        self.add_button.setEnabled(False)
        if self.resistance is None:
            return False
        try:
            on_below, off_above = self.thresholds()
        except WorkbenchError as e:
            self.message.error(str(e))
            return False
        for line, value in ((self.on_line, on_below), (self.off_line, off_above)):
            line.setValue(math.log10(value))
            line.setVisible(True)
        on, off = measured.classify(self.resistance, on_below, off_above)
        codes = np.zeros(self.resistance.shape, dtype=np.uint8)
        codes[on], codes[off] = 1, 2
        rgba = np.array([(200, 200, 200, 255), OVERLAY_RGBA[1][:3] + (255,), OVERLAY_RGBA[2][:3] + (255,)], np.uint8)
        self.map_image.setImage(rgba[codes], autoLevels=False)
        self.map_view.autoRange()
        s = measured.defect_statistics(on | off)
        self.stats.setText(
            f"{self.resistance.shape[0]} x {self.resistance.shape[1]} cells: {int(on.sum())} stuck on, "
            f"{int(off.sum())} stuck off ({100 * s.fraction:.1f} %); {s.n_clusters} clusters, largest "
            f"{s.cluster_sizes[0] if s.cluster_sizes else 0}; on mostly defective rows "
            f"{100 * s.on_mostly_defective_rows:.0f} %, columns {100 * s.on_mostly_defective_columns:.0f} %; "
            f"looks like: {s.verdict}"
        )
        want = self.state.shape(self.array.value())
        if want is None:
            self.message.error("No mapped network: train or open a project before importing a map.")
            return False
        if tuple(want) != self.resistance.shape:
            self.message.error(
                f"map: has shape {self.resistance.shape}, array {self.array.value()} is {want[0]} rows x {want[1]} "
                "columns; pick the array it was measured on"
            )
            return False
        self.message.clear_message()
        self.add_button.setEnabled(True)
        return True

    def add(self) -> Optional[measured.MeasuredMap]:
        """Add the classified map as a scenario (undoable) and close; None (message shown) if invalid."""
        if not self.update_preview():
            return None
        name = self.name_edit.text().strip()
        try:
            on_below, off_above = self.thresholds()
            m = measured.MeasuredMap(
                name,
                self.array.value(),
                self.resistance,
                on_below,
                off_above,
                self.unit.currentText(),
                os.path.basename(self.path_edit.text().strip()),
            )
            self.state.import_measured(m)
        except WorkbenchError as e:
            self.message.error(str(e))
            return None
        self.result_map = m
        self.accept()
        return m
