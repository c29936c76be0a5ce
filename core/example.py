"""Build the bundled example project ``projects/digits-paper.h5`` reproducibly, and the ``make run`` report.

    python -m core.example projects/digits-paper.h5            # (re)build it
    python -m core.example projects/digits-paper.h5 --report   # build only if missing, then print accuracies

The example holds the ``paper`` network (seed 0), one named defect scenario per pattern (and a measured-style
mask), their behavioural
results, and, when ngspice is installed, SPICE results and the recovery demonstration.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys

import numpy as np

from core import jobs
from core.defects import Defect, parse_spec
from core.project import Project, Scenario

# one scenario per pattern; the last one is the recovery demonstration (see docs/recovery.md)
SCENARIOS = {
    "circle-on-array1": ("circle:array=1,cx=0.5,cy=0.5,r=0.25,stuck=on", "a circular cluster of stuck-on devices"),
    "ring-off-array1": ("ring:array=1,cx=0.5,cy=0.5,r_in=0.2,r_out=0.35,stuck=off", "a ring of stuck-off devices"),
    "rows-on-array2": ("rows:array=2,start=2,count=2,stuck=on", "two word lines stuck on"),
    "columns-off-array1": ("columns:array=1,start=0,count=4,stuck=off", "four bit lines stuck off"),
    "complement-off-array3": ("circle_complement:array=3,cx=0.5,cy=0.5,r=0.6,stuck=off", "everything outside a disc stuck off"),
    "checkerboard-50k-array4": ("checkerboard:array=4,period=3,stuck=50k", "a checkerboard stuck at 50 kOhm"),
    "random-on-array1": ("random:array=1,fraction=0.05,seed=3,stuck=on", "5% random stuck-on devices"),
    "ring-on-array4": ("ring:array=4,cx=0.5,cy=0.5,r_in=0.2,r_out=0.35,stuck=on",
                       "a ring of stuck-on devices in the output crossbar (recovery demonstration)"),
}
RECOVERY_SCENARIO = "ring-on-array4"
MASK_SCENARIO = "measured-mask-array2"
SWEEP_PATTERNS = ("circle", "ring", "rows", "columns", "circle_complement", "checkerboard")


def measured_style_mask(shape=(9, 16)) -> np.ndarray:
    """An irregular cluster plus a partial bit-line streak: the kind of map a wafer test produces."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    blob = ((rows - 3.0) / 2.2) ** 2 + ((cols - 10.0) / 3.1) ** 2 <= 1.0
    streak = (cols == 4) & (rows >= 5)
    return blob | streak


def build(path: str, verbose: bool = True) -> Project:
    """Train, add the scenarios and results, and save atomically to ``path``."""
    from core import project_io
    from core.data import DatasetSpec
    from core.evaluate import evaluate_job
    from core.network import NetworkConfig, TrainConfig
    from core.project import create_project_job

    say = print if verbose else (lambda *a, **k: None)
    say("training the paper network (64-8-8-8-10, seed 0) ...")
    proj = jobs.run(create_project_job(DatasetSpec(seed=0), NetworkConfig.preset("paper"), TrainConfig(seed=0)))
    for name, (spec, desc) in SCENARIOS.items():
        proj.scenarios[name] = Scenario(name, [parse_spec(spec)], desc)
    proj.scenarios[MASK_SCENARIO] = Scenario(
        MASK_SCENARIO, [Defect("mask", 2, "off", 0.0, {}, mask=measured_style_mask(proj.mapped.shapes[1]))],
        "a measured-style defect map (irregular cluster and a bit-line streak) stuck off")
    jobs.run(evaluate_job(proj, [], "ideal"))
    jobs.run(evaluate_job(proj, [], "behavioral"))
    for name, sc in proj.scenarios.items():
        jobs.run(evaluate_job(proj, sc.defects, "behavioral", scenario=name))
    say("sweeping every pattern, size, stuck type and array (behavioural, 10 placements each) ...")
    from core.sweep_spec import SweepSpec
    from core.sweeps import sweep_job

    jobs.run(sweep_job(proj, SweepSpec(patterns=SWEEP_PATTERNS, sizes=(0.1, 0.2, 0.3, 0.4, 0.5), stuck=("on", "off"),
                                       arrays=(), n_seeds=10, fidelity="behavioral"), workers=1))
    if shutil.which("ngspice"):
        say("simulating the clean and the recovery-scenario circuits in ngspice ...")
        jobs.run(evaluate_job(proj, [], "spice"))
        jobs.run(evaluate_job(proj, proj.scenarios[RECOVERY_SCENARIO].defects, "spice", scenario=RECOVERY_SCENARIO))
    _add_recovery(proj, say)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    project_io.save(proj, path)
    say(f"saved {path}")
    return proj


def _add_recovery(proj: Project, say) -> None:
    from core.recovery import correction

    say("training the correction network on the recovery scenario ...")
    defects = proj.scenarios[RECOVERY_SCENARIO].defects
    fidelity = "spice" if shutil.which("ngspice") else "behavioral"
    jobs.run(correction.correction_job(proj, defects, fidelity=fidelity, scenario=RECOVERY_SCENARIO))


def report(proj: Project) -> str:
    """Clean and defective accuracies of the stored results, one line each."""
    lines = [f"network {'-'.join(map(str, proj.network.layer_sizes))}, arrays "
             + ", ".join(f"{r}x{c}" for r, c in proj.mapped.shapes)]
    for r in proj.results:
        what = r.scenario or ("clean" if not r.defect_specs else "; ".join(r.defect_specs))
        lines.append(f"  {r.fidelity:<10} {what:<26} accuracy {r.accuracy:.3f}"
                     + (f"  (solver {r.solver})" if r.fidelity == "spice" else ""))
    for sw in proj.sweeps:
        worst = min(sw.rows, key=lambda r: r["mean_accuracy"])
        lines.append(f"  sweep      {sw.id}: {len(sw.rows)} points x {sw.spec.get('n_seeds')} placements; worst: "
                     f"{worst['pattern']} size {worst['size']:g} stuck {worst['stuck']} array {worst['array']} "
                     f"-> {worst['mean_accuracy']:.3f}")
    for r in proj.recoveries:
        lines.append(f"  recovery   {r.method:<26} {r.scenario}: {r.before:.3f} -> {r.after:.3f} ({r.fidelity})")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default="projects/digits-paper.h5")
    ap.add_argument("--report", action="store_true", help="build only if missing, then print accuracies")
    args = ap.parse_args(argv)
    from core import project_io
    from core.errors import WorkbenchError

    try:
        if args.report and os.path.exists(args.path):
            proj = project_io.load(args.path)
        else:
            proj = build(args.path)
        print(report(proj))
    except WorkbenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
