"""Digests of every stored value, one per group: written at save, checked at load.

HDF5's fletcher32 covers chunked datasets only; attributes, scalars and small strings (parameters, JSON, specs,
descriptions) carry no checksum, so one changed byte there loads silently. Each group therefore gets a
``digest`` attribute: SHA-256 over its attributes (except ``digest``), the names, dtypes, shapes and values of
its datasets with their attributes, and the names of its sub-groups (whose content their own digests cover).
The root also holds ``integrity`` = :data:`SCHEME`, so a file with digests is known to need them all.

Files written before digests existed (no ``integrity`` attribute, no ``digest`` anywhere) load unchecked:
the attributes are optional additions that older readers ignore, so the format version stays.

At load only the groups the reader walked are checked, with the values it read (no second read, nothing
outside the schema's limits); a mismatch is a *warning* naming the group, not a refusal: the content passed
every schema check, but it is not what was saved, and front ends must not save it back automatically.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import h5py
import numpy as np

from core.errors import ProjectFormatError

SCHEME = "sha256-per-group-1"
DIGEST_ATTR = "digest"
SCHEME_ATTR = "integrity"


def _feed_value(h, value) -> None:
    arr = np.asarray(value)
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    if arr.dtype.kind in "OU":
        for item in arr.ravel():
            raw = item if isinstance(item, bytes) else str(item).encode("utf-8", "surrogateescape")
            h.update(len(raw).to_bytes(8, "little") + raw)
    else:
        h.update(np.ascontiguousarray(arr).tobytes())


def _feed_attrs(h, obj) -> None:
    for name in sorted(obj.attrs):
        if name == DIGEST_ATTR:
            continue
        h.update(b"a" + name.encode("utf-8", "surrogateescape") + b"\0")
        _feed_value(h, obj.attrs[name])


def group_digest(g: h5py.Group, read: Callable[[h5py.Dataset], np.ndarray]) -> str:
    """The digest of one group; ``read`` gives a dataset's values as stored (cached ones at load)."""
    h = hashlib.sha256(b"reram-workbench group\0")
    _feed_attrs(h, g)
    for name in sorted(g):
        link = g.get(name, getlink=True)
        key = name.encode("utf-8", "surrogateescape")
        if not isinstance(link, h5py.HardLink):
            h.update(b"l" + key + b"\0" + repr(link).encode())
            continue
        obj = g[name]
        if isinstance(obj, h5py.Dataset):
            h.update(b"d" + key + b"\0")
            _feed_attrs(h, obj)
            _feed_value(h, read(obj))
        else:
            h.update(b"g" + key + b"\0")
    return "sha256:" + h.hexdigest()


def _stored(ds: h5py.Dataset) -> np.ndarray:
    if ds.shape is None:
        return np.zeros(0, dtype=np.uint8)  # a null dataspace (never written by the workbench)
    return np.asarray(ds[()])


def seal(f: h5py.File) -> None:
    """Write the digest of every group of a freshly written file (call before closing it)."""
    groups: list[h5py.Group] = [f]
    f.visititems(lambda _n, obj: groups.append(obj) if isinstance(obj, h5py.Group) else None)
    f.attrs[SCHEME_ATTR] = np.bytes_(SCHEME)
    # children first: a parent's digest covers its sub-groups' names only, so the order does not matter,
    # but the root's own attributes (``integrity``) must be in place before the root is digested
    for g in groups:
        digest = group_digest(g, _stored)
        g.attrs.create(DIGEST_ATTR, np.bytes_(digest))


def verify(f: h5py.File, groups: list[str], values: dict[str, np.ndarray], read_other) -> list[str]:
    """Warnings (one line each) for the walked ``groups`` whose digest is missing or wrong.

    ``values`` are the dataset values the reader read, by path; ``read_other(ds)`` reads (with the reader's
    limits) a dataset it did not read.
    """
    sealed = SCHEME_ATTR in f.attrs
    warnings: list[str] = []
    if not sealed:
        if any(DIGEST_ATTR in f[p].attrs for p in ["/", *groups]):
            warnings.append("/: has group digests but no 'integrity' attribute (damaged or edited)")
        return warnings
    scheme = f.attrs[SCHEME_ATTR]
    scheme = scheme.decode("utf-8", "replace") if isinstance(scheme, bytes) else str(scheme)
    if scheme != SCHEME:
        return [f"/: unknown integrity scheme {scheme[:40]!r}; stored values were not checked"]

    def read(ds: h5py.Dataset) -> np.ndarray:
        got = values.get(ds.name)
        return got if got is not None else read_other(ds)

    for path in ["/", *groups]:
        g = f[path]
        stored = g.attrs.get(DIGEST_ATTR)
        if stored is None:
            warnings.append(f"{path}: has no digest (damaged, or edited outside the workbench)")
            continue
        stored = stored.decode("utf-8", "replace") if isinstance(stored, bytes) else str(stored)
        try:
            digest = group_digest(g, read)
        except ProjectFormatError as e:  # an extra dataset the schema's limits refuse
            warnings.append(f"{path}: stored values could not be checked ({e})")
            continue
        if digest != stored:
            warnings.append(
                f"{path}: stored values differ from the digest written at save (damaged, or edited outside "
                "the workbench)"
            )
    return warnings
