"""Run every benchmark in turn (``make bench``); each prints its figures, recorded by hand in docs/benchmarks.md.

The recovery study and the study findings rewrite docs/recovery.md and docs/findings.md themselves.
Expect about 8 minutes on 2 cores.
"""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = (
    "bench.bench_sweeps",
    "bench.bench_spice",
    "bench.bench_nodal",
    "bench.recovery_study",
    "bench.study_findings",
    "bench.bench_gui",
)


def main() -> int:
    for name in BENCHMARKS:
        print(f"=== {name}", flush=True)
        t0 = time.perf_counter()
        importlib.import_module(name).main([])
        print(f"=== {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
