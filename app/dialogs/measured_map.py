"""File > Import measured map…: a measured resistance map of one array, one tile or the whole die, classified by
thresholds the user picks on its histogram, added to the project as a scenario (the map and thresholds are kept for
provenance). The stored maps' statistics can be shown again (Map statistics).

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
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from app.presenters.document import MeasuredCommand, WorkbenchState
from app.widgets import OVERLAY_RGBA, MessageLabel, cut
from core.errors import WorkbenchError
from core.model import measured
from core.model.defects import parse_resistance
from core.model.floorplan import die_map_layout

SCOPES = ("One array", "One tile of an array", "Whole die")
ARRAY, TILE, DIE = range(3)
VALUE_RGBA = (230, 170, 0, 255)  # stuck at its measured value (amber: neither the on nor the off colour)


def _ohm_text(r: float) -> str:
    for div, suffix in ((1e9, "g"), (1e6, "meg"), (1e3, "k")):
        if r >= div:
            return f"{r / div:.4g}{suffix}"
    return f"{r:.4g}"


def _resistance(edit, why: str) -> float:
    """The resistance in a text field (ohm), or a WorkbenchError saying ``why`` and what the field holds."""
    try:
        return parse_resistance(edit.text())
    except WorkbenchError:
        raise WorkbenchError(f"{why}; got {edit.text()!r}") from None


class MeasuredMapDialog(QDialog):
    """Pick a map file, its unit and array; drag the two thresholds on the histogram; Add scenario."""

    def __init__(self, state: WorkbenchState, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import measured map")
        self.state = state
        self.resistance: Optional[np.ndarray] = None  # as read (a die map's empty corners unchecked)
        self.result_map: Optional[measured.MeasuredMap] = None
        self.candidate: Optional[measured.MeasuredMap] = None  # the map as the fields classify it now
        self.name_typed = False  # the user typed a name: keep it; else the name follows the file

        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText(".npy, .csv or .txt matrix, one value per cell")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        self.unit = QComboBox()
        self.unit.addItems(list(measured.UNITS))
        self.scope = QComboBox()
        self.scope.addItems(list(SCOPES))
        self.scope.setToolTip(
            "Whole die: one matrix of every array's tiles side by side, without the gaps between them (README)"
        )
        self.array = QSpinBox()
        self.array.setRange(1, max(1, state.n_arrays))
        self.tile = QSpinBox()
        self.tile.setPrefix("tile ")
        self.tile.setEnabled(False)
        where = QHBoxLayout()
        where.addWidget(self.scope, 1)
        where.addWidget(self.array)
        where.addWidget(self.tile)
        self.name_edit = QLineEdit()
        self.on_edit = QLineEdit()
        self.off_edit = QLineEdit()
        self.on_edit.setToolTip("cells at or below this resistance are stuck on (e.g. 5k)")
        self.off_edit.setToolTip("cells at or above this resistance are stuck off (e.g. 2meg)")
        form = QFormLayout()
        form.addRow("Map file", path_row)
        form.addRow("Unit", self.unit)
        form.addRow("Measured on", where)
        form.addRow("Scenario name", self.name_edit)
        thr = QHBoxLayout()
        thr.addWidget(QLabel("stuck on <="))
        thr.addWidget(self.on_edit)
        thr.addWidget(QLabel("ohm;  stuck off >="))
        thr.addWidget(self.off_edit)
        thr.addWidget(QLabel("ohm"))
        form.addRow("Thresholds", thr)
        self.band_check = QCheckBox("stuck at the measured value between")
        self.band_lo_edit = QLineEdit()
        self.band_hi_edit = QLineEdit()
        band = QHBoxLayout()
        band.addWidget(self.band_check)
        band.addWidget(self.band_lo_edit)
        band.addWidget(QLabel("and"))
        band.addWidget(self.band_hi_edit)
        band.addWidget(QLabel("ohm"))
        self.band_check.setToolTip(
            "cells in this band (far from both programmed states) keep their measured resistance, within 1 %"
        )
        form.addRow("Value band", band)

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
        # the value band: shown, not dragged (its two fields set it)
        band_pen = pg.mkPen(VALUE_RGBA[:3], width=2, style=Qt.PenStyle.DashLine)
        self.band_lines = [pg.InfiniteLine(angle=90, movable=False, pen=band_pen) for _ in range(2)]
        for line in self.band_lines:
            self.hist.addItem(line)
            line.setVisible(False)

        self.map_view = pg.PlotWidget()
        self.map_view.setBackground("w")
        self.map_view.invertY(True)
        self.map_view.setMinimumHeight(160)
        self.map_view.setLabel("bottom", "column")
        self.map_view.setLabel("left", "row")
        # fixed text (no file content): red stuck on, blue stuck off, amber stuck at its value, white no device
        self.map_view.setTitle("red: stuck on, blue: stuck off, amber: at its value", size="8pt", color="k")
        self.map_image = pg.ImageItem(axisOrder="row-major")
        self.map_view.addItem(self.map_image)

        self.stats = QLabel()
        self.stats.setTextFormat(Qt.TextFormat.PlainText)
        self.stats.setWordWrap(True)
        self.message = MessageLabel()
        self.stored_box = QComboBox()
        self.stored_button = QPushButton("Map statistics")
        self.stored_button.setToolTip("the defect statistics of the stored map, per tile for a whole-die map")
        self.stored_button.clicked.connect(self.show_map_statistics)
        self.stored_text = QPlainTextEdit()
        self.stored_text.setReadOnly(True)
        self.stored_text.setMaximumHeight(90)
        self.stored_text.setVisible(False)
        stored = QHBoxLayout()
        stored.addWidget(QLabel("Stored maps"))
        stored.addWidget(self.stored_box, 1)
        stored.addWidget(self.stored_button)
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
        lay.addLayout(stored)
        lay.addWidget(self.stored_text)
        lay.addWidget(self.buttons)
        self.resize(760, 560)
        self._fill_stored()
        self._update_tiles()

        self.path_edit.editingFinished.connect(self.read)
        self.unit.currentTextChanged.connect(lambda _t: self.read())
        self.scope.currentIndexChanged.connect(lambda _i: self._scope_changed())
        self.array.valueChanged.connect(lambda _v: self._scope_changed())
        self.tile.valueChanged.connect(lambda _v: self.update_preview())
        self.name_edit.textEdited.connect(lambda t: setattr(self, "name_typed", bool(t.strip())))
        for edit in (self.on_edit, self.off_edit, self.band_lo_edit, self.band_hi_edit):
            edit.editingFinished.connect(self.update_preview)
        self.band_check.toggled.connect(lambda _b: self.update_preview())

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
            # checked against what it was measured on in update_preview (a die map's empty corners may hold anything)
            self.resistance = measured.load_map_file(path, self.unit.currentText(), checked=False)
        except WorkbenchError as e:
            self.message.error(str(e))
            self.curve.setData([], [])
            self.map_image.clear()
            self.on_line.setVisible(False)
            self.off_line.setVisible(False)
            self.stats.setText("")
            return False
        if not self.name_typed:  # a name the user typed stays; otherwise it follows the file
            self.name_edit.setText(os.path.splitext(os.path.basename(path))[0][:80])
        m = self.state.project.mapped
        if m is not None and not (self.on_edit.text().strip() and self.off_edit.text().strip()):
            on, off = measured.suggest_thresholds(self.resistance, m.device.r_on_ohm, m.device.r_off_ohm)
            self.on_edit.setText(_ohm_text(on))
            self.off_edit.setText(_ohm_text(off))
        self._new_file = True  # the histogram's range follows the next valid preview
        return self.update_preview()

    def thresholds(self) -> tuple[float, float]:
        """(on_below_ohm, off_above_ohm) from the two fields; raises WorkbenchError naming the field."""
        on, off = (
            _resistance(edit, f"{label}: must be a resistance in [1, 1e12] ohm such as 5k, 1.5meg or 2e5")
            for edit, label in ((self.on_edit, "stuck-on threshold"), (self.off_edit, "stuck-off threshold"))
        )
        measured.check_thresholds(on, off)
        return on, off

    def band(self) -> Optional[tuple[float, float]]:
        """The value band from its two fields when ticked (None otherwise); raises WorkbenchError naming it."""
        if not self.band_check.isChecked():
            return None
        why = "value band: must be two resistances such as 150k and 250k"
        return _resistance(self.band_lo_edit, why), _resistance(self.band_hi_edit, why)

    def _scope_changed(self) -> None:
        self._update_tiles()
        self.update_preview()

    def _update_tiles(self) -> None:
        scope = self.scope.currentIndex()
        self.array.setEnabled(scope != DIE)
        self.tile.setEnabled(scope == TILE)
        m = self.state.project.mapped
        n = 1
        if m is not None and 1 <= self.array.value() <= len(m.arrays):
            n = m.arrays[self.array.value() - 1].n_tiles
        self.tile.setRange(0, max(0, n - 1))

    def build_map(self) -> measured.MeasuredMap:
        """The map as the fields say now (checked against the project: shape, tile, thresholds, band)."""
        mapped = self.state.project.mapped
        if mapped is None:
            raise WorkbenchError("No mapped network: train or open a project before importing a map.")
        if self.resistance is None:
            raise WorkbenchError("map: read a map file first")
        on_below, off_above = self.thresholds()
        scope = self.scope.currentIndex()
        array = measured.DIE if scope == DIE else self.array.value()
        tile = self.tile.value() if scope == TILE else None
        want, text = measured.expected_shape(mapped, array, tile)
        if tuple(self.resistance.shape) != want:
            raise WorkbenchError(
                f"map: has shape {tuple(self.resistance.shape)}, {text}; pick the array, tile or whole die it "
                "was measured on"
            )
        m = measured.MeasuredMap(
            self.name_edit.text().strip(),
            array,
            self.resistance,
            on_below,
            off_above,
            self.unit.currentText(),
            os.path.basename(self.path_edit.text().strip()),
            tile,
            self.band(),
            tuple(die_map_layout(mapped)) if scope == DIE else (),
        )
        measured.check_fits(mapped, m)
        return m

    def _line_moved(self) -> None:
        # under the histogram's log x axis the lines sit at log10(ohm)
        self.on_edit.setText(_ohm_text(10 ** self.on_line.value()))
        self.off_edit.setText(_ohm_text(10 ** self.off_line.value()))
        self.update_preview()

    # ---- output ----------------------------------------------------------------------------------------
    def update_preview(self) -> bool:
        """Classify with the thresholds and show the map and its statistics; False (message shown) if invalid."""
        self.add_button.setEnabled(False)
        self.candidate = None
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
        try:
            m = self.build_map()
        except WorkbenchError as e:
            self.message.error(str(e))
            self.curve.setData([], [])
            self.map_image.clear()
            self.stats.setText("")
            return False
        counts, edges = measured.log_histogram(m.resistance_ohm)
        self.curve.setData(edges, counts)
        for line, ohm in zip(self.band_lines, m.band_ohm or ()):
            line.setValue(math.log10(ohm))
        for line in self.band_lines:
            line.setVisible(m.band_ohm is not None)
        if getattr(self, "_new_file", False):
            self.hist.autoRange()
            self._new_file = False
        on, off = m.masks()
        at_value = m.value_mask()
        codes = np.zeros(m.shape, dtype=np.uint8)
        codes[on], codes[off], codes[at_value] = 1, 2, 3
        codes[~m.device_cells()] = 4  # a die map's corners without a device
        rgba = np.array(
            [
                (200, 200, 200, 255),
                OVERLAY_RGBA[1][:3] + (255,),
                OVERLAY_RGBA[2][:3] + (255,),
                VALUE_RGBA,
                (255, 255, 255, 255),
            ],
            np.uint8,
        )
        self.map_image.setImage(rgba[codes], autoLevels=False)
        self.map_view.autoRange()
        s = m.statistics()
        band = f", {int(at_value.sum())} stuck at their value" if m.band_ohm is not None else ""
        where = f" on {m.where()}" if m.is_die else ""
        self.stats.setText(
            f"{m.shape[0]} x {m.shape[1]} cells{where}: {int(on.sum())} stuck on, "
            f"{int(off.sum())} stuck off{band} ({100 * s.fraction:.1f} %); {s.n_clusters} clusters, largest "
            f"{s.cluster_sizes[0] if s.cluster_sizes else 0}; on mostly defective rows "
            f"{100 * s.on_mostly_defective_rows:.0f} %, columns {100 * s.on_mostly_defective_columns:.0f} %; "
            f"looks like: {s.verdict}"
        )
        self.candidate = m
        self.message.clear_message()
        self.add_button.setEnabled(True)
        return True

    def add(self) -> Optional[measured.MeasuredMap]:
        """Add the classified map as a scenario (undoable) and close; None (message shown) if invalid."""
        if not self.update_preview() or self.candidate is None:
            return None
        m = self.candidate
        try:
            if m.is_die or m.tile is not None:
                # the same one undo step as import_measured, whose shape check is for whole arrays only;
                # build_map checked this map against the project (core.model.measured.check_fits)
                self.state.stack.push(MeasuredCommand(self.state, m))
            else:
                self.state.import_measured(m)
        except WorkbenchError as e:
            self.message.error(str(e))
            return None
        self.result_map = m
        self.accept()
        return m

    # ---- stored maps -----------------------------------------------------------------------------------
    def _fill_stored(self) -> None:
        self.stored_box.clear()
        for name in sorted(self.state.project.measured_maps):
            self.stored_box.addItem(cut(name), name)  # names from the file: cut for display, kept whole
        self.stored_box.setEnabled(self.stored_box.count() > 0)
        self.stored_button.setEnabled(self.stored_box.count() > 0)

    def show_map_statistics(self) -> str:
        """Show the defect statistics of the stored map picked in Stored maps (per tile for a die map)."""
        name = self.stored_box.currentData()
        m = self.state.project.measured_maps.get(name) if name is not None else None
        text = "" if m is None else m.statistics_text()
        self.stored_text.setPlainText(text)
        self.stored_text.setVisible(bool(text))
        return text
