"""The crossbar view's image item: forwards mouse presses and drags, in cell coordinates, to the panel."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import Qt

if TYPE_CHECKING:  # the panel imports this module; the annotation only names it
    from app.panels.crossbar import CrossbarPanel


class CanvasImage(pg.ImageItem):
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
        if self.panel.can_paint and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.panel.stroke_point(ev.pos())
            self.panel.finish_stroke()
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev):
        if not self.panel.can_paint or ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()  # let the view pan as usual
            return
        ev.accept()
        if ev.isStart():
            self.panel.stroke_point(ev.buttonDownPos())
        self.panel.stroke_point(ev.pos())
        if ev.isFinish():
            self.panel.finish_stroke()
