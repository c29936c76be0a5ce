"""Figures of pyqtgraph plots as PNG, SVG and PDF files that really work.

pyqtgraph 0.14's own SVG exporter throws and writes nothing with Qt >= 6.10: it post-processes the SVG that
``QSvgGenerator`` writes and parses each path's ``d`` attribute as ``x,y`` pairs, but Qt now closes closed
subpaths with a ``Z`` command (``M0,0 L363,0 ... Z``), and ``x, y = 'Z'.split(',')`` raises ValueError in
``correctCoordinates`` (pyqtgraph issues #3485 and #3495). Here every format is painted the way Qt prints: the
plot's scene is rendered by a ``QPainter`` straight onto a ``QSvgGenerator`` (vector SVG), a ``QPdfWriter``
(vector PDF) or a ``QImage`` (PNG), with pyqtgraph's *export mode* on so scatter symbols are drawn as shapes
instead of cached pixmaps. The vector devices get the screen's logical DPI because pyqtgraph's axes replay a
``QPicture``, which Qt rescales by the ratio of device DPIs (axes drawn at 3/4 size otherwise).

:func:`install_menu_exporters` puts the same SVG and PDF writers into the plots' right-click Export dialog in
place of the broken one.
"""

from __future__ import annotations

import os

import pyqtgraph as pg
from pyqtgraph.exporters import Exporter
from PySide6.QtCore import QMarginsF, QRectF, QSize, QSizeF
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPageSize, QPainter, QPdfWriter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QMessageBox

from app.presenters.results_tables import with_suffix
from core.errors import describe_error

FORMATS = ("png", "svg", "pdf")
PNG_SCALE = 2.0  # PNGs at twice the screen size: sharp in papers and slides


def _paint_items(scene) -> list:
    return [i for i in scene.items() if hasattr(i, "setExportMode")]


def _render(scene, source: QRectF, device, target: QRectF, scale: float = 1.0) -> None:
    painter = QPainter(device)
    items = _paint_items(scene)
    opts = {"antialias": True, "background": QColor("white"), "painter": painter, "resolutionScale": scale}
    try:
        for item in items:
            item.setExportMode(True, opts)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        scene.render(painter, target, source)
    finally:
        for item in items:
            item.setExportMode(False)
        painter.end()


def _dpi() -> int:
    screen = QGuiApplication.primaryScreen()
    return int(round(screen.logicalDotsPerInchX())) if screen is not None else 96


def render_scene(scene, source: QRectF, path: str, fmt: str, title: str = "") -> str:
    """Write the part ``source`` (scene coordinates) of a pyqtgraph scene to ``path`` as ``fmt``.

    Returns the path written (``.fmt`` appended if missing). Raises OSError when the file cannot be written.
    """
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ValueError(f"figure format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    path = with_suffix(path, fmt)
    # Qt's writers only warn on the console when they cannot open the file: fail early, with the OS's reason
    with open(path, "wb"):
        pass
    w, h = max(1.0, source.width()), max(1.0, source.height())
    dpi = _dpi()
    if fmt == "png":
        img = QImage(int(round(w * PNG_SCALE)), int(round(h * PNG_SCALE)), QImage.Format.Format_ARGB32)
        # a device pixel ratio keeps text, symbols and line widths in proportion (painter scaling would not)
        img.setDevicePixelRatio(PNG_SCALE)
        img.fill(QColor("white"))
        _render(scene, source, img, QRectF(0, 0, w, h))
        if not img.save(path, "PNG"):
            raise OSError(f"could not write {path}")
        return path
    if fmt == "svg":
        gen = QSvgGenerator()
        gen.setFileName(path)
        gen.setSize(QSize(int(round(w)), int(round(h))))
        gen.setViewBox(QRectF(0, 0, w, h))
        gen.setResolution(dpi)
        gen.setTitle(title or "figure")
        gen.setDescription("ReRAM workbench figure")
        _render(scene, source, gen, QRectF(0, 0, w, h))
    else:
        pdf = QPdfWriter(path)
        pdf.setResolution(dpi)
        pdf.setPageSize(QPageSize(QSizeF(w * 72.0 / dpi, h * 72.0 / dpi), QPageSize.Unit.Point, title or "figure"))
        pdf.setPageMargins(QMarginsF(0, 0, 0, 0))
        pdf.setTitle(title or "figure")
        _render(scene, source, pdf, QRectF(0, 0, w, h))
    _check_written(path)
    return path


def _check_written(path: str) -> None:
    # QSvgGenerator and QPdfWriter report no error of their own: an unwritable path leaves no (or an empty) file
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        raise OSError(f"could not write {path}")


def export_plot(plot: pg.PlotWidget, path: str, fmt: str = "") -> str:
    """Write what ``plot`` shows (title, axes, curves, legend) to ``path`` as PNG, SVG or PDF.

    ``fmt`` defaults to the suffix of ``path``. Returns the path written.
    """
    if not fmt:
        fmt = path.rsplit(".", 1)[-1] if "." in path else "png"
    source = plot.mapToScene(plot.viewport().rect()).boundingRect()
    title = plot.getPlotItem().titleLabel.text if hasattr(plot, "getPlotItem") else ""
    return render_scene(plot.scene(), source, path, fmt, title)


class _QtExporter(Exporter):
    """An entry of pyqtgraph's Export dialog that writes through :func:`render_scene`."""

    fmt = "svg"

    def parameters(self):
        return None

    def export(self, fileName=None, toBytes=False, copy=False):
        if fileName is None:
            self.fileSaveDialog(filter=f"*.{self.fmt}")
            return None
        try:
            return render_scene(self.getScene(), self.getSourceRect(), str(fileName), self.fmt)
        except (OSError, ValueError) as e:  # the dialog's callback must not end in a traceback
            QMessageBox.warning(None, "Export failed", describe_error(e))
            return None


class SvgExporter(_QtExporter):
    Name = "SVG (vector, via Qt)"
    fmt = "svg"


class PdfExporter(_QtExporter):
    Name = "PDF (vector)"
    fmt = "pdf"


def install_menu_exporters() -> None:
    """Replace pyqtgraph's broken SVG entry of the Export dialog by :class:`SvgExporter`; add PDF (once)."""
    from pyqtgraph.exporters import SVGExporter

    registry = Exporter.Exporters
    if SVGExporter in registry:
        registry[registry.index(SVGExporter)] = SvgExporter
    for cls in (SvgExporter, PdfExporter):
        if cls not in registry:
            registry.append(cls)
