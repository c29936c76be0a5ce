"""Panel 2, crossbar layout: one array's conductances (or weight errors) with the stuck cells on top.

The view is also the canvas of the defect editor's paint/erase tool: a mouse stroke stamps the brush on every
cell of the line between successive mouse positions and becomes one undoable ``mask`` edit on release. It can
also preview the defect map of a stored result, read-only. What is drawn and read out is computed by
:mod:`app.presenters.crossbar_view`; this module lays it out and forwards the mouse.

A tiled array (:mod:`core.model.tiling`) is drawn as its whole mosaic: thin lines between the tiles, the layer's
own cells outlined and the unused devices hatched, with a caption naming the tiling; :meth:`CrossbarPanel.show_tile`
zooms to one tile (the die view's ``tile_clicked``).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.panels.crossbar_canvas import CanvasImage
from app.presenters import crossbar_view as cv
from app.presenters.document import WorkbenchState
from app.widgets import (
    OVERLAY_NAMES,
    OVERLAY_RGBA,
    RICH_TEXT_PROPERTY,
    MessageLabel,
    overlay_image,
    stuck_r_gradient,
)
from core.errors import WorkbenchError
from core.model import tiling

PAINT_OFF, PAINT, ERASE = "off", "paint", "erase"
VIEW_CONDUCTANCE, VIEW_WEIGHT_ERROR = "conductance", "weight-error"
HOVER_HINT = "Hover over a cell to read what it holds."
_LABELS = {
    VIEW_CONDUCTANCE: ("column (G+ / G- pairs)", "row (inputs, bias last)", "conductance (µS)", "viridis"),
    VIEW_WEIGHT_ERROR: ("neuron", "input (bias last)", "effective - programmed weight", "CET-D1"),
}
TILE_LINE_PEN = pg.mkPen((255, 255, 255, 235), width=1.5)  # between tiles: over any viridis colour
USED_OUTLINE_PEN = pg.mkPen((255, 0, 220), width=2, style=Qt.PenStyle.DashLine)  # the layer's own cells


class CrossbarPanel(QWidget):
    """Conductance or weight-error image of array 1-4 with the defect overlay, a hover read-out and a brush."""

    title = "Crossbar layout"
    array_changed = Signal(int)

    def __init__(self, state: WorkbenchState, jobs=None, parent=None):
        super().__init__(parent)
        self.state = state
        self.paint_mode, self.paint_stuck, self.paint_ohm = PAINT_OFF, "on", 0.0
        self.view_mode = VIEW_CONDUCTANCE
        self._stroke: Optional[np.ndarray] = None
        self._last_cell: Optional[tuple[int, int]] = None
        self._preview: Optional[tuple[list, str]] = None
        self._readout: Optional[cv.ArrayReadout] = None
        self._codes = np.zeros((0, 0), dtype=np.uint8)
        self._grid_shape: Optional[tuple[int, int]] = None
        self._hover_cell: Optional[tuple[int, int]] = None  # re-read after an edit under a still mouse

        self.array_box = QComboBox()
        self.info = QLabel()
        self.info.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Array"))
        top.addWidget(self.array_box)
        top.addWidget(self.info, 1)
        self.tile_caption = QLabel()  # a tiled array's tiling (tiling.describe) and what the hatched cells are
        self.tile_caption.setWordWrap(True)
        self.tile_caption.setTextFormat(Qt.TextFormat.PlainText)
        self.tile_caption.hide()

        self.view_buttons = QButtonGroup(self)
        tools = QHBoxLayout()
        tools.addWidget(QLabel("View"))
        for i, (text, mode) in enumerate((("Conductance", VIEW_CONDUCTANCE), ("Weight error", VIEW_WEIGHT_ERROR))):
            b = QPushButton(text)
            b.setCheckable(True)
            b.setProperty("mode", mode)
            b.setToolTip("programmed conductances" if i == 0 else "effective minus programmed weight of each pair")
            self.view_buttons.addButton(b, i)
            tools.addWidget(b)
        self.view_buttons.button(0).setChecked(True)
        tools.addSpacing(12)
        tools.addWidget(QLabel("Brush"))
        self.brush_size = QSpinBox()
        self.brush_size.setRange(cv.BRUSH_MIN, cv.BRUSH_MAX)
        self.brush_size.setSingleStep(2)
        self.brush_size.setToolTip(f"brush width in cells, odd from {cv.BRUSH_MIN} to {cv.BRUSH_MAX}")
        self.brush_shape = QComboBox()
        self.brush_shape.addItems(cv.BRUSH_SHAPES)
        self.reset_button = QPushButton("Reset view")
        self.reset_button.setToolTip("show the whole array (wheel: zoom, middle or left drag: pan)")
        tools.addWidget(self.brush_size)
        tools.addWidget(self.brush_shape)
        tools.addStretch(1)
        tools.addWidget(self.reset_button)

        self.legend = QLabel(
            "  ".join(
                f'<span style="color: rgb{c[:3]}">&#9632;</span> {n}'
                for c, n in zip(OVERLAY_RGBA[1:3], OVERLAY_NAMES[1:3])
            )
        )
        self.legend.setProperty(RICH_TEXT_PROPERTY, True)  # our own markup; every other label is plain text
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.r_legend = QLabel()
        self.r_gradient = QLabel()
        self.r_gradient.setPixmap(stuck_r_gradient())
        self.r_high = QLabel()
        self.legend_row = QWidget()  # the overlay's key: hidden in the weight-error view, which has no overlay
        legend_row = QHBoxLayout(self.legend_row)
        legend_row.setContentsMargins(0, 0, 0, 0)
        for w in (self.legend, self.r_legend, self.r_gradient, self.r_high):
            legend_row.addWidget(w)
        legend_row.addStretch(1)

        self.preview_bar = QFrame()
        self.preview_bar.setStyleSheet("QFrame { background: #fff3c4; border: 1px solid #d9b100; }")
        self.preview_label = QLabel()
        self.preview_label.setWordWrap(True)
        self.preview_label.setStyleSheet("border: none; font-weight: bold;")
        self.draft_button = QPushButton("Back to draft")
        pb = QHBoxLayout(self.preview_bar)
        pb.setContentsMargins(6, 2, 6, 2)
        pb.addWidget(self.preview_label, 1)
        pb.addWidget(self.draft_button)
        self.preview_bar.hide()

        self.glw = pg.GraphicsLayoutWidget()
        self.plot = self.glw.addPlot()
        self.plot.invertY(True)
        self.plot.setAspectLocked(False)
        self.plot.hideButtons()  # the "A" button would autorange past the limits' intent; Reset view does it
        self.image = pg.ImageItem(axisOrder="row-major")
        self.unused_shade = pg.ImageItem(axisOrder="row-major")  # tiled: hatch over the unused devices
        self.overlay = CanvasImage(self)
        for item in (self.image, self.unused_shade, self.overlay):
            item.setPos(cv.CELL_OFFSET, cv.CELL_OFFSET)  # ticks on cell centres; item-local cell k is [k, k+1)
            self.plot.addItem(item)
        # tiled: the boundaries between tiles (segments across the mosaic) and the outline of the layer's cells,
        # above the images; neither takes the mouse, so hover, paint and pan reach the canvas as before
        self.tile_lines = pg.PlotCurveItem(connect="pairs", pen=TILE_LINE_PEN, antialias=False)
        self.used_frame = pg.PlotCurveItem(pen=USED_OUTLINE_PEN, antialias=False)
        for item in (self.tile_lines, self.used_frame):
            item.setVisible(False)
            self.plot.addItem(item)
        self.colorbar = pg.ColorBarItem(values=(0.0, 100.0), colorMap="viridis", interactive=False, width=18)
        self.colorbar.setImageItem(self.image, insert_in=self.plot)

        self.hover = QLabel(HOVER_HINT)
        self.hover.setWordWrap(True)
        self.hover.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hover.setMinimumHeight(3 * self.hover.fontMetrics().lineSpacing() + 4)
        self.hover.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.message = MessageLabel()

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(tools)
        layout.addWidget(self.legend_row)
        layout.addWidget(self.tile_caption)
        layout.addWidget(self.preview_bar)
        layout.addWidget(self.glw, 1)
        layout.addWidget(self.hover)
        layout.addWidget(self.message)
        # wide and tall enough for the tool row, the legend and a readable plot with its colour-bar label
        self.setMinimumSize(max(560, layout.minimumSize().width()), 440)

        self.array_box.currentIndexChanged.connect(self._array_picked)
        self.brush_size.valueChanged.connect(self._brush_size_changed)
        self.view_buttons.idClicked.connect(lambda i: self.set_view(self.view_buttons.button(i).property("mode")))
        self.reset_button.clicked.connect(self.reset_view)
        self.draft_button.clicked.connect(self.show_draft)
        self.glw.scene().sigMouseMoved.connect(self._mouse_moved)
        state.on_change(self._state_changed)
        self._set_axis_labels()
        self.refresh()

    # ---- public --------------------------------------------------------------------------------------
    @property
    def array(self) -> int:
        """The 1-based array shown (0 when the project has no mapped network)."""
        return self.array_box.currentIndex() + 1 if self.state.n_arrays else 0

    def set_array(self, array: int) -> None:
        if 1 <= array <= self.state.n_arrays and array != self.array:
            self.array_box.setCurrentIndex(array - 1)

    @property
    def readout(self) -> Optional[cv.ArrayReadout]:
        """What the shown array holds under the shown defects (draft or preview); None without a network."""
        return self._readout

    def overlay_codes(self) -> np.ndarray:
        """Per-cell overlay codes shown now (0 healthy, 1 on, 2 off, 3 resistance), an unfinished stroke included."""
        return self._codes.copy()

    def overlay_cells(self) -> np.ndarray:
        """Boolean mask of the cells highlighted as stuck."""
        return self.overlay_codes() > 0

    def set_paint_mode(self, mode: str, stuck: str = "on", stuck_ohm: float = 0.0) -> None:
        self.paint_mode, self.paint_stuck, self.paint_ohm = mode, stuck, stuck_ohm
        self._stroke, self._last_cell = None, None
        if mode != PAINT_OFF:
            self.set_view(VIEW_CONDUCTANCE)  # strokes land on devices, so show the device grid
            if self._preview is not None:
                self.message.info("Previewing a stored result: press 'Back to draft' to paint.")

    @property
    def can_paint(self) -> bool:
        return self.paint_mode != PAINT_OFF and self._preview is None and self.view_mode == VIEW_CONDUCTANCE

    def set_view(self, mode: str) -> None:
        """Show the conductances (:data:`VIEW_CONDUCTANCE`) or the weight errors (:data:`VIEW_WEIGHT_ERROR`)."""
        if mode not in _LABELS:
            raise ValueError(f"view: must be {VIEW_CONDUCTANCE} or {VIEW_WEIGHT_ERROR}; got {mode!r}")
        self.view_buttons.button(0 if mode == VIEW_CONDUCTANCE else 1).setChecked(True)
        if mode != self.view_mode:
            self.view_mode = mode
            self._set_axis_labels()
            self._draw()

    def reset_view(self) -> None:
        """Show the whole grid of the current view."""
        if self._grid_shape is not None:
            xr, yr = cv.home_range(self._grid_shape)
            self.plot.getViewBox().setRange(xRange=xr, yRange=yr, padding=0)

    def show_tile(self, array: int, tile: int) -> None:
        """Show ``array`` (1-based) zoomed to its tile ``tile`` (row-major, as ``tile=K``) in the device view."""
        self.set_array(array)
        if array != self.array or self._readout is None:
            return
        a = self._readout.layer
        if not 0 <= tile < a.n_tiles:
            self.message.error(f"array {array} has tiles 0 to {a.n_tiles - 1}, not {tile}")
            return
        self.set_view(VIEW_CONDUCTANCE)  # tiles are on the device grid
        xr, yr = cv.tile_range(a, tile)
        self.plot.getViewBox().setRange(xRange=xr, yRange=yr, padding=0)

    def show_defect_map(self, defects, label: str) -> None:
        """Preview ``defects`` (Defect objects or spec strings, e.g. a result's) read-only, titled ``label``."""
        try:
            parsed = cv.defects_from(defects)
        except WorkbenchError as e:
            self.message.error(f"cannot show {label}: {e}")
            return
        self._preview = (parsed, str(label))
        self._stroke, self._last_cell = None, None
        self.preview_bar.show()
        target = cv.preview_array(parsed, self.array, self.state.n_arrays)
        if target != self.array:
            self.set_array(target)  # redraws
        else:
            self._draw()

    def show_draft(self) -> None:
        """Leave a preview: show (and paint on) the draft scenario again."""
        if self._preview is not None:
            self._preview = None
            self.preview_bar.hide()
            self._draw()

    @property
    def previewing(self) -> bool:
        return self._preview is not None

    def hover_at(self, pos) -> str:
        """Show (and return) the read-out of the cell at an ImageItem-local position."""
        self._hover_cell = cv.cell_of(pos.x(), pos.y(), self._grid_shape)
        return self._show_hover()

    def _show_hover(self) -> str:
        text, ro, cell = HOVER_HINT, self._readout, self._hover_cell
        if ro is not None and cell is not None:
            text = ro.cell_text(*cell) if self.view_mode == VIEW_CONDUCTANCE else ro.pair_text(*cell)
        self.hover.setText(text)
        return text

    # ---- painting ------------------------------------------------------------------------------------
    def cell_at(self, pos) -> Optional[tuple[int, int]]:
        """(row, col) under an ImageItem-local position, or None outside the array."""
        return cv.cell_of(pos.x(), pos.y(), self.state.shape(self.array))

    def stroke_point(self, pos) -> None:
        """Add the brush stamps from the stroke's previous point to ``pos`` (ImageItem-local) to the stroke."""
        cell, shape = self.cell_at(pos), self.state.shape(self.array)
        if cell is None or shape is None or not self.can_paint:
            return
        if self._stroke is None or self._stroke.shape != shape:
            self._stroke, self._last_cell = np.zeros(shape, dtype=bool), None
        self._stroke |= cv.stroke_cells(
            self._last_cell, cell, shape, self.brush_size.value(), self.brush_shape.currentText()
        )
        self._last_cell = cell
        self._draw_overlay()

    def finish_stroke(self) -> None:
        stroke, self._stroke, self._last_cell = self._stroke, None, None
        if stroke is not None and stroke.any() and self.can_paint:
            self.state.paint(self.array, stroke, self.paint_mode == ERASE, self.paint_stuck, self.paint_ohm)
        self._draw_overlay()

    # ---- drawing -------------------------------------------------------------------------------------
    def _state_changed(self, topic: str) -> None:
        if topic == "project":
            self._preview = None
            self.preview_bar.hide()
            self.refresh()
        elif topic == "draft" and self._preview is None:
            self._draw(keep_range=True)

    def refresh(self) -> None:
        n = self.state.n_arrays
        keep = max(1, self.array)
        self.array_box.blockSignals(True)
        self.array_box.clear()
        m = self.state.project.mapped
        for a in range(n):
            rows, cols = m.shapes[a]
            arr = m.arrays[a]
            shape = tiling.describe(arr) if arr.tile is not None else f"{rows} x {cols}"
            self.array_box.addItem(f"{a + 1}: layer {a + 1} ({shape})")
        self.array_box.setCurrentIndex(min(keep, n) - 1 if n else -1)
        self.array_box.blockSignals(False)
        self.array_box.setEnabled(n > 0)
        if m is not None:
            self.r_legend.setText(f"stuck at R: {cv.format_ohm(m.device.r_on_ohm)} (LRS)")
            self.r_high.setText(f"{cv.format_ohm(m.device.r_off_ohm)} (HRS), log scale")
        self._draw()

    def _array_picked(self, _index: int) -> None:
        self._stroke, self._last_cell = None, None
        self._draw()
        self.array_changed.emit(self.array)

    def _set_axis_labels(self) -> None:
        bottom, left, bar, cmap = _LABELS[self.view_mode]
        self.plot.setLabel("bottom", bottom)
        self.plot.setLabel("left", left)
        self.colorbar.getAxis("left").setLabel(bar)
        self.colorbar.setColorMap(cmap)

    def _draw(self, keep_range: bool = False) -> None:
        shape = self.state.shape(self.array)
        if shape is None:
            self._readout, self._grid_shape, self._codes = None, None, np.zeros((0, 0), dtype=np.uint8)
            self._hover_cell = None
            self.hover.setText(HOVER_HINT)
            self.image.clear()
            self.overlay.clear()
            self._draw_tiles()
            self.info.setText("")
            self.message.info("No mapped network: train one in 'Network & training' or open a project.")
            return
        self.message.clear_message()
        mapped = self.state.project.mapped
        defects = self._preview[0] if self._preview is not None else self.state.draft
        try:
            self._readout = cv.ArrayReadout(mapped, self.array, defects)
        except WorkbenchError as e:  # e.g. a mask of another shape loaded from a file
            self.message.error(str(e))
            self._readout = cv.ArrayReadout(mapped, self.array, [])
        ro = self._readout
        if self.view_mode == VIEW_CONDUCTANCE:
            self.image.setImage(ro.g_programmed * 1e6, autoLevels=False)
            self.colorbar.setLevels((mapped.device.g_off_siemens * 1e6, mapped.device.g_on_siemens * 1e6))
        else:
            self.image.setImage(ro.weight_error, autoLevels=False)
            self.colorbar.setLevels(cv.weight_levels(ro.weight_error))
        grid = self.image.image.shape[:2]
        self.overlay.setVisible(self.view_mode == VIEW_CONDUCTANCE)
        self.legend_row.setVisible(self.view_mode == VIEW_CONDUCTANCE)
        self._draw_tiles()
        self._draw_overlay()
        if self._preview is not None:
            self.preview_label.setText(cv.preview_text(self._preview[1], self._preview[0], self.array))
        if grid != self._grid_shape or not keep_range:
            self._grid_shape, self._hover_cell = grid, None  # another grid: the old cell means nothing here
            vb = self.plot.getViewBox()
            # with a known cell pitch, cells keep their true aspect on silicon (x pitch : y pitch)
            pitch = ro.pitch_um
            vb.setAspectLocked(pitch is not None, ratio=1.0 if pitch is None else cv.aspect_ratio(pitch))
            vb.setLimits(**cv.view_limits(grid, aspect_locked=pitch is not None))
            self.reset_view()
        self._show_hover()

    def _draw_tiles(self) -> None:
        """Tile boundaries, the outline of the layer's cells and the unused hatch of a tiled array (device view)."""
        ro = self._readout
        a = ro.layer if ro is not None else None
        tiled = a is not None and a.tile is not None
        self.tile_caption.setVisible(tiled)
        on = tiled and self.view_mode == VIEW_CONDUCTANCE
        for item in (self.tile_lines, self.used_frame, self.unused_shade):
            item.setVisible(on)
        if not tiled:
            self.tile_caption.setText("")
            self.tile_lines.setData([], [])
            self.used_frame.setData([], [])
            self.unused_shade.clear()
            return
        self.tile_caption.setText(cv.tiles_text(a))
        x, y = cv.tile_segments(a)
        self.tile_lines.setData(x, y, connect="pairs")
        self.used_frame.setData(*cv.used_outline(a))
        self.unused_shade.setImage(cv.unused_shade(a), autoLevels=False, levels=(0, 255))

    def _draw_overlay(self) -> None:
        ro = self._readout
        if ro is None:
            return
        codes, r_pos = ro.codes.copy(), ro.r_position.copy()
        if self._stroke is not None and self._stroke.shape == codes.shape:
            code = 0 if self.paint_mode == ERASE else {"on": 1, "off": 2}.get(self.paint_stuck, 3)
            codes[self._stroke] = code
            if code == 3 and self.paint_ohm > 0:
                dev = self.state.project.mapped.device
                r_pos[self._stroke] = cv.r_position(np.array(1.0 / self.paint_ohm), dev.r_on_ohm, dev.r_off_ohm)
        self._codes = codes
        self.overlay.setImage(overlay_image(codes, r_pos), autoLevels=False, levels=(0, 255))
        n_bad = int(np.count_nonzero(ro.codes))
        own = f", {ro.n_defective_used} of them the layer's own" if ro.tiled else ""
        self.info.setText(
            f"shape {ro.shape[0]} rows x {ro.shape[1]} columns{cv.pitch_text(ro.pitch_um, ro.shape)}; "
            f"defective {n_bad} cells ({100.0 * n_bad / ro.codes.size:.1f} %){own}"
        )

    def _brush_size_changed(self, value: int) -> None:
        if value % 2 == 0:  # a typed even width: the next odd one, so the brush keeps a centre cell
            self.brush_size.setValue(min(value + 1, cv.BRUSH_MAX))

    def _mouse_moved(self, scene_pos) -> None:
        if self._readout is not None:
            self.hover_at(self.image.mapFromScene(scene_pos))
