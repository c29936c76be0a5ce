"""The defensive reader of project files, the header check and migrations (the rules are in :mod:`.schema`).

Everything read from a project file goes through :class:`Reader`, which refuses what could harm or stall
whoever opens a file sent by someone else, *before* reading any data (see :mod:`core.project_io.schema` for
the list and the limits). Every refusal is a :class:`core.errors.ProjectFormatError` naming the HDF5 path.
"""

from __future__ import annotations

import io
import math
from typing import Any, Literal, Optional, overload

import h5py
import numpy as np

from core.errors import ProjectFormatError
from core.project_io import schema
from core.project_io.schema import (
    _KIND_NAMES,
    ALLOWED_FILTERS,
    MAX_ATTR_ELEMENTS,
    MAX_ATTRS,
    MAX_BYTES,
    MAX_CHILDREN,
    MAX_CHUNK_BYTES,
    MAX_CHUNKS,
    MAX_ELEMENTS,
    MAX_OBJECTS,
    MAX_SMALL_CHUNKS,
    MAX_STRING_BYTES,
    MAX_TOTAL_BYTES,
    MAX_TOTAL_ELEMENTS,
    MAX_TOTAL_TEXT_BYTES,
    MIN_CHUNK_BYTES,
    parse_json,
)


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
        self.bytes_left = MAX_TOTAL_BYTES
        self.text_bytes_left = MAX_TOTAL_TEXT_BYTES
        self.objects_left = MAX_OBJECTS
        # what was read, for the integrity check (:mod:`core.project_io.integrity`): group paths in reading
        # order and every dataset's values as stored (before any byte-order conversion), by HDF5 path
        self.groups: list[str] = []
        self.values: dict[str, np.ndarray] = {}

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
        obj = parent[name]
        self._check_object(obj, path)
        return obj, path

    def _check_object(self, obj, path: str) -> None:
        """One link per object and few attributes: 20,000 hard links to one result would cost minutes."""
        self.objects_left -= 1
        if self.objects_left < 0:
            raise ProjectFormatError(path, f"the file holds more than {MAX_OBJECTS} groups and datasets")
        info = h5py.h5o.get_info(obj.id)
        if info.rc != 1:
            raise ProjectFormatError(path, f"is reached by {info.rc} hard links; the workbench writes one per object")
        if info.num_attrs > MAX_ATTRS:
            raise ProjectFormatError(path, f"has {info.num_attrs} attributes, more than the limit {MAX_ATTRS}")

    @staticmethod
    def _check_link(path: str, link) -> None:
        if isinstance(link, h5py.SoftLink):
            raise ProjectFormatError(path, f"is a soft link (to {link.path!r}); links are refused")
        if isinstance(link, h5py.ExternalLink):
            raise ProjectFormatError(
                path, f"is an external link (to {link.filename!r}); links out of the file are refused"
            )
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

    @overload
    def group(self, parent: h5py.Group, name: str, kind: str, required: Literal[True] = True) -> h5py.Group: ...

    @overload
    def group(self, parent: h5py.Group, name: str, kind: str, required: bool) -> Optional[h5py.Group]: ...

    def group(self, parent: h5py.Group, name: str, kind: str, required: bool = True) -> Optional[h5py.Group]:
        """A sub-group whose ``kind`` attribute must equal ``kind``; links inside it are refused."""
        obj, path = self._child(parent, name, required)
        if obj is None:
            return None
        if not isinstance(obj, h5py.Group):
            raise ProjectFormatError(path, f"must be a group of kind {kind!r}, found {type(obj).__name__}")
        self.check_kind(obj, kind)
        self.children(obj)
        self.groups.append(obj.name)
        return obj

    def check_kind(self, group: h5py.Group, kind: str) -> None:
        found = self.attr(group, "kind", "str")
        if found != kind:
            raise ProjectFormatError(group.name, f"attribute 'kind' must be {kind!r}, got {found!r}")

    # --- attributes ------------------------------------------------------------------------------------
    def attr(
        self,
        obj,
        name: str,
        kind: str,
        required: bool = True,
        default: Any = None,
        lo: Optional[float] = None,
        hi: Optional[float] = None,
        finite: bool = True,
    ):
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
            self._charge_bytes(where, dt.itemsize, text=True)
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
    @overload
    def array(
        self,
        parent: h5py.Group,
        name: str,
        kinds: str,
        *,
        shape: Optional[tuple] = None,
        ndim: Optional[int] = None,
        max_elements: int = MAX_ELEMENTS,
        finite: bool = True,
        lo: Optional[float] = None,
        hi: Optional[float] = None,
        required: Literal[True] = True,
    ) -> np.ndarray: ...

    @overload
    def array(
        self,
        parent: h5py.Group,
        name: str,
        kinds: str,
        *,
        shape: Optional[tuple] = None,
        ndim: Optional[int] = None,
        max_elements: int = MAX_ELEMENTS,
        finite: bool = True,
        lo: Optional[float] = None,
        hi: Optional[float] = None,
        required: bool,
    ) -> Optional[np.ndarray]: ...

    def array(
        self,
        parent: h5py.Group,
        name: str,
        kinds: str,
        *,
        shape: Optional[tuple] = None,
        ndim: Optional[int] = None,
        max_elements: int = MAX_ELEMENTS,
        finite: bool = True,
        lo: Optional[float] = None,
        hi: Optional[float] = None,
        required: bool = True,
    ) -> Optional[np.ndarray]:
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
        if (
            dt.kind not in kinds
            or dt.subdtype is not None
            or dt.fields is not None
            or h5py.check_vlen_dtype(dt) is not None
        ):
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
        self._check_chunks(obj, path)
        self._charge_bytes(path, n * dt.itemsize, text=dt.kind == "S")
        self._check_written(obj, path, n)
        self.elements_left -= n
        raw = np.asarray(obj[()])
        self.values[path] = raw
        arr = raw
        if arr.dtype.byteorder not in ("=", "|"):
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if arr.shape != shp:
            raise ProjectFormatError(path, f"read shape {arr.shape} differs from its declared shape {shp}")
        if arr.dtype.kind == "f" and finite and not np.all(np.isfinite(arr)):
            raise ProjectFormatError(path, "contains NaN or infinite values")
        if arr.size and ((lo is not None and np.nanmin(arr) < lo) or (hi is not None and np.nanmax(arr) > hi)):
            raise ProjectFormatError(
                path, f"values must be {_range_text(lo, hi)}, got [{np.nanmin(arr):g}, {np.nanmax(arr):g}]"
            )
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
                raise ProjectFormatError(
                    path, f"uses HDF5 filter {code}; only gzip, shuffle and fletcher32 are allowed"
                )
        if ds.chunks is not None and math.prod(ds.chunks) * max(ds.dtype.itemsize, 1) > MAX_CHUNK_BYTES:
            raise ProjectFormatError(path, f"has an absurd chunk shape {ds.chunks}")

    @staticmethod
    def _check_chunks(ds: h5py.Dataset, path: str) -> None:
        if ds.chunks is not None and ds.shape:
            # every chunk costs a B-tree lookup and a buffer: (1000, 1000) in (1, 1) chunks cost 4 GB and 11 s
            n_chunks = math.prod(-(-s // max(c, 1)) for s, c in zip(ds.shape, ds.chunks))
            chunk_bytes = math.prod(ds.chunks) * max(ds.dtype.itemsize, 1)
            if n_chunks > MAX_CHUNKS or (n_chunks > MAX_SMALL_CHUNKS and chunk_bytes < MIN_CHUNK_BYTES):
                raise ProjectFormatError(
                    path, f"is stored in {n_chunks} chunks of shape {ds.chunks} ({chunk_bytes} bytes each); refused"
                )

    def _charge_bytes(self, path: str, nbytes: int, text: bool) -> None:
        """Count decoded bytes against the whole-file budgets, before reading."""
        if nbytes > self.bytes_left:
            raise ProjectFormatError(path, f"the file's datasets decode to more than {MAX_TOTAL_BYTES} bytes in total")
        self.bytes_left -= nbytes
        if text:
            if nbytes > self.text_bytes_left:
                raise ProjectFormatError(
                    path, f"the file's strings decode to more than {MAX_TOTAL_TEXT_BYTES} bytes in total"
                )
            self.text_bytes_left -= nbytes

    @staticmethod
    def _check_written(ds: h5py.Dataset, path: str, n: int) -> None:
        """A dataset declared but never written reads as fill values at full size: refuse it."""
        if n == 0 or ds.id.get_storage_size() > 0:
            if ds.chunks is None or n == 0:
                return
            n_chunks = math.prod(-(-s // max(c, 1)) for s, c in zip(ds.shape, ds.chunks))
            if ds.id.get_num_chunks() == n_chunks:
                return
            raise ProjectFormatError(path, f"has only {ds.id.get_num_chunks()} of its {n_chunks} chunks written")
        if ds.id.get_create_plist().get_layout() == h5py.h5d.COMPACT:
            return  # compact data lives in the object header
        raise ProjectFormatError(path, f"declares shape {ds.shape} but holds no data (never written)")

    @overload
    def strings(
        self, parent: h5py.Group, name: str, *, n: Optional[int] = None, required: Literal[True] = True
    ) -> list[str]: ...

    @overload
    def strings(
        self, parent: h5py.Group, name: str, *, n: Optional[int] = None, required: bool
    ) -> Optional[list[str]]: ...

    def strings(
        self, parent: h5py.Group, name: str, *, n: Optional[int] = None, required: bool = True
    ) -> Optional[list[str]]:
        """A 1-D fixed-length UTF-8 string dataset as a list of str."""
        arr = self.array(parent, name, "S", shape=(n,), required=required)
        if arr is None:
            return None
        return [self._decode(self.where, bytes(s)) for s in arr]

    @overload
    def text(self, parent: h5py.Group, name: str, required: Literal[True] = True) -> str: ...

    @overload
    def text(self, parent: h5py.Group, name: str, required: bool) -> Optional[str]: ...

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
    if fmt != schema.FORMAT_NAME:
        raise ProjectFormatError(
            "/", f"not a ReRAM workbench project: root attribute 'format' is {fmt!r}, expected {schema.FORMAT_NAME!r}"
        )
    version = reader.attr(f, "format_version", "int")
    if version > schema.FORMAT_VERSION:
        raise ProjectFormatError(
            "/",
            f"written by a newer version of the workbench (project format_version "
            f"{version}; this version reads up to {schema.FORMAT_VERSION}); update "
            "reram-workbench to open it",
        )
    if version < 1:
        raise ProjectFormatError(
            "/", f"attribute 'format_version' must be from 1 to {schema.FORMAT_VERSION}, got {version}"
        )
    reader.check_kind(f, "project")
    return version


def migrate(path: str, version: int) -> h5py.File:
    """Open an in-memory copy of an older file and upgrade it step by step to the current format version.

    The file on disk is never modified.
    """
    with open(path, "rb") as fh:
        buf = io.BytesIO(fh.read())
    f = h5py.File(buf, "r+")
    try:
        for v in range(version, schema.FORMAT_VERSION):
            step = schema.MIGRATIONS.get(v)
            if step is None:
                raise ProjectFormatError("/", f"format_version {v} cannot be migrated to {v + 1} (no migration)")
            step(f)
            f.attrs["format_version"] = np.int64(v + 1)
    except BaseException:
        f.close()
        raise
    return f
