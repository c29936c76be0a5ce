"""Benchmark: the 180-image test set through the `paper` circuit in ngspice, batched vs one process per image.

Run: ``.venv/bin/python -m bench.bench_spice [--workers N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    from core import jobs
    from core.circuit import behavioral
    from core.circuit.spice import simulate
    from core.ml.new_project import create_project_job
    from core.model.data import DatasetSpec
    from core.model.network import NetworkConfig, TrainConfig

    project = jobs.run(create_project_job(DatasetSpec(seed=0), NetworkConfig.preset("paper"), TrainConfig(seed=0)))
    mapped, X = project.mapped, project.load_dataset().X_test
    v_ref = behavioral.forward_voltages(mapped, X)
    print(
        f"cores: {os.cpu_count()}, solver: {simulate.solver_info()['solver']}, images: {len(X)}, "
        f"arrays: {mapped.shapes}"
    )

    batched = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        v, solver = jobs.run(simulate.output_voltages_job(mapped, X, workers=args.workers))
        batched.append(time.perf_counter() - t0)
    print(
        f"batched ({args.workers} workers, {solver}): best {min(batched):.3f} s of {args.repeat}, "
        f"max |dV| vs behavioural {np.max(np.abs(v - v_ref)):.2e} V"
    )

    t0 = time.perf_counter()
    v1 = np.vstack([jobs.run(simulate.output_voltages_job(mapped, X[k : k + 1], workers=1))[0] for k in range(len(X))])
    per_image = time.perf_counter() - t0
    print(
        f"one ngspice process per image (sequential): {per_image:.3f} s, max |dV| vs batched "
        f"{np.max(np.abs(v1 - v)):.2e} V"
    )
    print(f"speed-up: {per_image / min(batched):.1f}x")


if __name__ == "__main__":
    main()
