"""The crossbar view's computations without Qt: what a cell holds, brush strokes, weight errors, zoom limits."""

from __future__ import annotations

import numpy as np
import pytest

from app.presenters import crossbar_view as cv
from core.circuit.mapping import effective_weights, map_network
from core.errors import DefectSpecError
from core.model.defects import Defect, apply_stuck, parse_spec, stuck_maps
from core.model.devices import CircuitParams, DeviceParams
from core.model.network import Weights

N_IN, N_HID, N_OUT = 5, 4, 3


def _mapped(scheme: str):
    """A small two-layer network with signed weights and biases, mapped with the given scheme."""
    rng = np.random.default_rng(7)
    w = Weights(
        [rng.normal(size=(N_IN, N_HID)), rng.normal(size=(N_HID, N_OUT))],
        [rng.normal(size=N_HID), rng.normal(size=N_OUT)],
    )
    return map_network(w, DeviceParams(), CircuitParams(), rng.random((40, N_IN)), scheme)


def _one_cell(shape, r, c, stuck="on", ohm=0.0, array=1):
    mask = np.zeros(shape, dtype=bool)
    mask[r, c] = True
    return Defect("mask", array, stuck, ohm, {}, mask=mask)


SCHEMES = ["differential-columns", "differential-rows"]


# ---- what a cell holds ------------------------------------------------------------------------------------
def test_cell_pair_by_hand_for_both_schemes():
    # differential-columns: column 2j is G+ of neuron j, 2j+1 its G-; the bias row is row n_in
    assert cv.cell_pair("differential-columns", 3, 5) == (3, 2, "G-")
    assert cv.cell_pair("differential-columns", 3, 4) == (3, 2, "G+")
    assert cv.cell_pair("differential-columns", N_IN, 0) == (N_IN, 0, "G+")
    # differential-rows: row 2i is +V_i (G+), 2i+1 is -V_i (G-); the bias pair is rows 2 n_in, 2 n_in + 1
    assert cv.cell_pair("differential-rows", 5, 2) == (2, 2, "G-")
    assert cv.cell_pair("differential-rows", 4, 1) == (2, 1, "G+")
    assert cv.cell_pair("differential-rows", 2 * N_IN + 1, 0) == (N_IN, 0, "G-")
    assert cv.pair_cells("differential-columns", 3, 2) == ((3, 4), (3, 5))
    assert cv.pair_cells("differential-rows", 2, 1) == ((4, 1), (5, 1))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_cell_maps_to_its_pair_and_back(scheme):
    m = _mapped(scheme)
    rows, cols = m.arrays[0].shape
    seen = set()
    for r in range(rows):
        for c in range(cols):
            i, j, side = cv.cell_pair(scheme, r, c)
            assert 0 <= i <= N_IN and 0 <= j < N_HID
            assert cv.pair_cells(scheme, i, j)[0 if side == "G+" else 1] == (r, c)
            seen.add((i, j, side))
    assert len(seen) == rows * cols == 2 * (N_IN + 1) * N_HID


@pytest.mark.parametrize("scheme", SCHEMES)
def test_hover_text_of_a_known_cell_matches_effective_weights(scheme):
    m = _mapped(scheme)
    shape = m.arrays[0].shape
    # input 3, neuron 2, the G- device, stuck on
    (rp, cp), (rn, cn) = cv.pair_cells(scheme, 3, 2)
    defects = [_one_cell(shape, rn, cn, "on")]
    ro = cv.ArrayReadout(m, 1, defects)
    g_eff = apply_stuck(m.conductances(), stuck_maps(m.shapes, defects, m.device))
    W_prog, _ = effective_weights(m, m.conductances())
    W_eff, _ = effective_weights(m, g_eff)
    text = ro.cell_text(rn, cn)
    assert f"array 1, row {rn}, column {cn}: input 3, neuron 2, G- of the pair" in text
    assert f"programmed {W_prog[0][3, 2]:+.4g}, effective {W_eff[0][3, 2]:+.4g}" in text
    g_prog_us = m.arrays[0].g_siemens[rn, cn] * 1e6
    assert f"conductance: programmed {g_prog_us:.4g} µS, effective {m.device.g_on_siemens * 1e6:.4g} µS" in text
    assert text.endswith("state: stuck on")
    # its partner is healthy and reads the same weight
    partner = ro.cell_text(rp, cp)
    assert "G+ of the pair" in partner and "state: healthy" in partner
    assert f"effective {W_eff[0][3, 2]:+.4g}" in partner
    pair = ro.pair_text(3, 2)
    assert f"G- (row {rn}, column {cn})" in pair and "stuck on" in pair and "healthy" in pair


@pytest.mark.parametrize("scheme", SCHEMES)
def test_bias_row_text_and_weight_in_crossbar_units(scheme):
    m = _mapped(scheme)
    a = m.arrays[1]  # the second layer: bias_scale != 1
    assert a.bias_scale != 1.0
    r, c = cv.pair_cells(scheme, N_HID, 1)[0]
    ro = cv.ArrayReadout(m, 2, [_one_cell(a.shape, r, c, "ohm", 50e3, array=2)])
    text = ro.cell_text(r, c)
    assert "bias row, neuron 1, G+ of the pair" in text and "bias-row weight of neuron 1" in text
    assert "state: stuck at 50 kΩ" in text and "effective 20 µS" in text
    _, b_prog = effective_weights(m, m.conductances())
    assert ro.w_programmed[N_HID, 1] == pytest.approx(b_prog[1][1] * a.bias_scale, rel=1e-12)


# ---- weight error -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", SCHEMES)
def test_weight_error_is_exactly_zero_without_defects(scheme):
    m = _mapped(scheme)
    for array in (1, 2):
        ro = cv.ArrayReadout(m, array, [])
        assert ro.weight_error.shape == (m.arrays[array - 1].n_in + 1, m.arrays[array - 1].n_out)
        assert np.all(ro.weight_error == 0.0) and ro.n_defective == 0
        assert np.all(np.isnan(ro.r_position))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_one_stuck_on_g_minus_shifts_its_weight_by_the_known_amount(scheme):
    m = _mapped(scheme)
    a = m.arrays[0]
    dg = m.device.g_on_siemens - m.device.g_off_siemens
    i, j = 2, 1
    rn, cn = cv.pair_cells(scheme, i, j)[1]
    ro = cv.ArrayReadout(m, 1, [_one_cell(a.shape, rn, cn, "on")])
    expected = -(m.device.g_on_siemens - a.g_siemens[rn, cn]) * a.w_max / dg
    assert expected < 0
    assert ro.weight_error[i, j] == pytest.approx(expected, rel=1e-12)
    others = np.ones(ro.weight_error.shape, dtype=bool)
    others[i, j] = False
    assert np.all(ro.weight_error[others] == 0.0)
    assert ro.n_defective == 1 and ro.codes[rn, cn] == 1


def test_weight_error_ignores_defects_of_other_arrays_and_levels_are_symmetric():
    m = _mapped("differential-columns")
    ro = cv.ArrayReadout(m, 1, [parse_spec("rows:array=2,start=0,count=2,stuck=on")])
    assert np.all(ro.weight_error == 0.0)
    assert cv.weight_levels(ro.weight_error) == (-1.0, 1.0)  # nothing to show: a neutral, non-empty range
    assert cv.weight_levels(np.array([[0.5, -2.0]])) == (-2.0, 2.0)


# ---- stuck at R -------------------------------------------------------------------------------------------
def test_stuck_at_r_positions_on_a_log_scale_between_lrs_and_hrs():
    dev = DeviceParams()  # 10 kΩ .. 1 MΩ
    g = 1.0 / np.array([10e3, 100e3, 1e6, 1e3, 1e9, np.nan])
    t = cv.r_position(g, dev.r_on_ohm, dev.r_off_ohm)
    assert t[:5] == pytest.approx([0.0, 0.5, 1.0, 0.0, 1.0])
    assert np.isnan(t[5])
    m = _mapped("differential-columns")
    shape = m.arrays[0].shape
    ro = cv.ArrayReadout(m, 1, [_one_cell(shape, 0, 0, "ohm", 100e3), _one_cell(shape, 1, 1, "off")])
    assert ro.r_position[0, 0] == pytest.approx(0.5) and np.isnan(ro.r_position[1, 1])
    assert cv.state_name(2, np.nan) == "stuck off" and cv.format_ohm(1.5e6) == "1.5 MΩ"


# ---- painting ---------------------------------------------------------------------------------------------
def test_diagonal_drag_sampled_every_two_cells_leaves_no_gap():
    shape = (30, 30)
    stroke, last = np.zeros(shape, dtype=bool), None
    for k in range(0, 21, 2):  # a fast drag: the mouse reports every second cell only
        stroke |= cv.stroke_cells(last, (k, k), shape)
        last = (k, k)
    assert np.array_equal(np.argwhere(stroke), np.array([(k, k) for k in range(21)]))


@pytest.mark.parametrize("start, end", [((0, 0), (3, 7)), ((9, 2), (0, 5)), ((4, 4), (4, -3)), ((0, 0), (12, 1))])
def test_line_cells_are_eight_connected_from_end_to_end(start, end):
    cells = cv.line_cells(start, end)
    assert cells[0] == start and cells[-1] == end
    steps = np.abs(np.diff(np.array(cells), axis=0))
    assert np.all(steps.max(axis=1) == 1)  # every step moves to a neighbour: no gap, no repeat
    assert len(cells) == max(abs(end[0] - start[0]), abs(end[1] - start[1])) + 1


def test_brush_stamps_the_right_cells():
    shape = (20, 20)
    block = cv.stroke_cells(None, (5, 5), shape, 3, "square")
    assert np.array_equal(np.argwhere(block), np.array([(r, c) for r in (4, 5, 6) for c in (4, 5, 6)]))
    corner = cv.stroke_cells(None, (0, 0), shape, 3, "square")  # clipped at the edge
    assert np.array_equal(np.argwhere(corner), np.array([(0, 0), (0, 1), (1, 0), (1, 1)]))
    plus = cv.stroke_cells(None, (5, 5), shape, 3, "round")
    assert set(map(tuple, np.argwhere(plus))) == {(5, 5), (4, 5), (6, 5), (5, 4), (5, 6)}
    disc = cv.stroke_cells(None, (10, 10), shape, 5, "round")
    assert disc.sum() == 21 and not disc[8, 8] and disc[8, 9] and disc[10, 8]
    line = cv.stroke_cells((2, 2), (2, 8), shape, 3, "square")  # a wide stroke is a band of height 3
    assert line.sum() == 3 * 9 and line[1:4, 1:10].all()
    with pytest.raises(DefectSpecError, match=r"brush size: must be an odd integer in \[1, 15\]"):
        cv.brush_offsets(4)


def test_cell_of_image_coordinates():
    assert cv.cell_of(3.9, 2.1, (10, 10)) == (2, 3)
    assert cv.cell_of(-0.1, 2.0, (10, 10)) is None and cv.cell_of(2.0, 10.0, (10, 10)) is None
    assert cv.cell_of(float("nan"), 1.0, (10, 10)) is None and cv.cell_of(1.0, 1.0, None) is None


# ---- zoom limits ------------------------------------------------------------------------------------------
def test_zoom_limits_keep_the_array_plus_a_margin_and_a_few_cells():
    lim = cv.view_limits((65, 16))
    assert lim["maxXRange"] == 16 + 2 and lim["maxYRange"] == pytest.approx(65 + 2 * 3.25)
    assert lim["minXRange"] == cv.MIN_VIEW_CELLS and lim["minYRange"] == cv.MIN_VIEW_CELLS
    assert lim["xMin"] == -1.5 and lim["xMax"] == 16.5  # cells span [k - 0.5, k + 0.5]
    assert cv.view_limits((2, 3))["minYRange"] == 2.0  # a side shorter than the minimum: the whole side
    (x0, x1), (y0, y1) = cv.home_range((65, 16))
    assert (x0, x1, y0, y1) == (-0.75, 15.75, -0.75, 64.75)
    assert lim["xMin"] <= x0 and x1 <= lim["xMax"] and x1 - x0 <= lim["maxXRange"]


# ---- previews ---------------------------------------------------------------------------------------------
def test_preview_opens_on_an_array_the_defects_touch_and_says_what_it_shows():
    ds = cv.defects_from(["circle:array=3,r=0.2,stuck=on", Defect("rows", 4, "off", 0.0, {"start": 1})])
    assert [d.array for d in ds] == [3, 4]
    assert cv.preview_array(ds, 1, 4) == 3 and cv.preview_array(ds, 4, 4) == 4 and cv.preview_array([], 2, 4) == 2
    text = cv.preview_text("run-0003 (circle-on-array1)", ds, 3)
    assert text.startswith("showing: run-0003 (circle-on-array1)") and "also defects on array 4" in text
    assert "(no defects)" in cv.preview_text("run-0001", [], 1)
    with pytest.raises(DefectSpecError):
        cv.defects_from(["circle:array=1,stuck=on"])  # r missing


@pytest.mark.parametrize("scheme", ["balanced", "reference"])
def test_new_schemes_hover_and_weight_error(trained_project, scheme):
    """Balanced pairs sit in column pairs; a reference cell names its role and moves its whole row's weights."""
    from core.circuit.mapping import map_project

    p = trained_project
    p.scheme = scheme
    mapped = map_project(p)
    a = mapped.arrays[0]
    if scheme == "balanced":
        assert cv.cell_pair(scheme, 3, 5, a.n_out) == (3, 2, "G-")
        return
    ref_col = a.shape[1] - 1
    assert cv.cell_pair(scheme, 3, ref_col, a.n_out) == (3, -1, "ref")
    d = parse_spec(f"columns:array=1,indices={ref_col},stuck=on")
    ro = cv.ArrayReadout(mapped, 1, [d])
    text = ro.cell_text(3, ref_col)
    assert "reference cell shared by all" in text and "moves every weight of this row" in text
    # the stuck reference cell shifts every weight of its row, none elsewhere but in stuck rows
    err = ro.w_effective - ro.w_programmed
    assert np.all(np.abs(err[3]) > 0)
