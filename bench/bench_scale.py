"""Benchmark: sweeps beyond the paper network, side by side in one run.

1. ``tiled``: behavioural sweep throughput (defect maps per second) and peak memory on the 784-input ``mnist``
   network (784-128-64-32-10, scikit-learn's digits upsampled to 28 x 28; nothing downloaded), untiled against
   split over 128 x 128 tiles (:mod:`core.model.tiling`), same grid, same seeds.
2. ``memory``: peak memory of behavioural sweeps of 10,000, 100,000 and 1,000,000 maps on the ``paper`` network
   (each in a fresh subprocess), and of saving each into a project file: the plan makes chunks lazily, the
   table keeps per-point aggregates and a sweep above 100,000 maps streams its per-map accuracies to a
   temporary file that the save copies into the project, so the peak should not grow with the maps.
3. ``spice``: a SPICE-fidelity sweep on the ``paper`` network, one map per chunk, in one process with one ngspice
   at a time against a 2-worker ``dask.distributed.LocalCluster`` (worker processes on 127.0.0.1, one thread
   each, each running its own ngspice children); the two tables must be equal.

Peak memory is the process's peak resident set growth during the sweep (``ru_maxrss``, a fresh subprocess per
configuration so the peaks do not mask each other).

Run: ``.venv/bin/python -m bench.bench_scale [--parts tiled,memory,spice] [--seeds 4] [--spice-maps 8] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np


def mnist_project(tile):
    """A trained ``mnist``-preset project on 28 x 28 upsampled digits, optionally tiled."""
    from sklearn.datasets import load_digits

    from core import jobs
    from core.ml.new_project import create_project_job
    from core.model import data
    from core.model.network import NetworkConfig, TrainConfig

    d = load_digits()
    img = np.pad(np.kron(d.images, np.ones((3, 3))), ((0, 0), (2, 2), (2, 2))) / 16.0
    # the IDX route, as a user gives MNIST files
    tmp = tempfile.mkdtemp()
    for name, arr in (("images.idx", img * 255), ("labels.idx", d.target)):
        a = np.ascontiguousarray(arr, dtype=np.uint8)
        raw = bytes([0, 0, 0x08, a.ndim]) + struct.pack(">" + "I" * a.ndim, *a.shape) + a.tobytes()
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(raw)
    spec = data.spec_from_idx(os.path.join(tmp, "images.idx"), os.path.join(tmp, "labels.idx"), seed=0)
    net = NetworkConfig(784, NetworkConfig.preset("mnist").hidden, 10)
    return jobs.run(create_project_job(spec, net, TrainConfig(seed=0, epochs=15), tile=tile))


def _tiled_one(tile, seeds: int) -> dict:
    from core import jobs
    from core.model import tiling
    from core.sweeps.job import sweep_job
    from core.sweeps.spec import SweepSpec

    p = mnist_project(tile)
    spec = SweepSpec(
        patterns=("circle", "columns", "rows"),
        sizes=(0.1, 0.3),
        stuck=("on", "off"),
        arrays=(),
        n_seeds=seeds,
        fidelity="behavioral",
    )
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    res = jobs.run(sweep_job(p, spec, workers=2))
    dt = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    acc = [a for r in res.rows for a in r["accuracies"]]
    return {
        "tile": tile,
        "arrays": [tiling.describe(a) for a in p.mapped.arrays],
        "cells": int(sum(a.shape[0] * a.shape[1] for a in p.mapped.arrays)),
        "maps": len(acc),
        "seconds": dt,
        "maps_per_s": len(acc) / dt,
        "peak_rss_mb": rss1 / 1024,
        "peak_growth_mb": (rss1 - rss0) / 1024,
        "clean_accuracy": float(p.weights.history["test_accuracy"][-1]),
        "mean_accuracy": float(np.nanmean(acc)),
    }


def tiled(seeds: int) -> dict:
    """Untiled and 128 x 128-tiled, each in a fresh subprocess (so each peak is its own)."""
    out = []
    for tile in (None, "128x128"):
        cmd = [sys.executable, "-m", "bench.bench_scale", "--_tiled-one", tile or "none", "--seeds", str(seeds)]
        run = subprocess.run(
            cmd, capture_output=True, text=True, check=True, cwd=os.path.dirname(os.path.dirname(__file__))
        )
        out.append(json.loads(run.stdout.strip().splitlines()[-1]))
    return {"runs": out, "tiled_over_untiled_speed": out[1]["maps_per_s"] / out[0]["maps_per_s"]}


def _memory_one(n_maps: int) -> dict:
    from core import jobs, project_io
    from core.ml.new_project import create_project_job
    from core.model.data import DatasetSpec
    from core.model.network import NetworkConfig, TrainConfig
    from core.session.store import store_result
    from core.sweeps.job import sweep_job
    from core.sweeps.spec import SweepSpec

    p = jobs.run(create_project_job(DatasetSpec(seed=0), NetworkConfig.preset("paper"), TrainConfig(seed=0)))
    points = 6 * 2 * 10 * 4  # patterns x stuck x sizes x arrays
    spec = SweepSpec(
        patterns=("circle", "ring", "rows", "columns", "circle_complement", "checkerboard"),
        sizes=tuple(round(0.05 * i, 2) for i in range(1, 11)),
        stuck=("on", "off"),
        arrays=(),
        n_seeds=max(1, n_maps // points),
        fidelity="behavioral",
    )
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    res = jobs.run(sweep_job(p, spec, workers=2, allow_large=True))
    dt = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n = sum(r["n"] + r["failures"] for r in res.rows)
    streamed = getattr(res, "maps", None) is not None
    store_result(p, res)
    with tempfile.TemporaryDirectory() as tmp:
        t1 = time.perf_counter()
        project_io.save(p, os.path.join(tmp, "p.h5"))
        t_save = time.perf_counter() - t1
        file_mb = os.path.getsize(os.path.join(tmp, "p.h5")) / 2**20
    rss2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "maps": n,
        "streamed": streamed,
        "seconds": dt,
        "maps_per_s": n / dt,
        "peak_rss_mb": rss1 / 1024,
        "growth_mb": (rss1 - rss0) / 1024,
        "bytes_per_map": (rss1 - rss0) * 1024 / n,
        "save_s": t_save,
        "file_mb": file_mb,
        "peak_rss_after_save_mb": rss2 / 1024,
    }


def memory(sizes=(10_000, 100_000, 1_000_000)) -> dict:
    runs = []
    for n in sizes:
        cmd = [sys.executable, "-m", "bench.bench_scale", "--_memory-one", str(n)]
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        run = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=root)
        runs.append(json.loads(run.stdout.strip().splitlines()[-1]))
    return {"runs": runs}


def spice(n_maps: int) -> dict:
    import distributed

    from core import jobs
    from core.ml.new_project import create_project_job
    from core.model.data import DatasetSpec
    from core.model.network import NetworkConfig, TrainConfig
    from core.sweeps.job import sweep_job
    from core.sweeps.spec import SweepSpec

    p = jobs.run(create_project_job(DatasetSpec(seed=0), NetworkConfig.preset("paper"), TrainConfig(seed=0)))
    spec = SweepSpec(
        patterns=("circle", "columns"),
        sizes=(0.2,),
        stuck=("on", "off"),
        arrays=(1,),
        n_seeds=max(1, n_maps // 4),
        fidelity="spice",
    )
    t0 = time.perf_counter()
    local = jobs.run(sweep_job(p, spec, workers=1, chunk_maps=1))
    t_local = time.perf_counter() - t0
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=40
    ) as cluster:
        with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
            client.wait_for_workers(2)
            t0 = time.perf_counter()
            remote = jobs.run(sweep_job(p, spec, scheduler=client, chunk_maps=1))
            t_dask = time.perf_counter() - t0
    same = [r["accuracies"] for r in local.rows] == [r["accuracies"] for r in remote.rows]
    n = sum(len(r["accuracies"]) for r in local.rows)
    return {
        "maps": n,
        "one_process_s": t_local,
        "local_cluster_2_workers_s": t_dask,
        "speed_up": t_local / t_dask,
        "tables_equal": same,
        "s_per_map_one_process": t_local / n,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="tiled,memory,spice", help="tiled, memory, spice (comma-separated)")
    ap.add_argument("--seeds", type=int, default=4, help="Monte-Carlo seeds per point of the tiled sweep")
    ap.add_argument("--spice-maps", type=int, default=8, help="maps in the SPICE sweep (default 8)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--_tiled-one", dest="tiled_one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_memory-one", dest="memory_one", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_one is not None:
        print(json.dumps(_memory_one(args.memory_one)))
        return 0
    if args.tiled_one is not None:
        print(
            json.dumps(
                _tiled_one(None if args.tiled_one == "none" else tuple(map(int, args.tiled_one.split("x"))), args.seeds)
            )
        )
        return 0
    parts = [s for s in args.parts.split(",") if s]
    out: dict = {"cpus": os.cpu_count(), "python": platform.python_version()}
    if "tiled" in parts:
        out["tiled"] = tiled(args.seeds)
    if "memory" in parts:
        out["memory"] = memory()
    if "spice" in parts:
        out["spice"] = spice(args.spice_maps)
    out["load_average"] = os.getloadavg()
    if args.json:
        print(json.dumps(out))
        return 0
    if "tiled" in out:
        for r in out["tiled"]["runs"]:
            print(
                f"784-input, {r['tile'] or 'untiled'}: {r['maps']} maps in {r['seconds']:.2f} s = "
                f"{r['maps_per_s']:.0f} maps/s, peak RSS {r['peak_rss_mb']:.0f} MB ({', '.join(r['arrays'])})"
            )
    for r in out.get("memory", {}).get("runs", []):
        print(
            f"behavioural sweep of {r['maps']:,} maps: {r['seconds']:.1f} s ({r['maps_per_s']:.0f} maps/s), peak RSS "
            f"{r['peak_rss_mb']:.0f} MB, growth {r['growth_mb']:.0f} MB ({r['bytes_per_map']:.0f} bytes per map; "
            f"{'streamed' if r['streamed'] else 'in the rows'}); saved in {r['save_s']:.1f} s, {r['file_mb']:.1f} MB "
            f"file, peak RSS after the save {r['peak_rss_after_save_mb']:.0f} MB"
        )
    if "spice" in out:
        s = out["spice"]
        print(
            f"SPICE sweep, {s['maps']} maps: one process {s['one_process_s']:.1f} s, 2-worker LocalCluster "
            f"{s['local_cluster_2_workers_s']:.1f} s, speed-up {s['speed_up']:.2f}x, tables equal: {s['tables_equal']}"
        )
    print(f"load average {out['load_average']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
