"""Drawing a dataset preview in the New-project dialog: sample images in a grid and the class balance."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

SAMPLE_COLUMNS = 5
INK = np.array([[255 - i] * 3 for i in range(256)], dtype=np.ubyte)  # 1 = ink = black on white paper


def draw_preview(samples_view, balance_plot, balance_bars, pv) -> tuple[list, list[int]]:
    """Draw a dataset preview's sample images and its class-balance bars; returns (image items, labels)."""
    samples_view.clear()
    items: list = []
    labels: list[int] = []
    if pv is None:
        balance_bars.setOpts(x=[], height=[])
        return items, labels
    for i, (img, label) in enumerate(zip(pv.images, pv.labels)):
        r, c = divmod(i, SAMPLE_COLUMNS)
        samples_view.addLabel(f"class {label}", row=2 * r, col=c, size="8pt")
        vb = samples_view.addViewBox(row=2 * r + 1, col=c)
        vb.setMouseEnabled(False, False)
        vb.setMenuEnabled(False)
        vb.invertY(True)
        vb.setAspectLocked(pv.side is not None)
        item = pg.ImageItem(img, axisOrder="row-major", levels=(0.0, 1.0), lut=INK)
        vb.addItem(item)
        vb.autoRange(padding=0.02)
        items.append(item)
        labels.append(label)
    counts = np.asarray(pv.counts, dtype=float)
    x = np.arange(len(counts), dtype=float)
    balance_bars.setOpts(x=x, height=counts, width=0.7)
    step = max(1, len(counts) // 12)
    balance_plot.getAxis("bottom").setTicks([[(float(k), str(k)) for k in range(0, len(counts), step)]])
    balance_plot.setXRange(-0.6, len(counts) - 0.4, padding=0)
    balance_plot.setYRange(0, max(1.0, counts.max()) * 1.1, padding=0)
    return items, labels
