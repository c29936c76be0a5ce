"""Build the bundled example project ``projects/digits-paper.h5`` reproducibly (``make example``).

    python -m tools.build_example projects/digits-paper.h5

The example holds the ``paper`` network (seed 0), one named defect scenario per pattern (and a measured-style
mask), their behavioural results, a behavioural sweep, SPICE results and the recovery demonstration at SPICE
fidelity. It needs ngspice: without it the build stops with an error instead of writing a different file.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from core import jobs, project_io
from core.circuit.spice.runner import find_ngspice
from core.errors import WorkbenchError
from core.evaluate import evaluate_job
from core.ml.new_project import create_project_job
from core.model.data import DatasetSpec
from core.model.defects import STUDY_PATTERNS, Defect, parse_spec
from core.model.network import NetworkConfig, TrainConfig
from core.model.project import Project, Scenario
from core.recovery.correction import correction_job
from core.session.store import store_result
from core.sweeps.job import sweep_job
from core.sweeps.spec import SweepSpec

# one scenario per pattern; the last one is the recovery demonstration (see docs/recovery.md)
SCENARIOS = {
    "circle-on-array1": ("circle:array=1,cx=0.5,cy=0.5,r=0.25,stuck=on", "a circular cluster of stuck-on devices"),
    "ring-off-array1": ("ring:array=1,cx=0.5,cy=0.5,r_in=0.2,r_out=0.35,stuck=off", "a ring of stuck-off devices"),
    "rows-on-array2": ("rows:array=2,start=2,count=2,stuck=on", "two word lines stuck on"),
    "columns-off-array1": ("columns:array=1,start=0,count=4,stuck=off", "four bit lines stuck off"),
    "complement-off-array3": (
        "circle_complement:array=3,cx=0.5,cy=0.5,r=0.6,stuck=off",
        "everything outside a disc stuck off",
    ),
    "checkerboard-50k-array4": ("checkerboard:array=4,period=3,stuck=50k", "a checkerboard stuck at 50 kOhm"),
    "random-on-array1": ("random:array=1,fraction=0.05,seed=3,stuck=on", "5% random stuck-on devices"),
    "ring-on-array4": (
        "ring:array=4,cx=0.5,cy=0.5,r_in=0.2,r_out=0.35,stuck=on",
        "a ring of stuck-on devices in the output crossbar (recovery demonstration)",
    ),
}
RECOVERY_SCENARIO = "ring-on-array4"
MASK_SCENARIO = "measured-mask-array2"


def measured_style_mask(shape=(9, 16)) -> np.ndarray:
    """An irregular cluster plus a partial bit-line streak: the kind of map a wafer test produces."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    blob = ((rows - 3.0) / 2.2) ** 2 + ((cols - 10.0) / 3.1) ** 2 <= 1.0
    streak = (cols == 4) & (rows >= 5)
    return blob | streak


def build(path: str, verbose: bool = True) -> Project:
    """Train, add the scenarios and results, and save atomically to ``path``.

    Raises
    ------
    SimulationError
        If ngspice is missing: the example holds SPICE results, and a file without them would differ.
    """
    say = print if verbose else (lambda *a, **k: None)
    find_ngspice()
    say("training the paper network (64-8-8-8-10, seed 0) ...")
    proj = jobs.run(create_project_job(DatasetSpec(seed=0), NetworkConfig.preset("paper"), TrainConfig(seed=0)))
    for name, (spec, desc) in SCENARIOS.items():
        proj.scenarios[name] = Scenario(name, [parse_spec(spec)], desc)
    proj.scenarios[MASK_SCENARIO] = Scenario(
        MASK_SCENARIO,
        [Defect("mask", 2, "off", 0.0, {}, mask=measured_style_mask(proj.mapped.shapes[1]))],
        "a measured-style defect map (irregular cluster and a bit-line streak) stuck off",
    )

    def run(job) -> None:
        store_result(proj, jobs.run(job))

    run(evaluate_job(proj, [], "ideal"))
    run(evaluate_job(proj, [], "behavioral"))
    for name, sc in proj.scenarios.items():
        run(evaluate_job(proj, sc.defects, "behavioral", scenario=name))
    say("sweeping every pattern, size, stuck type and array (behavioural, 10 placements each) ...")
    run(
        sweep_job(
            proj,
            SweepSpec(
                patterns=STUDY_PATTERNS,
                sizes=(0.1, 0.2, 0.3, 0.4, 0.5),
                stuck=("on", "off"),
                arrays=(),
                n_seeds=10,
                fidelity="behavioral",
            ),
            workers=1,
        )
    )
    say("simulating the clean and the recovery-scenario circuits in ngspice ...")
    defects = proj.scenarios[RECOVERY_SCENARIO].defects
    run(evaluate_job(proj, [], "spice"))
    run(evaluate_job(proj, defects, "spice", scenario=RECOVERY_SCENARIO))
    say("training the correction network on the recovery scenario ...")
    run(correction_job(proj, defects, fidelity="spice", scenario=RECOVERY_SCENARIO))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    project_io.save(proj, path)
    say(f"saved {path}")
    return proj


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default="projects/digits-paper.h5")
    args = ap.parse_args(argv)
    try:
        build(args.path)
    except WorkbenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
