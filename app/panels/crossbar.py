"""Panel 2, crossbar layout: one array's programmed conductances with the draft scenario's stuck cells on top.

The view is also the canvas of the defect editor's paint/erase tool: a mouse stroke collects cells and
becomes one undoable ``mask`` edit when the button is released.
"""

from __future__ import annotations

import weakref
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.presenters import forms
from app.presenters.document import WorkbenchState
from app.widgets import OVERLAY_NAMES, OVERLAY_RGBA, MessageLabel
from core.errors import WorkbenchError

PAINT_OFF, PAINT, ERASE = "off", "paint", "erase"


class _CanvasImage(pg.ImageItem):
    """The overlay image; forwards mouse presses and drags (in cell coordinates) to the panel while painting."""

    def __init__(self, panel: CrossbarPanel):
        super().__init__(axisOrder="row-major")
        # weak: an item that owns its widget frees that widget (and its scene) while the scene is deleting
        # the item, a segfault in QGraphicsScene::clear when the collector breaks the cycle
        self._panel = weakref.ref(panel)

    @property
    def panel(self) -> CrossbarPanel:
        return self._panel()

    def mouseClickEvent(self, ev):
        if self.panel.paint_mode != PAINT_OFF and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.panel.stroke_point(ev.pos())
            self.panel.finish_stroke()
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev):
        if self.panel.paint_mode == PAINT_OFF or ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()  # let the view pan as usual
            return
        ev.accept()
        self.panel.stroke_point(ev.buttonDownPos() if ev.isStart() else ev.pos())
        self.panel.stroke_point(ev.pos())
        if ev.isFinish():
            self.panel.finish_stroke()


class CrossbarPanel(QWidget):
    """Conductance image (µS) of array 1-4 with the defect overlay, its shape and defective fraction."""

    title = "Crossbar layout"
    array_changed = Signal(int)

    def __init__(self, state: WorkbenchState, jobs=None, parent=None):
        super().__init__(parent)
        self.state = state
        self.paint_mode, self.paint_stuck, self.paint_ohm = PAINT_OFF, "on", 0.0
        self._stroke: Optional[np.ndarray] = None

        self.array_box = QComboBox()
        self.info = QLabel()
        self.message = MessageLabel()
        legend = QLabel(
            "  ".join(
                f'<span style="color: rgb{c[:3]}">&#9632;</span> {n}'
                for c, n in zip(OVERLAY_RGBA[1:], OVERLAY_NAMES[1:])
            )
        )
        top = QHBoxLayout()
        top.addWidget(QLabel("Array"))
        top.addWidget(self.array_box)
        top.addWidget(self.info, 1)
        top.addWidget(legend)

        self.glw = pg.GraphicsLayoutWidget()
        self.plot = self.glw.addPlot()
        self.plot.setLabel("bottom", "column (G+ / G- pairs)")
        self.plot.setLabel("left", "row (inputs, bias last)")
        self.plot.invertY(True)
        self.plot.setAspectLocked(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.overlay = _CanvasImage(self)
        self.plot.addItem(self.image)
        self.plot.addItem(self.overlay)
        self.colorbar = pg.ColorBarItem(
            values=(0.0, 100.0), colorMap=pg.colormap.get("viridis"), label="conductance (µS)", interactive=False
        )
        self.colorbar.setImageItem(self.image, insert_in=self.plot)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.glw, 1)
        layout.addWidget(self.message)
        self.setMinimumSize(420, 360)

        self.array_box.currentIndexChanged.connect(self._array_picked)
        state.on_change(self._state_changed)
        self.refresh()

    # ---- public --------------------------------------------------------------------------------------
    @property
    def array(self) -> int:
        """The 1-based array shown (0 when the project has no mapped network)."""
        return self.array_box.currentIndex() + 1 if self.state.n_arrays else 0

    def set_array(self, array: int) -> None:
        if 1 <= array <= self.state.n_arrays and array != self.array:
            self.array_box.setCurrentIndex(array - 1)

    def overlay_codes(self) -> np.ndarray:
        """Per-cell overlay codes shown now (0 healthy, 1 on, 2 off, 3 resistance), from the drawn image."""
        img = self.overlay.image
        if img is None or img.ndim != 3:
            return np.zeros((0, 0), dtype=np.uint8)
        codes = np.zeros(img.shape[:2], dtype=np.uint8)
        for code, rgba in enumerate(OVERLAY_RGBA[1:], 1):
            codes[np.all(img == np.array(rgba, dtype=np.uint8), axis=-1)] = code
        return codes

    def overlay_cells(self) -> np.ndarray:
        """Boolean mask of the cells highlighted as stuck."""
        return self.overlay_codes() > 0

    def set_paint_mode(self, mode: str, stuck: str = "on", stuck_ohm: float = 0.0) -> None:
        self.paint_mode, self.paint_stuck, self.paint_ohm = mode, stuck, stuck_ohm
        self.plot.getViewBox().setMouseEnabled(x=mode == PAINT_OFF, y=mode == PAINT_OFF)

    # ---- painting ------------------------------------------------------------------------------------
    def cell_at(self, pos) -> Optional[tuple[int, int]]:
        """(row, col) under an ImageItem-local position, or None outside the array."""
        shape = self.state.shape(self.array)
        if shape is None:
            return None
        r, c = int(np.floor(pos.y())), int(np.floor(pos.x()))
        return (r, c) if 0 <= r < shape[0] and 0 <= c < shape[1] else None

    def stroke_point(self, pos) -> None:
        cell = self.cell_at(pos)
        shape = self.state.shape(self.array)
        if cell is None or shape is None:
            return
        if self._stroke is None or self._stroke.shape != shape:
            self._stroke = np.zeros(shape, dtype=bool)
        self._stroke[cell] = True
        self._draw_overlay()

    def finish_stroke(self) -> None:
        stroke, self._stroke = self._stroke, None
        if stroke is not None and stroke.any():
            self.state.paint(self.array, stroke, self.paint_mode == ERASE, self.paint_stuck, self.paint_ohm)
        self._draw_overlay()

    # ---- drawing -------------------------------------------------------------------------------------
    def _state_changed(self, topic: str) -> None:
        if topic == "project":
            self.refresh()
        elif topic == "draft":
            self._draw_overlay()

    def refresh(self) -> None:
        n = self.state.n_arrays
        keep = max(1, self.array)
        self.array_box.blockSignals(True)
        self.array_box.clear()
        m = self.state.project.mapped
        for a in range(n):
            rows, cols = m.shapes[a]
            self.array_box.addItem(f"{a + 1}: layer {a + 1} ({rows} x {cols})")
        self.array_box.setCurrentIndex(min(keep, n) - 1 if n else -1)
        self.array_box.blockSignals(False)
        self.array_box.setEnabled(n > 0)
        self._draw()

    def _array_picked(self, _index: int) -> None:
        self._stroke = None
        self._draw()
        self.array_changed.emit(self.array)

    def _draw(self) -> None:
        shape = self.state.shape(self.array)
        if shape is None:
            self.image.clear()
            self.overlay.clear()
            self.info.setText("")
            self.message.info("No mapped network: train one in 'Network & training' or open a project.")
            return
        self.message.clear_message()
        g_us = self.state.project.mapped.arrays[self.array - 1].g_siemens * 1e6
        self.image.setImage(g_us, autoLevels=False)
        dev = self.state.project.mapped.device
        self.colorbar.setLevels((dev.g_off_siemens * 1e6, dev.g_on_siemens * 1e6))
        self._draw_overlay()
        self.plot.autoRange(padding=0.02)

    def _draw_overlay(self) -> None:
        shape = self.state.shape(self.array)
        if shape is None:
            return
        try:
            codes = forms.overlay_codes(self.state.draft, self.array, shape)
        except WorkbenchError as e:  # e.g. a mask of another shape loaded from a file
            self.message.error(str(e))
            codes = np.zeros(shape, dtype=np.uint8)
        rgba = np.array(OVERLAY_RGBA, dtype=np.uint8)[codes]
        if self._stroke is not None and self._stroke.shape == shape:
            preview = (
                OVERLAY_RGBA[0]
                if self.paint_mode == ERASE
                else OVERLAY_RGBA[{"on": 1, "off": 2}.get(self.paint_stuck, 3)]
            )
            rgba[self._stroke] = preview
        self.overlay.setImage(rgba, autoLevels=False, levels=(0, 255))
        n_bad = int(np.count_nonzero(codes))
        self.info.setText(
            f"shape {shape[0]} rows x {shape[1]} columns; defective {n_bad} cells ({100.0 * n_bad / codes.size:.1f} %)"
        )
