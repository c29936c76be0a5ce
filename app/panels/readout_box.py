"""The read-out box of the defect editor: the draft's accuracy, its interval and change, and defective fractions."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QVBoxLayout

from app.presenters import readout as ro

BARS_PER_ROW = 4  # defective-fraction bars side by side: four arrays fit the dock's ~330 px in one row
# a light fill, so the dark label stays readable over it whatever the style
BAR_STYLE = (
    "QProgressBar { border: 1px solid #999; border-radius: 2px; background: white; text-align: center; }"
    "QProgressBar::chunk { background: #f2a0a0; }"
)


class ReadoutBox(QGroupBox):
    """The draft's accuracy, its interval and change, a "computing…" hint and one bar per array."""

    def __init__(self, parent=None):
        super().__init__("Accuracy of the current scenario", parent)
        self.text = QLabel("")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # room for two lines: a dock's layout does not grow a wrapping label to its height-for-width
        self.text.setMinimumHeight(2 * self.text.fontMetrics().lineSpacing() + 4)
        self.hint = QLabel("")
        self.hint.setStyleSheet("color: #777;")
        self.bars: list[QProgressBar] = []
        self.bar_grid = QGridLayout()
        self.bar_grid.setSpacing(4)
        head = QHBoxLayout()
        head.addWidget(QLabel("Defective cells per array"))
        head.addStretch(1)
        head.addWidget(self.hint)
        lay = QVBoxLayout(self)
        lay.setSpacing(3)
        lay.addWidget(self.text)
        lay.addLayout(head)
        lay.addLayout(self.bar_grid)

    def set_arrays(self, n: int) -> None:
        """One bar per array (rebuilt when another project has another number of arrays)."""
        if n == len(self.bars):
            return
        for bar in self.bars:
            self.bar_grid.removeWidget(bar)
            bar.deleteLater()
        self.bars = []
        for i in range(n):
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            bar.setAlignment(Qt.AlignmentFlag.AlignCenter)
            bar.setMaximumHeight(18)
            bar.setMinimumWidth(40)  # four share the dock's width; the label "1: 12.3%" needs about 60 px
            bar.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            bar.setStyleSheet(BAR_STYLE)
            self.bar_grid.addWidget(bar, i // BARS_PER_ROW, i % BARS_PER_ROW)
            self.bars.append(bar)
        self.show_fractions([0.0] * n, ["-"] * n)

    def show_fractions(self, fractions, texts) -> None:
        for i, (bar, f, t) in enumerate(zip(self.bars, fractions, texts), start=1):
            bar.setValue(round(1000 * f))
            bar.setFormat(f"{i}: {t}")
            bar.setToolTip(f"array {i}: {t} of its cells defective")

    def show_outcome(self, outcome: ro.ReadoutOutcome) -> None:
        r = outcome.readout
        if r is None:
            self.text.setStyleSheet("color: #b00020;")
            self.text.setText(outcome.text)
            self.text.setToolTip(outcome.text)
            return
        self.text.setStyleSheet("")
        self.text.setText(ro.accuracy_text(r).replace("), ", ")\n", 1))  # interval, then the change
        self.text.setToolTip(ro.readout_tooltip(r))
        items = ro.fraction_items(r)
        self.show_fractions([f for _n, f, _t in items], [t for _n, _f, t in items])

    def show_note(self, text: str) -> None:
        self.text.setStyleSheet("color: #444;")
        self.text.setText(text)
        self.show_fractions([0.0] * len(self.bars), ["-"] * len(self.bars))
