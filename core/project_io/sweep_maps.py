"""The accuracy of every defect map of a large sweep, kept outside its table rows.

A sweep of up to :data:`KEEP_MAPS_IN_ROWS` maps keeps each point's per-seed accuracies in its row
(``accuracies``, as always). A larger one streams them, chunk by chunk as they finish, into a temporary HDF5
file (:meth:`SweepMaps.spill`), and its result is a :class:`StreamedSweepResult` whose ``maps`` refers to it;
saving the project copies them block by block into the sweep's group::

    /sweeps/sweep-0001/maps/accuracy    (points, seeds) float64, row i = table row i, NaN = failed map

so the per-map data survives (with its seed identity: paired comparisons across sizes, the worst placement of
a point) at 8 bytes a map on disk, while the sweep itself holds none of it in memory. A project file read back
holds them in memory (8 bytes a map; a million maps are 8 MB). Files without ``maps`` (every file written
before, and every small sweep) read as before.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from core.model.results import SweepResult

KEEP_MAPS_IN_ROWS = 100_000
BLOCK_ELEMENTS = 1 << 18  # values per block copied into a project file (2 MB of float64)


class SweepMaps:
    """Per-map accuracies of a sweep, ``(points, seeds)`` float64 (NaN: failed or not evaluated).

    In memory (``SweepMaps(array)``, as read from a project) or in a temporary HDF5 file a running sweep
    writes into (:meth:`spill`); the file is removed when this object is garbage collected or the process exits.
    """

    def __init__(self, array: np.ndarray):
        self._array: Optional[np.ndarray] = np.asarray(array, dtype=np.float64)
        self._file: Any = None  # h5py.File of a spill
        self._ds: Any = None  # its dataset (looked up once: the lookup cost more than the write)
        self.path: Optional[str] = None

    @classmethod
    def spill(cls, shape: tuple[int, int], directory: Optional[str] = None) -> SweepMaps:
        """An all-NaN table of ``shape`` in a new temporary HDF5 file in ``directory`` (default: the system's)."""
        import h5py

        fd, path = tempfile.mkstemp(prefix=".reram-sweep-maps-", suffix=".h5", dir=directory)
        os.close(fd)
        self = cls.__new__(cls)
        self._array, self.path, self._ds = None, path, None
        try:
            self._file = h5py.File(path, "w")
            rows, cols = int(shape[0]), int(shape[1])
            # ~64 kB chunks along the seeds of a point (chunks arrive as runs of seeds of one point)
            width = max(1, min(cols, 1 << 13))
            chunk = (max(1, min(rows, (1 << 13) // width)), width) if rows and cols else None
            self._ds = self._file.create_dataset(
                "accuracy", shape=(rows, cols), dtype="f8", fillvalue=np.nan, chunks=chunk
            )
        except Exception:
            _remove(None, path)
            raise
        weakref.finalize(self, _remove, self._file, path)
        return self

    @property
    def shape(self) -> tuple[int, int]:
        src = self._array if self._array is not None else self._ds
        return int(src.shape[0]), int(src.shape[1])

    @property
    def n_maps(self) -> int:
        rows, cols = self.shape
        return rows * cols

    def write(self, point: int, first_seed: int, values: np.ndarray) -> None:
        """Store the accuracies of seeds ``first_seed ...`` of table row ``point``."""
        values = np.asarray(values, dtype=np.float64)
        if self._array is not None:
            self._array[point, first_seed : first_seed + values.size] = values
        else:
            self._ds[point, first_seed : first_seed + values.size] = values

    def point(self, i: int) -> np.ndarray:
        """The per-seed accuracies of table row ``i``."""
        if self._array is not None:
            return self._array[i].copy()
        return np.asarray(self._ds[i])

    def blocks(self, max_elements: int = BLOCK_ELEMENTS) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row, rows)`` blocks of at most ``max_elements`` values (at least one row), in order."""
        rows, cols = self.shape
        step = max(1, max_elements // max(1, cols))
        for start in range(0, rows, step):
            if self._array is not None:
                yield start, self._array[start : start + step]
            else:
                yield start, np.asarray(self._ds[start : start + step])

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()


def _remove(h5file, path: str) -> None:
    try:
        if h5file is not None:
            h5file.close()
    except Exception:  # noqa: BLE001 - at exit or in a finalizer nothing can be reported
        pass
    try:
        os.remove(path)
    except OSError:
        pass


@dataclass
class StreamedSweepResult(SweepResult):
    """A :class:`~core.model.results.SweepResult` whose rows carry no ``accuracies``: they are in ``maps``."""

    maps: Optional[SweepMaps] = field(default=None, compare=False, repr=False)


def point_accuracies(result: SweepResult, i: int) -> np.ndarray:
    """The per-seed accuracies of row ``i`` of a sweep result, from its row or from its ``maps``."""
    row = result.rows[i]
    if "accuracies" in row:
        return np.asarray(row["accuracies"], dtype=np.float64)
    maps = getattr(result, "maps", None)
    if maps is None:
        raise KeyError(f"row {i} of sweep {result.id or '(unsaved)'} has no per-map accuracies")
    return maps.point(row.get("maps_row", i))
