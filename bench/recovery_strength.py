"""Benchmark: how close the correction network gets to the best recovery method on defects that hurt.

Fourteen defect scenarios (``SCENARIOS``) that drop the example project's ``paper`` network
(``projects/digits-paper.h5``) to <= 0.60 test accuracy at behavioural fidelity: every array, stuck on and off,
every pattern but ``rows``-on-array-1 and ``checkerboard``-on-array-1 (which saturate every TIA: all methods 0.10).
Each is recovered by retraining, remapping and the correction network in one or more configurations
(``--configs``), seed 0 throughout; the table reports test accuracy and whether the correction network lies
within 0.05 of the best method.

Run: ``.venv/bin/python -m bench.recovery_strength [--configs before,after] [--scenarios a,b] [--json]``;
``--merge A.json B.json`` reports subsets run side by side (e.g. one process per core) as one table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

# name -> defect spec; chosen from the standard geometries of core.recovery.compare (docs/recovery.md)
SCENARIOS = {
    "a1-circle-on": "circle:array=1,stuck=on,cx=0.5,cy=0.5,r=0.3",
    "a1-ring-on": "ring:array=1,stuck=on,cx=0.5,cy=0.5,r_in=0.2,r_out=0.35",
    "a1-ccomp-on": "circle_complement:array=1,stuck=on,cx=0.5,cy=0.5,r=0.5",
    "a1-circle-off": "circle:array=1,stuck=off,cx=0.5,cy=0.5,r=0.3",
    "a1-rows-off": "rows:array=1,stuck=off,start=24,count=16",
    "a1-checker-off": "checkerboard:array=1,stuck=off,period=2,phase=0",
    "a2-ring-on": "ring:array=2,stuck=on,cx=0.5,cy=0.5,r_in=0.2,r_out=0.35",
    "a2-columns-off": "columns:array=2,stuck=off,start=6,count=4",
    "a2-checker-on": "checkerboard:array=2,stuck=on,period=2,phase=0",
    "a3-rows-on": "rows:array=3,stuck=on,start=3,count=2",
    "a3-checker-on": "checkerboard:array=3,stuck=on,period=2,phase=0",
    "a4-ring-on": "ring:array=4,stuck=on,cx=0.5,cy=0.5,r_in=0.2,r_out=0.35",
    "a4-ccomp-on": "circle_complement:array=4,stuck=on,cx=0.5,cy=0.5,r=0.5",
    "a4-checker-off": "checkerboard:array=4,stuck=off,period=2,phase=0",
}

# correction-net configurations; "before" is the configuration before issue 13 (calibration split only)
CONFIGS: dict[str, dict] = {
    "before": {"hidden": 32, "depth": 1, "epochs": 300, "train_split": False},  # CorrectionConfig.paper()
    "after": {},  # CorrectionConfig() defaults: calibration + training split, 2 x 64 hidden, 500 epochs
    "ensemble5": {"ensemble": 5},
    "cal-only-2x64": {"train_split": False},
    "raw-volts": {"standardize": False},
    # issue 13, second round: several circuit reads per image (core.recovery.correction.PROBES)
    "amplitude-probes": {"probes": "amplitude"},
    "shift-probes": {"probes": "shift"},
}
DEFAULT_CONFIGS = ("before", "after")

PROJECT = "projects/digits-paper.h5"
TOLERANCE = 0.05


def run(configs, scenarios=SCENARIOS, fidelity="behavioral", project_path=PROJECT, on_line=print) -> dict:
    """Every method on every scenario; returns a plain dict (the ``--json`` output)."""
    from core import jobs, project_io
    from core.model.defects import parse_spec
    from core.recovery.recover import recover_job

    project = project_io.load(project_path)
    rows = []
    for name, spec in scenarios.items():
        defects = [parse_spec(spec)]
        row: dict = {"scenario": name, "spec": spec}
        for m in ("retrain", "remap"):
            t = time.perf_counter()
            r = jobs.run(recover_job(project, defects, m, fidelity))
            row["before"], row[m], row[f"{m}_s"] = r.before, r.after, time.perf_counter() - t
        for cname in configs:
            t = time.perf_counter()
            r = jobs.run(recover_job(project, defects, "correction", fidelity, **CONFIGS[cname]))
            row[f"correction[{cname}]"] = r.after
            row[f"correction[{cname}]_s"] = time.perf_counter() - t
            for k in ("dead_per_layer", "healthy_dead_per_layer", "newly_dead_fraction", "clipped_fraction"):
                if f"diagnostic_{k}" in r.params:
                    row[k] = r.params[f"diagnostic_{k}"]
        rows.append(row)
        on_line(
            f"{name:<16} before {row['before']:.3f} retrain {row['retrain']:.3f} remap {row['remap']:.3f} "
            + " ".join(f"{c} {row[f'correction[{c}]']:.3f}" for c in configs)
        )
    return {
        "project": project_path,
        "fidelity": fidelity,
        "seed": 0,
        "configs": {c: CONFIGS[c] for c in configs},
        "rows": rows,
        "summary": summarize(rows, configs),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def summarize(rows, configs) -> dict:
    """Per configuration: scenarios within 0.05 of the best method, mean accuracy, >= 0.85, seconds."""
    summary = {}
    for c in configs:
        key = f"correction[{c}]"
        close = [r for r in rows if r[key] >= max(r["retrain"], r["remap"], r[key]) - TOLERANCE]
        summary[c] = {
            "within_0.05_of_best": len(close),
            "of": len(rows),
            "mean": sum(r[key] for r in rows) / len(rows),
            "at_least_0.85": sum(r[key] >= 0.85 for r in rows),
            "seconds_mean": sum(r[f"{key}_s"] for r in rows) / len(rows),
        }
    return summary


def merge(paths) -> dict:
    """One ``--json`` output from several (e.g. scenario subsets run side by side); same configurations."""
    parts = []
    for path in paths:
        with open(path) as f:
            parts.append(json.load(f))
    configs = list(parts[0]["configs"])
    if any(list(p["configs"]) != configs for p in parts):
        raise SystemExit("--merge: the runs have different --configs")
    out = dict(parts[0], rows=[r for p in parts for r in p["rows"]])
    out["summary"] = summarize(out["rows"], configs)
    out["seconds"] = max(p.get("seconds", 0.0) for p in parts)
    return out


def markdown(out: dict) -> str:
    configs = list(out["configs"])
    head = "| scenario | before | retrain | remap | " + " | ".join(f"correction ({c})" for c in configs)
    head += " | constant hidden neurons (defect-free) |"
    lines = [head, "|" + "---|" * (5 + len(configs))]
    for r in out["rows"]:
        best = max(r["retrain"], r["remap"])
        cells = []
        for c in configs:
            v = r[f"correction[{c}]"]
            cells.append(f"**{v:.3f}**" if v >= max(best, v) - TOLERANCE else f"{v:.3f}")
        lines.append(
            f"| {r['scenario']} | {r['before']:.3f} | {r['retrain']:.3f} | {r['remap']:.3f} | "
            + " | ".join(cells)
            + f" | {r.get('dead_per_layer', '-')} ({r.get('healthy_dead_per_layer', '-')}) |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=",".join(DEFAULT_CONFIGS), help=f"comma-separated of {', '.join(CONFIGS)}")
    ap.add_argument("--fidelity", default="behavioral")
    ap.add_argument(
        "--scenarios", default="", help=f"comma-separated subset of {', '.join(SCENARIOS)} (default: all 14)"
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="report the rows of earlier --json outputs together")
    args = ap.parse_args(argv)
    if args.merge:
        _print(merge(args.merge), args.json)
        return 0
    configs = [c for c in args.configs.split(",") if c]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        ap.error(f"unknown configs {sorted(unknown)}")
    names = [n for n in args.scenarios.split(",") if n] or list(SCENARIOS)
    if set(names) - set(SCENARIOS):
        ap.error(f"unknown scenarios {sorted(set(names) - set(SCENARIOS))}")
    t0 = time.perf_counter()
    # with --json the per-scenario lines go to stderr, so stdout stays one JSON object
    out = run(
        configs,
        scenarios={n: SCENARIOS[n] for n in names},
        fidelity=args.fidelity,
        on_line=(lambda s: print(s, file=sys.stderr)) if args.json else print,
    )
    out["seconds"] = time.perf_counter() - t0
    _print(out, args.json)
    return 0


def _print(out: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(out))
    else:
        print(markdown(out))
        for c, s in out["summary"].items():
            print(
                f"{c}: within {TOLERANCE} of the best method on {s['within_0.05_of_best']}/{s['of']}, "
                f">= 0.85 on {s['at_least_0.85']}, mean {s['mean']:.3f}, {s['seconds_mean']:.1f} s per scenario"
            )


if __name__ == "__main__":
    sys.exit(main())
