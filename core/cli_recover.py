"""CLI command ``recover``: run accuracy-recovery methods on a defective circuit and store their results."""
from __future__ import annotations

import os

from core import jobs
from core.cli import CommandResult, progress_printer
from core.errors import ParameterError

METHOD_CHOICES = ("correction", "retrain", "remap", "all")


def register(sub, common) -> None:
    p = sub.add_parser("recover", parents=[common],
                       help="recover accuracy of a defective circuit (correction net, retraining, remapping)")
    p.add_argument("project", help="the .h5 project (trained); results are stored in it")
    p.add_argument("--defect", action="extend", nargs="+", default=[], metavar="SPEC",
                   help="PATTERN:key=value,... e.g. ring:array=4,r_in=0.2,r_out=0.35,stuck=on (several allowed)")
    p.add_argument("--scenario", action="append", default=[], metavar="NAME",
                   help="a defect scenario stored in the project (repeatable)")
    p.add_argument("--method", default="all", help="correction, retrain, remap or all (default all)")
    p.add_argument("--fidelity", default="behavioral", help="behavioral (default), nodal or spice")
    p.add_argument("--seed", type=int, default=0, help="seed of the correction net and retraining (default 0)")
    p.add_argument("--hidden", type=int, default=None, help="hidden units of the correction net (default 32)")
    p.add_argument("--epochs", type=int, default=None,
                   help="training epochs of the correction net (default 300) and retraining (default 100)")
    p.add_argument("--no-save", action="store_true", help="do not store the results in the project")
    p.set_defaults(func=run)


def _check_options(args) -> None:
    """Refuse options that the chosen method would silently ignore."""
    if args.method == "remap" and args.epochs is not None:
        raise ParameterError("--epochs", "does not apply to --method remap (it trains nothing)")
    if args.method in ("remap", "retrain") and args.hidden is not None:
        raise ParameterError("--hidden", "only applies to --method correction or all")


def _options(method: str, args) -> dict:
    opts = {}
    if args.epochs is not None and method in ("correction", "retrain"):
        opts["epochs"] = args.epochs
    if args.hidden is not None and method == "correction":
        opts["hidden"] = args.hidden
    return opts


def run(args) -> CommandResult:
    """Load the project, run the requested methods, save, and report before/after test accuracies."""
    from core import project_io
    from core.cli_project import collect_defects
    from core.recovery import METHODS, recover_job

    if args.method not in METHOD_CHOICES:
        raise ParameterError("--method", f"must be one of {', '.join(METHOD_CHOICES)}; got {args.method!r}")
    _check_options(args)
    if not os.path.isfile(args.project):
        raise ParameterError("project", f"file {args.project!r} does not exist")
    project = project_io.load(args.project)
    defects = collect_defects(project, args)
    if not defects:
        raise ParameterError("--defect", "give at least one defect SPEC or --scenario NAME: recovery needs a defect")
    project.require_mapped()
    methods = METHODS if args.method == "all" else (args.method,)
    scenario = "+".join(args.scenario)
    on_progress = progress_printer(not args.quiet)
    results = {}
    for m in methods:
        results[m] = jobs.run(recover_job(project, defects, m, args.fidelity, seed=args.seed, scenario=scenario,
                                          store=not args.no_save, **_options(m, args)),
                              on_progress=on_progress, min_interval_s=0.2)
    if not args.no_save:
        project_io.save(project, args.project)
    before = next(iter(results.values())).before
    data = {"before": before, "after": {m: r.after for m, r in results.items()},
            "fidelity": args.fidelity, "defects": [d.to_spec() for d in defects],
            "ids": {m: r.id for m, r in results.items()} if not args.no_save else {},
            "saved": not args.no_save}
    lines = [f"defects: {'; '.join(data['defects'])}", f"before: {before:.3f} test accuracy ({args.fidelity})"]
    lines += [f"{m:<11} {r.after:.3f}" for m, r in results.items()]
    if not args.no_save:
        lines.append(f"stored as {', '.join(data['ids'].values())} in {args.project}")
    return CommandResult(data=data, text="\n".join(lines))
