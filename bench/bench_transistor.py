"""Benchmark: the 180 test images through the `paper` network with transistor-level neurons vs the macro-model.

Both run in ngspice on the same mapping for +-0.5 V rails (the CMOS op-amps' supplies); the macro-model is the
baseline. Reports run time, accuracy of each, the images on which the two classify differently, the largest
output difference, and the latency, energy and power of one inference (a step from test image 0 to image 1).

Run: ``.venv/bin/python -m bench.bench_transistor [--workers N] [--images N] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np


def run(workers: int, n_images: int) -> dict:
    from core import jobs
    from core.circuit.spice import cmos, simulate, transient
    from core.ml.new_project import create_project_job
    from core.model.data import DatasetSpec
    from core.model.network import NetworkConfig, TrainConfig, accuracy

    project = jobs.run(create_project_job(DatasetSpec(seed=0), NetworkConfig.preset("paper"), TrainConfig(seed=0)))
    ds = project.load_dataset()
    X, y = ds.X_test[:n_images], ds.y_test[:n_images]
    mapped = cmos.transistor_mapping(project.weights, project.require_mapped(), ds.X_train)
    out: dict = {"cores": os.cpu_count(), "workers": workers, "images": len(X), "v_rail_volt": cmos.RAIL_VOLT}
    for neuron in ("macro", "transistor"):
        t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        v, solver = jobs.run(simulate.output_voltages_job(mapped, X, workers=workers, neuron=neuron))
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out[neuron] = {"seconds": time.perf_counter() - t0, "accuracy": accuracy(v, y), "solver": solver}
        # CPU time of the ngspice children: the wall time on an otherwise idle machine is about this / workers
        out[neuron]["ngspice_cpu_seconds"] = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
        out[neuron]["_v"] = v
        t0 = time.perf_counter()
        cost = jobs.run(transient.inference_cost_job(mapped, X[0], X[1], None, neuron))
        out[neuron]["inference"] = cost
        out[neuron]["inference_seconds"] = time.perf_counter() - t0
    vm, vt = out["macro"].pop("_v"), out["transistor"].pop("_v")
    out["disagreeing_images"] = int(np.sum(vm.argmax(1) != vt.argmax(1)))
    out["accuracy_difference_images"] = int(
        round(abs(out["macro"]["accuracy"] - out["transistor"]["accuracy"]) * len(X))
    )
    out["max_abs_output_difference_volt"] = float(np.max(np.abs(vm - vt)))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--images", type=int, default=180)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    out = run(args.workers, args.images)
    if args.json:
        print(json.dumps(out))
        return
    for neuron in ("macro", "transistor"):
        r = out[neuron]
        inf = r["inference"]
        print(
            f"{neuron:<10} {r['seconds']:.2f} s ({r['ngspice_cpu_seconds']:.1f} s ngspice CPU) for {out['images']} "
            f"images ({r['solver']}), accuracy "
            f"{r['accuracy']:.4f}; power {inf['power_w'] * 1e3:.3g} mW, settling {inf['settling_s']}, energy "
            f"{inf['energy_per_inference_j']}"
        )
    print(
        f"classifications differing: {out['disagreeing_images']} of {out['images']}; accuracy difference "
        f"{out['accuracy_difference_images']} images; max |dV| {out['max_abs_output_difference_volt']:.3g} V"
    )


if __name__ == "__main__":
    main()
