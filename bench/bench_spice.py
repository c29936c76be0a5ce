"""Benchmark: test images through the `paper` circuit in ngspice, batched against one ngspice process per image.

Three circuits, each measured both ways in the same run: ``clean`` (defect-free, ideal wires), ``railing``
(a stuck-on disc on array 1, ``circle:array=1,r=0.3,stuck=on``, that drives hidden-layer TIAs into the rails)
and ``wires-2ohm`` (defect-free, 2 ohm per wire segment). Batched: all 180 test images through one netlist per
worker (a ``.tran`` staircase, :func:`core.circuit.spice.simulate.output_voltages_job`), best of ``--repeat``.
One process per image: the first ``--per-image`` test images (default 30), each its own netlist and ngspice
process, sequentially; the ratio compares time per image. Agreement: largest |dV| of the batched run against
the behavioural model (clean, railing) or the nodal solver (wires), and of the per-image run against the batched.

Run: ``.venv/bin/python -m bench.bench_spice [--workers N] [--repeat R] [--per-image K] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

RAILING_SPEC = "circle:array=1,cx=0.5,cy=0.5,r=0.3,stuck=on"


def _circuits(project):
    from core.circuit.fidelity import defective_conductances, with_overrides
    from core.model.defects import parse_spec

    mapped = project.mapped
    g_rail, _ = defective_conductances(mapped, [parse_spec(RAILING_SPEC)])
    return {
        "clean": (mapped, None, "behavioral"),
        "railing": (mapped, g_rail, "behavioral"),
        "wires-2ohm": (with_overrides(mapped, 2.0, None), None, "nodal"),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--per-image", type=int, default=30, help="images run one process each (default 30)")
    ap.add_argument("--circuits", default="clean,railing,wires-2ohm")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    from core import jobs
    from core.circuit import behavioral, nodal
    from core.circuit.spice import simulate
    from core.ml.new_project import create_project_job
    from core.model.data import DatasetSpec
    from core.model.network import NetworkConfig, TrainConfig

    project = jobs.run(create_project_job(DatasetSpec(seed=0), NetworkConfig.preset("paper"), TrainConfig(seed=0)))
    X = project.load_dataset().X_test
    k = min(args.per_image, len(X))
    runs = []
    for name, (mapped, g, ref_fid) in _circuits(project).items():
        if name not in args.circuits.split(","):
            continue
        ref = (behavioral if ref_fid == "behavioral" else nodal).forward_voltages(mapped, X, g)
        batched = []
        for _ in range(max(1, args.repeat)):
            t0 = time.perf_counter()
            v, solver = jobs.run(simulate.output_voltages_job(mapped, X, g, workers=args.workers))
            batched.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        v1 = np.vstack(
            [jobs.run(simulate.output_voltages_job(mapped, X[i : i + 1], g, workers=1))[0] for i in range(k)]
        )
        per_image_s = time.perf_counter() - t0
        b = min(batched)
        runs.append(
            {
                "circuit": name,
                "images": int(len(X)),
                "batched_s": b,
                "batched_per_image_s": b / len(X),
                "per_image_images": k,
                "per_image_s": per_image_s,
                "per_image_per_image_s": per_image_s / k,
                "speedup_per_image": (per_image_s / k) / (b / len(X)),
                "max_dv_batched_vs_" + ref_fid: float(np.max(np.abs(v - ref))),
                "max_dv_per_image_vs_batched": float(np.max(np.abs(v1 - v[:k]))),
                "solver": solver,
            }
        )
    out = {
        "runs": runs,
        "workers": args.workers,
        "arrays": [list(s) for s in project.mapped.shapes],
        "solver": simulate.solver_info()["solver"],
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
    }
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"paper circuit {out['arrays']}, {out['solver']}, batched with {args.workers} workers")
    print(f"{'circuit':<11} {'batched (180)':>14} {'per image':>10} {f'one process each ({k})':>24} {'per image':>10} "
          f"{'speed-up':>9}")  # fmt: skip
    for r in runs:
        print(
            f"{r['circuit']:<11} {r['batched_s']:>12.2f} s {r['batched_per_image_s'] * 1e3:>7.1f} ms "
            f"{r['per_image_s']:>22.2f} s {r['per_image_per_image_s'] * 1e3:>7.0f} ms {r['speedup_per_image']:>8.0f}x"
        )
        dv = {kk: vv for kk, vv in r.items() if kk.startswith("max_dv")}
        print("            " + ", ".join(f"{kk} {vv:.1e} V" for kk, vv in dv.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
