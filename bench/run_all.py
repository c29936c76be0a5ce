"""Run every benchmark in turn (``make bench``); each prints its figures, recorded in docs/benchmarks.md.

``--json`` runs the benchmarks that measure (sweeps, SPICE, nodal, recovery strength, GUI) with ``--json`` and
prints one JSON object keyed by module; without it the documentation generators run too (the recovery study and
the study findings rewrite docs/recovery.md and docs/findings.md themselves). ``--only a,b`` picks modules by
their short name (``bench_nodal``...). Expect 15-25 minutes on 2 cores without ``--json``, about half with.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import sys
import time

# (module, supports --json); documentation generators have no --json and are skipped with it
BENCHMARKS = (
    ("bench.bench_sweeps", True),
    ("bench.bench_spice", True),
    ("bench.bench_nodal", True),
    ("bench.recovery_strength", True),
    ("bench.bench_gui", True),
    ("bench.recovery_study", False),
    ("bench.study_findings", False),
)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="one JSON object with every measuring benchmark's JSON")
    ap.add_argument("--only", default="", help="comma-separated short names, e.g. bench_nodal,bench_spice")
    args = ap.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    results, status = {}, 0
    for name, has_json in BENCHMARKS:
        if only and name.split(".")[-1] not in only:
            continue
        if args.json and not has_json:
            continue
        t0 = time.perf_counter()
        if args.json:
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                rc = importlib.import_module(name).main(["--json"])
            lines = [line for line in buf.getvalue().splitlines() if line.startswith("{")]
            results[name] = json.loads(lines[-1]) if lines else {"error": buf.getvalue()[-2000:]}
            results[name]["wall_seconds"] = time.perf_counter() - t0
        else:
            print(f"=== {name}", flush=True)
            rc = importlib.import_module(name).main([])
            print(f"=== {name}: {time.perf_counter() - t0:.1f} s", flush=True)
        status = status or (rc or 0)
    if args.json:
        print(json.dumps(results))
    return status


if __name__ == "__main__":
    sys.exit(main())
