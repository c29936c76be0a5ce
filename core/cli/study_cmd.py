"""CLI command ``study``: the whole published study as one job, written as a self-contained HTML report.

``reram-workbench study P.h5 --out DIR [--preset paper|followup] [--fidelity behavioral|nodal|spice] [--quick]
[--json] [--scheduler ADDR]`` prints the expected duration first, shows progress on stderr and writes
``DIR/report.html``, ``DIR/results.json`` and ``DIR/figures/*.png|svg``. Ctrl-C writes the report of the
sections that finished, marked partial. The project file is only read.
"""

from __future__ import annotations

import os
import shlex
import sys

from core import jobs
from core.cli.common import CommandResult, load_project, progress_printer
from core.errors import ParameterError
from core.study.job import study_job
from core.study.report import fmt_seconds
from core.study.spec import STUDY_PRESETS, StudySpec
from core.sweeps.spec import SWEEP_FIDELITIES


def register(sub, common) -> None:
    p = sub.add_parser(
        "study",
        parents=[common],
        help="the whole study (clean accuracy, stuck on/off per scheme, recovery, generalization, offsets) as a report",
    )
    p.add_argument("project", help="the .h5 project (only read)")
    p.add_argument("--out", required=True, help="output folder for report.html, results.json and figures/")
    p.add_argument(
        "--preset",
        default=None,
        help=f"{' | '.join(STUDY_PRESETS)}: the published network to study (trained afresh if the project's "
        "network is another; default: the project's network)",
    )
    p.add_argument("--fidelity", default="behavioral", help=f"{' | '.join(SWEEP_FIDELITIES)} for sweeps and recovery")
    p.add_argument("--quick", action="store_true", help="small grids: under 2 minutes at behavioural fidelity")
    p.add_argument("--seed", default="0", help="base seed of every Monte-Carlo draw (default 0)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address for the defect sweeps")
    p.set_defaults(func=run)


def run(args) -> CommandResult:
    try:
        seed = int(str(args.seed).strip())
    except ValueError:
        raise ParameterError("seed", f"must be an integer; got {args.seed!r}") from None
    spec = StudySpec(
        preset=args.preset,
        fidelity=str(args.fidelity).strip().lower(),
        quick=args.quick,
        scheduler=args.scheduler,
        seed=seed,
    )
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ParameterError("out", f"{args.out!r} exists and is not a folder")
    project = load_project(args.project)
    command = "reram-workbench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    show = progress_printer(not args.quiet)
    first = [True]

    def progress(p: jobs.Progress) -> None:
        if first[0] and p.message.startswith("study: expected"):
            first[0] = False
            if not args.quiet:
                print(f"reram-workbench: {p.message}", file=sys.stderr, flush=True)
        if show is not None:
            show(p)

    job = study_job(project, spec, out, project_path=args.project, command=command)
    try:
        study = jobs.run(job, on_progress=progress, min_interval_s=0.2)
    except jobs.Cancelled as stop:
        if not args.quiet and isinstance(stop.partial, dict) and stop.partial.get("paths"):
            print(f"reram-workbench: partial report written to {stop.partial['paths']['report']}", file=sys.stderr)
        raise
    data = {
        "report": study["paths"]["report"],
        "results": study["paths"]["results"],
        "figures": study["paths"]["figures"],
        "partial": study["partial"],
        "seconds": study["seconds"],
        "cpu_seconds": study["cpu_seconds"],
        "expected_seconds": study["expected_seconds"],
        "findings": [{k: f[k] for k in ("id", "published", "this_run", "verdict", "why")} for f in study["findings"]],
    }
    lines = [f"study of {args.project}: {fmt_seconds(study['seconds'])} (CPU {fmt_seconds(study['cpu_seconds'])})"]
    lines += [f"- {f['published']}\n  {f['verdict']}: {f['this_run']}" for f in study["findings"]]
    lines.append(f"report: {study['paths']['report']}")
    return CommandResult(data=data, text="\n".join(lines))
