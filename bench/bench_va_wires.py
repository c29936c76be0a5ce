"""Measurements for the compiled Verilog-A device (``va-gap``) and the separate wire resistances.

* OpenVAF compile time of ``resources/va/rram_gap.va`` into an empty cache, and a cache hit;
* one random 16x8 crossbar (ngspice, row voltages in [-0.2, 0.2] V): the OSDI device against the B-source gap
  model and against the nodal gap solve (largest relative column-current difference), ideal and non-ideal wires;
* the paper network (digits, seed 0) at SPICE fidelity on the 180 test images with ``gap`` and with ``va-gap``:
  accuracy, wall time, largest output difference;
* the paper network with word line 1 ohm, bit line 2 ohm, driver 20 ohm, TIA input 10 ohm: nodal against ngspice
  on ``--images`` test images (largest output difference in V).

Run: ``.venv/bin/python -m bench.bench_va_wires [--images 12] [--json]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time

import numpy as np


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--images", type=int, default=12, help="test images for the wired network (default 12)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from core import jobs
    from core.circuit import nodal
    from core.circuit.spice import netlist, osdi, runner, simulate
    from core.evaluate import evaluate_job
    from core.ml.new_project import create_project_job
    from core.model.data import DatasetSpec
    from core.model.devices import DeviceParams, Wires
    from core.model.network import NetworkConfig, TrainConfig

    out: dict = {"solver": runner.solver_info()["solver"]}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        osdi.compile_va(directory=osdi.Path(tmp))
        out["compile_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        osdi.compile_va(directory=osdi.Path(tmp))
        out["cache_hit_s"] = time.perf_counter() - t0

    def spice(g, v, wires, dev):
        text, saves = netlist.crossbar_netlist(g, v, wires, dev, klu=runner.solver_info()["klu"])
        ((vectors, _k, _e),) = jobs.run(runner.run_batch_job([text]))
        t = runner.vector(vectors, "time")
        idx = [np.flatnonzero(t <= k + netlist.HOLD_S + 1e-9)[-1] for k in range(len(v))]
        return np.stack([runner.vector(vectors, s)[idx] for s in saves], axis=1)

    rng = np.random.default_rng(0)
    va, gap = DeviceParams(model="va-gap"), DeviceParams(model="gap")
    g = rng.uniform(va.g_off_siemens, va.g_on_siemens, (16, 8))
    v = rng.uniform(-0.2, 0.2, (20, 16))
    for name, wires in (("ideal_wires", Wires()), ("wires_1_2_20_10", Wires(1.0, 2.0, 20.0, 10.0))):
        i_va, i_b = spice(g, v, wires, va), spice(g, v, wires, gap)
        i_n = nodal.column_currents(g, v, wires, gap)
        scale = np.max(np.abs(i_b))
        out[f"crossbar_{name}"] = {
            "va_vs_bsource_rel": float(np.max(np.abs(i_va - i_b)) / scale),
            "va_vs_nodal_rel": float(np.max(np.abs(i_va - i_n)) / scale),
        }

    proj = jobs.run(create_project_job(DatasetSpec(seed=0), NetworkConfig.preset("paper"), TrainConfig(seed=0)))
    workers = os.cpu_count() or 1
    runs = {}
    for model in ("gap", "va-gap"):
        t0 = time.perf_counter()
        res = jobs.run(evaluate_job(proj, fidelity="spice", device_model=model, workers=workers))
        runs[model] = res
        out[f"paper_spice_{model}"] = {
            "accuracy": res.accuracy,
            "images_correct": round(res.accuracy * res.n_images),
            "seconds": time.perf_counter() - t0,
        }
    dv = runs["va-gap"].output_voltages.astype(float) - runs["gap"].output_voltages.astype(float)
    out["paper_spice_va_vs_gap_max_dv_volt"] = float(np.max(np.abs(dv)))

    cir = proj.mapped.circuit.with_wires(r_word_line_ohm=1.0, r_bit_line_ohm=2.0, r_driver_ohm=20.0, r_tia_in_ohm=10.0)
    wired = dataclasses.replace(proj.mapped, circuit=cir)
    X = proj.load_dataset().X_test[: args.images]
    t0 = time.perf_counter()
    v_n = nodal.forward_voltages(wired, X)
    t_n = time.perf_counter() - t0
    t0 = time.perf_counter()
    v_s, _ = jobs.run(simulate.output_voltages_job(wired, X, workers=workers))
    out["paper_wired_nodal_vs_spice"] = {
        "images": len(X),
        "max_dv_volt": float(np.max(np.abs(v_n - v_s))),
        "nodal_s": t_n,
        "spice_s": time.perf_counter() - t0,
    }
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for k, val in out.items():
            print(f"{k}: {val}")
    return out


if __name__ == "__main__":
    main()
