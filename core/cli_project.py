"""CLI commands over one project: ``new``, ``evaluate``, ``info``, ``netlist``."""
from __future__ import annotations

import os
import time

from core import jobs
from core.cli import CommandResult, progress_printer
from core.errors import ParameterError, WorkbenchError


def register(sub, common) -> None:
    p = sub.add_parser("new", parents=[common], help="create a project and train its network")
    p.add_argument("project", help="path of the .h5 project to create")
    p.add_argument("--preset", default="paper", help="network preset: paper (64-8-8-8-10) or wide (64-32-32-16-10)")
    p.add_argument("--hidden", help="three hidden sizes, e.g. 8,8,8 (overrides --preset)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 150)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split and training (default 0)")
    p.add_argument("--data", help="user data: an .npz with X (n, features) and y (n,)")
    p.add_argument("--idx", nargs=2, metavar=("IMAGES", "LABELS"), help="user data: MNIST IDX image and label files")
    p.add_argument("--downsample", type=int, default=1, help="average-pool square images by this factor (e.g. 2: 28x28 -> 14x14)")
    p.add_argument("--scheme", default="differential-columns", help="differential-columns or differential-rows")
    p.add_argument("--r-on", type=float, default=10e3, help="LRS resistance in ohm (default 10k)")
    p.add_argument("--r-off", type=float, default=1e6, help="HRS resistance in ohm (default 1M)")
    p.add_argument("--levels", type=int, default=0, help="programmable conductance levels (0 = continuous)")
    p.add_argument("--v-read", type=float, default=0.2, help="read voltage in volts for a feature value of 1")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("evaluate", parents=[common], help="evaluate the network, optionally with defects")
    p.add_argument("project")
    _defect_args(p)
    p.add_argument("--fidelity", default="behavioral", help="ideal, behavioral, nodal or spice")
    p.add_argument("--split", default="test", help="test (default), cal or train")
    p.add_argument("--r-wire", type=float, default=None, help="wire segment resistance in ohm (nodal, spice)")
    p.add_argument("--device", default=None, help="device model: linear or gap")
    p.add_argument("--workers", type=int, default=None, help="parallel ngspice processes (default: cores)")
    p.add_argument("--no-save", action="store_true", help="do not store the result in the project")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("info", parents=[common], help="summarize a project")
    p.add_argument("project")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("netlist", parents=[common], help="write the whole circuit as an ngspice netlist")
    p.add_argument("project")
    _defect_args(p)
    p.add_argument("-o", "--output", required=True, help="the .cir file to write")
    p.add_argument("--images", type=int, default=None, help="number of test images in the staircase (default all)")
    p.add_argument("--r-wire", type=float, default=None, help="wire segment resistance in ohm")
    p.add_argument("--device", default=None, help="device model: linear or gap")
    p.set_defaults(func=cmd_netlist)


def _defect_args(p) -> None:
    p.add_argument("--defect", action="append", default=[], metavar="SPEC",
                   help="PATTERN:key=value,... e.g. circle:array=1,cx=0.5,cy=0.5,r=0.3,stuck=on (repeatable)")
    p.add_argument("--scenario", action="append", default=[], metavar="NAME",
                   help="a defect scenario stored in the project (repeatable)")


def load_project(path: str):
    """Load a project named on the command line; a missing file is a usage error naming the field."""
    from core import project_io

    if not os.path.isfile(path):
        raise ParameterError("project", f"file {path!r} does not exist")
    return project_io.load(path)


def collect_defects(project, args) -> list:
    """Defects from --scenario names (in the project) followed by --defect specs."""
    from core.defects import parse_spec

    out = []
    for name in args.scenario:
        if name not in project.scenarios:
            known = ", ".join(sorted(project.scenarios)) or "none"
            raise ParameterError("scenario", f"{name!r} is not in the project (known: {known})")
        out.extend(project.scenarios[name].defects)
    out.extend(parse_spec(s) for s in args.defect)
    n_arrays = len(project.require_mapped().arrays)
    for d in out:
        if d.array > n_arrays:
            raise ParameterError("array", f"must be from 1 to {n_arrays} for this network; got {d.array}")
    return out


def cmd_new(args) -> CommandResult:
    from core import data, project_io
    from core.devices import CircuitParams, DeviceParams
    from core.network import NetworkConfig, TrainConfig, parse_hidden
    from core.project import create_project_job

    if os.path.exists(args.project) and not args.force:
        raise ParameterError("project", f"{args.project!r} already exists (use --force to overwrite)")
    if args.data and args.idx:
        raise ParameterError("data", "give either --data or --idx, not both")
    if args.data:
        spec = data.spec_from_npz(args.data, seed=args.seed, downsample=args.downsample)
    elif args.idx:
        spec = data.spec_from_idx(args.idx[0], args.idx[1], seed=args.seed, downsample=args.downsample)
    else:
        if args.downsample != 1:
            raise ParameterError("downsample", "only applies to user data (--data or --idx)")
        spec = data.DatasetSpec(seed=args.seed)
    hidden = parse_hidden(args.hidden) if args.hidden else NetworkConfig.preset(args.preset).hidden
    train = TrainConfig(seed=args.seed, **({"epochs": args.epochs} if args.epochs is not None else {}))
    device = DeviceParams(r_on_ohm=args.r_on, r_off_ohm=args.r_off, levels=args.levels, v_read_volt=args.v_read)
    t0 = time.perf_counter()
    proj = jobs.run(create_project_job(spec, NetworkConfig(64, hidden, 10), train, device, CircuitParams(), args.scheme),
                    on_progress=progress_printer(not args.quiet), min_interval_s=0.2)
    project_io.save(proj, args.project)
    hist = proj.weights.history
    d = {"project": os.path.abspath(args.project), "layer_sizes": list(proj.network.layer_sizes),
         "epochs": proj.training.epochs, "seed": proj.training.seed,
         "train_accuracy": float(hist["train_accuracy"][-1]), "test_accuracy": float(hist["test_accuracy"][-1]),
         "array_shapes": [list(s) for s in proj.mapped.shapes], "seconds": time.perf_counter() - t0}
    text = (f"created {args.project}: network {'-'.join(map(str, d['layer_sizes']))}, "
            f"test accuracy {d['test_accuracy']:.3f} after {d['epochs']} epochs; arrays "
            + ", ".join(f"{r}x{c}" for r, c in proj.mapped.shapes))
    return CommandResult(d, text)


def cmd_evaluate(args) -> CommandResult:
    from core import project_io
    from core.evaluate import evaluate_job

    proj = load_project(args.project)
    defects = collect_defects(proj, args)
    res = jobs.run(evaluate_job(proj, defects, args.fidelity, split=args.split, r_wire_ohm=args.r_wire,
                                device_model=args.device, workers=args.workers, scenario=",".join(args.scenario),
                                store=not args.no_save),
                   on_progress=progress_printer(not args.quiet), min_interval_s=0.2)
    if not args.no_save:
        project_io.save(proj, args.project)
    d = {"accuracy": res.accuracy, "n_images": res.n_images, "fidelity": res.fidelity,
         "defect_fraction": res.defect_fraction, "seconds": res.seconds, "solver": res.solver,
         "defects": res.defect_specs, "id": res.id if not args.no_save else None}
    frac = ", ".join(f"{f:.3f}" for f in res.defect_fraction)
    text = (f"{res.fidelity} accuracy {res.accuracy:.4f} on {res.n_images} images "
            f"(defective fraction per array: {frac}; {res.seconds:.2f} s; solver: {res.solver})")
    return CommandResult(d, text)


def cmd_info(args) -> CommandResult:
    from core import project_io

    proj = load_project(args.project)
    s = project_io.summary(proj)
    return CommandResult(s, info_text(s))


def info_text(s: dict) -> str:
    """A few readable lines from :func:`core.project_io.summary`."""
    dev, cir, net = s["device"], s["circuit"], s["network"]
    acc = s.get("test_accuracy")
    lines = [
        f"{s['format']} v{s['format_version']} (written by {s['app_version']}; modified {s['modified']})",
        f"data: {s['dataset']['name']} (seed {s['dataset']['seed']}, {s['dataset']['test_size']} test images)",
        f"network: {'-'.join(map(str, net['layer_sizes']))}" + ("" if not net["trained"] else
                                                              f", trained, test accuracy {acc:.3f}"),
        f"devices: LRS {dev['r_on_ohm']:g} ohm, HRS {dev['r_off_ohm']:g} ohm, {dev['model']} model, "
        f"v_read {dev['v_read_volt']:g} V; rails +-{cir['v_rail_volt']:g} V, wire {cir['r_wire_ohm']:g} ohm",
        f"arrays ({s['scheme']}): " + ", ".join(f"{a['rows']}x{a['columns']}" for a in s["arrays"]),
        f"scenarios: {len(s['scenarios'])}" + "".join(
            f"\n  {sc['name']}: {'; '.join(sc['defects'])}" for sc in s["scenarios"]),
        f"results: {s['n_results']}, sweeps: {s['n_sweeps']}, recoveries: {s['n_recoveries']}",
    ]
    lines += [f"  {r['id']} {r['fidelity']:<10} {r['scenario'] or 'clean':<24} accuracy {r['accuracy']:.3f}"
              for r in s.get("results", [])]
    return "\n".join(lines)


def cmd_netlist(args) -> CommandResult:
    from core.evaluate import defective_conductances, with_overrides

    from core.spice import simulate

    proj = load_project(args.project)
    defects = collect_defects(proj, args)
    mapped = with_overrides(proj.require_mapped(), args.r_wire, args.device)
    ds = proj.load_dataset()
    X = ds.X_test
    if args.images is not None:
        if not 1 <= args.images <= len(X):
            raise ParameterError("images", f"must be in [1, {len(X)}], got {args.images}")
        X = X[:args.images]
    g_list, _ = defective_conductances(mapped, defects)
    text = simulate.build_netlist_text(mapped, X, g_list)
    tmp = args.output + ".tmp"
    try:
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.output)
    except OSError as e:
        raise WorkbenchError(f"output: cannot write {args.output!r} ({e.strerror})") from None
    d = {"netlist": os.path.abspath(args.output), "n_images": len(X), "bytes": len(text.encode()),
         "defects": [x.to_spec() for x in defects]}
    return CommandResult(d, f"wrote {args.output} ({len(X)} images, {d['bytes']} bytes); run it with: ngspice -b {args.output}")
