"""Benchmark: behavioural defect-sweep throughput on the ``paper`` preset over the 180-image test set.

The full grid of issue 5 — 6 patterns x 2 stuck types x 10 sizes x 4 arrays x 20 seeds = 9,600 defect maps —
run by :func:`core.sweeps.job.sweep_job` (vectorized chunks on local threads), side by side with a plain loop that
evaluates one map at a time through :func:`core.evaluate.defective_conductances` and
:func:`core.circuit.behavioral.accuracy`. The loop runs on a subset (every ``--loop-every``-th map) and its rate is
extrapolated; its accuracies are checked against the sweep's for the same maps.

The arithmetic limit: the multiply-adds one map needs (2 N rows cols for each array from the defective one to the
output, N = 180 images; the arrays in front of it are shared by the chunk and not counted; element-wise neuron
work not counted either, so this is a lower bound on the work) over the matmul FLOP/s measured in the same run,
on a large square float64 matmul (the machine's peak) and on batched matmuls of the sweep's own shapes.

Run: ``.venv/bin/python -m bench.bench_sweeps [--workers 1,2] [--loop-every 10] [--json]``
Goal: >= 2,000 maps/s on 2 cores and the full grid in < 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

PATTERNS = ("circle", "ring", "rows", "columns", "circle_complement", "checkerboard")
SIZES = tuple(float(s) for s in np.round(np.linspace(0.05, 0.5, 10), 3))


def trained_paper_project():
    from core import jobs
    from core.ml.new_project import create_project_job
    from core.model.data import DatasetSpec
    from core.model.network import NetworkConfig, TrainConfig

    return jobs.run(create_project_job(DatasetSpec(seed=0), NetworkConfig.preset("paper"), TrainConfig(seed=0)))


def _flops_per_s(fn, flops: float, min_s: float = 0.3) -> float:
    """FLOP/s of ``fn`` (best of repeated calls for at least ``min_s``)."""
    fn()
    best, total = float("inf"), 0.0
    while total < min_s:
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best, total = min(best, dt), total + dt
    return flops / best


def arithmetic_limit(shapes, n_images: int, chunk: int = 256) -> dict:
    """Matmul FLOPs per defect map (mean over the defective array) and measured matmul FLOP/s."""
    per_array = [2.0 * n_images * sum(r * c for r, c in shapes[a:]) for a in range(len(shapes))]
    flops_map = float(np.mean(per_array))
    rng = np.random.default_rng(0)
    n = 1024
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    peak = _flops_per_s(lambda: A @ B, 2.0 * n**3)
    r0, c0 = shapes[0]
    X = rng.standard_normal((chunk, n_images, r0))
    G = rng.standard_normal((chunk, r0, c0))
    batched = _flops_per_s(lambda: X @ G, 2.0 * chunk * n_images * r0 * c0)
    return {
        "flops_per_map": flops_map,
        "flops_per_map_by_array": per_array,
        "matmul_peak_flops_per_s": peak,
        "batched_matmul_flops_per_s": batched,
        "limit_maps_per_s_peak": peak / flops_map,
        "limit_maps_per_s_batched": batched / flops_map,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2", help="thread counts to time, comma-separated (default 1,2)")
    ap.add_argument("--seeds", type=int, default=20, help="Monte-Carlo seeds per point (default 20)")
    ap.add_argument("--loop-every", type=int, default=10, help="time the plain loop on every k-th map (default 10)")
    ap.add_argument("--repeat", type=int, default=2, help="sweep repetitions per thread count; best is kept")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    from core import jobs
    from core.circuit import behavioral
    from core.circuit.fidelity import defective_conductances
    from core.sweeps.job import sweep_job
    from core.sweeps.spec import SweepSpec, make_defect

    t0 = time.perf_counter()
    project = trained_paper_project()
    train_s = time.perf_counter() - t0
    ds = project.load_dataset()
    mapped = project.mapped
    spec = SweepSpec(patterns=PATTERNS, sizes=SIZES, stuck=("on", "off"), n_seeds=args.seeds).with_arrays(
        len(mapped.arrays)
    )
    n_maps = len(spec.points()) * spec.n_seeds

    runs = []
    result = None
    for w in (int(v) for v in args.workers.split(",")):
        best = None
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            result = jobs.run(sweep_job(project, spec, workers=w))
            dt = time.perf_counter() - t
            best = dt if best is None else min(best, dt)
        runs.append({"workers": w, "seconds": best, "maps_per_s": n_maps / best})

    # the plain loop: one map, one full forward pass, no batching
    per_map = {(r["pattern"], r["size"], r["stuck"], r["array"]): r["accuracies"] for r in result.rows}
    items = [(pt, k) for pt in spec.points() for k in range(spec.n_seeds)][:: max(1, args.loop_every)]
    t = time.perf_counter()
    loop_acc = []
    for (pattern, size, stuck, array), k in items:
        d = make_defect(pattern, size, stuck, array, k, mapped.shapes[array - 1], spec.base_seed)
        g_list, _ = defective_conductances(mapped, [d])
        loop_acc.append(behavioral.accuracy(mapped, ds.X_test, ds.y_test, g_list))
    loop_s = time.perf_counter() - t
    same = all(abs(a - per_map[pt][k]) < 1e-12 for a, (pt, k) in zip(loop_acc, items))
    loop_rate = len(items) / loop_s

    limit = arithmetic_limit([tuple(sh) for sh in mapped.shapes], int(len(ds.y_test)))
    best_rate = max(r["maps_per_s"] for r in runs)
    out = {
        "preset": "paper",
        "array_shapes": [list(s) for s in mapped.shapes],
        "test_images": int(len(ds.y_test)),
        "grid": f"{len(PATTERNS)} patterns x 2 stuck x {len(SIZES)} sizes x {len(spec.arrays)} arrays x "
        f"{spec.n_seeds} seeds",
        "maps": n_maps,
        "sweep": runs,
        "plain_loop": {
            "maps_timed": len(items),
            "seconds": loop_s,
            "maps_per_s": loop_rate,
            "full_grid_seconds_extrapolated": n_maps / loop_rate,
            "accuracies_equal_sweep": same,
        },
        "arithmetic_limit": limit,
        "sweep_over_loop": best_rate / loop_rate,
        "sweep_fraction_of_peak_limit": best_rate / limit["limit_maps_per_s_peak"],
        "sweep_fraction_of_batched_limit": best_rate / limit["limit_maps_per_s_batched"],
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "training_seconds": train_s,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"behavioural sweep, paper preset {out['array_shapes']}, {out['test_images']} test images, "
            f"{out['grid']} = {n_maps} maps ({out['cpus']} CPUs)"
        )
        print(f"{'method':<34} {'seconds':>9} {'maps/s':>9}")
        for r in runs:
            print(
                f"{'sweep_job, ' + str(r['workers']) + ' thread(s)':<34} {r['seconds']:>9.2f} {r['maps_per_s']:>9.0f}"
            )
        print(f"{'plain loop (extrapolated)':<34} {n_maps / loop_rate:>9.2f} {loop_rate:>9.0f}")
        print(f"plain loop timed on {len(items)} maps; per-map accuracies equal the sweep's: {same}")
        print(
            f"{'arithmetic limit (peak matmul)':<34} {n_maps / limit['limit_maps_per_s_peak']:>9.2f} "
            f"{limit['limit_maps_per_s_peak']:>9.0f}"
        )
        print(
            f"{'arithmetic limit (batched matmul)':<34} {n_maps / limit['limit_maps_per_s_batched']:>9.2f} "
            f"{limit['limit_maps_per_s_batched']:>9.0f}"
        )
        print(
            f"sweep / loop {out['sweep_over_loop']:.1f}x; sweep reaches {out['sweep_fraction_of_peak_limit']:.1%} of "
            f"the peak-matmul limit ({limit['flops_per_map'] / 1e3:.0f} kFLOP per map, "
            f"{limit['matmul_peak_flops_per_s'] / 1e9:.1f} GFLOP/s peak, "
            f"{limit['batched_matmul_flops_per_s'] / 1e9:.1f} GFLOP/s batched at the sweep's shapes)"
        )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
