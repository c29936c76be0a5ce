"""The die: every crossbar array at its place on silicon (:mod:`core.model.floorplan`), to scale in um, with the
draft's defects over it, so a cluster drawn on the die shows on every array it reaches.

Read-only: clicking an array opens it in the crossbar view, where cells are painted and read out. A tiled array
(:mod:`core.model.tiling`) is drawn tile by tile, each at :func:`core.model.tiling.tile_origin_um` with its own
slice of the conductances and of the defect overlay, so the gaps between tiles show; its unused devices are washed
out. Clicking a tile emits ``array_clicked(array)`` and then ``tile_clicked(array, tile)``.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.presenters.document import WorkbenchState
from app.presenters.forms import overlay_codes
from app.widgets import OVERLAY_RGBA, MessageLabel
from core.errors import WorkbenchError
from core.model import tiling
from core.model.floorplan import die_size_um

NO_FLOORPLAN = (
    "The arrays of this project have no place on a die. Create the project with a cell pitch (New project: "
    "'Cell pitch (um)', or reram-workbench new --cell-pitch 0.2x0.4) to lay them out, then give clusters on the "
    "die in the editor's spec line: die:pattern=circle,cx_um=30,cy_um=10,r_um=8,stuck=on"
)
UNUSED_WASH_RGBA = (255, 255, 255, 130)  # over a tiled array's unused devices (healthy ones) on the die


class DieTile(NamedTuple):
    """One drawn rectangle of the die: tile ``tile`` of ``array`` (1-based; tile 0 of an untiled array)."""

    array: int
    tile: int
    rect: QRectF
    tiled: bool


def tile_overlay(codes: np.ndarray, used: np.ndarray) -> np.ndarray:
    """RGBA of one tile's overlay: the defect colours, and a white wash on the healthy unused devices."""
    rgba = np.array(OVERLAY_RGBA, dtype=np.uint8)[codes]
    rgba[(codes == 0) & ~used] = UNUSED_WASH_RGBA
    return rgba


class DiePanel(QWidget):
    """All arrays on the die with the draft's defects; ``array_clicked(array)`` when one is clicked and, on a
    tiled array, ``tile_clicked(array, tile)`` right after (the crossbar view's ``show_tile`` zooms to it)."""

    title = "Die floorplan"
    array_clicked = Signal(int)
    tile_clicked = Signal(int, int)

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
        lay.addStretch(0)  # takes the room of the hidden plot when there is no floorplan: the message stays on top
        self.setMinimumSize(320, 300)
        # one entry per drawn rectangle: per array, or per tile of a tiled array (``tiles`` says which tile)
        self.items: list[tuple[int, pg.ImageItem, pg.ImageItem, QRectF]] = []
        self.tiles: list[DieTile] = []
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
        self.items, self._labels, self.tiles = [], [], []
        arrays = self.placed()
        self.glw.setVisible(bool(arrays))  # no empty 0..1 axes above the explanation
        if not arrays:
            self.info.setText("")
            self.message.info(NO_FLOORPLAN)
            return
        self.message.clear_message()
        m = self.state.project.mapped
        g_lo, g_hi = m.device.g_off_siemens, m.device.g_on_siemens
        lut = pg.colormap.get("viridis").getLookupTable()
        n_bad = 0
        for a in arrays:
            k = a.layer + 1
            try:
                codes = overlay_codes(self.state.draft, k, a.shape, a.pitch_um, a.tile)
            except WorkbenchError as e:
                self.message.error(str(e))
                codes = np.zeros(a.shape, dtype=np.uint8)
            n_bad += int(np.count_nonzero(codes))
            g = (a.g_siemens - g_lo) / (g_hi - g_lo)
            used = tiling.used_mask(a)
            rows, cols = tiling.tile_shape(a)
            tiled = a.tile is not None
            for t in range(a.n_tiles):
                rs, cs = tiling.tile_slices(a, t)
                x, y = tiling.tile_origin_um(a, t)
                rect = QRectF(x, y, cols * a.pitch_um[0], rows * a.pitch_um[1])
                img = pg.ImageItem(axisOrder="row-major")
                img.setImage(g[rs, cs], levels=(0, 1), lut=lut)
                img.setRect(rect)
                ov = pg.ImageItem(tile_overlay(codes[rs, cs], used[rs, cs]), axisOrder="row-major", levels=(0, 255))
                ov.setRect(rect)
                for it in (img, ov):
                    self.plot.addItem(it)
                self.items.append((k, img, ov, rect))
                self.tiles.append(DieTile(k, t, rect, tiled))
                if tiled and a.n_tiles > 1:
                    tag = pg.TextItem(f"t{t}", color=(255, 255, 255), anchor=(0, 0))
                    tag.setPos(rect.left(), rect.top())
                    self.plot.addItem(tag)
                    self._labels.append(tag)
            x0, y0 = a.origin_um
            grid = f" ({a.tile_grid[0]}x{a.tile_grid[1]} tiles)" if a.n_tiles > 1 else ""  # short: labels sit close
            label = pg.TextItem(f"array {k}{grid}", color="k", anchor=(0, 1))
            label.setPos(x0, y0)
            self.plot.addItem(label)
            self._labels.append(label)
        w, h = die_size_um(m)
        if any(a.tile is not None for a in arrays):
            self.info.setText(
                f"{len(arrays)} arrays in {len(self.tiles)} tiles on a {w:.4g} x {h:.4g} um die (unused devices "
                f"washed out); the draft has {n_bad} defective cells. Click a tile to open its array in the "
                "crossbar view, zoomed to that tile."
            )
        else:
            self.info.setText(
                f"{len(arrays)} arrays on a {w:.4g} x {h:.4g} um die; the draft has {n_bad} defective cells. "
                "Click an array to open it in the crossbar view."
            )
        self.plot.autoRange(padding=0.05)

    def array_at(self, x_um: float, y_um: float) -> int:
        """The 1-based array under die position (x, y) um, or 0 (also in the gap between two tiles)."""
        hit = self.tile_at(x_um, y_um)
        return hit.array if hit is not None else 0

    def tile_at(self, x_um: float, y_um: float) -> Optional[DieTile]:
        """The drawn tile (or untiled array) under die position (x, y) um, or None."""
        for t in self.tiles:
            if t.rect.contains(x_um, y_um):
                return t
        return None

    def select_tile(self, array: int, tile: int) -> None:
        """What a click on tile ``tile`` of ``array`` does: open the array, then (tiled) zoom to the tile."""
        self.array_clicked.emit(array)
        if any(t.array == array and t.tiled for t in self.tiles):
            self.tile_clicked.emit(array, tile)

    def _clicked(self, event) -> None:
        p = self.plot.getViewBox().mapSceneToView(event.scenePos())
        hit = self.tile_at(p.x(), p.y())
        if hit is not None:
            self.select_tile(hit.array, hit.tile)
