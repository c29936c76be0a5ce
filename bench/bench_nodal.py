"""Benchmark: nodal solver against ngspice and against badcrossbar on crossbars with wire resistance.

For each size (default 32x64, 64x128, 128x256) one random crossbar (conductances uniform in [1 uS, 100 uS]) and
``--inputs`` random input vectors (row voltages uniform in [0, 0.2] V, columns held at 0 V, ``--r-wire`` ohm per
segment on word and bit lines) are solved by the three solvers one after the other in the same run:

* nodal: :func:`core.circuit.nodal.column_currents` (scipy ``splu`` once, transfer matrix, one matmul);
* ngspice: :func:`core.circuit.spice.simulate.run_circuit_job` (one ``.tran`` staircase, ``--workers`` children);
* badcrossbar 1.1.0 (``pip install --no-deps badcrossbar pathvalidate``; its plots need pycairo, its solver not).

Reported: wall time per solver (nodal best of 3, the others once), the speed-ups of the nodal solver and the
largest relative column-current difference of each solver against the nodal one.

Run: ``.venv/bin/python -m bench.bench_nodal [--sizes 32x64,64x128,128x256] [--inputs 100] [--tile RxC] [--json]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import platform
import time
import warnings

import numpy as np


def _badcrossbar():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        # it warns that its plots need pycairo (unused here) and sets the global warning filters
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            import badcrossbar
    except ImportError:
        return None
    finally:
        # it also points the root logger at stdout (INFO): undo, so --json output stays one JSON object
        for h in root.handlers[:]:
            if h not in handlers:
                root.removeHandler(h)
        root.setLevel(level)
    return badcrossbar


def _rel(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(a - ref) / np.abs(ref)))


def measure(
    rows: int,
    cols: int,
    inputs: int,
    r_wire: float,
    workers: int,
    spice: bool = True,
    tile: tuple[int, int] | None = None,
) -> dict:
    """Time the three solvers on one random crossbar; returns a plain dict.

    ``tile``: the crossbar is a mosaic of tiles (:mod:`core.model.tiling`, wired current summing); badcrossbar
    solves single arrays only and is skipped.
    """
    from core import jobs
    from core.circuit import nodal
    from core.circuit.spice import simulate
    from core.model.devices import DeviceParams

    dev = DeviceParams()
    rng = np.random.default_rng(0)
    g = rng.uniform(dev.g_off_siemens, dev.g_on_siemens, (rows, cols))
    v = rng.uniform(0.0, dev.v_read_volt, (inputs, rows))
    out: dict = {"rows": rows, "cols": cols, "inputs": inputs, "r_wire_ohm": r_wire, "tile": tile}
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        i_nodal = nodal.column_currents(g, v, r_wire, tile=tile)
        times.append(time.perf_counter() - t0)
    out["nodal_s"] = min(times)
    bc = _badcrossbar() if tile is None else None
    if bc is not None:
        logging.getLogger("badcrossbar").setLevel(logging.WARNING)
        t0 = time.perf_counter()
        sol = bc.compute(v.T, 1.0 / g, r_i=r_wire, node_voltages=False)
        out["badcrossbar_s"] = time.perf_counter() - t0
        out["badcrossbar_rel_diff"] = _rel(np.asarray(sol.currents.output).reshape(inputs, cols), i_nodal)
        out["badcrossbar_over_nodal"] = out["badcrossbar_s"] / out["nodal_s"]
    if spice:
        t0 = time.perf_counter()
        i_spice, solver = jobs.run(simulate.run_circuit_job(g, v, r_wire, dev, workers=workers, tile=tile))
        out["ngspice_s"] = time.perf_counter() - t0
        out["ngspice_solver"] = solver
        out["ngspice_workers"] = workers
        out["ngspice_rel_diff"] = _rel(i_spice, i_nodal)
        out["ngspice_over_nodal"] = out["ngspice_s"] / out["nodal_s"]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="32x64,64x128,128x256", help="ROWSxCOLS, comma-separated")
    ap.add_argument("--inputs", type=int, default=100, help="input vectors per crossbar (default 100)")
    ap.add_argument("--r-wire", type=float, default=1.0, help="ohm per wire segment (default 1)")
    ap.add_argument("--workers", type=int, default=1, help="ngspice children (default 1)")
    ap.add_argument("--no-spice", action="store_true", help="skip ngspice")
    ap.add_argument(
        "--tile", default=None, help="solve every array as a mosaic of RxC tiles (e.g. 128x128; badcrossbar skipped)"
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    sizes = [tuple(int(x) for x in s.lower().split("x")) for s in args.sizes.split(",") if s]
    tile = None if args.tile is None else tuple(int(x) for x in args.tile.lower().split("x"))
    runs = [measure(r, c, args.inputs, args.r_wire, args.workers, not args.no_spice, tile) for r, c in sizes]
    out = {
        "runs": runs,
        "badcrossbar": _badcrossbar() is not None,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
    }
    if args.json:
        print(json.dumps(out))
        return 0
    if not out["badcrossbar"]:
        print("badcrossbar not installed: pip install --no-deps badcrossbar pathvalidate")
    print(f"{'array':<9} {'nodal s':>8} {'ngspice s':>10} {'x':>6} {'rel diff':>9} {'badcrossbar s':>14} {'x':>6} "
          f"{'rel diff':>9}")  # fmt: skip
    for r in runs:
        sp = (
            f"{r['ngspice_s']:>10.2f} {r['ngspice_over_nodal']:>6.0f} {r['ngspice_rel_diff']:>9.1e}"
            if "ngspice_s" in r
            else f"{'-':>10} {'-':>6} {'-':>9}"
        )
        bc = (
            f"{r['badcrossbar_s']:>14.2f} {r['badcrossbar_over_nodal']:>6.0f} {r['badcrossbar_rel_diff']:>9.1e}"
            if "badcrossbar_s" in r
            else f"{'-':>14} {'-':>6} {'-':>9}"
        )
        print(f"{r['rows']}x{r['cols']:<6} {r['nodal_s']:>8.3f} {sp} {bc}")
    print(f"{args.inputs} inputs per array, {args.r_wire:g} ohm segments; x = time over the nodal solver's; "
          f"rel diff = largest relative column-current difference to the nodal solver")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
