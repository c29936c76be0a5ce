"""Schema of the HDF5 project file: format constants, limits, safe names, JSON fields and the migration table.

Everything read from a project file goes through :class:`core.project_io.checks.Reader`, which refuses what
could harm or stall whoever opens a file sent by someone else, *before* reading any data:

- soft and external links, external raw storage and virtual datasets (they point outside the file);
- filters other than gzip, shuffle and fletcher32 (HDF5 would load unknown filters as plugins);
- object, variable-length, compound, opaque and array dtypes where plain numbers or strings are expected;
- datasets larger than the caller's limit (derived from the network configuration where possible), chunks
  whose decompressed size is absurd, strings longer than :data:`MAX_STRING_BYTES`;
- NaN and infinite values in arrays that feed computation;
- objects reached by more than one hard link, objects with more than :data:`MAX_ATTRS` attributes, more than
  :data:`MAX_OBJECTS` groups and datasets, datasets in more than :data:`MAX_CHUNKS` chunks (or many tiny ones),
  datasets declared but never written, and more than :data:`MAX_TOTAL_BYTES` (:data:`MAX_TOTAL_TEXT_BYTES` of
  strings) decoded from one file: small valid files must not cost gigabytes or minutes.

Every group also carries a digest of its values (:mod:`core.project_io.integrity`), an optional addition within
format version 1.

Every refusal is a :class:`core.errors.ProjectFormatError` naming the HDF5 path.

Migrations: ``MIGRATIONS[v]`` upgrades an (in-memory, writable) file of format version ``v`` to ``v + 1`` in
place with h5py calls. Version 1 is the first format, so the table is empty; a future version 2 adds
``MIGRATIONS[1] = _v1_to_v2`` and keeps ``tests/data/project_v1.h5`` loading.

The version changes only when a reader of the previous version would misread a new file or refuse it. Optional
groups that older readers skip (they never walk groups outside the schema) are added within a version: the
``/draft`` group (the workbench's draft scenario) is one, so files with a draft still open in older releases
(which show no draft) and files without one load here with ``Project.draft = None``.

This module knows HDF5 and the format's rules but not the :class:`core.model.project.Project` model; turning the
checked file into a Project is :mod:`core.project_io.reader`'s job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import h5py

from core.errors import ProjectFormatError

FORMAT_NAME = "reram-workbench-project"
FORMAT_VERSION = 1

MAX_ELEMENTS = 64_000_000  # one dataset; 8x8 digits projects hold a few thousand, full MNIST ~55M
MAX_TOTAL_ELEMENTS = 256_000_000  # the whole file
MAX_BYTES = 512 * 2**20  # one dataset, in memory
MAX_CHUNK_BYTES = 64 * 2**20  # one decompressed chunk
MAX_STRING_BYTES = 2**20  # one string (1 MiB)
MAX_CHILDREN = 100_000  # entries in one group
MAX_ATTR_ELEMENTS = 64  # array-valued attributes (layer sizes)
# Bounds on work and memory a small file could otherwise demand (issue 14, item 7); all checked before reading.
MAX_TOTAL_BYTES = 2 * 2**30  # decoded bytes of every dataset read from one file
MAX_TOTAL_TEXT_BYTES = 64 * 2**20  # decoded bytes of every string dataset of one file
MAX_OBJECTS = 200_000  # groups and datasets opened while reading one file
MAX_ATTRS = 256  # attributes on one object (the workbench writes at most ~20)
MAX_CHUNKS = 65_536  # chunks of one dataset (h5py's automatic chunking gives a few hundred for 64 M elements)
MIN_CHUNK_BYTES = 1024  # chunks smaller than this on average (beyond MAX_SMALL_CHUNKS of them) are refused
MAX_SMALL_CHUNKS = 64
ALLOWED_FILTERS = {
    h5py.h5z.FILTER_DEFLATE: "gzip",
    h5py.h5z.FILTER_SHUFFLE: "shuffle",
    h5py.h5z.FILTER_FLETCHER32: "fletcher32",
}

# Exceptions that h5py, numpy and json raise on damaged content; load() turns them into ProjectFormatError.
READ_ERRORS = (
    OSError,
    RuntimeError,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    OverflowError,
    UnicodeError,
    RecursionError,
    MemoryError,
)

Migration = Callable[[h5py.File], None]
MIGRATIONS: dict[int, Migration] = {}

_KIND_NAMES = {
    "f": "floating point",
    "i": "signed integer",
    "u": "unsigned integer",
    "b": "boolean",
    "S": "fixed-length string",
}
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
