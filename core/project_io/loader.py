"""Loading a project file: open, check the header, migrate old versions, read and validate everything.

Nothing in the file is executed (no pickle, no eval); see :mod:`core.project_io.schema` for the checks and
:mod:`core.project_io.reader` for what is read where. :func:`read` also checks the per-group digests
(:mod:`core.project_io.integrity`) and returns what differs as warnings.

These functions read in the calling process. Files from elsewhere are opened with
:func:`core.project_io.probe.open_project`, which first reads them in a short-lived child process with memory
and time limits, so that a crash inside libhdf5 cannot take the caller down.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import h5py

from core.errors import ProjectFormatError
from core.model.project import Project
from core.project_io import checks, integrity, reader, schema


@dataclass
class Loaded:
    """A project read from a file and the integrity warnings of that read (empty: every digest matched)."""

    project: Project
    warnings: list[str] = field(default_factory=list)


def load(path: str) -> Project:
    """Read and validate a project file (integrity warnings are dropped: use :func:`read` to see them).

    Raises
    ------
    ProjectFormatError
        Naming the HDF5 path and the problem: not an HDF5 file, damaged, from a newer format version,
        links out of the file, wrong dtypes or shapes, non-finite values, out-of-range parameters.
    """
    return read(path).project


def read(path: str) -> Loaded:
    """Read and validate a project file, and check the digests of every group it read (see :func:`load`)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ProjectFormatError("/", f"cannot open {path!r}: no such file")
    try:
        f = h5py.File(path, "r", locking=False)
    except schema.READ_ERRORS as e:
        raise ProjectFormatError("/", f"cannot open {path!r} as an HDF5 file ({_reason(e)})") from None
    guard = checks.Reader()
    try:
        with f:
            version = checks.check_header(f, guard)
            if version == schema.FORMAT_VERSION:
                project = reader.read_project(f, guard)
                return Loaded(project, integrity.verify(f, guard.groups, guard.values, _reader_of(guard)))
            with checks.migrate(path, version) as mf:
                # a migration rewrites values: the digests of the old version's file are not checked
                return Loaded(reader.read_project(mf, guard))
    except ProjectFormatError:
        raise
    except schema.READ_ERRORS as e:
        raise ProjectFormatError(guard.where, f"damaged or unreadable ({_reason(e)})") from None


def _reader_of(guard: checks.Reader):
    """Read a dataset the schema does not know (an extra in a walked group) with the reader's limits."""

    def read_other(ds: h5py.Dataset):
        guard.array(ds.parent, ds.name.rsplit("/", 1)[-1], "fiubS", finite=False)
        return guard.values[ds.name]

    return read_other


_KNOWN_DAMAGE = {
    "filter returned failure": "checksum or decompression failed",
    "truncated file": "the file is truncated",
    "file signature not found": "not an HDF5 file",
}


def _reason(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    hint = next((h for k, h in _KNOWN_DAMAGE.items() if k in text), "")
    detail = f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__
    return f"{hint}; {detail}" if hint else detail
