"""Checks that every label, field and button of a widget shows its whole text (font metrics, not pixels)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QLabel,
    QLineEdit,
    QStyle,
    QStyleOptionFrame,
    QWidget,
)

SLACK_PX = 1  # rounding between font metrics and the style's own arithmetic


def _visible(w: QWidget, top: QWidget) -> bool:
    return w.isVisibleTo(top) and w.width() > 0


def line_edit_room(w: QLineEdit) -> int:
    """Pixels a line edit has for its text: its width less the frame, the text margins and the cursor room."""
    opt = QStyleOptionFrame()
    w.initStyleOption(opt)
    inner = w.style().subElementRect(QStyle.SubElement.SE_LineEditContents, opt, w)
    m = w.textMargins()
    return inner.width() - m.left() - m.right() - 4  # QLineEdit keeps 2 px each side (horizontalMargin)


def clipped(top: QWidget) -> list[str]:
    """Every visible QLineEdit, QLabel, QComboBox and button below ``top`` whose text does not fit, described."""
    out = []
    for w in top.findChildren(QLineEdit):
        if not _visible(w, top) or isinstance(w.parent(), QComboBox):
            continue
        text = w.text() or w.placeholderText()
        need = w.fontMetrics().horizontalAdvance(text)
        if need > line_edit_room(w) + SLACK_PX:
            out.append(f"line edit {w.objectName() or text!r}: needs {need} px, has {line_edit_room(w)}")
    for w in top.findChildren(QLabel):
        if not _visible(w, top) or not w.text() or w.pixmap() is not None and not w.pixmap().isNull():
            continue
        room = w.contentsRect()
        if w.wordWrap():
            need_h = w.heightForWidth(w.width())
            if need_h > w.height() + SLACK_PX:
                out.append(f"label {w.text()[:40]!r}: needs {need_h} px high, has {w.height()}")
        else:
            lines = w.text().split("\n")
            need = max(w.fontMetrics().horizontalAdvance(t) for t in lines)
            if need > room.width() + SLACK_PX:
                out.append(f"label {w.text()[:40]!r}: needs {need} px, has {room.width()}")
    for w in top.findChildren(QAbstractButton):
        if _visible(w, top) and w.text() and w.sizeHint().width() > w.width() + SLACK_PX:
            out.append(f"button {w.text()!r}: needs {w.sizeHint().width()} px, has {w.width()}")
    for w in top.findChildren(QComboBox):
        if not _visible(w, top):
            continue
        if w.minimumSizeHint().width() > w.width() + SLACK_PX or _combo_text_cut(w):
            out.append(f"combo {w.currentText()!r}: needs {w.sizeHint().width()} px, has {w.width()}")
    return out


def _combo_text_cut(w: QComboBox) -> bool:
    from PySide6.QtWidgets import QStyleOptionComboBox

    opt = QStyleOptionComboBox()
    w.initStyleOption(opt)
    field = w.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt, QStyle.SubControl.SC_ComboBoxEditField, w)
    return w.fontMetrics().horizontalAdvance(w.currentText()) > field.width() + SLACK_PX
