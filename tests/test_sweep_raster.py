"""The vectorized rasterization of a sweep chunk (core.sweeps.raster) against the per-map path it replaces.

Exact equality: every mask must equal ``make_defect(...).cells(shape)`` bit for bit and every stuck conductance
``Defect.stuck_conductance``, for every sweep pattern, sizes across (0, 1], many seeds, square, tall, wide and
tiled-mosaic shapes; a bad map keeps its per-map error and the others go on.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.model.devices import DeviceParams
from core.sweeps.raster import chunk_defects
from core.sweeps.spec import SWEEP_PATTERNS, SweepSpec, make_defect

SHAPES = [(65, 16), (9, 20), (16, 16), (96, 32), (3, 130)]
SIZES = [0.01, 0.05, 0.1, 0.25, 0.3, 0.5, 0.77, 1.0]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_chunk_masks_equal_the_per_map_defects(shape):
    dev = DeviceParams()
    patterns = [p for p in SWEEP_PATTERNS if p != "none"]
    items = [
        (i, p, s, st, k, None)
        for i, (p, s, st, k) in enumerate(
            (p, s, st, k)
            for p in patterns
            for s in SIZES
            for st in SweepSpec(stuck=("on", "off", "50k")).stuck
            for k in range(4)
        )
    ]
    got = chunk_defects(items, 2, shape, 7, dev)
    assert not any(got.errors)
    for j, (_, p, s, st, k, _) in enumerate(items):
        d = make_defect(p, s, st, 2, k, shape, 7)
        want = d.cells(shape)
        assert np.array_equal(got.masks[j], want), (p, s, st, k, shape)
        assert got.g_stuck[j] == d.stuck_conductance(dev)
        assert got.fraction[j] == np.count_nonzero(want) / want.size
    # different seeds really place differently (the comparison above is not between empty masks)
    circles = [j for j, it in enumerate(items) if it[1] == "circle" and it[2] == 0.25 and it[3] == "on"]
    assert len({got.masks[j].tobytes() for j in circles}) > 1 and got.masks[circles[0]].any()


def test_none_and_bad_maps_in_a_chunk():
    dev = DeviceParams()
    items = [
        (0, "none", 0.0, "on", 0, None),
        (1, "circle", 0.3, "not-a-value", 0, None),
        (2, "rows", 0.2, "off", 1, None),
    ]
    got = chunk_defects(items, 1, (65, 16), 0, dev)
    assert got.fraction[0] == 0.0 and not got.masks[0].any() and not got.defective[0]
    assert got.errors[1] and np.isnan(got.fraction[1]) and not got.defective[1]  # its own error, nothing applied
    want = make_defect("rows", 0.2, "off", 1, 1, (65, 16), 0).cells((65, 16))
    assert got.errors[2] == "" and np.array_equal(got.masks[2], want)
