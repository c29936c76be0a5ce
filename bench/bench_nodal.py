"""Benchmark: nodal solver vs ngspice on a 64x128 differential crossbar with 1 ohm segments and 500 inputs.

Run: ``.venv/bin/python -m bench.bench_nodal [--rows 64] [--cols 128] [--inputs 500] [--workers N]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--cols", type=int, default=128)
    ap.add_argument("--inputs", type=int, default=500)
    ap.add_argument("--r-wire", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)

    from core import jobs
    from core.circuit import nodal
    from core.circuit.spice import simulate
    from core.model.devices import DeviceParams

    dev = DeviceParams()
    rng = np.random.default_rng(0)
    g = rng.uniform(dev.g_off_siemens, dev.g_on_siemens, (args.rows, args.cols))
    v = rng.uniform(0.0, dev.v_read_volt, (args.inputs, args.rows))
    print(
        f"array {args.rows}x{args.cols}, r_wire {args.r_wire:g} ohm, {args.inputs} inputs, "
        f"solver {simulate.solver_info()['solver']}"
    )

    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        i_nodal = nodal.column_currents(g, v, args.r_wire)
        times.append(time.perf_counter() - t0)
    t_nodal = min(times)
    print(f"nodal (scipy splu, factor once, transfer matrix): best {t_nodal:.3f} s of 3")

    results = {}
    for workers in sorted({1, args.workers}):
        t0 = time.perf_counter()
        i_spice, solver = jobs.run(simulate.run_circuit_job(g, v, args.r_wire, dev, workers=workers))
        results[workers] = time.perf_counter() - t0
        rel = np.max(np.abs(i_nodal - i_spice) / np.abs(i_spice))
        print(
            f"ngspice ({solver}, {workers} worker(s)): {results[workers]:.2f} s, "
            f"max relative column-current difference {rel:.2e}, speed-up {results[workers] / t_nodal:.0f}x"
        )


if __name__ == "__main__":
    main()
