"""``import-map`` (a measured resistance map of one array, one tile or the whole die into a defect scenario) and
``defect-stats`` (what a scenario's or a stored map's defects look like: line faults or clusters)."""

from __future__ import annotations

import os

import numpy as np

from core.cli.common import CommandResult, load_project, open_for_store
from core.errors import DefectSpecError, ParameterError
from core.model import defect_stats, measured
from core.model.defects import parse_resistance, stuck_maps
from core.model.project import Scenario
from core.session.project_file import FileBase, save_document

_BAR = 40


def register(sub, common) -> None:
    p = sub.add_parser(
        "import-map",
        parents=[common],
        help="classify a measured resistance/conductance map of one array, tile or the whole die into a stuck-on/"
        "stuck-off scenario",
    )
    p.add_argument("project")
    p.add_argument("map_file", nargs="?", default=None, metavar="MAP", help="the measured map (or --map)")
    p.add_argument("--map", default=None, help="the measured map: .npy (no pickles), .csv or .txt matrix")
    p.add_argument(
        "--array", type=int, default=None, help="the 1-based crossbar array the map was measured on (default 1)"
    )
    p.add_argument(
        "--die",
        action="store_true",
        help="the map covers the whole die: every array's tiles side by side without gaps (see README); it is split "
        "into one mask per array and tile",
    )
    p.add_argument(
        "--tile",
        type=int,
        default=None,
        help="on a tiled project: the tile (0-based, row-major) of that array the map was measured on; the map is "
        "then the tile's size",
    )
    p.add_argument("--unit", default="ohm", help=f"unit of the map's values: {', '.join(measured.UNITS)} (default ohm)")
    p.add_argument(
        "--on-below",
        "--stuck-on-below",
        dest="on_below",
        default=None,
        help="stuck on at or below this resistance, e.g. 5k (default: half the LRS)",
    )
    p.add_argument(
        "--off-above",
        "--stuck-off-above",
        dest="off_above",
        default=None,
        help="stuck off at or above this resistance, e.g. 2meg (default: twice the HRS)",
    )
    p.add_argument(
        "--stuck-at-value",
        nargs=2,
        default=None,
        metavar=("LOW", "HIGH"),
        help="cells between LOW and HIGH (e.g. 150k 250k: far from both programmed states) are stuck at their "
        "measured resistance (to within 1 %%); within the two thresholds",
    )
    p.add_argument("--name", default=None, help="scenario and map name (default: the file's base name)")
    p.add_argument("--force", action="store_true", help="replace a scenario or map of the same name")
    p.add_argument("--no-save", action="store_true", help="show the histogram and statistics only")
    p.set_defaults(func=cmd_import_map)

    p = sub.add_parser(
        "defect-stats", parents=[common], help="defect statistics of a scenario (per array) or of a stored map"
    )
    p.add_argument("project")
    p.add_argument("--scenario", default=None, help="a scenario stored in the project")
    p.add_argument("--map", default=None, help="a measured map stored in the project: its statistics, per tile")
    p.set_defaults(func=cmd_defect_stats)


def _resistance(text, field: str):
    if text is None:
        return None
    try:
        return parse_resistance(str(text))
    except DefectSpecError:  # its message is about a defect's "stuck" key: say it for this option
        raise ParameterError(
            field, f"must be a resistance in [1, 1e12] ohm such as 5k, 1.5meg or 2e5; got {text!r}"
        ) from None


def histogram_text(counts: np.ndarray, edges: np.ndarray, on_below: float, off_above: float) -> str:
    """A text histogram on log bins, each bin marked on / off / - by the thresholds (by its centre)."""
    top = max(1, int(counts.max()))
    lines = []
    for c, lo, hi in zip(counts, edges[:-1], edges[1:]):
        mid = (lo * hi) ** 0.5
        tag = "on " if mid <= on_below else "off" if mid >= off_above else "  -"
        lines.append(f"{lo:10.3g} - {hi:<10.3g} ohm {tag} {int(c):6d} {'#' * round(_BAR * c / top)}")
    return "\n".join(lines)


def cmd_import_map(args) -> CommandResult:
    if not os.path.isfile(args.project):
        raise ParameterError("project", f"file {args.project!r} does not exist")
    opened = open_for_store(args.project, save=not args.no_save)
    proj = opened.project
    mapped = proj.require_mapped()
    if args.die and (args.array is not None or args.tile is not None):
        raise ParameterError("die", "a whole-die map covers every array and tile: give no --array or --tile with it")
    array = measured.DIE if args.die else (1 if args.array is None else args.array)
    if (args.map is None) == (args.map_file is None):
        raise ParameterError("map", "give the measured map file once: as MAP after the project, or as --map")
    args.map = args.map or args.map_file
    measured.expected_shape(mapped, array, args.tile)  # the array or tile exists, before reading the file
    name = args.name or os.path.splitext(os.path.basename(args.map))[0]
    if not name.strip():
        raise ParameterError("name", "must not be empty")
    band = None
    if args.stuck_at_value is not None:
        lo, hi = (_resistance(v, "stuck-at-value") for v in args.stuck_at_value)
        band = (lo, hi)
    m = measured.measured_from_file(
        name,
        array,
        args.map,
        args.unit,
        _resistance(args.on_below, "on-below"),
        _resistance(args.off_above, "off-above"),
        (mapped.device.r_on_ohm, mapped.device.r_off_ohm),
        args.tile,
        band,
        mapped,
    )
    measured.check_fits(mapped, m)
    on, off = m.masks()
    stats = m.statistics()
    counts, edges = measured.log_histogram(m.resistance_ohm)
    defects = m.defects()
    dev = measured.programming_deviation(m, mapped.device)
    d = {
        "name": name,
        "array": None if m.is_die else array,
        "die": m.is_die,
        "tile": args.tile,
        "shape": list(m.shape),
        "unit": args.unit,
        "on_below_ohm": m.on_below_ohm,
        "off_above_ohm": m.off_above_ohm,
        "stuck_on": int(on.sum()),
        "stuck_off": int(off.sum()),
        "stuck_at_value": int(m.value_mask().sum()),
        "band_ohm": None if m.band_ohm is None else list(m.band_ohm),
        "n_defects": len(defects),
        "statistics": stats.to_dict(),
        "tiles": [_piece_dict(p, s) for p, s in m.piece_statistics()],
        "histogram": {"counts": counts.tolist(), "edges_ohm": edges.tolist()},
        "programming_deviation": dev,
        "saved": False,
    }
    if not args.no_save:
        if not args.force and (name in proj.scenarios or name in proj.measured_maps):
            raise ParameterError("name", f"{name!r} is already in the project (use --force to replace it, or --name)")
        proj.scenarios[name] = Scenario(name, defects, m.description())
        proj.measured_maps[name] = m
        save_document(proj, opened.path, FileBase.of(opened), mode="merge")
        d["saved"] = True
    text = (
        histogram_text(counts, edges, m.on_below_ohm, m.off_above_ohm)
        + f"\n{m.statistics_text()}"
        + f"\nhealthy cells read ln(G / nearest of {dev['states']} programmed states) with median "
        f"{dev['median_ln']:.3g} and sigma {dev['sigma_ln']:.3g} (compare --program-sigma)"
        + (f"\nstored as scenario {name!r}" if d["saved"] else "\nnot stored (--no-save)")
    )
    return CommandResult(d, text)


stats_text = defect_stats.statistics_text  # the one wording, shared with the workbench


def _piece_dict(p, s: defect_stats.DefectStatistics) -> dict:
    return {
        "array": p.array,
        "tile": p.tile,
        "fraction": s.fraction,
        "n_defective": s.n_defective,
        "verdict": s.verdict,
    }


def cmd_defect_stats(args) -> CommandResult:
    proj = load_project(args.project)
    if (args.scenario is None) == (args.map is None):
        raise ParameterError("scenario", "give one of --scenario NAME or --map NAME")
    if args.map is not None:
        if args.map not in proj.measured_maps:
            known = ", ".join(sorted(proj.measured_maps)) or "none"
            raise ParameterError("map", f"{args.map!r} is not a stored measured map (known: {known})")
        m = proj.measured_maps[args.map]
        d = {
            "map": m.name,
            "description": m.description(),
            "statistics": m.statistics().to_dict(),
            "tiles": [_piece_dict(p, s) for p, s in m.piece_statistics()],
        }
        return CommandResult(d, m.statistics_text())
    if args.scenario not in proj.scenarios:
        known = ", ".join(sorted(proj.scenarios)) or "none"
        raise ParameterError("scenario", f"{args.scenario!r} is not in the project (known: {known})")
    mapped = proj.require_mapped()
    maps = stuck_maps(
        mapped.shapes,
        proj.scenarios[args.scenario].defects,
        mapped.device,
        pitches_um=mapped.pitches_um,
        tiles=mapped.tiles,
    )
    per = [defect_stats.defect_statistics(~np.isnan(s)) for s in maps]
    d = {"scenario": args.scenario, "arrays": [s.to_dict() for s in per]}
    text = "\n".join(f"array {a}: {stats_text(s)}" for a, s in enumerate(per, 1))
    return CommandResult(d, text)
