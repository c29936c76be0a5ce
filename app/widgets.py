"""Small Qt helpers shared by the panels: pyqtgraph set-up, colours, a message label, a labelled form."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QApplication, QFrame, QLabel, QLineEdit, QScrollArea, QSizePolicy, QStyle, QWidget

# light plots read better in screenshots and papers; set once before any plot widget exists
pg.setConfigOptions(background="w", foreground="k", antialias=True)

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
# overlay colours (RGBA) by code of app.presenters.forms.overlay_codes: healthy, stuck on, stuck off, stuck at R
OVERLAY_RGBA = [(0, 0, 0, 0), (230, 30, 30, 200), (30, 90, 230, 200), (255, 150, 0, 200)]
OVERLAY_NAMES = ["healthy", "stuck on", "stuck off", "stuck at R"]
# stuck-at-R cells are shaded by their resistance, from LRS (dark brown) to HRS (light orange): a hue family
# of its own, apart from the red (on), the blue (off) and the viridis conductance image underneath; opaque,
# so the shade reads as the value and not as a mix with the conductance below
STUCK_R_LRS_RGBA, STUCK_R_HRS_RGBA = (110, 40, 0, 255), (255, 196, 100, 255)


MAX_SHOWN_CHARS = 300  # of one name, spec or message from a file in a label, cell, tooltip or box
RICH_TEXT_PROPERTY = "workbenchRichText"  # set True on the few labels whose text is our own markup


def cut(text, limit: int = MAX_SHOWN_CHARS) -> str:
    """``text`` cut to ``limit`` characters (its length noted), so a megabyte name costs no megabyte layout."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"


def plain_tip(text, limit: int = MAX_SHOWN_CHARS * 4) -> str:
    """A tooltip that shows ``text`` literally: Qt guesses rich text in tooltips (and would load an
    ``<img src=...>``), so the text is escaped inside explicit rich text."""
    return "<qt>" + html.escape(cut(text, limit)).replace("\n", "<br>") + "</qt>"


class PlainTextLabels(QObject):
    """Application event filter: every QLabel shows plain text unless it carries :data:`RICH_TEXT_PROPERTY`.

    Qt's default (``AutoText``) renders text that looks like markup as HTML, so a scenario name or sweep spec
    from a file holding ``<img src='/dev/zero'>`` would make a label read that file. The filter sets the format
    when a label is added to a parent and when it is polished, before it is laid out or drawn.
    """

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if kind == QEvent.Type.ChildAdded:
            child = event.child()
            if isinstance(child, QLabel):
                _plain(child)
        elif kind == QEvent.Type.Polish and isinstance(obj, QLabel):
            _plain(obj)
        return False


def _plain(label: QLabel) -> None:
    if label.property(RICH_TEXT_PROPERTY) is not True and label.textFormat() != Qt.TextFormat.PlainText:
        label.setTextFormat(Qt.TextFormat.PlainText)


_FILTER: list[PlainTextLabels] = []


def install_plain_text_labels() -> None:
    """Install :class:`PlainTextLabels` on the running QApplication (once)."""
    app = QApplication.instance()
    if app is not None and not _FILTER:
        _FILTER.append(PlainTextLabels(app))
        app.installEventFilter(_FILTER[0])


def stuck_r_rgba(position) -> np.ndarray:
    """RGBA (uint8, shape (..., 4)) of stuck-at-R cells at ``position`` in [0, 1] (0 = LRS, 1 = HRS)."""
    t = np.clip(np.nan_to_num(np.asarray(position, dtype=float), nan=0.5), 0.0, 1.0)[..., None]
    lo, hi = np.array(STUCK_R_LRS_RGBA, dtype=float), np.array(STUCK_R_HRS_RGBA, dtype=float)
    return np.round(lo + t * (hi - lo)).astype(np.uint8)


def stuck_r_gradient(width: int = 90, height: int = 12) -> QPixmap:
    """The stuck-at-R colour scale from LRS (left) to HRS (right), for a legend."""
    rgba = np.ascontiguousarray(np.repeat(stuck_r_rgba(np.linspace(0.0, 1.0, width))[None], height, axis=0))
    img = QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)
    return QPixmap.fromImage(img.copy())  # copy: the QImage only borrows the numpy buffer


def overlay_image(codes: np.ndarray, r_position: np.ndarray) -> np.ndarray:
    """RGBA overlay (rows, cols, 4) of overlay ``codes``; code 3 (stuck at R) takes its colour from ``r_position``."""
    rgba = np.array(OVERLAY_RGBA, dtype=np.uint8)[codes]
    at_r = codes == 3
    rgba[at_r] = stuck_r_rgba(np.asarray(r_position)[at_r])
    return rgba


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


class MessageLabel(QLabel):
    """A one-line (wrapping) message area: errors in red, information in grey; never a traceback."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(self.textInteractionFlags())
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.clear_message()

    def error(self, text: str) -> None:
        self.setStyleSheet("color: #b00020; font-weight: bold;")
        self.setText(str(text))

    def info(self, text: str) -> None:
        self.setStyleSheet("color: #444;")
        self.setText(str(text))

    def clear_message(self) -> None:
        self.setStyleSheet("")
        self.setText("")

    @property
    def is_error(self) -> bool:
        return "b00020" in self.styleSheet() and bool(self.text())


def text_width(edit: QLineEdit, text: str) -> int:
    """The width ``edit`` needs to show ``text`` whole: the text by the font's metrics plus frame and margins."""
    m = edit.textMargins()
    frame = 2 * edit.style().pixelMetric(QStyle.PixelMetric.PM_DefaultFrameWidth, None, edit)
    return edit.fontMetrics().horizontalAdvance(text) + m.left() + m.right() + frame + 2 * 2 + 4  # margins, cursor


def fit_text(edit: QLineEdit, *texts: str, max_px: int = 0) -> QLineEdit:
    """At least as wide as its longest of ``texts`` (default: its text and placeholder), at most ``max_px``."""
    need = max(text_width(edit, t) for t in (texts or (edit.text(), edit.placeholderText())))
    edit.setMinimumWidth(min(need, max_px) if max_px else need)
    return edit


class IntegerAxis(pg.AxisItem):
    """An axis of counts (epochs): ticks only at whole numbers, never 1.5 or 2.5 over a short range."""

    def tickSpacing(self, minVal, maxVal, size):
        levels = [(s, o) for s, o in super().tickSpacing(minVal, maxVal, size) if s >= 1]
        return levels or [(1.0, 0.0)]


def plot_widget(title: str, x_label: str, y_label: str, integer_x: bool = False) -> pg.PlotWidget:
    """A light plot with a grid and labelled axes; ``integer_x``: the x axis counts (ticks at whole numbers)."""
    w = pg.PlotWidget(title=title, axisItems={"bottom": IntegerAxis("bottom")} if integer_x else None)
    w.setLabel("bottom", x_label)
    w.setLabel("left", y_label)
    w.showGrid(x=True, y=True, alpha=0.25)
    for side in ("bottom", "left"):
        w.getAxis(side).enableAutoSIPrefix(False)  # fractions and accuracies, never "(x0.001)"
    w.setMinimumSize(260, 180)
    return w


def outside_legend(plot: pg.PlotWidget, label_size: str = "8pt") -> pg.LegendItem:
    """A legend to the right of the plot area, so it never covers data; add entries with ``addItem``."""
    from PySide6.QtCore import Qt

    legend = pg.LegendItem(labelTextSize=label_size, verSpacing=-4)
    # fixed size and top-aligned: otherwise the layout stretches the entries over the full plot height
    legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
    layout = plot.getPlotItem().layout
    layout.addItem(legend, 2, 3)  # row 2 holds the left axis, the view box and the right axis
    layout.setAlignment(legend, Qt.AlignmentFlag.AlignTop)
    return legend


class FitScrollArea(QScrollArea):
    """A scroll area whose widget fills the viewport and scrolls only below the widget's minimum size.

    ``QScrollArea.setWidgetResizable`` sizes a widget with word-wrapped labels by its height for the width,
    often taller than the viewport, so it scrolls even when everything would fit; this one gives the widget
    the viewport's size whenever that is at least the widget's minimum size hint.

    With ``horizontal`` it also scrolls sideways below the widget's minimum width (a dialog on a small screen);
    without, it is at least as wide as the widget's minimum (a side panel).
    """

    def __init__(self, widget: QWidget, parent=None, horizontal: bool = False):
        super().__init__(parent)
        self.horizontal = horizontal
        self.setWidget(widget)
        self.setWidgetResizable(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        if horizontal:
            self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        else:
            self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            self.setMinimumWidth(widget.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        w = self.widget()
        vp = self.maximumViewportSize() if self.horizontal else self.viewport().size()
        width = max(vp.width(), w.minimumSizeHint().width()) if self.horizontal else vp.width()
        w.resize(width, max(vp.height(), w.minimumSizeHint().height()))
