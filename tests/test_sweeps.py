"""Defect sweeps: table shape and statistics, placement semantics, determinism, cancel, failures, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core import jobs
from core.circuit import behavioral
from core.errors import ParameterError, SimulationError
from core.evaluate import evaluate_job
from core.jobs import Cancelled, CancelToken
from core.session.store import partial_sweep
from core.sweeps.chunks import default_map_evaluator
from core.sweeps.job import sweep_job
from core.sweeps.spec import SweepSpec, make_defect, sizes_from_text

ROW_KEYS = {
    "pattern",
    "size",
    "stuck",
    "array",
    "offset_sigma_volt",
    "fidelity",
    "n",
    "mean_accuracy",
    "std",
    "ci95_low",
    "ci95_high",
    "failures",
    "failure_reasons",
    "status",
    "defect_fraction",
    "accuracies",
}
ALL_PATTERNS = ("circle", "ring", "rows", "columns", "circle_complement", "checkerboard", "random")


def test_table_shape_statistics_and_independent_recomputation(trained_project):
    from scipy import stats

    p = trained_project
    spec = SweepSpec(patterns=("circle", "columns"), sizes=(0.1, 0.3), stuck=("on", "off"), arrays=(1, 3), n_seeds=6)
    res = jobs.run(sweep_job(p, spec))
    assert p.sweeps == [] and not res.partial and res.seconds > 0  # the job only returns its result
    assert len(res.rows) == 2 * 2 * 2 * 2
    assert [(r["pattern"], r["size"], r["stuck"], r["array"]) for r in res.rows] == spec.points()
    ds = p.load_dataset()
    for row in res.rows:
        assert set(row) == ROW_KEYS
        assert row["n"] == 6 and row["failures"] == 0 and row["status"] == "ok" and row["fidelity"] == "behavioral"
        # each map again, one at a time, through the ordinary single-evaluation path
        accs = []
        for k in range(6):
            d = make_defect(
                row["pattern"], row["size"], row["stuck"], row["array"], k, p.mapped.shapes[row["array"] - 1]
            )
            accs.append(jobs.run(evaluate_job(p, [d], "behavioral")).accuracy)
        np.testing.assert_allclose(row["accuracies"], accs, rtol=0, atol=1e-12)
        assert row["mean_accuracy"] == pytest.approx(np.mean(accs), abs=1e-12)
        assert row["std"] == pytest.approx(np.std(accs, ddof=1), abs=1e-12)
        if row["std"] > 0:
            lo, hi = stats.t.interval(0.95, 5, loc=np.mean(accs), scale=stats.sem(accs))
            assert row["ci95_low"] == pytest.approx(max(0.0, lo), abs=1e-9)
            assert row["ci95_high"] == pytest.approx(min(1.0, hi), abs=1e-9)
        assert 0.0 <= row["ci95_low"] <= row["mean_accuracy"] <= row["ci95_high"] <= 1.0
        assert 0.0 < row["defect_fraction"] < 1.0
    # defects hurt: every stuck-on point on the big first array is worse than the defect-free network
    clean = behavioral.accuracy(p.mapped, ds.X_test, ds.y_test)
    assert all(r["mean_accuracy"] < clean for r in res.rows if r["stuck"] == "on" and r["array"] == 1)


def test_sizes_mean_more_defects_and_placements_are_nested(trained_project):
    shape = trained_project.mapped.shapes[0]
    sizes = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8)
    for k in range(10):
        for pattern in ("circle", "ring", "random"):
            cells = [make_defect(pattern, s, "on", 1, k, shape).cells(shape) for s in sizes]
            for small, big in zip(cells, cells[1:]):
                assert not (small & ~big).any(), (pattern, k)  # bigger never has more healthy cells
        kept = [~make_defect("circle_complement", s, "on", 1, k, shape).cells(shape) for s in sizes]
        assert all(not (a & ~b).any() for a, b in zip(kept, kept[1:]))  # size = radius of the kept disc
    # rows/columns: size is a fraction of the array's lines; checkerboard: period from the shorter side
    rows_d = make_defect("rows", 0.3, "off", 1, 0, shape)
    assert (
        rows_d.params["count"] == round(0.3 * shape[0])
        and rows_d.cells(shape).sum() == rows_d.params["count"] * shape[1]
    )
    cols_d = make_defect("columns", 0.1, "off", 1, 0, shape)
    assert cols_d.cells(shape).sum(axis=0).tolist().count(shape[0]) == max(1, round(0.1 * shape[1]))
    assert make_defect("checkerboard", 0.25, "on", 1, 0, shape).params["period"] == round(0.25 * min(shape))
    # a resistance stuck type and the table: stuck-on circles cover more of the array as the radius grows
    p = trained_project
    spec = SweepSpec(patterns=("circle",), sizes=(0.1, 0.2, 0.4), stuck=("on", "20k"), arrays=(2,), n_seeds=5)
    rows = jobs.run(sweep_job(p, spec)).rows
    for stuck in ("on", "20000"):
        fr = [r["defect_fraction"] for r in rows if r["stuck"] == stuck]
        assert len(fr) == 3 and fr[0] < fr[1] < fr[2]


def test_same_seeds_same_table_whatever_the_threads_and_chunks(trained_project):
    p = trained_project
    spec = SweepSpec(patterns=ALL_PATTERNS, sizes=(0.15, 0.4), stuck=("on", "off"), n_seeds=5, base_seed=7)
    a = jobs.run(sweep_job(p, spec, workers=1))
    b = jobs.run(sweep_job(p, spec, workers=2, chunk_maps=7))
    assert json.dumps(a.rows) == json.dumps(b.rows)
    assert len(a.rows) == 7 * 2 * 2 * 4
    other = jobs.run(sweep_job(p, SweepSpec.from_dict({**spec.to_dict(), "base_seed": 8})))
    assert [r["accuracies"] for r in other.rows] != [r["accuracies"] for r in a.rows]
    assert SweepSpec.from_dict(a.spec) == spec.with_arrays(4)


def test_cancel_keeps_finished_points_marked_partial(trained_project):
    p = trained_project
    spec = SweepSpec(patterns=("circle", "ring", "rows"), sizes=(0.1, 0.2, 0.3), stuck=("on", "off"), n_seeds=8)
    token = CancelToken()

    def on_progress(prog):
        if prog.partial is not None and len(prog.partial.rows) >= 3:
            token.cancel()

    with pytest.raises(Cancelled) as exc:
        jobs.run(sweep_job(p, spec, workers=1, chunk_maps=4), on_progress, token)
    total = len(spec.with_arrays(4).points())
    assert p.sweeps == []  # the job only reports; the caller stores
    stored = partial_sweep(exc.value.partial)
    assert stored.partial and 3 <= len(stored.rows) < total
    assert all(r["n"] == 8 and r["status"] == "ok" for r in stored.rows)
    assert exc.value.partial.partial and len(exc.value.partial.rows) >= 3
    # the finished points equal the same points of a complete run
    full = {(r["pattern"], r["size"], r["stuck"], r["array"]): r for r in jobs.run(sweep_job(p, spec)).rows}
    for r in stored.rows:
        assert r == full[(r["pattern"], r["size"], r["stuck"], r["array"])]


def failing_on_array_2(mapped, X, g_list, fidelity):
    """Per-map evaluator for the test: array-2 maps fail like a non-converging circuit, the others run nodal."""
    if not np.array_equal(g_list[1], mapped.arrays[1].g_siemens):
        raise SimulationError("ngspice run 0: the circuit did not converge (injected for array 2)")
    return (yield from default_map_evaluator(mapped, X, g_list, fidelity))


def test_failing_point_is_marked_and_others_continue(trained_project):
    p = trained_project
    spec = SweepSpec(patterns=("circle",), sizes=(0.2,), stuck=("on",), arrays=(1, 2, 3), n_seeds=3, fidelity="nodal")
    res = jobs.run(sweep_job(p, spec, workers=2, map_evaluator=failing_on_array_2))
    by_array = {r["array"]: r for r in res.rows}
    bad = by_array[2]
    assert bad["status"] == "failed" and bad["n"] == 0 and bad["failures"] == 3 and math.isnan(bad["mean_accuracy"])
    assert bad["failure_reasons"] == ["ngspice run 0: the circuit did not converge (injected for array 2)"]
    # the nodal solve with ideal wires equals the behavioural model, map by map
    ref = jobs.run(sweep_job(p, SweepSpec.from_dict({**spec.to_dict(), "fidelity": "behavioral"})))
    for a in (1, 3):
        assert by_array[a]["status"] == "ok" and by_array[a]["n"] == 3
        np.testing.assert_allclose(by_array[a]["accuracies"], ref.rows[a - 1]["accuracies"], atol=1e-12)


def test_spice_map_over_its_time_limit_is_marked_failed(trained_project, ngspice_path):
    spec = SweepSpec(
        patterns=("rows",), sizes=(0.1,), stuck=("off",), arrays=(4,), n_seeds=2, fidelity="spice", timeout_s=0.02
    )
    res = jobs.run(sweep_job(trained_project, spec, workers=1))
    (row,) = res.rows
    assert row["failures"] == 2 and row["failure_reasons"] == ["timed out after 0.02 s"] and row["status"] == "failed"


def test_bad_specs_name_the_field(trained_project):
    with pytest.raises(ParameterError, match="patterns"):
        SweepSpec(patterns=("triangle",))
    with pytest.raises(ParameterError, match="sizes"):
        SweepSpec(sizes=(0.0,))
    with pytest.raises(ParameterError, match="sizes"):
        SweepSpec(sizes=(1.5,))
    with pytest.raises(ParameterError, match="stuck"):
        SweepSpec(stuck=("sideways",))
    with pytest.raises(ParameterError, match="fidelity"):
        SweepSpec(fidelity="ideal")
    with pytest.raises(ParameterError, match="seeds"):
        SweepSpec(n_seeds=0)
    with pytest.raises(ParameterError, match="arrays: must be from 1 to 4"):
        jobs.run(sweep_job(trained_project, SweepSpec(arrays=(5,))))
    assert sizes_from_text("0.1:0.5:5") == (0.1, 0.2, 0.3, 0.4, 0.5)
    assert SweepSpec(stuck=("ON", "50k", "1.5meg")).stuck == ("on", "50000", "1.5e+06")


def test_cli_sweep_json_rows_and_stored_in_project(trained_project, tmp_path, capsys):
    from core import project_io
    from core.cli.main import main

    path = str(tmp_path / "p.h5")
    project_io.save(trained_project, path)
    argv = [
        "sweep",
        path,
        "--patterns",
        "circle,columns",
        "--sizes",
        "0.1,0.3",
        "--stuck",
        "on,off",
        "--arrays",
        "1",
        "--seeds",
        "5",
        "--json",
        "--workers",
        "2",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"rows", "id", "partial", "seconds"} and out["partial"] is False
    assert len(out["rows"]) == 8 and all(
        r["n"] == 5 and r["ci95_low"] <= r["mean_accuracy"] <= r["ci95_high"] for r in out["rows"]
    )
    loaded = project_io.load(path)
    assert [s.id for s in loaded.sweeps] == [out["id"]]
    assert [r["mean_accuracy"] for r in loaded.sweeps[0].rows] == pytest.approx(
        [r["mean_accuracy"] for r in out["rows"]]
    )
    assert main(["sweep", path, "--sizes", "0.1,2", "--json"]) == 2
    err = capsys.readouterr().err
    assert "sizes" in err and len(err.strip().splitlines()) == 1
    assert main(["sweep", path, "--arrays", "9", "--json"]) == 2
    assert "arrays" in capsys.readouterr().err


def test_plan_is_lazy_and_covers_every_map_once_in_table_order():
    import itertools
    import time

    from core.sweeps.chunks import plan_chunks

    spec = SweepSpec(patterns=("circle", "none"), sizes=(0.1, 0.3), stuck=("on", "off"), n_seeds=11).with_arrays(4)
    plan = plan_chunks(spec, chunk_maps=4)
    tasks = list(plan)
    assert len(plan) == len(tasks)
    maps = [(it[0], it[4]) for t in tasks for it in t.items]
    assert sorted(maps) == [(i, k) for i in range(len(spec.grid())) for k in range(11)]  # each map once
    assert all(len({spec.grid()[it[0]][3] for it in t.items}) == 1 for t in tasks)  # one array per chunk
    assert [t.items[0][0] for t in tasks] == sorted(t.items[0][0] for t in tasks)  # arrays interleaved
    # four million maps: planning holds the grid, not the maps (the first chunks come at once)
    huge = SweepSpec(patterns=("circle", "rows"), sizes=(0.1, 0.2, 0.3), stuck=("on", "off"), n_seeds=90_000)
    huge = huge.with_arrays(4)
    t0 = time.perf_counter()
    plan = plan_chunks(huge)
    first = list(itertools.islice(plan, 3))
    assert time.perf_counter() - t0 < 1.0 and len(plan) == 4 * -(-12 * 90_000 // 256)
    assert [len(t.items) for t in first] == [256] * 3
