"""Loading a project file: open, check the header, migrate old versions, read and validate everything.

Nothing in the file is executed (no pickle, no eval); see :mod:`core.project_io.schema` for the checks and
:mod:`core.project_io.reader` for what is read where.
"""

from __future__ import annotations

import os

import h5py

from core.errors import ProjectFormatError
from core.model.project import Project
from core.project_io import checks, reader, schema


def load(path: str) -> Project:
    """Read and validate a project file.

    Raises
    ------
    ProjectFormatError
        Naming the HDF5 path and the problem: not an HDF5 file, damaged, from a newer format version,
        links out of the file, wrong dtypes or shapes, non-finite values, out-of-range parameters.
    """
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
                return reader.read_project(f, guard)
            with checks.migrate(path, version) as mf:
                return reader.read_project(mf, guard)
    except ProjectFormatError:
        raise
    except schema.READ_ERRORS as e:
        raise ProjectFormatError(guard.where, f"damaged or unreadable ({_reason(e)})") from None


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
