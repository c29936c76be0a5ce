"""Defect patterns on the physical grid and the spec grammar."""

import math

import numpy as np
import pytest

from core.errors import DefectSpecError
from core.model.defects import (
    Defect,
    apply_stuck,
    defect_fractions,
    parse_resistance,
    parse_spec,
    stack_scenarios,
    stuck_maps,
)
from core.model.devices import DeviceParams


@pytest.mark.parametrize("shape", [(65, 16), (100, 100), (40, 80)])
@pytest.mark.parametrize("r", [0.15, 0.3, 0.45])
def test_circle_area_is_pi_r_squared_in_cells(shape, r):
    cells = parse_spec(f"circle:array=1,cx=0.5,cy=0.5,r={r},stuck=on").cells(shape)
    expected = math.pi * r * r * shape[0] * shape[1]
    # discretisation error is bounded by the cells the circle boundary crosses (~ perimeter in cells)
    perimeter_cells = 2 * math.pi * r * (shape[0] + shape[1]) / 2
    assert abs(cells.sum() - expected) <= perimeter_cells * 0.5 + 1


def test_ring_is_inside_outer_disc_and_empty_at_centre():
    shape = (64, 64)
    ring = parse_spec("ring:array=1,cx=0.5,cy=0.5,r_in=0.2,r_out=0.35,stuck=off").cells(shape)
    outer = parse_spec("circle:array=1,cx=0.5,cy=0.5,r=0.35,stuck=off").cells(shape)
    inner = parse_spec("circle:array=1,cx=0.5,cy=0.5,r=0.2,stuck=off").cells(shape)
    assert ring.any()
    assert not (ring & ~outer).any()
    assert not (ring & inner).any()
    assert not ring[32, 32]
    assert ring.sum() == outer.sum() - inner.sum()


def test_complement_is_not_circle():
    shape = (65, 16)
    c = parse_spec("circle:array=1,cx=0.3,cy=0.6,r=0.25,stuck=on").cells(shape)
    cc = parse_spec("circle_complement:array=1,cx=0.3,cy=0.6,r=0.25,stuck=on").cells(shape)
    assert np.array_equal(cc, ~c)


@pytest.mark.parametrize("period", [1, 2, 3])
def test_checkerboard_parity(period):
    m = parse_spec(f"checkerboard:array=1,period={period},stuck=on").cells((12, 12))
    for r in range(12):
        for c in range(12):
            assert m[r, c] == ((r // period + c // period) % 2 == 0)
    assert m.sum() == 72
    flipped = parse_spec(f"checkerboard:array=1,period={period},phase=1,stuck=on").cells((12, 12))
    assert np.array_equal(flipped, ~m)


def test_row_and_column_counts():
    shape = (9, 16)
    rows = parse_spec("rows:array=1,start=2,count=3,stuck=on").cells(shape)
    assert rows.sum() == 3 * 16 and rows[2:5].all() and not rows[:2].any() and not rows[5:].any()
    cols = parse_spec("columns:array=1,indices=0+3+15,stuck=off").cells(shape)
    assert cols.sum() == 3 * 9 and cols[:, [0, 3, 15]].all()
    # counts past the edge are clipped to the array
    assert parse_spec("columns:array=1,start=14,count=5,stuck=on").cells(shape).sum() == 2 * 9
    with pytest.raises(DefectSpecError, match="start 9 is outside array 1"):
        parse_spec("rows:array=1,start=9,stuck=on").cells(shape)
    # explicit indices name cells: one past the edge is an error even when others are inside
    with pytest.raises(DefectSpecError, match="index 999 is outside array 1"):
        parse_spec("rows:array=1,indices=0+999,stuck=on").cells(shape)


def test_random_fraction_and_seed():
    a = parse_spec("random:array=1,fraction=0.1,seed=3,stuck=on").cells((65, 16))
    b = parse_spec("random:array=1,fraction=0.1,seed=3,stuck=on").cells((65, 16))
    c = parse_spec("random:array=1,fraction=0.1,seed=4,stuck=on").cells((65, 16))
    assert a.sum() == round(0.1 * 65 * 16)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_mask_from_file(tmp_path):
    m = np.zeros((9, 16), dtype=bool)
    m[1, 2] = m[4, 5] = True
    np.save(tmp_path / "m.npy", m)
    d = parse_spec(f"mask:array=2,file={tmp_path / 'm.npy'},stuck=20k")
    assert np.array_equal(d.cells((9, 16)), m)
    with pytest.raises(DefectSpecError, match="does not match array 2"):
        d.cells((10, 16))


def test_later_defects_override_and_fractions():
    dev = DeviceParams()
    shapes = [(10, 10), (4, 4)]
    ds = [parse_spec("rows:array=1,start=0,count=2,stuck=on"), parse_spec("columns:array=1,start=0,count=1,stuck=off")]
    st = stuck_maps(shapes, ds, dev)
    assert st[0][0, 0] == dev.g_off_siemens  # the later stuck-off column overrides the stuck-on row
    assert st[0][0, 5] == dev.g_on_siemens
    assert np.isnan(st[0][5, 5]) and np.isnan(st[1]).all()
    assert defect_fractions(st) == [pytest.approx((20 + 8) / 100), 0.0]
    g = apply_stuck([np.full(s, 5e-5) for s in shapes], st)
    assert g[0][5, 5] == 5e-5 and g[0][0, 5] == dev.g_on_siemens


def test_stuck_at_resistance_and_batch_stack():
    dev = DeviceParams()
    d = parse_spec("circle:array=1,r=0.3,stuck=50k")
    assert d.stuck_conductance(dev) == pytest.approx(1 / 50e3)
    st = stack_scenarios([(8, 8)], [[d], [], [parse_spec("random:array=1,fraction=0.5,seed=1,stuck=off")]], dev)
    assert st[0].shape == (3, 8, 8)
    assert np.isnan(st[0][1]).all() and (~np.isnan(st[0][2])).sum() == 32


@pytest.mark.parametrize("text,ohm", [("50k", 50e3), ("1.5meg", 1.5e6), ("2e5", 2e5), ("10kohm", 1e4), ("1G", 1e9)])
def test_resistance_parsing(text, ohm):
    assert parse_resistance(text) == pytest.approx(ohm)


@pytest.mark.parametrize(
    "spec",
    [
        "circle:array=1,cx=0.5,cy=0.5,r=0.3,stuck=on",
        "columns:array=2,start=0,count=2,stuck=off",
        "random:array=1,fraction=0.1,seed=3,stuck=on",
        "ring:array=3,cx=0.2,cy=0.7,r_in=0.1,r_out=0.3,stuck=20k",
        "rows:array=4,indices=1+3,stuck=off",
        "checkerboard:array=1,period=2,stuck=on",
        "circle_complement:array=1,r=0.4,stuck=1meg",
    ],
)
def test_documented_forms_round_trip(spec):
    d = parse_spec(spec)
    again = parse_spec(d.to_spec())
    assert again.to_spec() == d.to_spec()
    assert np.array_equal(again.cells((20, 30)), d.cells((20, 30)))


@pytest.mark.parametrize(
    "spec,message",
    [
        ("blob:array=1,stuck=on", "pattern: must be one of circle, ring"),
        ("circle:array=1,r=0.3", "missing required key 'stuck'"),
        ("circle:r=0.3,stuck=on", "missing required key 'array'"),
        ("circle:array=1,r=3,stuck=on", r"circle: r must be in \[0, 2\]"),
        ("circle:array=1,r=0.3,stuck=sideways", "stuck: must be on, off or a resistance"),
        ("circle:array=1,r=0.3,stuck=5m", "ambiguous"),
        ("circle:array=1,r=0.3,stuck=0.1", r"resistance must be in \[1, 1e12\] ohm"),
        ("circle:array=0,r=0.3,stuck=on", "array: must be an integer from 1"),
        ("circle:array=1,radius=0.3,stuck=on", "unknown key 'radius'"),
        ("circle:array=1,r=0.1,foo=1", "unknown key 'foo'"),
        ("rows:array=1,count=2.5,stuck=on", "count must be an integer"),
        ("ring:array=1,r_in=0.3,r_out=0.2,stuck=on", "r_out must be larger than r_in"),
        ("random:array=1,fraction=1.5,stuck=on", r"fraction must be in \[0, 1\]"),
        ("circle array=1", "must look like PATTERN:key=value"),
        ("circle:array=1,r,stuck=on", "expected key=value"),
        ("mask:array=1,file=/nonexistent.npy,stuck=on", "does not exist"),
        ("rows:array=1,indices=,stuck=on", "indices must be non-negative integers"),
        ("circle:array=1.5,r=0.2,stuck=on", "array: must be an integer from 1 to the number of arrays; got '1.5'$"),
    ],
)
def test_bad_specs_are_rejected_with_the_documented_message(spec, message):
    with pytest.raises(DefectSpecError, match=message):
        parse_spec(spec)


def test_defect_object_validation():
    with pytest.raises(DefectSpecError):
        Defect("circle", 1, "on", 0.0, {"r": float("nan")})
