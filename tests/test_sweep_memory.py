"""Sweeps in bounded memory: exact running aggregates, per-map accuracies streamed to the project, a flat peak."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import tracemalloc

import h5py
import numpy as np
import pytest

from core import jobs, project_io
from core.model.stats import t_interval
from core.project_io.sweep_maps import StreamedSweepResult, point_accuracies
from core.session.store import store_result
from core.sweeps import table as table_mod
from core.sweeps.chunks import ChunkResult, plan_chunks
from core.sweeps.job import sweep_job
from core.sweeps.spec import SweepSpec, placement_uniforms
from core.sweeps.table import SweepTable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "projects", "digits-paper.h5")
STAT_KEYS = ("n", "mean_accuracy", "std", "ci95_low", "ci95_high", "defect_fraction", "failures", "status")


def _synthetic(spec: SweepSpec, n_images: int, cells: int, seed: int):
    """Chunks of a plan with random accuracies (``correct / n_images``, or any float if n_images is 0), stuck
    fractions and a few failed maps; returns them and the (points, seeds) accuracies and failure flags."""
    rng = np.random.default_rng(seed)
    shape = (len(spec.grid()), spec.n_seeds)
    if n_images:
        acc = rng.integers(0, n_images + 1, shape) / n_images
    else:
        acc = rng.random(shape) * rng.choice([1.0, 1e-3, 1e-9], shape)  # not ratios: the exact binary path
    frac = rng.integers(1, cells, shape) / cells
    failed = rng.random(shape) < 0.05
    failed[0] = True  # one point with no map evaluated
    failed[1, 1:] = True  # one with a single map
    chunks = []
    for task in plan_chunks(spec, chunk_maps=7):
        ik = [(it[0], it[4]) for it in task.items]
        a = np.array([np.nan if failed[i, k] else acc[i, k] for i, k in ik])
        f = np.array([frac[i, k] for i, k in ik])
        chunks.append((task, ChunkResult(a, f, ["boom" if failed[i, k] else "" for i, k in ik])))
    return chunks, acc, frac, failed


@pytest.mark.parametrize("n_images", [180, 0])
def test_running_aggregates_equal_numpy_and_do_not_depend_on_chunk_order(n_images):
    spec = SweepSpec(patterns=("circle", "rows"), sizes=(0.1, 0.3), stuck=("on",), arrays=(1, 2), n_seeds=40)
    spec = spec.with_arrays(4)
    chunks, acc, frac, failed = _synthetic(spec, n_images, cells=65 * 16, seed=1)
    tables = []
    for order in (chunks, chunks[::-1], [chunks[j] for j in np.random.default_rng(2).permutation(len(chunks))]):
        t = SweepTable(spec, n_images=n_images, cells={a: 65 * 16 for a in (1, 2)})
        for task, res in order:
            t.add(task, res)
        tables.append(t.rows())
    rows = tables[0]
    # exact sums: identical in any order (so a Dask run equals a local one)
    assert json.dumps(rows) == json.dumps(tables[1]) == json.dumps(tables[2])
    assert len(rows) == len(spec.grid())
    for i, row in enumerate(rows):
        good = acc[i][~failed[i]]
        n, mean, std, lo, hi = t_interval(good)
        assert row["n"] == n == good.size and row["failures"] == int(failed[i].sum())
        np.testing.assert_allclose(
            [row["mean_accuracy"], row["std"], row["ci95_low"], row["ci95_high"]],
            [mean, std, lo, hi],
            rtol=1e-13,
            atol=0,
            equal_nan=True,
        )
        np.testing.assert_allclose(row["defect_fraction"], np.mean(frac[i]), rtol=1e-14)
        np.testing.assert_array_equal(row["accuracies"], np.where(failed[i], np.nan, acc[i]))
    assert rows[0]["status"] == "failed" and np.isnan(rows[0]["mean_accuracy"]) and rows[0]["failure_reasons"]
    assert rows[1]["n"] == 1 and rows[1]["std"] == 0.0 and np.isnan(rows[1]["ci95_low"])


def test_a_large_sweep_streams_its_maps_and_saving_copies_them_into_the_project(tmp_path, monkeypatch):
    p = project_io.load(EXAMPLE)
    spec = SweepSpec(patterns=("circle", "columns"), sizes=(0.2,), stuck=("on", "off"), arrays=(1, 3), n_seeds=9)
    small = jobs.run(sweep_job(p, spec, workers=2))
    monkeypatch.setattr(table_mod, "KEEP_MAPS_IN_ROWS", 10)  # 72 maps count as a large sweep now
    big = jobs.run(sweep_job(p, spec, workers=2, spill_dir=str(tmp_path)))
    assert type(small) is not StreamedSweepResult and isinstance(big, StreamedSweepResult)
    spill = big.maps.path
    assert os.path.dirname(spill) == str(tmp_path) and os.path.exists(spill)
    assert all("accuracies" not in r and "maps_row" in r for r in big.rows)
    for i, (a, b) in enumerate(zip(small.rows, big.rows)):
        assert {k: a[k] for k in STAT_KEYS} == {k: b[k] for k in STAT_KEYS}
        np.testing.assert_array_equal(point_accuracies(big, i), a["accuracies"])
    store_result(p, big)
    path = str(tmp_path / "p.h5")
    project_io.save(p, path)
    with h5py.File(path, "r") as f:
        with_maps = [g for g in f["sweeps"].values() if "maps" in g]
        assert len(with_maps) == 1 and with_maps[0]["maps"]["accuracy"].shape == (len(big.rows), 9)
    again = project_io.load(path).sweeps[-1]
    assert isinstance(again, StreamedSweepResult) and again.rows == big.rows
    for i, a in enumerate(small.rows):
        np.testing.assert_array_equal(point_accuracies(again, i), a["accuracies"])
    del big, p, again
    gc.collect()
    assert not os.path.exists(spill)  # the temporary file goes with the result


def _peak_bytes(p, n_seeds: int) -> tuple[int, object]:
    spec = SweepSpec(
        patterns=("rows", "columns"), sizes=(0.1, 0.3), stuck=("on", "off"), arrays=(3, 4), n_seeds=n_seeds
    )
    gc.collect()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    res = jobs.run(sweep_job(p, spec, workers=2))
    peak = tracemalloc.get_traced_memory()[1] - base
    return peak, res


def test_peak_memory_does_not_grow_with_the_number_of_maps():
    """A 200,000-map behavioural sweep peaks within 6 MB of a 20,000-map one (the old table kept ~220 bytes a
    map: 40 MB more). The real evaluator on the example project, 16 test images to keep the run short."""
    p = project_io.load(EXAMPLE)
    p = dataclasses.replace(p, dataset=dataclasses.replace(p.dataset, test_size=16))
    tracemalloc.start()
    try:
        # the placement cache is bounded (65,536 draws): fill it under tracing, so both sweeps see it full
        for k in range(placement_uniforms.cache_info().maxsize or 0):
            placement_uniforms(0, 10**7 + k, "warm-up", 99)
        _peak_bytes(p, 50)  # first-call costs (imports, caches) out of the comparison
        peak_small, small = _peak_bytes(p, 1250)
        del small
        peak_big, big = _peak_bytes(p, 12500)
    finally:
        tracemalloc.stop()
    assert sum(r["n"] for r in big.rows) == 200_000 and isinstance(big, StreamedSweepResult)
    assert peak_big - peak_small < 6_000_000, (peak_small, peak_big)


def test_dask_keeps_a_bounded_number_of_futures_and_equals_the_local_run():
    distributed = pytest.importorskip("distributed")
    from core.sweeps import dask_backend

    p = project_io.load(EXAMPLE)
    spec = SweepSpec(patterns=("circle", "rows"), sizes=(0.1, 0.3), stuck=("on",), arrays=(1, 2), n_seeds=40)
    local = jobs.run(sweep_job(p, spec, workers=1, chunk_maps=1))  # 320 chunks of one map
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None, silence_logs=40
    ) as cluster:
        with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
            held = []

            def count(_progress) -> None:
                held.append(client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)))

            remote = jobs.run(sweep_job(p, spec, scheduler=client, chunk_maps=1), on_progress=count)
    assert json.dumps(remote.rows) == json.dumps(local.rows)
    bound = dask_backend.MIN_IN_FLIGHT + 1  # one worker thread: the minimum, plus the task holding the inputs
    assert held and 8 < max(held) <= bound < 320, (max(held), bound)
