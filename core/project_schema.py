"""Schema of the HDF5 project file: format constants, limits, a defensive reader and migrations.

Everything read from a project file goes through :class:`Reader`, which refuses what could harm or stall
whoever opens a file sent by someone else, *before* reading any data:

- soft and external links, external raw storage and virtual datasets (they point outside the file);
- filters other than gzip, shuffle and fletcher32 (HDF5 would load unknown filters as plugins);
- object, variable-length, compound, opaque and array dtypes where plain numbers or strings are expected;
- datasets larger than the caller's limit (derived from the network configuration where possible), chunks
  whose decompressed size is absurd, strings longer than :data:`MAX_STRING_BYTES`;
- NaN and infinite values in arrays that feed computation.

Every refusal is a :class:`core.errors.ProjectFormatError` naming the HDF5 path.

Migrations: ``MIGRATIONS[v]`` upgrades an (in-memory, writable) file of format version ``v`` to ``v + 1`` in
place with h5py calls. Version 1 is the first format, so the table is empty; a future version 2 adds
``MIGRATIONS[1] = _v1_to_v2`` and keeps ``tests/data/project_v1.h5`` loading.
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
import re
from typing import Any, Callable, Optional

import h5py
import numpy as np

from core.data import DatasetSpec, validate_arrays
from core.defects import Defect
from core.devices import SCHEMES, CircuitParams, DeviceParams
from core.errors import DataError, DefectSpecError, ParameterError, ProjectFormatError
from core.mapping import ArrayMap, MappedNetwork, physical_shape
from core.network import NetworkConfig, TrainConfig, Weights
from core.project import Project, RecoveryResult, Scenario, SimulationResult, SweepResult

FORMAT_NAME = "reram-workbench-project"
FORMAT_VERSION = 1

MAX_ELEMENTS = 64_000_000        # one dataset; 8x8 digits projects hold a few thousand, full MNIST ~55M
MAX_TOTAL_ELEMENTS = 256_000_000  # the whole file
MAX_BYTES = 512 * 2**20           # one dataset, in memory
MAX_CHUNK_BYTES = 64 * 2**20      # one decompressed chunk
MAX_STRING_BYTES = 2**20          # one string (1 MiB)
MAX_CHILDREN = 100_000            # entries in one group
MAX_ATTR_ELEMENTS = 64            # array-valued attributes (layer sizes)
ALLOWED_FILTERS = {h5py.h5z.FILTER_DEFLATE: "gzip", h5py.h5z.FILTER_SHUFFLE: "shuffle",
                   h5py.h5z.FILTER_FLETCHER32: "fletcher32"}

# Exceptions that h5py, numpy and json raise on damaged content; load() turns them into ProjectFormatError.
READ_ERRORS = (OSError, RuntimeError, ValueError, KeyError, TypeError, IndexError, OverflowError,
               UnicodeError, RecursionError, MemoryError)

Migration = Callable[[h5py.File], None]
MIGRATIONS: dict[int, Migration] = {}

_KIND_NAMES = {"f": "floating point", "i": "signed integer", "u": "unsigned integer", "b": "boolean",
               "S": "fixed-length string"}
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+\-]{0,63}")


def child_name(text: str, index: int, prefix: str, taken: set) -> str:
    """An HDF5-safe, unique group/dataset name for user text (the text itself is kept in a ``name`` attr).

    Plain names such as ``run-0001`` are used as they are; anything else becomes ``prefix-0003_sanitized``.
    """
    text = str(text)
    if _SAFE_NAME.fullmatch(text) and text not in taken:
        name = text
    else:
        safe = re.sub(r"[^A-Za-z0-9_.+\-]", "_", text)[:40].strip("._")
        name = f"{prefix}-{index:04d}" + (f"_{safe}" if safe else "")
        while name in taken:
            name += "_"
    taken.add(name)
    return name


def parse_json(path: str, text: str, expected: type) -> Any:
    """Parse JSON text (never eval) and check its top-level type."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ProjectFormatError(path, f"is not valid JSON ({type(e).__name__}: {str(e)[:80]})") from None
    if not isinstance(value, expected):
        raise ProjectFormatError(path, f"must hold a JSON {expected.__name__}, got {type(value).__name__}")
    return value


def _range_text(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f"in [{lo:g}, {hi:g}]"
    return f">= {lo:g}" if lo is not None else f"<= {hi:g}"


def _describe(kinds: str) -> str:
    return " or ".join(_KIND_NAMES[k] for k in kinds)


class Reader:
    """Checked access to an open project file; ``where`` is the path being read (for error messages)."""

    def __init__(self) -> None:
        self.where = "/"
        self.elements_left = MAX_TOTAL_ELEMENTS

    # --- structure -------------------------------------------------------------------------------------
    def _child(self, parent: h5py.Group, name: str, required: bool):
        path = parent.name.rstrip("/") + "/" + name
        self.where = path
        link = parent.get(name, getlink=True)
        if link is None:
            if required:
                raise ProjectFormatError(path, "is missing (required by the project format)")
            return None, path
        self._check_link(path, link)
        # indexing, not .get(): .get() turns an unreadable (damaged) object into None, i.e. "absent"
        return parent[name], path

    @staticmethod
    def _check_link(path: str, link) -> None:
        if isinstance(link, h5py.SoftLink):
            raise ProjectFormatError(path, f"is a soft link (to {link.path!r}); links are refused")
        if isinstance(link, h5py.ExternalLink):
            raise ProjectFormatError(path, f"is an external link (to {link.filename!r}); links out of the "
                                           "file are refused")
        if not isinstance(link, h5py.HardLink):
            raise ProjectFormatError(path, "is a link of an unsupported type; refused")

    def children(self, group: h5py.Group) -> list[str]:
        """Names in ``group`` (creation order when tracked); every entry must be a plain hard link."""
        self.where = group.name
        n = len(group)
        if n > MAX_CHILDREN:
            raise ProjectFormatError(group.name, f"has {n} entries, more than the limit {MAX_CHILDREN}")
        names = list(group.keys())
        for name in names:
            self._check_link(group.name.rstrip("/") + "/" + name, group.get(name, getlink=True))
        return names

    def group(self, parent: h5py.Group, name: str, kind: str, required: bool = True) -> Optional[h5py.Group]:
        """A sub-group whose ``kind`` attribute must equal ``kind``; links inside it are refused."""
        obj, path = self._child(parent, name, required)
        if obj is None:
            return None
        if not isinstance(obj, h5py.Group):
            raise ProjectFormatError(path, f"must be a group of kind {kind!r}, found {type(obj).__name__}")
        self.check_kind(obj, kind)
        self.children(obj)
        return obj

    def check_kind(self, group: h5py.Group, kind: str) -> None:
        found = self.attr(group, "kind", "str")
        if found != kind:
            raise ProjectFormatError(group.name, f"attribute 'kind' must be {kind!r}, got {found!r}")

    # --- attributes ------------------------------------------------------------------------------------
    def attr(self, obj, name: str, kind: str, required: bool = True, default: Any = None,
             lo: Optional[float] = None, hi: Optional[float] = None, finite: bool = True):
        """A scalar attribute: ``kind`` is ``str``, ``int``, ``float``, ``bool`` or ``int_list``."""
        where = f"{obj.name} (attribute {name!r})"
        self.where = where
        if name not in obj.attrs:
            if required:
                raise ProjectFormatError(obj.name, f"attribute {name!r} is missing (required)")
            return default
        aid = obj.attrs.get_id(name)
        dt, shape = aid.dtype, aid.shape
        want_shape = 1 if kind == "int_list" else 0
        if shape is None or len(shape) != want_shape or (shape and shape[0] > MAX_ATTR_ELEMENTS):
            what = "a short 1-D array" if want_shape else "a scalar"
            raise ProjectFormatError(where, f"must be {what}, got shape {shape}")
        if kind == "str":
            return self._attr_text(obj, name, where, dt)
        numeric = {"int": "iu", "int_list": "iu", "float": "fiu", "bool": "biu"}[kind]
        if dt.kind not in numeric or dt.subdtype is not None or h5py.check_vlen_dtype(dt) is not None:
            raise ProjectFormatError(where, f"must be {_describe(numeric)}, got dtype {dt}")
        value = obj.attrs[name]
        if kind == "int_list":
            return [int(v) for v in np.asarray(value).ravel()]
        if kind == "bool":
            if value not in (0, 1):
                raise ProjectFormatError(where, f"must be 0 or 1 (boolean), got {value!r}")
            return bool(value)
        value = int(value) if kind == "int" else float(value)
        if kind == "float" and finite and not math.isfinite(value):
            raise ProjectFormatError(where, f"must be a finite number, got {value!r}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ProjectFormatError(where, f"must be {_range_text(lo, hi)}, got {value!r}")
        return value

    def _attr_text(self, obj, name: str, where: str, dt) -> str:
        if dt.kind == "S":
            if dt.itemsize > MAX_STRING_BYTES:
                raise ProjectFormatError(where, f"string of {dt.itemsize} bytes exceeds the {MAX_STRING_BYTES} limit")
        elif h5py.check_string_dtype(dt) is None:
            raise ProjectFormatError(where, f"must be a string, got dtype {dt}")
        raw = obj.attrs[name]
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        return self._decode(where, bytes(raw))

    @staticmethod
    def _decode(where: str, raw: bytes) -> str:
        if len(raw) > MAX_STRING_BYTES:
            raise ProjectFormatError(where, f"string of {len(raw)} bytes exceeds the {MAX_STRING_BYTES} limit")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProjectFormatError(where, "is not valid UTF-8 text") from None

    # --- datasets --------------------------------------------------------------------------------------
    def array(self, parent: h5py.Group, name: str, kinds: str, *, shape: Optional[tuple] = None,
              ndim: Optional[int] = None, max_elements: int = MAX_ELEMENTS, finite: bool = True,
              lo: Optional[float] = None, hi: Optional[float] = None,
              required: bool = True) -> Optional[np.ndarray]:
        """A numeric (or fixed-string, kinds ``S``) dataset, checked before and after reading.

        ``shape`` may contain ``None`` for free dimensions; ``lo``/``hi`` bound every value.
        """
        obj, path = self._child(parent, name, required)
        if obj is None:
            return None
        if not isinstance(obj, h5py.Dataset):
            raise ProjectFormatError(path, f"must be a dataset, found {type(obj).__name__}")
        self._check_storage(obj, path)
        dt = obj.dtype
        if dt.kind not in kinds or dt.subdtype is not None or dt.fields is not None \
                or h5py.check_vlen_dtype(dt) is not None:
            raise ProjectFormatError(path, f"must have dtype {_describe(kinds)}, got {dt}")
        if dt.kind == "S" and dt.itemsize > MAX_STRING_BYTES:
            raise ProjectFormatError(path, f"strings of {dt.itemsize} bytes exceed the {MAX_STRING_BYTES} limit")
        shp = obj.shape
        if shp is None:
            raise ProjectFormatError(path, "has no data (null dataspace)")
        if ndim is not None and len(shp) != ndim:
            raise ProjectFormatError(path, f"must be {ndim}-dimensional, got shape {shp}")
        if shape is not None and (len(shp) != len(shape) or any(w is not None and s != w for s, w in zip(shp, shape))):
            want = "(" + ", ".join("any" if w is None else str(w) for w in shape) + ")"
            raise ProjectFormatError(path, f"must have shape {want} (from the project's configuration), got {shp}")
        n = math.prod(shp)
        limit = min(max_elements, MAX_ELEMENTS, MAX_BYTES // max(dt.itemsize, 1))
        if n > limit:
            raise ProjectFormatError(path, f"claims {n} elements, more than the limit {limit} for this dataset")
        if n > self.elements_left:
            raise ProjectFormatError(path, f"the file holds more than {MAX_TOTAL_ELEMENTS} elements in total")
        self.elements_left -= n
        arr = np.asarray(obj[()])
        if arr.dtype.byteorder not in ("=", "|"):
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if arr.shape != shp:
            raise ProjectFormatError(path, f"read shape {arr.shape} differs from its declared shape {shp}")
        if arr.dtype.kind == "f" and finite and not np.all(np.isfinite(arr)):
            raise ProjectFormatError(path, "contains NaN or infinite values")
        if arr.size and ((lo is not None and np.nanmin(arr) < lo) or (hi is not None and np.nanmax(arr) > hi)):
            raise ProjectFormatError(path, f"values must be {_range_text(lo, hi)}, got "
                                           f"[{np.nanmin(arr):g}, {np.nanmax(arr):g}]")
        return arr

    def _check_storage(self, ds: h5py.Dataset, path: str) -> None:
        if ds.is_virtual:
            raise ProjectFormatError(path, "is a virtual dataset (maps other files); refused")
        if ds.external:
            raise ProjectFormatError(path, "stores its data in external files; refused")
        plist = ds.id.get_create_plist()
        for i in range(plist.get_nfilters()):
            code = plist.get_filter(i)[0]
            if code not in ALLOWED_FILTERS:
                raise ProjectFormatError(path, f"uses HDF5 filter {code}; only gzip, shuffle and fletcher32 "
                                               "are allowed")
        if ds.chunks is not None and math.prod(ds.chunks) * max(ds.dtype.itemsize, 1) > MAX_CHUNK_BYTES:
            raise ProjectFormatError(path, f"has an absurd chunk shape {ds.chunks}")

    def strings(self, parent: h5py.Group, name: str, *, n: Optional[int] = None,
                required: bool = True) -> Optional[list[str]]:
        """A 1-D fixed-length UTF-8 string dataset as a list of str."""
        arr = self.array(parent, name, "S", shape=(n,), required=required)
        if arr is None:
            return None
        return [self._decode(self.where, bytes(s)) for s in arr]

    def text(self, parent: h5py.Group, name: str, required: bool = True) -> Optional[str]:
        """A scalar fixed-length UTF-8 string dataset (long text: JSON, descriptions)."""
        arr = self.array(parent, name, "S", shape=(), max_elements=1, required=required)
        if arr is None:
            return None
        return self._decode(self.where, bytes(arr[()]))

    def json(self, parent: h5py.Group, name: str, expected: type, required: bool = True):
        """A JSON text dataset parsed with :func:`json.loads`."""
        text = self.text(parent, name, required)
        if text is None:
            return None
        return parse_json(self.where, text, expected)


def check_header(f: h5py.File, reader: Reader) -> int:
    """Check the root attributes and return the file's format version (refusing newer ones)."""
    fmt = reader.attr(f, "format", "str", required=False)
    if fmt != FORMAT_NAME:
        raise ProjectFormatError("/", f"not a ReRAM workbench project: root attribute 'format' is {fmt!r}, "
                                      f"expected {FORMAT_NAME!r}")
    version = reader.attr(f, "format_version", "int")
    if version > FORMAT_VERSION:
        raise ProjectFormatError("/", f"written by a newer version of the workbench (project format_version "
                                      f"{version}; this version reads up to {FORMAT_VERSION}); update "
                                      "reram-workbench to open it")
    if version < 1:
        raise ProjectFormatError("/", f"attribute 'format_version' must be from 1 to {FORMAT_VERSION}, got {version}")
    reader.check_kind(f, "project")
    return version


def migrate(path: str, version: int) -> h5py.File:
    """Open an in-memory copy of an older file and upgrade it step by step to :data:`FORMAT_VERSION`.

    The file on disk is never modified.
    """
    with open(path, "rb") as fh:
        buf = io.BytesIO(fh.read())
    f = h5py.File(buf, "r+")
    try:
        for v in range(version, FORMAT_VERSION):
            step = MIGRATIONS.get(v)
            if step is None:
                raise ProjectFormatError("/", f"format_version {v} cannot be migrated to {v + 1} (no migration)")
            step(f)
            f.attrs["format_version"] = np.int64(v + 1)
    except BaseException:
        f.close()
        raise
    return f


# --- building the project from a checked file ----------------------------------------------------------
_MAX_ROWS = 1_000_000
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
        kind = ("str" if isinstance(default, str) else "bool" if isinstance(default, bool)
                else "int" if isinstance(default, int) else "float")
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
    if (weights is not None or mapped is not None):
        n_features = 64 if dataset.X is None else dataset.X.shape[1]
        if n_features != network.n_inputs:
            raise ProjectFormatError("/network", f"n_inputs ({network.n_inputs}) differs from the dataset's "
                                                 f"{n_features} features")
    scenarios = _read_scenarios(f, r, network)
    results, sweeps, recoveries = _read_results(f, r, network)
    return Project(dataset=dataset, network=network, training=training, device=device, circuit=circuit,
                   scheme=scheme, weights=weights, mapped=mapped, scenarios=scenarios, results=results,
                   sweeps=sweeps, recoveries=recoveries, created=created, modified=modified)


def _read_dataset(f: h5py.File, r: Reader) -> DatasetSpec:
    g = r.group(f, "dataset", "dataset")
    source = r.attr(g, "source", "str")
    if source not in ("digits", "npz", "idx"):
        raise ProjectFormatError(g.name, f"attribute 'source' must be digits, npz or idx; got {source!r}")
    spec = DatasetSpec(source=source, seed=r.attr(g, "seed", "int", lo=0, hi=2**32 - 1),
                       test_size=r.attr(g, "test_size", "int", lo=1, hi=10**8),
                       cal_size=r.attr(g, "cal_size", "int", lo=0, hi=10**8),
                       downsample=r.attr(g, "downsample", "int", lo=1, hi=16), name=r.attr(g, "name", "str"))
    spec.X = r.array(g, "X", "fiub", ndim=2, required=source != "digits")
    spec.y = r.array(g, "y", "iu", ndim=1, required=spec.X is not None,
                     shape=None if spec.X is None else (spec.X.shape[0],))
    if spec.y is not None and spec.X is None:
        raise ProjectFormatError(g.name + "/X", "is missing while y is present")
    if spec.X is not None:
        _convert(g.name, validate_arrays, spec.X, spec.y)
    return spec


def _read_network(f: h5py.File, r: Reader):
    g = r.group(f, "network", "network")
    hidden = r.attr(g, "hidden", "int_list")
    network = _convert(g.name, NetworkConfig, r.attr(g, "n_inputs", "int"), tuple(hidden),
                       r.attr(g, "n_outputs", "int"))
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
        history[r.attr(hg[name], "name", "str")] = arr
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
        floats = {k: r.attr(ag, k, "float") for k in ("w_max", "bias_scale", "r_tia_ohm", "k_stage2",
                                                       "sigma_in", "sigma_out")}
        for k in ("w_max", "r_tia_ohm"):
            if floats[k] <= 0:
                raise ProjectFormatError(ag.name, f"attribute {k!r} must be > 0, got {floats[k]!r}")
        relu = r.attr(ag, "relu", "bool")
        # conductances of real devices: at most 1 S (DeviceParams allows r_on_ohm >= 1 Ohm)
        g = r.array(ag, "g_siemens", "f", shape=physical_shape(scheme, n_in, n_out), lo=0.0, hi=1.0)
        arrays.append(ArrayMap(layer, g, n_in, n_out, relu=relu, **floats))
    return MappedNetwork(scheme, device, circuit, arrays)


def _read_scenarios(f: h5py.File, r: Reader, network: NetworkConfig) -> dict[str, Scenario]:
    sg = r.group(f, "scenarios", "scenarios")
    scenarios: dict[str, Scenario] = {}
    for name in r.children(sg):
        g = r.group(sg, name, "scenario")
        key = r.attr(g, "key", "str")
        if key in scenarios:
            raise ProjectFormatError(g.name, f"scenario key {key!r} appears twice")
        n = r.attr(g, "n_defects", "int", lo=0, hi=_MAX_COUNT)
        defects = [_read_defect(r, r.group(g, f"defect_{j:02d}", "defect"), network) for j in range(1, n + 1)]
        scenarios[key] = Scenario(r.attr(g, "name", "str"), defects, r.text(g, "description", required=False) or "")
    return scenarios


def _read_defect(r: Reader, g: h5py.Group, network: NetworkConfig) -> Defect:
    sizes = network.layer_sizes
    spec, pattern, stuck = (r.attr(g, k, "str") for k in ("spec", "pattern", "stuck"))
    array = r.attr(g, "array", "int", lo=1, hi=len(sizes) - 1)
    stuck_ohm = r.attr(g, "stuck_ohm", "float")
    params = r.json(g, "params", dict)
    mask = None
    if pattern == "mask":
        # a measured map must fit its crossbar in one of the layouts (the scheme may change after drawing it)
        fits = [physical_shape(s, sizes[array - 1], sizes[array]) for s in SCHEMES]
        mask = r.array(g, "mask", "biu", ndim=2, max_elements=max(a * b for a, b in fits), lo=0, hi=1)
        if mask.shape not in fits:
            raise ProjectFormatError(r.where, f"shape {mask.shape} fits array {array} in no layout "
                                              f"(expected one of {', '.join(map(str, fits))})")
    # built from the exact fields (the spec string rounds floats to 6 digits) and checked against the spec
    d = _convert(g.name, Defect, pattern, array, stuck, stuck_ohm, params, mask)
    if d.to_spec() != spec:
        raise ProjectFormatError(g.name, f"attribute 'spec' ({spec!r}) disagrees with the defect's fields "
                                         f"({d.to_spec()!r})")
    return d


def _read_results(f: h5py.File, r: Reader, network: NetworkConfig):
    n_arrays = len(network.layer_sizes) - 1
    results = []
    rg = r.group(f, "results", "results")
    for name in r.children(rg):
        g = r.group(rg, name, "simulation_result")
        n_images = r.attr(g, "n_images", "int", lo=0, hi=MAX_ELEMENTS)
        results.append(SimulationResult(
            # the accuracy of zero images is NaN (an empty split), anything else must be a real fraction
            fidelity=r.attr(g, "fidelity", "str"),
            accuracy=r.attr(g, "accuracy", "float", lo=0, hi=1, finite=n_images > 0),
            n_images=n_images, defect_specs=r.strings(g, "defect_specs"),
            defect_fraction=r.array(g, "defect_fraction", "f", ndim=1, max_elements=64 * n_arrays, lo=0,
                                    hi=1).tolist(),
            output_voltages=r.array(g, "output_voltages", "f", shape=(n_images, network.n_outputs)),
            seconds=r.attr(g, "seconds", "float", lo=0), solver=r.attr(g, "solver", "str"),
            scenario=r.attr(g, "scenario", "str"), params=r.json(g, "params", dict), **_common(r, g)))
    sweeps = []
    sw = r.group(f, "sweeps", "sweeps")
    for name in r.children(sw):
        g = r.group(sw, name, "sweep")
        sweeps.append(SweepResult(spec=r.json(g, "spec", dict), rows=_read_table(r, r.group(g, "rows", "table")),
                                  partial=r.attr(g, "partial", "bool"), seconds=r.attr(g, "seconds", "float", lo=0),
                                  **_common(r, g)))
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
        recoveries.append(RecoveryResult(
            method=r.attr(g, "method", "str"), defect_specs=r.strings(g, "defect_specs"),
            fidelity=r.attr(g, "fidelity", "str"), before=r.attr(g, "before", "float", lo=0, hi=1),
            after=r.attr(g, "after", "float", lo=0, hi=1), arrays=arrays, params=r.json(g, "params", dict),
            scenario=r.attr(g, "scenario", "str"), **_common(r, g)))
    return results, sweeps, recoveries


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
