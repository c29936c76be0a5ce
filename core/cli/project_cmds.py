"""CLI commands over one project: ``new``, ``evaluate``, ``info``, ``netlist``."""

from __future__ import annotations

import dataclasses
import os
import time

from core import jobs, project_io
from core.circuit.fidelity import defective_conductances, with_opamp, with_overrides, with_variability
from core.circuit.spice.export import netlist_job
from core.cli.common import (
    CommandResult,
    Deadline,
    collect_defects,
    defect_args,
    load_project,
    opamp_args,
    opamp_from_args,
    open_for_store,
    parse_timeout,
    progress_printer,
    run_job,
    terminal_safe,
    timeout_arg,
    variability_args,
    variability_from_args,
)
from core.cli.wires import mapped_with_wires, project_with_wires, wire_args, with_wire_args
from core.errors import ParameterError
from core.evaluate import FIDELITIES, evaluate_job, remapped_for_rails
from core.ml.new_project import create_project_job
from core.model import data, tiling
from core.model.crossbar import parse_pitch
from core.model.data import SPLITS
from core.model.devices import DEVICE_MODELS, SCHEMES, CircuitParams, DeviceParams
from core.model.floorplan import hit_summary
from core.model.network import PRESETS, NetworkConfig, TrainConfig, parse_hidden
from core.session.project_file import store_results

_DEV = DeviceParams()
_TRAIN = TrainConfig()


def register(sub, common) -> None:
    p = sub.add_parser("new", parents=[common], help="create a project and train its network")
    p.add_argument("project", help="path of the .h5 project to create")
    p.add_argument(
        "--preset",
        default="paper",
        help="network preset: " + ", ".join(f"{k} ({'-'.join(map(str, v))})" for k, v in PRESETS.items()),
    )
    p.add_argument("--hidden", help="three hidden sizes, e.g. 8,8,8 (overrides --preset)")
    p.add_argument("--epochs", type=int, default=None, help=f"training epochs (default {_TRAIN.epochs})")
    p.add_argument(
        "--seed", type=int, default=_TRAIN.seed, help=f"seed for the split and training (default {_TRAIN.seed})"
    )
    p.add_argument("--data", help="user data: an .npz with X (n, features) and y (n,)")
    p.add_argument("--idx", nargs=2, metavar=("IMAGES", "LABELS"), help="user data: MNIST IDX image and label files")
    p.add_argument(
        "--downsample", type=int, default=1, help="average-pool square images by this factor (e.g. 2: 28x28 -> 14x14)"
    )
    p.add_argument(
        "--scheme", default=SCHEMES[0], help=f"mapping scheme: one of {', '.join(SCHEMES)} (default {SCHEMES[0]})"
    )
    p.add_argument(
        "--r-on", type=float, default=_DEV.r_on_ohm, help=f"LRS resistance in ohm (default {_DEV.r_on_ohm:g})"
    )
    p.add_argument(
        "--r-off", type=float, default=_DEV.r_off_ohm, help=f"HRS resistance in ohm (default {_DEV.r_off_ohm:g})"
    )
    p.add_argument("--levels", type=int, default=_DEV.levels, help="programmable conductance levels (0 = continuous)")
    p.add_argument(
        "--v-read",
        type=float,
        default=_DEV.v_read_volt,
        help=f"read voltage in volts for a feature value of 1 (default {_DEV.v_read_volt:g})",
    )
    p.add_argument(
        "--cell-pitch",
        default=None,
        metavar="XxY",
        help="cell pitch of every array in um, e.g. 0.2x0.4 (x along word lines) or 0.3; lets defects be given "
        "in um (circle:r_um=...) and draws cells to scale (default: unknown)",
    )
    p.add_argument(
        "--tile",
        default=None,
        metavar="RxC",
        help="split every layer over fixed-size tiles, e.g. 64x64 or 32 (default: one array per layer); tiles of a "
        "layer share each column's TIA (wired current summing), unused cells are real devices",
    )
    p.add_argument(
        "--unused",
        default="hrs",
        help="state of a tile's unused cells: hrs (programmed to the HRS, default) or unformed (10x the HRS)",
    )
    p.add_argument(
        "--tile-gap-um",
        type=float,
        default=tiling.DEFAULT_TILE_GAP_UM,
        help=f"space between a layer's tiles on the die in um (default {tiling.DEFAULT_TILE_GAP_UM:g})",
    )
    p.add_argument(
        "--r-wire", type=float, default=None, help="wire segment resistance in ohm stored in the project (default 0)"
    )
    wire_args(p)
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument(
        "--allow-large",
        action="store_true",
        help="train even a network estimated to need more memory or time than the limits (refused otherwise)",
    )
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("evaluate", parents=[common], help="evaluate the network, optionally with defects")
    p.add_argument("project")
    defect_args(p)
    p.add_argument("--fidelity", default="behavioral", help=f"{', '.join(FIDELITIES)} (default behavioral)")
    p.add_argument("--split", default="test", help=f"{', '.join(SPLITS)} (default test)")
    p.add_argument("--r-wire", type=float, default=None, help="wire segment resistance in ohm (nodal, spice)")
    wire_args(p)
    p.add_argument("--device", default=None, help=f"device model: {' or '.join(DEVICE_MODELS)}")
    p.add_argument("--workers", type=int, default=None, help="parallel ngspice processes (default: cores)")
    p.add_argument(
        "--neuron",
        default="macro",
        choices=["macro", "transistor"],
        help="spice only: macro-model op-amps (default) or CMOS op-amps and rectifiers on the 45 nm PTM card "
        "(re-maps the network for +-0.5 V rails)",
    )
    p.add_argument(
        "--v-rail",
        type=float,
        default=None,
        help="re-map for these op-amp rails in volts (0.5: the macro baseline of --neuron transistor)",
    )
    timeout_arg(p, "the evaluation")
    opamp_args(p)
    variability_args(p)
    p.add_argument("--no-save", action="store_true", help="do not store the result in the project")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("info", parents=[common], help="summarize a project")
    p.add_argument("project")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("netlist", parents=[common], help="write the whole circuit as an ngspice netlist")
    p.add_argument("project")
    defect_args(p)
    p.add_argument("-o", "--output", required=True, help="the .cir file to write")
    p.add_argument("--images", type=int, default=None, help="number of test images in the staircase (default all)")
    p.add_argument(
        "--neuron",
        default="macro",
        choices=["macro", "transistor"],
        help="macro-model neurons (default) or CMOS ones (re-maps the network for +-0.5 V rails)",
    )
    p.add_argument("--r-wire", type=float, default=None, help="wire segment resistance in ohm")
    wire_args(p)
    p.add_argument("--device", default=None, help=f"device model: {' or '.join(DEVICE_MODELS)}")
    opamp_args(p)
    variability_args(p)
    p.set_defaults(func=cmd_netlist)


def cmd_new(args) -> CommandResult:
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
    pitch = None if args.cell_pitch is None else parse_pitch(args.cell_pitch, "cell-pitch")
    tile = None if args.tile is None else tiling.parse_tile(args.tile)
    tiling.check_unused_state(args.unused)
    tiling.check_gap(args.tile_gap_um)
    circuit = with_wire_args(CircuitParams(), args, args.r_wire)
    t0 = time.perf_counter()
    proj = jobs.run(
        create_project_job(
            spec,
            NetworkConfig(64, hidden, 10),
            train,
            device,
            circuit,
            args.scheme,
            cell_pitch_um=pitch,
            allow_large=args.allow_large,
            tile=tile,
            unused_state=args.unused,
            tile_gap_um=args.tile_gap_um,
        ),
        on_progress=progress_printer(not args.quiet),
        min_interval_s=0.2,
    )
    project_io.save(proj, args.project)
    hist = proj.weights.history
    d = {
        "project": os.path.abspath(args.project),
        "layer_sizes": list(proj.network.layer_sizes),
        "epochs": proj.training.epochs,
        "seed": proj.training.seed,
        "train_accuracy": float(hist["train_accuracy"][-1]),
        "test_accuracy": float(hist["test_accuracy"][-1]),
        "array_shapes": [list(a.logical_shape) for a in proj.mapped.arrays],
        "tiles": [tiling.describe(a) for a in proj.mapped.arrays],
        "seconds": time.perf_counter() - t0,
    }
    text = (
        f"created {args.project}: network {'-'.join(map(str, d['layer_sizes']))}, "
        f"test accuracy {d['test_accuracy']:.3f} after {d['epochs']} epochs; arrays "
        + ", ".join(tiling.describe(a) for a in proj.mapped.arrays)
    )
    return CommandResult(d, text)


def cmd_evaluate(args) -> CommandResult:
    deadline = Deadline(parse_timeout(args.timeout))
    opened = open_for_store(args.project, save=not args.no_save)
    proj = opened.project
    defects = collect_defects(proj, args)
    opamp = opamp_from_args(args)
    variability = variability_from_args(args)
    # the op-amp and device settings belong to this evaluation, not to the project: evaluate a view, store into
    # the project
    view = proj
    if opamp is not None or variability is not None:
        mapped = with_variability(with_opamp(proj.require_mapped(), opamp), variability)
        view = dataclasses.replace(proj, mapped=mapped)
    view = project_with_wires(view, args)
    res = run_job(
        evaluate_job(
            view,
            defects,
            args.fidelity,
            split=args.split,
            r_wire_ohm=args.r_wire,
            device_model=args.device,
            workers=args.workers,
            scenario=",".join(args.scenario),
            neuron=args.neuron,
            v_rail_volt=args.v_rail,
        ),
        args,
        deadline,
    )
    if not args.no_save:
        store_results(opened, [res])  # merges results other writers stored meanwhile
    d = {
        "accuracy": res.accuracy,
        "n_images": res.n_images,
        "fidelity": res.fidelity,
        "defect_fraction": res.defect_fraction,
        "seconds": res.seconds,
        "solver": res.solver,
        "defects": res.defect_specs,
        "id": res.id if not args.no_save else None,
        # which arrays (and, tiled, which tiles) the defects reach: a die cluster hits whatever sits under it
        "hit": hit_summary(proj.require_mapped(), defects) if defects else [],
    }
    if opamp is not None:
        d["opamp"] = opamp.changes()
    if variability is not None:
        d["variability"] = variability.changes()
    if res.fidelity == "spice":
        # latency, energy and power of a step from the split's image 0 to image 1 (core.evaluate.evaluate_job)
        inference = res.params.get("inference", {})
        d["neuron"] = res.params.get("neuron", "macro")
        d["v_rail_volt"] = res.params.get("v_rail_volt")
        d["inference"] = inference
        if inference.get("settling_s") is not None:
            d["settling_s"] = inference["settling_s"]
    frac = ", ".join(f"{f:.3f}" for f in res.defect_fraction)
    text = (
        f"{res.fidelity} accuracy {res.accuracy:.4f} on {res.n_images} images "
        f"(defective fraction per array: {frac}; {res.seconds:.2f} s; solver: {res.solver})"
    )
    if d["hit"]:
        text += "; defects hit " + ", ".join(
            f"array {h['array']}" + (f" (tiles {', '.join(map(str, h['tiles']))})" if h["tiles"] else "")
            for h in d["hit"]
        )
    if "settling_s" in d:
        text += f"; settling to 1 % after an input step: {d['settling_s'] * 1e6:.3g} us"
    if d.get("inference", {}).get("energy_per_inference_j") is not None:
        text += f"; energy per inference {d['inference']['energy_per_inference_j'] * 1e9:.3g} nJ"
    if d.get("inference", {}).get("power_w") is not None:
        text += f"; power {d['inference']['power_w'] * 1e3:.3g} mW"
    return CommandResult(d, text)


def cmd_info(args) -> CommandResult:
    proj = load_project(args.project)
    s = project_io.summary(proj)
    return CommandResult(s, info_text(terminal_safe(s)))  # names from the file must not drive the terminal


def info_text(s: dict) -> str:
    """A few readable lines from :func:`core.project_io.summary`."""
    dev, cir, net = s["device"], s["circuit"], s["network"]
    acc = s.get("test_accuracy")
    lines = [
        f"{s['format']} v{s['format_version']} (written by {s['app_version']}; modified {s['modified']})",
        f"data: {s['dataset']['name']} (seed {s['dataset']['seed']}, {s['dataset']['test_size']} test images)",
        f"network: {'-'.join(map(str, net['layer_sizes']))}"
        + ("" if not net["trained"] else ", trained" + ("" if acc is None else f", test accuracy {acc:.3f}")),
        f"devices: LRS {dev['r_on_ohm']:g} ohm, HRS {dev['r_off_ohm']:g} ohm, {dev['model']} model, "
        f"v_read {dev['v_read_volt']:g} V; rails +-{cir['v_rail_volt']:g} V, wire {cir['r_wire_ohm']:g} ohm",
        f"arrays ({s['scheme']}): " + ", ".join(a["layout"] for a in s["arrays"]),
        f"scenarios: {len(s['scenarios'])}"
        + "".join(f"\n  {sc['name']}: {'; '.join(sc['defects'])}" for sc in s["scenarios"]),
        f"results: {s['n_results']}, sweeps: {s['n_sweeps']}, recoveries: {s['n_recoveries']}",
    ]
    draft = s.get("draft")
    if draft:
        lines.insert(-1, f"draft (unsaved scenario of the workbench): {draft['name']}: {'; '.join(draft['defects'])}")
    lines += [
        f"  {r['id']} {r['fidelity']:<10} {r['scenario'] or 'clean':<24} accuracy {r['accuracy']:.3f}"
        for r in s.get("results", [])
    ]
    return "\n".join(lines)


def cmd_netlist(args) -> CommandResult:
    proj = load_project(args.project)
    defects = collect_defects(proj, args)
    mapped = with_opamp(with_overrides(proj.require_mapped(), args.r_wire, args.device), opamp_from_args(args))
    mapped = mapped_with_wires(with_variability(mapped, variability_from_args(args)), args)
    ds = proj.load_dataset()
    X = ds.X_test
    if args.images is not None:
        if not 1 <= args.images <= len(X):
            raise ParameterError("images", f"must be in [1, {len(X)}], got {args.images}")
        X = X[: args.images]
    if args.neuron == "transistor":
        mapped = remapped_for_rails(proj, mapped, 0.5)
    g_list, _ = defective_conductances(mapped, defects)
    d = jobs.run(netlist_job(mapped, X, g_list, args.output, args.neuron))
    d["defects"] = [x.to_spec() for x in defects]
    return CommandResult(
        d, f"wrote {args.output} ({len(X)} images, {d['bytes']} bytes); run it with: ngspice -b {args.output}"
    )
