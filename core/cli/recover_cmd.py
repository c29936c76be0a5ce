"""CLI command ``recover``: run accuracy-recovery methods on a defective circuit and store their results."""

from __future__ import annotations

from core.cli.common import (
    CommandResult,
    Deadline,
    collect_defects,
    open_for_store,
    parse_timeout,
    run_job,
    timeout_arg,
)
from core.errors import ParameterError
from core.evaluate import project_view
from core.model.defects import parse_spec
from core.recovery.common import METHODS, RECOVERY_FIDELITIES
from core.recovery.correction import PROBES, CorrectionConfig, generalization_job
from core.recovery.recover import recover_job
from core.session.project_file import store_results

METHOD_CHOICES = (*METHODS, "all")


def register(sub, common) -> None:
    p = sub.add_parser(
        "recover",
        parents=[common],
        help="recover accuracy of a defective circuit (correction net, retraining, remapping)",
    )
    p.add_argument("project", help="the .h5 project (trained); results are stored in it")
    p.add_argument(
        "--defect",
        action="extend",
        nargs="+",
        default=[],
        metavar="SPEC",
        help="PATTERN:key=value,... e.g. ring:array=4,r_in=0.2,r_out=0.35,stuck=on (several allowed)",
    )
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="a defect scenario stored in the project (repeatable)",
    )
    p.add_argument("--method", default="all", help="correction, retrain, remap or all (default all)")
    p.add_argument("--fidelity", default="behavioral", help=f"{', '.join(RECOVERY_FIDELITIES)} (default behavioral)")
    p.add_argument("--seed", type=int, default=0, help="seed of the correction net and retraining (default 0)")
    p.add_argument("--hidden", type=int, default=None, help="hidden units per layer of the correction net (default 64)")
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs of the correction net (default 500) and retraining (default 100)",
    )
    p.add_argument("--depth", type=int, default=None, help="hidden layers of the correction net (default 2)")
    p.add_argument(
        "--ensemble", type=int, default=None, help="correction nets averaged, seeds SEED, SEED+1... (default 1)"
    )
    p.add_argument(
        "--train-images",
        type=int,
        default=None,
        metavar="N",
        help="correction net: at most N training images, calibration split first (default 0: all)",
    )
    p.add_argument(
        "--calibration-only",
        action="store_true",
        help="correction net: learn from the calibration split only, not the training split too",
    )
    p.add_argument(
        "--raw-volts", action="store_true", help="correction net: no per-output standardization of its inputs"
    )
    p.add_argument(
        "--probes",
        default=None,
        help=f"correction net: circuit reads per image, {', '.join(PROBES)} (default none: one read, the study's "
        "method; amplitude: 3 reads at 1, 0.4, 0.15 of the input amplitude; shift: the image and its four "
        "one-pixel shifts, 5 reads)",
    )
    p.add_argument("--r-wire", type=float, default=None, help="wire segment resistance in ohm (nodal, spice)")
    p.add_argument("--device", default=None, help="device model: linear or gap")
    timeout_arg(p, "all the methods together")
    p.add_argument("--no-save", action="store_true", help="do not store the results in the project")
    p.add_argument(
        "--train-on",
        action="append",
        default=[],
        metavar="SCENARIO_OR_SPEC",
        help="generalization study: train ONE correction net on these scenarios (names stored in the "
        "project, or defect specs; repeatable) and test it on the --scenario/--defect ones",
    )
    p.set_defaults(func=run)


def _check_options(args) -> None:
    """Refuse options that the chosen method would silently ignore."""
    if args.method == "remap" and args.epochs is not None:
        raise ParameterError("--epochs", "does not apply to --method remap (it trains nothing)")
    if args.train_on and args.method not in ("correction", "all"):
        raise ParameterError("--train-on", "only applies to --method correction")
    if args.probes is not None and args.probes not in PROBES:
        raise ParameterError("--probes", f"must be one of {', '.join(PROBES)}; got {args.probes!r}")
    if args.method in ("remap", "retrain"):
        for flag, value in _CORRECTION_FLAGS.items():
            if getattr(args, value) not in (None, False):
                raise ParameterError(flag, "only applies to --method correction or all")


# flag -> argparse attribute of the options that only the correction net reads
_CORRECTION_FLAGS = {
    "--hidden": "hidden",
    "--depth": "depth",
    "--ensemble": "ensemble",
    "--train-images": "train_images",
    "--calibration-only": "calibration_only",
    "--raw-volts": "raw_volts",
    "--probes": "probes",
}


def _options(method: str, args) -> dict:
    opts = {}
    if args.epochs is not None and method in ("correction", "retrain"):
        opts["epochs"] = args.epochs
    if method == "correction":
        for name in ("hidden", "depth", "ensemble"):
            if getattr(args, name) is not None:
                opts[name] = getattr(args, name)
        if args.train_images is not None:
            opts["max_images"] = args.train_images
        if args.calibration_only:
            opts["train_split"] = False
        if args.raw_volts:
            opts["standardize"] = False
        if args.probes is not None:
            opts["probes"] = args.probes
    return opts


def run(args) -> CommandResult:
    """Load the project, run the requested methods, save, and report before/after test accuracies."""
    if args.method not in METHOD_CHOICES:
        raise ParameterError("--method", f"must be one of {', '.join(METHOD_CHOICES)}; got {args.method!r}")
    _check_options(args)
    deadline = Deadline(parse_timeout(args.timeout))
    opened = open_for_store(args.project, save=not args.no_save)
    project = opened.project
    defects = collect_defects(project, args)
    if not defects:
        raise ParameterError("--defect", "give at least one defect SPEC or --scenario NAME: recovery needs a defect")
    project.require_mapped()
    if args.train_on:
        return _generalize(opened, args, defects, deadline)
    methods = METHODS if args.method == "all" else (args.method,)
    scenario = "+".join(args.scenario)
    results = {}
    for m in methods:
        results[m] = run_job(
            recover_job(
                project,
                defects,
                m,
                args.fidelity,
                seed=args.seed,
                scenario=scenario,
                r_wire_ohm=args.r_wire,
                device_model=args.device,
                **_options(m, args),
            ),
            args,
            deadline,
        )
    if not args.no_save:
        store_results(opened, list(results.values()))  # merges results other writers stored meanwhile
    before = next(iter(results.values())).before
    data = {
        "before": before,
        "after": {m: r.after for m, r in results.items()},
        "fidelity": args.fidelity,
        "defects": [d.to_spec() for d in defects],
        "ids": {m: r.id for m, r in results.items()} if not args.no_save else {},
        "saved": not args.no_save,
    }
    lines = [f"defects: {'; '.join(data['defects'])}", f"before: {before:.3f} test accuracy ({args.fidelity})"]
    lines += [f"{m:<11} {r.after:.3f}" for m, r in results.items()]
    if "correction" in results:
        p = results["correction"].params
        data["diagnostic"] = {k[len("diagnostic_") :]: v for k, v in p.items() if k.startswith("diagnostic_")}
        lines.append(
            f"hidden neurons constant over the calibration set: {p['diagnostic_dead_per_layer']} per layer "
            f"(defect-free {p['diagnostic_healthy_dead_per_layer']}): information lost to the correction net"
        )
    if not args.no_save:
        lines.append(f"stored as {', '.join(data['ids'].values())} in {args.project}")
    return CommandResult(data=data, text="\n".join(lines))


def _scenario_or_spec(project, text: str) -> tuple[str, list]:
    if text in project.scenarios:
        return text, list(project.scenarios[text].defects)
    if ":" not in text:
        known = ", ".join(sorted(project.scenarios)) or "none"
        raise ParameterError(
            "--train-on", f"{text!r} is neither a scenario in the project (known: {known}) nor a defect spec"
        )
    return text, [parse_spec(text)]


def _generalize(opened, args, test_defects, deadline: Deadline) -> CommandResult:
    """One correction net trained on the --train-on scenarios, tested on each held-out defect separately."""
    project = opened.project
    train = dict(_scenario_or_spec(project, t) for t in args.train_on)
    if args.scenario and args.defect:
        raise ParameterError("--train-on", "give held-out defects either as --scenario names or as --defect specs")
    test = (
        {n: list(project.scenarios[n].defects) for n in args.scenario}
        if args.scenario
        else {d.to_spec(): [d] for d in test_defects}
    )
    # the generalization net's defaults are the paper's (see core.recovery.correction.generalization_job)
    config = CorrectionConfig.paper(**{"seed": args.seed, **_options("correction", args)})
    view = project_view(project, args.r_wire, args.device)
    res = run_job(generalization_job(view, train, test, args.fidelity, config), args, deadline)
    if not args.no_save:
        store_results(opened, [res])
    held = res.params.get("held_out", [])
    data = {
        "before": res.before,
        "after": {"correction": res.after},
        "fidelity": args.fidelity,
        "trained_on": list(train),
        "held_out": held,
        "id": res.id if not args.no_save else None,
        "saved": not args.no_save,
    }
    lines = [
        f"correction net trained on: {'; '.join(train)}",
        f"held-out mean test accuracy: {res.before:.3f} -> {res.after:.3f} ({args.fidelity})",
    ]
    lines += [f"  {h['name']}: {h['before']:.3f} -> {h['after']:.3f}" for h in held]
    return CommandResult(data=data, text="\n".join(lines))
