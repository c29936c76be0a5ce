"""Saving and loading a :class:`core.model.project.Project` as one shareable HDF5 file.

Layout (every group has a ``kind`` attribute; user text such as scenario names is kept in ``name``
attributes and only HDF5-safe group names are used)::

    /                       format, format_version, app_version, created, modified
    /dataset                source, seed, split sizes; X, y when the user's data is embedded
    /network                n_inputs, hidden, n_outputs
    /network/training       training hyper-parameters
    /network/weights/layer_1/W, /b ...      trained parameters;  /network/weights/history/<series>
    /device, /circuit       device and circuit parameters (``/circuit`` also holds the mapping ``scheme``)
    /mapping                the mapped network: scheme, its own /device and /circuit, /array_1/g_siemens ...
    /scenarios/<name>/defect_01             spec string, exact fields, ``mask`` for measured maps
    /draft                  optional: the scenario being edited (name, array on screen, defects as a scenario)
    /results/run-0001       one evaluation: fidelity, solver, accuracy, output_voltages, ...
    /sweeps/sweep-0001      spec (JSON) and /rows, a table with one dataset per column; a sweep too large to
                            keep per-map accuracies in its rows also has /maps/accuracy (points x seeds,
                            :mod:`core.project_io.sweep_maps`)
    /recoveries/rec-0001    method, accuracies, params (JSON) and /arrays

Saving builds the file in memory, writes it to a temporary file beside the target, fsyncs it and
``os.replace``-s it over the target, so a crash, a kill or a full disk never leaves a half-written project; it
holds the project's lock meanwhile and removes temporary files that killed saves left behind. Loading validates
everything (see :mod:`core.project_io.schema` and :mod:`core.project_io.reader`) and never executes anything from
the file.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import secrets
import stat

import h5py
import numpy as np

from core.errors import ProjectFormatError, ProjectSaveError
from core.model.project import Draft, Project, Scenario
from core.model.results import now_iso
from core.model.serialize import dumps
from core.project_io import integrity, measured_io, schema, sweep_maps
from core.project_io.loader import read
from core.project_io.lock import project_lock
from core.version import __version__

FORMAT_NAME = schema.FORMAT_NAME
FORMAT_VERSION = schema.FORMAT_VERSION
COMPRESS_MIN_ELEMENTS = 256  # gzip below this size costs more header than it saves
_GZIP_LEVEL = 4


# --- writing ------------------------------------------------------------------------------------------
def _text_attr(obj, name: str, text: str) -> None:
    raw = str(text).encode("utf-8", "surrogateescape")
    obj.attrs.create(name, np.array(raw, dtype=h5py.string_dtype("utf-8", max(1, len(raw)))))


def _set_attrs(obj, **values) -> None:
    for k, v in values.items():
        if isinstance(v, str):
            _text_attr(obj, k, v)
        elif isinstance(v, (bool, np.bool_)):
            obj.attrs[k] = np.int8(v)  # plain 0/1: readable by every HDF5 tool
        elif isinstance(v, (int, np.integer)):
            obj.attrs[k] = np.int64(v)
        elif isinstance(v, (tuple, list)):
            obj.attrs[k] = np.asarray(v, dtype=np.int64)
        else:
            obj.attrs[k] = np.float64(v)


def _group(parent, gname: str, kind: str, /, **attrs) -> h5py.Group:
    g = parent.create_group(gname, track_order=True)
    _set_attrs(g, kind=kind, **attrs)
    return g


def _storage(arr: np.ndarray) -> dict:
    """Chunked with a fletcher32 checksum (damage is detected, not read as numbers); gzip when large."""
    if arr.ndim == 0 or arr.size == 0:
        return {}
    opts: dict = dict(fletcher32=True, chunks=True)
    if arr.size >= COMPRESS_MIN_ELEMENTS:
        opts.update(compression="gzip", compression_opts=_GZIP_LEVEL, shuffle=arr.dtype.itemsize > 1)
    return opts


def _array(parent, dname: str, arr, /, **attrs) -> h5py.Dataset:
    arr = np.asarray(arr)
    if arr.dtype.kind not in "fiub":
        raise ProjectSaveError(f"{parent.name}/{dname}: arrays must be numeric or boolean, got dtype {arr.dtype}")
    ds = parent.create_dataset(dname, data=arr, **_storage(arr))
    _set_attrs(ds, **attrs)
    return ds


def _strings(parent, dname: str, texts, /, shape=None, **attrs) -> h5py.Dataset:
    raws = [str(t).encode("utf-8", "surrogateescape") for t in texts]
    dt = h5py.string_dtype("utf-8", max([1, *map(len, raws)]))
    data = np.array(raws, dtype=dt).reshape(shape if shape is not None else (len(raws),))
    ds = parent.create_dataset(dname, data=data, **_storage(data))
    _set_attrs(ds, **attrs)
    return ds


def _text(parent, name: str, text: str) -> None:
    _strings(parent, name, [text], shape=())


def _json(parent, name: str, value) -> None:
    try:
        text = dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise ProjectSaveError(f"{parent.name}/{name}: cannot be stored as JSON ({e})") from None
    _text(parent, name, text)


def _params_group(parent, name: str, kind: str, obj) -> h5py.Group:
    return _group(parent, name, kind, **dataclasses.asdict(obj))


def _write_table(parent, rows: list[dict]) -> None:
    g = _group(parent, "rows", "table", n_rows=len(rows))
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    taken: set = set()
    for i, key in enumerate(keys, 1):
        name = schema.child_name(key, i, "column", taken)
        vals = [r.get(key) for r in rows]
        enc = _column_encoding(vals) if all(key in r for r in rows) else "json"
        if enc == "json":
            cells = []
            for r in rows:
                try:
                    cells.append(dumps(r[key]) if key in r else "")
                except (TypeError, ValueError) as e:
                    raise ProjectSaveError(f"{g.name}: column {key!r} cannot be stored ({e})") from None
            _strings(g, name, cells, name=str(key), encoding=enc)
        elif enc == "str":
            _strings(g, name, vals, name=str(key), encoding=enc)
        else:
            dtype = {"int": np.int64, "float": np.float64, "bool": np.int8}[enc]
            _array(g, name, np.asarray(vals, dtype=dtype).reshape(len(vals)), name=str(key), encoding=enc)


def _write_sweep_maps(parent, maps: sweep_maps.SweepMaps) -> None:
    """Per-map accuracies of a large sweep, copied block by block (never all of them in memory at once)."""
    g = _group(parent, "maps", "sweep_maps")
    rows, cols = maps.shape
    opts = _storage(np.zeros(min(rows * cols, COMPRESS_MIN_ELEMENTS)))
    ds = g.create_dataset("accuracy", shape=(rows, cols), dtype=np.float64, **opts)
    for start, block in maps.blocks():
        ds[start : start + block.shape[0]] = block


def _column_encoding(vals: list) -> str:
    if all(isinstance(v, (bool, np.bool_)) for v in vals):
        return "bool"
    if all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and -(2**63) <= v < 2**63 for v in vals
    ):
        return "int"
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) for v in vals):
        return "float"
    if all(isinstance(v, str) for v in vals):
        return "str"
    return "json"


def _write_project(f: h5py.File, p: Project, modified: str) -> None:
    _set_attrs(
        f,
        kind="project",
        format=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        app_version=__version__,
        created=p.created,
        modified=modified,
    )
    ds = p.dataset
    g = _group(
        f,
        "dataset",
        "dataset",
        source=ds.source,
        seed=ds.seed,
        test_size=ds.test_size,
        cal_size=ds.cal_size,
        downsample=ds.downsample,
        name=ds.name,
    )
    if ds.X is not None:
        _array(g, "X", ds.X)
    if ds.y is not None:
        _array(g, "y", ds.y)
    net = _group(
        f,
        "network",
        "network",
        n_inputs=p.network.n_inputs,
        hidden=list(p.network.hidden),
        n_outputs=p.network.n_outputs,
    )
    _params_group(net, "training", "train_config", p.training)
    if p.weights is not None:
        wg = _group(net, "weights", "weights", n_layers=p.weights.n_layers)
        for l, (W, b) in enumerate(zip(p.weights.weights, p.weights.biases), 1):
            lg = _group(wg, f"layer_{l}", "layer", index=l)
            _array(lg, "W", W)
            _array(lg, "b", b)
        hg = _group(wg, "history", "history")
        taken: set = set()
        for i, (k, v) in enumerate(p.weights.history.items(), 1):
            _array(hg, schema.child_name(k, i, "series", taken), v, name=str(k))
    _params_group(f, "device", "device_params", p.device)
    _set_attrs(_params_group(f, "circuit", "circuit_params", p.circuit), scheme=p.scheme)
    if p.mapped is not None:
        m = p.mapped
        mg = _group(f, "mapping", "mapped_network", scheme=m.scheme, n_arrays=len(m.arrays))
        _params_group(mg, "device", "device_params", m.device)
        _params_group(mg, "circuit", "circuit_params", m.circuit)
        for i, a in enumerate(m.arrays, 1):
            skip = ("g_siemens", "pitch_um", "origin_um", "tile", "used_shape", "unused_state", "tile_gap_um")
            fields = {k: v for k, v in dataclasses.asdict(a).items() if k not in skip}
            if a.tile is not None:  # tiled (core.model.tiling): g_siemens is the whole mosaic of tiles
                fields.update(
                    tile_rows=a.tile[0],
                    tile_cols=a.tile[1],
                    unused_state=a.unused_state,
                    tile_gap_um=a.tile_gap_um,
                )
            if a.pitch_um is not None:  # optional (format v1 files have none): two attributes when known
                fields.update(pitch_x_um=a.pitch_um[0], pitch_y_um=a.pitch_um[1])
            if a.origin_um is not None:  # the array's place on the die (core.model.floorplan)
                fields.update(origin_x_um=a.origin_um[0], origin_y_um=a.origin_um[1])
            ag = _group(mg, f"array_{i}", "crossbar", **fields)
            _array(ag, "g_siemens", a.g_siemens)
    _write_scenarios(_group(f, "scenarios", "scenarios"), p.scenarios)
    if p.draft is not None:
        _write_draft(f, p.draft)
    _write_results(f, p)
    measured_io.write_measured(f, p.measured_maps, _group, _array)


def _write_scenarios(sg, scenarios: dict) -> None:
    taken: set = set()
    for i, (key, sc) in enumerate(scenarios.items(), 1):
        g = _group(sg, schema.child_name(key, i, "scenario", taken), "scenario", key=str(key))
        _write_scenario_body(g, sc)


def _write_draft(f: h5py.File, draft: Draft) -> None:
    """``/draft``: laid out like one scenario, plus the array that was on screen."""
    _write_scenario_body(_group(f, "draft", "draft", array=draft.array), draft)


def _write_scenario_body(g: h5py.Group, sc: Scenario) -> None:
    _set_attrs(g, name=sc.name, n_defects=len(sc.defects))
    _text(g, "description", sc.description)
    for j, d in enumerate(sc.defects, 1):
        dg = _group(
            g,
            f"defect_{j:02d}",
            "defect",
            spec=d.to_spec(),
            pattern=d.pattern,
            array=d.array,
            stuck=d.stuck,
            stuck_ohm=d.stuck_ohm,
            **({} if d.tile is None else {"tile": d.tile}),
        )
        _json(dg, "params", d.params)  # exact values: the spec string rounds floats to 6 digits
        if d.mask is not None:
            _array(dg, "mask", np.asarray(d.mask, dtype=bool))


def _write_results(f: h5py.File, p: Project) -> None:
    rg = _group(f, "results", "results")
    taken: set = set()
    for i, r in enumerate(p.results, 1):
        g = _group(
            rg,
            schema.child_name(r.id, i, "run", taken),
            "simulation_result",
            id=r.id,
            fidelity=r.fidelity,
            accuracy=r.accuracy,
            n_images=r.n_images,
            seconds=r.seconds,
            solver=r.solver,
            scenario=r.scenario,
            software_version=r.software_version,
            created=r.created,
        )
        _array(g, "output_voltages", r.output_voltages)
        _strings(g, "defect_specs", r.defect_specs)
        _array(g, "defect_fraction", np.asarray(r.defect_fraction, dtype=np.float64).reshape(-1))
        _json(g, "params", r.params)
    sw = _group(f, "sweeps", "sweeps")
    taken = set()
    for i, s in enumerate(p.sweeps, 1):
        g = _group(
            sw,
            schema.child_name(s.id, i, "sweep", taken),
            "sweep",
            id=s.id,
            partial=s.partial,
            seconds=s.seconds,
            software_version=s.software_version,
            created=s.created,
        )
        _json(g, "spec", s.spec)
        _write_table(g, s.rows)
        maps = getattr(s, "maps", None)
        if maps is not None:
            _write_sweep_maps(g, maps)
    rec = _group(f, "recoveries", "recoveries")
    taken = set()
    for i, recovery in enumerate(p.recoveries, 1):
        g = _group(
            rec,
            schema.child_name(recovery.id, i, "recovery", taken),
            "recovery",
            id=recovery.id,
            method=recovery.method,
            fidelity=recovery.fidelity,
            before=recovery.before,
            after=recovery.after,
            scenario=recovery.scenario,
            software_version=recovery.software_version,
            created=recovery.created,
        )
        _strings(g, "defect_specs", recovery.defect_specs)
        _json(g, "params", recovery.params)
        ag = _group(g, "arrays", "arrays")
        names: set = set()
        for j, (k, v) in enumerate(recovery.arrays.items(), 1):
            _array(ag, schema.child_name(k, j, "array", names), v, name=str(k))


def save(project: Project, path: str) -> None:
    """Write ``project`` to ``path`` atomically and set ``project.modified``.

    A temporary file is written beside the target, sealed with per-group digests
    (:mod:`core.project_io.integrity`), flushed, fsynced, read back with :func:`core.project_io.loader.read` and
    then ``os.replace``-d over it, so the old file stays intact if anything fails or the process is killed, and a
    saved file always opens. The project's lock (:mod:`core.project_io.lock`) is held meanwhile, so temporary
    files that killed saves left behind are removed here. Files use the HDF5 1.10 format (readable by
    HDF5 >= 1.10, h5py >= 2.8).

    Raises
    ------
    ProjectSaveError
        The file cannot be written (folder missing or read-only, disk full, I/O error) or holds unsupported
        content; the in-memory project and any existing file are unchanged. :class:`ProjectLockedError` if
        another process holds the project's lock.
    """
    target = os.path.realpath(os.fspath(path))
    folder, base = os.path.split(target)
    try:
        old_mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        old_mode = None
    # a file without write bits is read-only to the user even where root could replace it: respect that
    if old_mode is not None and (old_mode & 0o222 == 0 or not os.access(target, os.W_OK)):
        raise ProjectSaveError(f"cannot save project to {target!r}: the file is read-only (use Save As)")
    if not os.path.isdir(folder):
        raise ProjectSaveError(f"cannot save project to {target!r}: No such file or directory (the folder)")
    with project_lock(target):
        remove_stale_temp_files(target)
        _save_locked(project, target, old_mode)


def temp_file_pattern(target: str) -> re.Pattern:
    """The names of :func:`save`'s temporary files for ``target`` (``.NAME.h5.PID-HEX.tmp``)."""
    return re.compile(rf"\.{re.escape(os.path.basename(target))}\.\d+-[0-9a-f]{{8}}\.tmp")


def remove_stale_temp_files(target: str) -> list[str]:
    """Remove temporary files of killed saves of ``target``; call with the project's lock held.

    Every save holds the lock while its temporary file exists, so under the lock any such file is a leftover.
    """
    folder = os.path.dirname(target)
    pattern, removed = temp_file_pattern(target), list[str]()
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if pattern.fullmatch(name):
            try:
                os.remove(os.path.join(folder, name))
                removed.append(name)
            except OSError:
                pass
    return removed


def _save_locked(project: Project, target: str, old_mode) -> None:
    folder, base = os.path.split(target)
    tmp = os.path.join(folder, f".{base}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    stamp = now_iso()
    try:
        # O_EXCL: never clobber someone else's file; mode 0o666 lets the umask decide as for a normal file
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as e:
        raise ProjectSaveError(f"cannot save project to {target!r}: {e.strerror or e}") from None
    try:
        _write_file(tmp, target, project, stamp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # never replace a good file by one that would not open: read the new file back first
            back = read(tmp)
        except ProjectFormatError as e:
            raise ProjectSaveError(f"cannot save project to {target!r}: it would not load back ({e})") from None
        if back.warnings:
            raise ProjectSaveError(
                f"cannot save project to {target!r}: the written file reads back differently ({back.warnings[0]})"
            )
        if old_mode is not None:
            os.chmod(tmp, old_mode)  # the replacement keeps the permissions of the file it replaces
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.remove(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and not isinstance(e, ProjectSaveError):
            raise ProjectSaveError(f"cannot save project to {target!r}: {_io_reason(e)}") from None
        raise
    _fsync_folder(folder)
    project.modified = stamp


def _write_file(tmp: str, target: str, project: Project, stamp: str) -> None:
    """Build the file in memory, seal it, then write its bytes to ``tmp`` with plain file I/O.

    HDF5 never writes to the disk itself: when its own flush failed on a full disk ("Unable to flush file") the
    library was left half-closed and crashed later at exit. Here a full disk is an ordinary ``OSError`` (ENOSPC,
    EFBIG) from ``write``, turned into one :class:`ProjectSaveError` line; the image costs the file's size in memory.
    """
    try:
        f = h5py.File(tmp + ".image", "w", driver="core", backing_store=False, libver=("v110", "v110"))
    except (OSError, RuntimeError, ValueError) as e:
        raise ProjectSaveError(f"cannot save project to {target!r}: {_io_reason(e)}") from None
    try:
        _write_project(f, project, stamp)
        integrity.seal(f)
        f.flush()
        image = f.id.get_file_image()
    finally:
        f.close()
    try:
        with open(tmp, "wb") as fh:
            fh.write(image)
            fh.flush()
    except OSError as e:
        raise ProjectSaveError(f"cannot save project to {target!r}: {_io_reason(e)}") from None


def _io_reason(e: BaseException) -> str:
    """One line for a failed write: disk full and I/O errors say so (HDF5 reports 'Unable to flush file')."""
    text = " ".join(str(e).split())
    full = getattr(e, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or any(
        k in text for k in ("No space left", "Disk quota", "File too large")
    )
    if full:
        return "the disk is full (or a file-size limit was reached); the previous file is unchanged"
    if any(k in text for k in ("Unable to flush", "Unable to write", "write failed", "unable to close")):
        return f"the write failed, probably a full disk or an I/O error ({text[:160]}); the previous file is unchanged"
    return getattr(e, "strerror", None) or text[:200] or type(e).__name__


def _fsync_folder(folder: str) -> None:
    # make the rename itself durable; not supported on every platform/file system, hence best effort
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
