"""The results and queue presenters without Qt: curve selection and styles, CSV tables with true sizes, Wilson
intervals, the defects behind a result, the simulation comparison chart, time-left estimates and queue texts."""

from __future__ import annotations

import copy
import csv
import math
import os
import subprocess
import sys

import pytest

from app.presenters import queue_text as qt_
from app.presenters import results_tables as rt
from app.presenters import results_view as rv
from app.presenters.document import DEFAULT_PROJECT
from core import project_io
from core.jobs import Progress
from core.model.results import SimulationResult, SweepResult
from core.model.stats import wilson_interval
from core.session.job_queue import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobInfo
from core.sweeps.spec import make_defect

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = [0.1, 0.2, 0.3, 0.4, 0.5]


@pytest.fixture(scope="module")
def _project():
    return project_io.load(DEFAULT_PROJECT)


@pytest.fixture
def project(_project):
    return copy.deepcopy(_project)


def test_presenters_import_no_qt():
    code = (
        "import sys, app.presenters.results_view, app.presenters.queue_text; "
        "sys.exit(any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


# ---- sweep curves --------------------------------------------------------------------------------------------
def test_curves_filtered_by_pattern_stuck_and_array(project):
    rows = project.sweeps[0].rows  # 6 patterns x 5 sizes x 2 stuck x 4 arrays
    patterns, stucks, arrays = rv.sweep_choices(rows)
    assert len(patterns) == 6 and stucks == ["on", "off"] and arrays == [1, 2, 3, 4]
    assert len(rv.select_curves(rows)) == 48
    one = rv.select_curves(rows, array=1)
    assert len(one) == 12 and {c.key[2] for c in one} == {1}
    assert [c.key for c in rv.select_curves(rows, pattern="ring", array=1)] == [("ring", "on", 1), ("ring", "off", 1)]
    assert [c.key for c in rv.select_curves(rows, "ring", "off", rv.ALL)] == [("ring", "off", a) for a in arrays]
    for c in one:  # true sizes in order, the mean and interval of exactly those rows
        assert list(c.size) == SIZES
        for i, s, m, lo in zip(c.rows, c.size, c.mean, c.lo):
            r = rows[i]
            assert (r["pattern"], r["stuck"], r["array"]) == c.key and r["size"] == s
            assert r["mean_accuracy"] == m and r["ci95_low"] == lo


def test_points_without_maps_are_left_out():
    rows = [
        {"pattern": "circle", "stuck": "on", "array": 1, "size": 0.2, "n": 3, "mean_accuracy": 0.5,
         "ci95_low": 0.4, "ci95_high": 0.6},
        {"pattern": "circle", "stuck": "on", "array": 1, "size": 0.1, "n": 0, "mean_accuracy": math.nan,
         "ci95_low": math.nan, "ci95_high": math.nan},
    ]  # fmt: skip
    (c,) = rv.select_curves(rows)
    assert list(c.size) == [0.2] and c.rows == (0,)


def _distinct(styles: dict) -> bool:
    return len(set(styles.values())) == len(styles)


def test_styles_unique_among_visible_curves(project):
    rows = project.sweeps[0].rows
    for pattern in (rv.ALL, "circle"):
        for stuck in (rv.ALL, "on"):
            for array in (rv.ALL, 1, 3):
                keys = [c.key for c in rv.select_curves(rows, pattern, stuck, array)]
                styles = rv.curve_styles(keys, rows)
                assert set(styles) == set(keys) and _distinct(styles), (pattern, stuck, array)
    # a pattern keeps its colour whatever the filters
    all_styles = rv.curve_styles([c.key for c in rv.select_curves(rows)], rows)
    ring = rv.curve_styles([("ring", "off", 2)], rows)[("ring", "off", 2)]
    assert ring.color == all_styles[("ring", "on", 1)].color
    # too many stuck types for the dashes: styles by position, still distinct up to 140 curves
    many = [("circle", f"{k}e3", a) for k in range(1, 36) for a in (1, 2, 3, 4)]
    assert len(many) == 140 and _distinct(rv.curve_styles(many))
    for st in rv.curve_styles(many).values():
        assert st.dash in rv.DASHES and st.symbol in rv.SYMBOLS and 0 <= st.color < rv.N_COLORS


def test_point_text_and_dodge_are_for_drawing_only(project):
    sweep = project.sweeps[0]
    row = sweep.rows[0]
    text = rv.point_text(row)
    assert "circle, stuck on, array 1" in text and "size 0.1" in text and "n = 10" in text
    assert f"{row['mean_accuracy']:.3f}" in text and f"{row['ci95_low']:.3f} to {row['ci95_high']:.3f}" in text
    assert "needs n >= 2" in rv.point_text({**row, "n": 1, "ci95_low": math.nan, "ci95_high": math.nan})
    curves = rv.select_curves(sweep.rows, array=1)
    offsets, _beam = rv.dodge_offsets(curves)
    assert len(set(offsets.values())) == 12 and abs(sum(offsets.values())) < 1e-12
    assert max(offsets.values()) - min(offsets.values()) == pytest.approx(0.3 * 0.1)
    assert set(rv.dodge_offsets(curves, dodge=False)[0].values()) == {0.0}


# ---- CSV tables ------------------------------------------------------------------------------------------------
def _read(path):
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        header = next(r)
        return header, [dict(zip(header, row)) for row in r]


def test_sweep_csv_has_named_columns_and_true_sizes(project, tmp_path):
    sweep = project.sweeps[0]
    path = rt.write_csv(str(tmp_path / "sweep"), rv.SWEEP_COLUMNS, rt.sweep_table(sweep, project))
    assert path.endswith("sweep.csv")
    header, rows = _read(path)
    named = ["pattern", "stuck", "array", "size", "n", "mean", "std", "ci_low", "ci_high", "fidelity"]
    assert header[: len(named)] == named and {"r_wire_ohm", "device_model", "failures"} <= set(header)
    assert len(rows) == len(sweep.rows) == 240
    for got, want in zip(rows, sweep.rows):
        assert float(got["size"]) == want["size"]  # exactly the true size, never a dodged one
        assert float(got["mean"]) == want["mean_accuracy"] and float(got["ci_high"]) == want["ci95_high"]
        assert (got["pattern"], got["stuck"], int(got["array"])) == (want["pattern"], want["stuck"], want["array"])
        # the example's sweep predates recording the circuit: it ran on the project's own
        assert float(got["r_wire_ohm"]) == project.circuit.r_wire_ohm and got["device_model"] == "linear"
    assert sorted({float(r["size"]) for r in rows}) == SIZES


def test_sweep_csv_uses_the_recorded_circuit_and_blanks_undefined():
    rows = [{"pattern": "rows", "size": 0.25, "stuck": "50000", "array": 2, "fidelity": "nodal", "n": 1,
             "mean_accuracy": 0.5, "std": 0.0, "ci95_low": math.nan, "ci95_high": math.nan, "failures": 0}]  # fmt: skip
    sweep = SweepResult("sweep-0009", {"fidelity": "nodal", "r_wire_ohm": 2.5, "device_model": "gap"}, rows)
    (row,) = rt.sweep_table(sweep)
    assert row["r_wire_ohm"] == 2.5 and row["device_model"] == "gap" and math.isnan(row["ci_low"])


def test_simulation_and_recovery_csv(project, tmp_path):
    header, rows = _read(rt.write_csv(str(tmp_path / "sims.csv"), rv.SIM_COLUMNS, rt.simulation_table(project)))
    assert header == list(rv.SIM_COLUMNS)
    assert [r["id"] for r in rows] == [r.id for r in project.results]
    by_id = {r["id"]: r for r in rows}
    assert by_id["run-0001"]["scenario"] == "clean" and by_id["run-0003"]["scenario"] == "circle-on-array1"
    assert by_id["run-0012"]["fidelity"] == "spice" and by_id["run-0012"]["solver"].startswith("ngspice")
    lo, hi = wilson_interval(65, 180)  # run-0003: 0.3611 of 180 images
    assert float(by_id["run-0003"]["ci_low"]) == lo and float(by_id["run-0003"]["ci_high"]) == hi
    assert by_id["run-0004"]["defects"] == "ring:array=1,stuck=off,cx=0.5,cy=0.5,r_in=0.2,r_out=0.35"
    header, rows = _read(rt.write_csv(str(tmp_path / "rec.csv"), rv.REC_COLUMNS, rt.recovery_table(project)))
    assert header[:6] == ["id", "scenario", "method", "fidelity", "before", "after"]
    (r,) = rows
    rec = project.recoveries[0]
    assert r["method"] == "correction" and float(r["after"]) == rec.after and int(r["n_test"]) == 180
    assert float(r["gain"]) == pytest.approx(rec.after - rec.before)
    assert (float(r["after_ci_low"]), float(r["after_ci_high"])) == wilson_interval(round(rec.after * 180), 180)


def test_wilson_interval_of_one_result():
    res = SimulationResult("run-1", "behavioral", 0.9, 200, [], [], None, 0.1)
    lo, hi = rv.result_interval(res)
    assert (lo, hi) == wilson_interval(180, 200) and lo < 0.9 < hi
    perfect = SimulationResult("run-2", "spice", 1.0, 50, [], [], None, 0.1)
    lo, hi = rv.result_interval(perfect)
    assert lo < 1.0 and hi == pytest.approx(1.0)


# ---- simulations chart and cells -------------------------------------------------------------------------------
def test_chart_compares_a_scenario_across_fidelities(project):
    chart = rv.simulation_chart(project.results, project)
    assert chart.groups[0] == "clean" and "ring-on-array4" in chart.groups
    assert chart.conditions == ["ideal", "behavioral", "spice"]  # one circuit in all: fidelity names suffice
    clean = [b for b in chart.bars if b.group == 0]
    assert sorted(chart.conditions[b.condition] for b in clean) == ["behavioral", "ideal", "spice"]
    ring = chart.groups.index("ring-on-array4")
    spice = chart.conditions.index("spice")
    (b_ring,) = [b for b in chart.bars if b.group == ring and b.condition == spice]
    (b_clean,) = [b for b in clean if b.condition == spice]
    assert b_ring.y - ring == pytest.approx(b_clean.y)  # each fidelity keeps its slot in every group
    assert project.results[b_ring.result].id == "run-0013" and b_ring.lo < b_ring.accuracy < b_ring.hi
    assert len(chart.bars) == len(project.results)  # every result of the example is a distinct scenario x fidelity


def test_chart_names_circuits_when_they_differ_and_shows_the_latest(project):
    results = project.results[:2]
    wired = copy.deepcopy(results[1])
    wired.params = {**wired.params, "r_wire_ohm": 5.0}
    again = copy.deepcopy(results[1])
    again.accuracy = 0.5
    chart = rv.simulation_chart([*results, wired, again], project)
    assert "behavioral, 5 Ω, linear" in chart.conditions and "behavioral, 0 Ω, linear" in chart.conditions
    latest = [b for b in chart.bars if chart.conditions[b.condition] == "behavioral, 0 Ω, linear"]
    assert [b.result for b in latest] == [3] and latest[0].accuracy == 0.5


def test_table_cells_sort_by_value(project):
    cells = rt.simulation_cells(rt.simulation_table(project))
    assert [h for h in rt.SIM_HEADERS][:4] == ["id", "scenario", "fidelity", "accuracy"]
    row = cells[2]  # run-0003
    assert row[1] == ("circle-on-array1", "circle-on-array1") and row[3][0] == "0.361"
    assert isinstance(row[3][1], float) and row[4][0].startswith("0.29")
    assert [c[2][1] for c in cells[:2]] == [0, 1]  # fidelity sorts ideal < behavioral < nodal < spice
    assert rt.recovery_cells(rt.recovery_table(project))[0][6][0] == "+0.733"


# ---- defects behind a result -------------------------------------------------------------------------------------
def test_simulation_defects_from_specs_and_mask_scenarios(project):
    res = {r.id: r for r in project.results}
    defects, label = rv.simulation_defects(project, res["run-0004"])
    assert [d.to_spec() for d in defects] == res["run-0004"].defect_specs
    assert label == "run-0004: ring-off-array1 (behavioral)"
    assert rv.simulation_defects(project, res["run-0001"]) == ([], "run-0001: clean (ideal)")
    mask_res = res["run-0011"]
    defects, label = rv.simulation_defects(project, mask_res)
    (d,) = defects
    stored = project.scenarios["measured-mask-array2"].defects[0]
    assert d.pattern == "mask" and d.array == 2 and (d.mask == stored.mask).all() and d.mask is not stored.mask
    del project.scenarios["measured-mask-array2"]
    defects, label = rv.simulation_defects(project, mask_res)
    assert defects == [] and "could not be rebuilt" in label
    defects, _ = rv.simulation_defects(project, project.recoveries[0])
    assert [x.to_spec() for x in defects] == project.recoveries[0].defect_specs


def test_sweep_point_defect_is_the_first_placement(project):
    sweep = copy.deepcopy(project.sweeps[0])
    row = next(r for r in sweep.rows if r["pattern"] == "ring" and r["size"] == 0.3 and r["array"] == 4)
    shape = tuple(project.mapped.shapes[3])
    (d,), label = rv.sweep_point_defects(sweep, row, shape)
    assert d.to_spec() == make_defect("ring", 0.3, row["stuck"], 4, 0, shape, 0).to_spec()
    assert d.params["r_out"] - d.params["r_in"] == pytest.approx(0.3) and d.array == 4
    assert label.startswith("sweep-0001: ring size 0.3") and "placement 1 of 10" in label
    sweep.spec["base_seed"] = 7  # another base seed places it elsewhere
    (d7,), _ = rv.sweep_point_defects(sweep, row, shape)
    assert d7.to_spec() == make_defect("ring", 0.3, row["stuck"], 4, 0, shape, 7).to_spec() != d.to_spec()


# ---- queue texts and time left --------------------------------------------------------------------------------
def _info(state=RUNNING, done=0.0, total=10.0, message="", started=100.0, attempts=1, **kw):
    progress = Progress(done, total, message) if total is not None else None
    return JobInfo(1, "job", 0, state, progress=progress, started_s=started, attempts=attempts, **kw)


def test_eta_says_estimating_until_there_is_enough_progress():
    eta = qt_.EtaTracker()
    first = _info(done=0)
    eta.observe(first, 100.5)
    assert eta.text(first, 100.5) == qt_.ESTIMATING == "estimating…"
    early = _info(done=0.2)  # 2 % after half a second: too little to tell
    eta.observe(early, 101.0)
    assert eta.remaining(early, 101.0) is None and eta.text(early, 101.0) == "estimating…"
    later = _info(done=1.2)  # 10 % more in 2 s: 5 %/s, 88 % left
    eta.observe(later, 103.0)
    assert eta.remaining(later, 103.0) == pytest.approx(0.88 / 0.05)
    assert eta.remaining(later, 108.0) == pytest.approx(0.88 / 0.05 - 5)  # counts down between reports
    assert eta.text(later, 103.0) == "~20 s" and eta.text(later, 103.0, short=False) == "about 20 s left"
    assert eta.text(later, 200.0) == "almost done"


def test_eta_from_the_whole_run_after_a_single_report_and_resets():
    eta = qt_.EtaTracker()
    one = _info(done=2, started=100.0)  # 20 % after 4 s, one report only
    eta.observe(one, 104.0)
    assert eta.remaining(one, 104.0) == pytest.approx(16.0)
    retry = _info(done=1, attempts=2, started=109.0)  # a retry starts over
    eta.observe(retry, 110.0)
    assert eta.remaining(retry, 110.0) is None
    unknown = _info(done=3, total=0)
    eta.observe(unknown, 111.0)
    assert eta.text(unknown, 111.0) == ""
    done = _info(state=DONE, done=10)
    eta.observe(done, 112.0)
    assert eta.text(done, 112.0) == "" and eta.remaining(retry, 112.0) is None


def test_duration_texts():
    assert [qt_.duration_text(s) for s in (3.2, 42, 130, 3599, 3725)] == ["3 s", "40 s", "2 min 10 s", "60 min",
                                                                           "1 h 02 min"]  # fmt: skip
    assert qt_.remaining_text(None) == "estimating…" and qt_.remaining_text(0.4) == "almost done"


def test_queue_row_texts():
    assert qt_.message_text(_info(state=QUEUED)) == "queued: waiting for a free worker"
    assert qt_.message_text(_info(message="")) == "starting …"
    assert qt_.message_text(_info(message="ngspice: 3 of 9 runs")) == "ngspice: 3 of 9 runs"
    assert qt_.message_text(_info(state=FAILED, error="ngspice: not found")) == "ngspice: not found"
    sweep = SweepResult("", {"patterns": ["circle"], "sizes": [0.1, 0.2], "stuck": ["on"], "arrays": [1, 2]},
                        [{}, {}, {}], partial=True)  # fmt: skip
    cancelled = _info(state=CANCELLED, error="cancelled", partial=sweep)
    assert qt_.message_text(cancelled) == "cancelled; kept 3 of 4 points as a partial sweep"
    assert "its project was closed" in qt_.message_text(cancelled, project_closed=True)
    res = SimulationResult("", "nodal", 0.8125, 16, [], [], None, 0.1)
    done = JobInfo(1, "eval", 0, DONE, progress=Progress(1, 1, "nodal solve"), result=res, started_s=1.0,
                   finished_s=3.5)  # fmt: skip
    assert qt_.message_text(done) == "done in 2.50 s: nodal solve (accuracy 0.812)"
    assert qt_.progress_text(done) == "100 %" and qt_.progress_text(_info(done=4)) == "40 %"
    assert qt_.COLUMNS == ("Job", "State", "Progress", "Message", "Time left")


def test_details_text_holds_the_full_message_and_actions():
    long = "sweep: " + "very long message " * 20
    text = qt_.details_text(_info(done=5, message=long, started=0.0 + 1.0), time_left="about 5 s left")
    assert long in text and "50 %" in text and "about 5 s left" in text
    failed = _info(state=FAILED, error="nodal: matrix is singular", finished_s=2.0)
    assert "nodal: matrix is singular" in qt_.details_text(failed) and "took" in qt_.details_text(failed)
    a = qt_.actions(RUNNING, True, False)
    assert a.cancel and not a.retry and a.remove
    a = qt_.actions(FAILED, True, True)
    assert not a.cancel and not a.retry and a.retry_tip == "its project is no longer open"
    assert qt_.actions(CANCELLED, True, False).retry and not qt_.actions("", False, False).remove
