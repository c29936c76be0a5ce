"""Rebuilding a :class:`core.model.project.Project` from a project file checked by :mod:`core.project_io.schema`.

Every value is read through :class:`core.project_io.checks.Reader` (links, filters, dtypes, shapes and limits
checked before any data is read); this module adds what only the project model knows: the shapes that
follow from the network configuration, the ranges of each field, and the validating constructors
(:class:`core.model.devices.DeviceParams`, :class:`core.model.defects.Defect`, ...) whose errors become
:class:`core.errors.ProjectFormatError` naming the HDF5 path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Optional

import h5py
import numpy as np

from core.errors import DataError, DefectSpecError, ParameterError, ProjectFormatError
from core.model import tiling
from core.model.crossbar import DIE_MAX_UM, PITCH_RANGE_UM, ArrayMap, MappedNetwork, physical_shape
from core.model.data import DOWNSAMPLE, DatasetSpec, validate_arrays
from core.model.defects import MAX_TILE_INDEX, Defect
from core.model.devices import SCHEMES, CircuitParams, DeviceParams
from core.model.network import NetworkConfig, TrainConfig, Weights
from core.model.params import is_optional
from core.model.project import Draft, Project, Scenario
from core.model.results import RecoveryResult, SimulationResult, SweepResult
from core.project_io import measured_io
from core.project_io.checks import Reader
from core.project_io.schema import MAX_ELEMENTS, parse_json
from core.project_io.sweep_maps import StreamedSweepResult, SweepMaps

_MAX_ROWS = 1_000_000
MAX_SWEEP_MAPS = 10_000_000  # SweepSpec's limit (project_io sits below core.sweeps)
DIGITS_SAMPLES = 1797  # scikit-learn's bundled digits
# upper bounds of the mapped arrays' scalars (the example project's values are 0.01-3, 1e5 ohm, gains 0.05-1.3)
_ARRAY_FLOAT_MAX = {
    "w_max": 1e6,
    "bias_scale": 1e6,
    "r_tia_ohm": 1e12,
    "k_stage2": 1e6,
    "sigma_in": 1e3,
    "sigma_out": 1e3,
}
_MAX_COUNT = 100_000


def _convert(path: str, build: Callable, *args):
    """Run a validating constructor; its ParameterError/DefectSpecError/DataError name the HDF5 path."""
    try:
        return build(*args)
    except (ParameterError, DefectSpecError, DataError) as e:
        raise ProjectFormatError(path, str(e)) from None


def _params(r: Reader, g: h5py.Group, cls):
    """A parameter dataclass from attributes named like its fields; ranges checked by its __post_init__."""
    values = {}
    for fld in dataclasses.fields(cls):
        default = fld.default
        kind = (
            "str"
            if isinstance(default, str)
            else "bool"
            if isinstance(default, bool)
            else "int"
            if isinstance(default, int)
            else "float"
        )
        if is_optional(fld):  # added after format version 1: older files lack it
            values[fld.name] = r.attr(g, fld.name, kind, required=False, default=default)
        else:
            values[fld.name] = r.attr(g, fld.name, kind)
    return _convert(g.name, lambda: cls(**values))


def _common(r: Reader, g: h5py.Group) -> dict:
    return {k: r.attr(g, k, "str") for k in ("id", "software_version", "created")}


def read_project(f: h5py.File, r: Reader) -> Project:
    """Build a :class:`Project` from an open file whose header was checked (see :func:`check_header`)."""
    r.children(f)
    created, modified = r.attr(f, "created", "str"), r.attr(f, "modified", "str")
    network, training, weights = _read_network(f, r)
    dataset = _read_dataset(f, r)
    device = _params(r, r.group(f, "device", "device_params"), DeviceParams)
    cg = r.group(f, "circuit", "circuit_params")
    circuit = _params(r, cg, CircuitParams)
    scheme = r.attr(cg, "scheme", "str")
    _convert(cg.name, physical_shape, scheme, 1, 1)
    mapped = _read_mapping(f, r, network)
    if dataset.y is not None and dataset.y.size and (dataset.y.min() < 0 or dataset.y.max() >= network.n_outputs):
        raise ProjectFormatError(
            "/dataset/y",
            f"labels must be in [0, {network.n_outputs - 1}] for a network with {network.n_outputs} outputs, "
            f"got [{dataset.y.min()}, {dataset.y.max()}]",
        )
    if weights is not None or mapped is not None:
        n_features = 64 if dataset.X is None else dataset.X.shape[1]
        if n_features != network.n_inputs:
            raise ProjectFormatError(
                "/network", f"n_inputs ({network.n_inputs}) differs from the dataset's {n_features} features"
            )
    scenarios = _read_scenarios(f, r, network)
    draft = _read_draft(f, r, network)
    results, sweeps, recoveries = _read_results(f, r, network)
    measured = measured_io.read_measured(f, r, len(network.layer_sizes) - 1)
    return Project(
        dataset=dataset,
        network=network,
        training=training,
        device=device,
        circuit=circuit,
        scheme=scheme,
        weights=weights,
        mapped=mapped,
        scenarios=scenarios,
        draft=draft,
        results=results,
        sweeps=sweeps,
        recoveries=recoveries,
        measured_maps=measured,
        created=created,
        modified=modified,
    )


def _read_dataset(f: h5py.File, r: Reader) -> DatasetSpec:
    g = r.group(f, "dataset", "dataset")
    source = r.attr(g, "source", "str")
    if source not in ("digits", "npz", "idx"):
        raise ProjectFormatError(g.name, f"attribute 'source' must be digits, npz or idx; got {source!r}")
    spec = DatasetSpec(
        source=source,
        seed=r.attr(g, "seed", "int", lo=0, hi=2**32 - 2),  # the calibration split draws with seed + 1
        test_size=r.attr(g, "test_size", "int", lo=1, hi=10**8),
        cal_size=r.attr(g, "cal_size", "int", lo=0, hi=10**8),
        downsample=r.attr(g, "downsample", "int", lo=DOWNSAMPLE.lo, hi=DOWNSAMPLE.hi),
        name=r.attr(g, "name", "str"),
    )
    spec.X = r.array(g, "X", "fiub", ndim=2, required=source != "digits")
    spec.y = r.array(
        g, "y", "iu", ndim=1, required=spec.X is not None, shape=None if spec.X is None else (spec.X.shape[0],)
    )
    if spec.y is not None and spec.X is None:
        raise ProjectFormatError(g.name + "/X", "is missing while y is present")
    if spec.X is not None:
        _convert(g.name, validate_arrays, spec.X, spec.y)
    # the same limits as when the split is made (core.model.data), plus one training image per class at least
    n = DIGITS_SAMPLES if spec.X is None else int(spec.X.shape[0])
    n_classes = 10 if spec.y is None else int(len(np.unique(spec.y)))
    if spec.test_size > n - 2:
        raise ProjectFormatError(f"{g.name} (attribute 'test_size')", f"must be in [1, {n - 2}], got {spec.test_size}")
    if n - spec.test_size - spec.cal_size < max(2, n_classes):
        raise ProjectFormatError(
            f"{g.name} (attribute 'cal_size')",
            f"leaves {n - spec.test_size - spec.cal_size} of {n} images for training; at least "
            f"{max(2, n_classes)} (one per class) are needed",
        )
    return spec


def _read_network(f: h5py.File, r: Reader):
    g = r.group(f, "network", "network")
    hidden = r.attr(g, "hidden", "int_list")
    network = _convert(
        g.name, NetworkConfig, r.attr(g, "n_inputs", "int"), tuple(hidden), r.attr(g, "n_outputs", "int")
    )
    training = _params(r, r.group(g, "training", "train_config"), TrainConfig)
    wg = r.group(g, "weights", "weights", required=False)
    if wg is None:
        return network, training, None
    sizes = network.layer_sizes
    Ws, bs = [], []
    for l in range(1, len(sizes)):
        lg = r.group(wg, f"layer_{l}", "layer")
        Ws.append(r.array(lg, "W", "f", shape=(sizes[l - 1], sizes[l])))
        bs.append(r.array(lg, "b", "f", shape=(sizes[l],)))
    hg = r.group(wg, "history", "history")
    history = {}
    for name in r.children(hg):
        # training history is informational: a diverged run may legitimately hold NaN losses
        arr = r.array(hg, name, "f", ndim=1, max_elements=100_000, finite=False)
        if arr.size == 0:
            raise ProjectFormatError(r.where, "is empty: a training history holds one value per epoch")
        history[r.attr(hg[name], "name", "str")] = arr
    if not history:
        raise ProjectFormatError(hg.name, "is empty: a trained network has a loss and accuracy history")
    return network, training, Weights(Ws, bs, history)


def _read_mapping(f: h5py.File, r: Reader, network: NetworkConfig) -> Optional[MappedNetwork]:
    mg = r.group(f, "mapping", "mapped_network", required=False)
    if mg is None:
        return None
    scheme = r.attr(mg, "scheme", "str")
    _convert(mg.name, physical_shape, scheme, 1, 1)
    device = _params(r, r.group(mg, "device", "device_params"), DeviceParams)
    circuit = _params(r, r.group(mg, "circuit", "circuit_params"), CircuitParams)
    sizes = network.layer_sizes
    arrays = []
    for l in range(1, len(sizes)):
        ag = r.group(mg, f"array_{l}", "crossbar")
        layer = r.attr(ag, "layer", "int", lo=l - 1, hi=l - 1)
        n_in = r.attr(ag, "n_in", "int", lo=sizes[l - 1], hi=sizes[l - 1])
        n_out = r.attr(ag, "n_out", "int", lo=sizes[l], hi=sizes[l])
        floats = {
            k: r.attr(ag, k, "float") for k in ("w_max", "bias_scale", "r_tia_ohm", "k_stage2", "sigma_in", "sigma_out")
        }
        for k, hi in _ARRAY_FLOAT_MAX.items():
            # the same physical ranges the mapping produces: zero, negative or 1e308 give garbage accuracies
            if not 0 < floats[k] <= hi:
                raise ProjectFormatError(ag.name, f"attribute {k!r} must be in (0, {hi:g}], got {floats[k]!r}")
        relu = r.attr(ag, "relu", "bool")
        # conductances of real devices: at most 1 S (DeviceParams allows r_on_ohm >= 1 Ohm)
        logical = physical_shape(scheme, n_in, n_out)
        tile_kw = _read_tiling(r, ag, logical)
        shape = logical if not tile_kw else tiling.mosaic_shape(logical, tile_kw["tile"])
        g = r.array(ag, "g_siemens", "f", shape=shape, lo=0.0, hi=1.0)
        px = r.attr(ag, "pitch_x_um", "float", required=False, lo=PITCH_RANGE_UM[0], hi=PITCH_RANGE_UM[1])
        py = r.attr(ag, "pitch_y_um", "float", required=False, lo=PITCH_RANGE_UM[0], hi=PITCH_RANGE_UM[1])
        if (px is None) != (py is None):
            raise ProjectFormatError(ag.name, "attributes 'pitch_x_um' and 'pitch_y_um' come together (cell pitch)")
        pitch = None if px is None else (px, py)
        ox = r.attr(ag, "origin_x_um", "float", required=False, lo=0.0, hi=DIE_MAX_UM)
        oy = r.attr(ag, "origin_y_um", "float", required=False, lo=0.0, hi=DIE_MAX_UM)
        if (ox is None) != (oy is None) or (ox is not None and pitch is None):
            raise ProjectFormatError(ag.name, "attributes 'origin_x_um' and 'origin_y_um' come together, with a pitch")
        origin = None if ox is None else (ox, oy)
        arrays.append(ArrayMap(layer, g, n_in, n_out, relu=relu, pitch_um=pitch, origin_um=origin, **floats, **tile_kw))
    return MappedNetwork(scheme, device, circuit, arrays)


def _read_tiling(r: Reader, ag: h5py.Group, logical: tuple[int, int]) -> dict:
    """The tiling fields of an array group (core.model.tiling); {} for an untiled one (and every older file)."""
    lo, hi = tiling.TILE_RANGE
    tr = r.attr(ag, "tile_rows", "int", required=False, lo=lo, hi=hi)
    tc = r.attr(ag, "tile_cols", "int", required=False, lo=lo, hi=hi)
    if tr is None and tc is None:
        return {}
    if tr is None or tc is None:
        raise ProjectFormatError(ag.name, "attributes 'tile_rows' and 'tile_cols' come together (tile size)")
    state = r.attr(ag, "unused_state", "str")
    if state not in tiling.UNUSED_STATES:
        raise ProjectFormatError(
            ag.name, f"attribute 'unused_state' must be one of {', '.join(tiling.UNUSED_STATES)}, got {state!r}"
        )
    gap = r.attr(ag, "tile_gap_um", "float", lo=tiling.TILE_GAP_RANGE_UM[0], hi=tiling.TILE_GAP_RANGE_UM[1])
    return {"tile": (tr, tc), "used_shape": logical, "unused_state": state, "tile_gap_um": gap}


def _read_scenarios(f: h5py.File, r: Reader, network: NetworkConfig) -> dict[str, Scenario]:
    sg = r.group(f, "scenarios", "scenarios")
    scenarios: dict[str, Scenario] = {}
    for name in r.children(sg):
        g = r.group(sg, name, "scenario")
        key = r.attr(g, "key", "str")
        if key in scenarios:
            raise ProjectFormatError(g.name, f"scenario key {key!r} appears twice")
        scenarios[key] = Scenario(*_read_scenario_body(r, g, network))
    return scenarios


def _read_draft(f: h5py.File, r: Reader, network: NetworkConfig) -> Optional[Draft]:
    """The optional ``/draft`` group (files written before it existed have none)."""
    g = r.group(f, "draft", "draft", required=False)
    if g is None:
        return None
    array = r.attr(g, "array", "int", required=False, default=0, lo=0, hi=len(network.layer_sizes) - 1)
    return Draft(*_read_scenario_body(r, g, network), array=array)


def _read_scenario_body(r: Reader, g: h5py.Group, network: NetworkConfig) -> tuple[str, list[Defect], str]:
    """(name, defects, description) of a scenario-like group, each defect checked against the network."""
    n = r.attr(g, "n_defects", "int", lo=0, hi=_MAX_COUNT)
    defects = [_read_defect(r, r.group(g, f"defect_{j:02d}", "defect"), network) for j in range(1, n + 1)]
    return r.attr(g, "name", "str"), defects, r.text(g, "description", required=False) or ""


def _read_defect(r: Reader, g: h5py.Group, network: NetworkConfig) -> Defect:
    sizes = network.layer_sizes
    spec, pattern, stuck = (r.attr(g, k, "str") for k in ("spec", "pattern", "stuck"))
    array = r.attr(g, "array", "int", lo=1, hi=len(sizes) - 1)
    stuck_ohm = r.attr(g, "stuck_ohm", "float")
    params = r.json(g, "params", dict)
    tile = r.attr(g, "tile", "int", required=False, lo=0, hi=MAX_TILE_INDEX - 1)
    mask = None
    if pattern == "mask" and tile is not None:
        # a map of one tile: the tile's shape, which the array's tiling checks when the defect is placed
        lo, hi = tiling.TILE_RANGE
        mask = r.array(g, "mask", "biu", ndim=2, max_elements=hi * hi, lo=0, hi=1)
        if not all(lo <= n <= hi for n in mask.shape):
            raise ProjectFormatError(r.where, f"a tile's mask must be {lo} to {hi} cells a side, got {mask.shape}")
    elif pattern == "mask":
        # a measured map must fit its crossbar in one of the layouts (the scheme may change after drawing it)
        fits = [physical_shape(s, sizes[array - 1], sizes[array]) for s in SCHEMES]
        mask = r.array(g, "mask", "biu", ndim=2, max_elements=max(a * b for a, b in fits), lo=0, hi=1)
        if mask.shape not in fits:
            raise ProjectFormatError(
                r.where,
                f"shape {mask.shape} fits array {array} in no layout (expected one of {', '.join(map(str, fits))})",
            )
    # built from the exact fields (the spec string rounds floats to 6 digits) and checked against the spec
    d = _convert(g.name, Defect, pattern, array, stuck, stuck_ohm, params, mask, tile)
    if d.to_spec() != spec:
        raise ProjectFormatError(
            g.name, f"attribute 'spec' ({spec!r}) disagrees with the defect's fields ({d.to_spec()!r})"
        )
    return d


def _read_results(f: h5py.File, r: Reader, network: NetworkConfig):
    n_arrays = len(network.layer_sizes) - 1
    results = []
    rg = r.group(f, "results", "results")
    for name in r.children(rg):
        g = r.group(rg, name, "simulation_result")
        n_images = r.attr(g, "n_images", "int", lo=0, hi=MAX_ELEMENTS)
        results.append(
            SimulationResult(
                # the accuracy of zero images is NaN (an empty split), anything else must be a real fraction
                fidelity=r.attr(g, "fidelity", "str"),
                accuracy=r.attr(g, "accuracy", "float", lo=0, hi=1, finite=n_images > 0),
                n_images=n_images,
                defect_specs=r.strings(g, "defect_specs"),
                defect_fraction=r.array(
                    g, "defect_fraction", "f", ndim=1, max_elements=64 * n_arrays, lo=0, hi=1
                ).tolist(),
                output_voltages=r.array(g, "output_voltages", "f", shape=(n_images, network.n_outputs)),
                seconds=r.attr(g, "seconds", "float", lo=0),
                solver=r.attr(g, "solver", "str"),
                scenario=r.attr(g, "scenario", "str"),
                params=r.json(g, "params", dict),
                **_common(r, g),
            )
        )
    sweeps = []
    sw = r.group(f, "sweeps", "sweeps")
    for name in r.children(sw):
        g = r.group(sw, name, "sweep")
        fields = dict(
            spec=r.json(g, "spec", dict),
            rows=_read_table(r, r.group(g, "rows", "table")),
            partial=r.attr(g, "partial", "bool"),
            seconds=r.attr(g, "seconds", "float", lo=0),
            **_common(r, g),
        )
        maps = _read_sweep_maps(r, g, fields["rows"])
        sweeps.append(SweepResult(**fields) if maps is None else StreamedSweepResult(**fields, maps=maps))
    recoveries = []
    rec = r.group(f, "recoveries", "recoveries")
    for name in r.children(rec):
        g = r.group(rec, name, "recovery")
        ag = r.group(g, "arrays", "arrays")
        arrays = {}
        for an in r.children(ag):
            # free-form model arrays: NaN is a legitimate marker here (e.g. healthy cells in stuck maps)
            arr = r.array(ag, an, "fiub", finite=False)
            arrays[r.attr(ag[an], "name", "str")] = arr
        recoveries.append(
            RecoveryResult(
                method=r.attr(g, "method", "str"),
                defect_specs=r.strings(g, "defect_specs"),
                fidelity=r.attr(g, "fidelity", "str"),
                before=r.attr(g, "before", "float", lo=0, hi=1),
                after=r.attr(g, "after", "float", lo=0, hi=1),
                arrays=arrays,
                params=r.json(g, "params", dict),
                scenario=r.attr(g, "scenario", "str"),
                **_common(r, g),
            )
        )
    return results, sweeps, recoveries


def _read_sweep_maps(r: Reader, g: h5py.Group, rows: list[dict]) -> Optional[SweepMaps]:
    """The per-map accuracies of a large sweep (``maps/accuracy``), or None (small sweeps, older files)."""
    mg = r.group(g, "maps", "sweep_maps", required=False)
    if mg is None:
        return None
    acc = r.array(mg, "accuracy", "f", ndim=2, max_elements=MAX_SWEEP_MAPS, finite=False)
    seen = acc[~np.isnan(acc)]  # NaN: a failed map (a sweep whose maps all failed is all NaN)
    if seen.size and not (np.isfinite(seen).all() and seen.min() >= 0 and seen.max() <= 1):
        raise ProjectFormatError(f"{mg.name}/accuracy", "accuracies must be NaN or within [0, 1]")
    for row in rows:
        i = row.get("maps_row")
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < acc.shape[0]:
            raise ProjectFormatError(f"{g.name}/rows", f"maps_row {i!r} is not a row of maps/accuracy {acc.shape}")
    return SweepMaps(acc)


def _read_table(r: Reader, g: h5py.Group) -> list[dict]:
    """Rows stored one dataset per column (``encoding``: int, float, bool, str or json; '' = absent)."""
    n = r.attr(g, "n_rows", "int", lo=0, hi=_MAX_ROWS)
    rows: list[dict] = [{} for _ in range(n)]
    seen = set()
    for name in r.children(g):
        enc, key = r.attr(g[name], "encoding", "str"), r.attr(g[name], "name", "str")
        if key in seen:
            raise ProjectFormatError(f"{g.name}/{name}", f"column {key!r} appears twice")
        seen.add(key)
        if enc == "int":
            values = r.array(g, name, "iu", shape=(n,)).tolist()
        elif enc == "float":
            values = r.array(g, name, "f", shape=(n,), finite=False).tolist()  # a table may hold NaN cells
        elif enc == "bool":
            values = [bool(v) for v in r.array(g, name, "biu", shape=(n,), lo=0, hi=1)]
        elif enc == "str":
            values = r.strings(g, name, n=n)
        elif enc == "json":
            values = [_ABSENT if c == "" else parse_json(r.where, c, object) for c in r.strings(g, name, n=n)]
        else:
            raise ProjectFormatError(f"{g.name}/{name}", f"unknown column encoding {enc!r}")
        for row, v in zip(rows, values):
            if v is not _ABSENT:
                row[key] = v
    return rows


_ABSENT = object()
