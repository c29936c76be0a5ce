"""The die: every crossbar array at its place on silicon (:mod:`core.model.floorplan`), to scale in um, with the
draft's defects over it, so a cluster drawn on the die shows on every array it reaches.

Read-only: clicking an array opens it in the crossbar view, where cells are painted and read out.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.presenters.document import WorkbenchState
from app.presenters.forms import overlay_codes
from app.widgets import OVERLAY_RGBA, MessageLabel
from core.errors import WorkbenchError
from core.model.floorplan import die_size_um

NO_FLOORPLAN = (
    "The arrays of this project have no place on a die. Create the project with a cell pitch (New project: "
    "'Cell pitch (um)', or reram-workbench new --cell-pitch 0.2x0.4) to lay them out, then give clusters on the "
    "die in the editor's spec line: die:pattern=circle,cx_um=30,cy_um=10,r_um=8,stuck=on"
)


class DiePanel(QWidget):
    """All arrays on the die with the draft's defects; ``array_clicked(array)`` when one is clicked."""

    title = "Die floorplan"
    array_clicked = Signal(int)

    def __init__(self, state: WorkbenchState, jobs=None, parent=None):
        super().__init__(parent)
        self.state = state
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground("w")
        self.plot = self.glw.addPlot()
        self.plot.invertY(True)
        self.plot.setAspectLocked(True, ratio=1.0)  # um on both axes: the die to scale
        self.plot.setLabel("bottom", "x on the die (um)")
        self.plot.setLabel("left", "y on the die (um)")
        self.plot.hideButtons()
        self.info = QLabel()
        self.info.setTextFormat(Qt.TextFormat.PlainText)
        self.info.setWordWrap(True)
        self.message = MessageLabel()
        lay = QVBoxLayout(self)
        lay.addWidget(self.info)
        lay.addWidget(self.glw, 1)
        lay.addWidget(self.message)
        self.setMinimumSize(320, 300)
        self.items: list[tuple[int, pg.ImageItem, pg.ImageItem, QRectF]] = []
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        state.on_change(lambda topic: self.refresh() if topic in ("project", "draft") else None)
        self.refresh()

    def placed(self) -> list:
        m = self.state.project.mapped
        if m is None:
            return []
        return [a for a in m.arrays if a.origin_um is not None and a.pitch_um is not None]

    def refresh(self) -> None:
        for _a, img, ov, _r in self.items:
            self.plot.removeItem(img)
            self.plot.removeItem(ov)
        for t in getattr(self, "_labels", []):
            self.plot.removeItem(t)
        self.items, self._labels = [], []
        arrays = self.placed()
        if not arrays:
            self.info.setText("")
            self.message.info(NO_FLOORPLAN)
            return
        self.message.clear_message()
        m = self.state.project.mapped
        g_lo, g_hi = m.device.g_off_siemens, m.device.g_on_siemens
        rgba = np.array(OVERLAY_RGBA, dtype=np.uint8)
        n_bad = 0
        for a in arrays:
            k = a.layer + 1
            rows, cols = a.shape
            rect = QRectF(a.origin_um[0], a.origin_um[1], cols * a.pitch_um[0], rows * a.pitch_um[1])
            img = pg.ImageItem(axisOrder="row-major")
            img.setImage(
                (a.g_siemens - g_lo) / (g_hi - g_lo), levels=(0, 1), lut=pg.colormap.get("viridis").getLookupTable()
            )
            img.setRect(rect)
            try:
                codes = overlay_codes(self.state.draft, k, a.shape, a.pitch_um, a.tile)
            except WorkbenchError as e:
                self.message.error(str(e))
                codes = np.zeros(a.shape, dtype=np.uint8)
            n_bad += int(np.count_nonzero(codes))
            ov = pg.ImageItem(rgba[codes], axisOrder="row-major", levels=(0, 255))
            ov.setRect(rect)
            label = pg.TextItem(f"array {k}", color="k", anchor=(0, 1))
            label.setPos(rect.left(), rect.top())
            for it in (img, ov, label):
                self.plot.addItem(it)
            self.items.append((k, img, ov, rect))
            self._labels.append(label)
        w, h = die_size_um(m)
        self.info.setText(
            f"{len(arrays)} arrays on a {w:.4g} x {h:.4g} um die; the draft has {n_bad} defective cells. "
            "Click an array to open it in the crossbar view."
        )
        self.plot.autoRange(padding=0.05)

    def array_at(self, x_um: float, y_um: float) -> int:
        """The 1-based array under die position (x, y) um, or 0."""
        for k, _img, _ov, rect in self.items:
            if rect.contains(x_um, y_um):
                return k
        return 0

    def _clicked(self, event) -> None:
        p = self.plot.getViewBox().mapSceneToView(event.scenePos())
        k = self.array_at(p.x(), p.y())
        if k:
            self.array_clicked.emit(k)
