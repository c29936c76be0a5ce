"""Chunks of a sweep: up to a few hundred defect maps on one array, evaluated by one plain function.

:func:`evaluate_chunk` is a module-level function of plain data, so the local thread pool
(:mod:`core.sweeps.local`) and a Dask cluster (:mod:`core.sweeps.dask_backend`) run the very same code on the
very same chunks and get identical numbers.

Behavioural chunks are one vectorized call: the stuck maps of the chunk are stacked (M, rows, cols) for the
one defective array, and the other arrays keep their programmed (unbatched) conductances, so the layers in
front of the defective one are computed once for the whole chunk. With device variability
(:mod:`core.model.variability`) every map draws its own conductances of every array (:func:`map_conductances`,
seed ``(base_seed + k) mod 2**32`` like the op-amp offsets), so all arrays are stacked. Nodal and SPICE
chunks evaluate map by map; a map that fails (or exceeds ``timeout_s``) is recorded as failed with its reason
and the rest go on.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core import jobs
from core.circuit import behavioral
from core.circuit.fidelity import output_voltages_job
from core.errors import check_range, describe_error
from core.jobs import CancelToken
from core.model.crossbar import MappedNetwork
from core.model.network import accuracy
from core.model.opamp import sample_offsets, stack_offsets
from core.model.variability import apply_variability
from core.sweeps import raster
from core.sweeps.spec import SweepSpec, offset_seed

DEFAULT_CHUNK_MAPS = {"behavioral": 256, "nodal": 1, "spice": 1}
# bytes of one (images, width) float64 activation over the maps of one behavioural forward pass (pass_maps)
BEHAVIORAL_PASS_BYTES = 512 * 1024

# (row index in SweepSpec.grid(), pattern, size, stuck, seed index, op-amp offset sigma or None)
ChunkItem = tuple[int, str, float, str, int, Optional[float]]


@dataclass(frozen=True)
class ChunkTask:
    """Up to a few hundred defect maps on one array (0: no defect, pattern ``none``); plain data, sent as is to
    Dask workers."""

    fidelity: str
    base_seed: int
    array: int
    items: tuple[ChunkItem, ...]
    timeout_s: Optional[float] = None


@dataclass
class ChunkResult:
    """Per map of a chunk: accuracy (NaN if failed), stuck-cell fraction and failure reason ('' if fine)."""

    accuracy: np.ndarray
    defect_fraction: np.ndarray
    errors: list[str]

    @classmethod
    def all_failed(cls, task: ChunkTask, reason: str) -> ChunkResult:
        m = len(task.items)
        return cls(np.full(m, np.nan), np.full(m, np.nan), [reason] * m)


class ChunkPlan:
    """The chunks of a sweep, made one at a time (a plan of a million maps holds no million items).

    Iterating gives exactly the chunks a list of all items would have been cut into: per array, the maps of its
    grid points in table order (seeds innermost) in runs of ``size``; the arrays interleaved by the first grid
    row of each chunk, so early points of every array finish first (a cancelled sweep keeps a useful table).
    Item ``j`` of an array is seed ``j % n_seeds`` of its ``j // n_seeds``-th grid point: index arithmetic, so
    the plan keeps only the grid (one entry per point) whatever the number of seeds.
    """

    def __init__(self, spec: SweepSpec, size: int):
        self.spec, self.size = spec, size
        self.grid = spec.grid()
        self.by_array: dict[int, list[int]] = {a: [] for a in spec.arrays}
        for i, point in enumerate(self.grid):
            self.by_array.setdefault(point[3], []).append(i)

    def __len__(self) -> int:
        n = self.spec.n_seeds
        return sum(-(-len(idx) * n // self.size) for idx in self.by_array.values() if idx)

    def __iter__(self) -> Iterator[ChunkTask]:
        runs = [self._chunks(a, idx) for a, idx in self.by_array.items() if idx]
        # each run is in table order already, and no grid row belongs to two arrays: a merge is the stable sort
        return heapq.merge(*runs, key=lambda t: t.items[0][0])

    def _chunks(self, array: int, idx: list[int]) -> Iterator[ChunkTask]:
        n, spec = self.spec.n_seeds, self.spec
        for start in range(0, len(idx) * n, self.size):
            items = []
            for j in range(start, min(start + self.size, len(idx) * n)):
                i = idx[j // n]
                pattern, s, stuck, _, sigma = self.grid[i]
                items.append((i, pattern, s, stuck, j % n, sigma))
            yield ChunkTask(spec.fidelity, spec.base_seed, array, tuple(items), spec.timeout_s)


def plan_chunks(spec: SweepSpec, chunk_maps: Optional[int] = None) -> ChunkPlan:
    """Cut a sweep (arrays resolved) into chunks of maps that share one array, in table order, made lazily
    (:class:`ChunkPlan`: iterate it; ``len`` is the number of chunks)."""
    size = DEFAULT_CHUNK_MAPS[spec.fidelity] if chunk_maps is None else chunk_maps
    return ChunkPlan(spec, check_range("chunk", size, 1, 100_000, integer=True))


class _DeadlineToken(CancelToken):
    """Cancelled when the parent is, or when the deadline has passed (a per-map timeout)."""

    def __init__(self, parent: Optional[CancelToken], deadline: float):
        super().__init__()
        self.parent, self.deadline = parent, deadline

    @property
    def cancelled(self) -> bool:
        return (self.parent is not None and self.parent.cancelled) or time.monotonic() > self.deadline


def default_map_evaluator(mapped: MappedNetwork, X: np.ndarray, g_list, fidelity: str):
    """Job: output voltages (N, n_out) of one defect map at ``fidelity`` (nodal or SPICE)."""
    return (yield from output_voltages_job(mapped, X, g_list, fidelity, workers=1))


def _offset_view(mapped: MappedNetwork, sigma: Optional[float], seed: int) -> MappedNetwork:
    """The network one map is evaluated on: its own op-amps (no offset axis), offsets removed (sigma 0) or the
    map's sampled offsets."""
    if sigma is None:
        return mapped
    if sigma == 0:
        return dataclasses.replace(mapped, offsets=None, opamp=dataclasses.replace(mapped.opamp, offset_sigma_volt=0.0))
    return dataclasses.replace(mapped, offsets=sample_offsets(mapped.opamp_counts(), sigma, seed))


def evaluate_chunk(
    mapped: MappedNetwork,
    X: np.ndarray,
    y: np.ndarray,
    task: ChunkTask,
    cancel: Optional[CancelToken] = None,
    map_evaluator: Optional[Callable] = None,
) -> ChunkResult:
    """Evaluate the maps of one chunk; never raises for a failing map (it is recorded instead).

    Parameters
    ----------
    mapped, X, y
        The mapped network and the evaluation data (inputs in [0, 1], labels).
    task
        The chunk.
    cancel
        Stops a per-map chunk between maps (the remaining maps are marked cancelled).
    map_evaluator
        Job function ``(mapped, X, g_list, fidelity) -> (voltages, solver)`` used map by map; default
        :func:`default_map_evaluator` for nodal/SPICE, the vectorized behavioural model otherwise (the maps of a
        chunk with offsets are batched too: one offset set per map).
    """
    shape = mapped.shapes[task.array - 1] if task.array else (0, 0)
    m = len(task.items)
    acc = np.full(m, np.nan)
    try:
        dm = raster.chunk_defects(task.items, task.array, shape, task.base_seed, mapped.device, mapped.variability)
    except Exception as e:  # noqa: BLE001 - never expected (per-map failures are recorded inside)
        return ChunkResult.all_failed(task, describe_error(e))
    frac, errors = dm.fraction, dm.errors
    ok = dm.ok
    if not ok:
        return ChunkResult(acc, frac, errors)
    a = task.array - 1
    views: dict[int, MappedNetwork] = {}
    for j in ok:
        item = task.items[j]
        try:
            views[j] = _offset_view(mapped, item[5], offset_seed(task.base_seed, item[4]))
        except Exception as e:  # noqa: BLE001
            errors[j] = describe_error(e)
    ok = list(views)
    if task.fidelity == "behavioral" and map_evaluator is None:
        _behavioral_chunk(mapped, X, y, task, ok, dm, views, acc, errors)
        return ChunkResult(acc, frac, errors)
    evaluator = map_evaluator or default_map_evaluator
    for j in ok:
        if cancel is not None and cancel.cancelled:
            errors[j] = "cancelled"
            continue
        g_list = map_conductances(mapped, task.base_seed, task.items[j][4])
        if dm.defective[j]:
            g_list[a] = np.where(dm.masks[j], dm.g_stuck[j], g_list[a])
        token = _DeadlineToken(cancel, time.monotonic() + (task.timeout_s or math.inf))
        try:
            out = jobs.run(evaluator(views[j], X, g_list, task.fidelity), cancel=token)
            v = out[0] if isinstance(out, tuple) else out
            acc[j] = accuracy(v, y)
        except jobs.Cancelled:
            errors[j] = (
                "cancelled" if cancel is not None and cancel.cancelled else f"timed out after {task.timeout_s:g} s"
            )
        except Exception as e:  # noqa: BLE001
            errors[j] = describe_error(e)
    return ChunkResult(acc, frac, errors)


def map_conductances(mapped: MappedNetwork, base_seed: int, seed_index: int) -> list[np.ndarray]:
    """The healthy-cell conductances of Monte-Carlo map ``seed_index``: programmed, with the network's device
    variability drawn from seed ``offset_seed(base_seed, seed_index)`` (the programmed arrays if ideal)."""
    var = mapped.variability
    if var.ideal:
        return list(mapped.conductances())
    return apply_variability(mapped.conductances(), var.with_seed(offset_seed(base_seed, seed_index)))


def _behavioral_chunk(mapped, X, y, task, ok, dm, views, acc, errors) -> None:
    """The behavioural maps of a chunk in vectorized groups: maps without offsets, with offsets removed, and with
    sampled offsets (batched, one set per map). ``dm`` holds the chunk's rasterized defects
    (:func:`core.sweeps.raster.chunk_defects`)."""
    a = task.array - 1
    g_prog = mapped.conductances()
    groups: dict[str, list[int]] = {}
    for j in ok:
        sigma = task.items[j][5]
        groups.setdefault("own" if sigma is None else ("zero" if sigma == 0 else "sampled"), []).append(j)
    for kind, idx in groups.items():
        try:
            g_list: list[np.ndarray] = list(g_prog)
            if not mapped.variability.ideal:  # every map draws its own variability: stack every array
                per = [map_conductances(mapped, task.base_seed, task.items[j][4]) for j in idx]
                g_list = [np.stack([p[n] for p in per]) for n in range(len(g_prog))]
            if task.array:
                sel = np.asarray(idx) if len(idx) < len(task.items) else slice(None)
                stuck = np.where(dm.defective[sel], dm.g_stuck[sel], np.nan)  # NaN: no defect (pattern none)
                g_list[a] = np.where(dm.masks[sel] & ~np.isnan(stuck)[:, None, None], stuck[:, None, None], g_list[a])
            view = views[idx[0]]
            offsets = None
            if kind == "sampled":
                offsets = stack_offsets([views[j].offsets for j in idx], mapped.opamp_counts())
            acc[idx] = _batch_accuracy(view, X, y, g_list, len(idx), offsets)
        except Exception as e:  # noqa: BLE001
            for j in idx:
                errors[j] = describe_error(e)


def pass_maps(n_images: int, widths, n_maps: int, pass_bytes: Optional[int] = None) -> int:
    """Maps per behavioural forward pass: as many as keep one (N, width) float64 activation per map within
    ``pass_bytes`` (default :data:`BEHAVIORAL_PASS_BYTES`), at least 1 and at most ``n_maps``."""
    per_map = 8 * max(1, int(n_images)) * max(1, *(int(w) for w in widths))
    budget = BEHAVIORAL_PASS_BYTES if pass_bytes is None else pass_bytes
    return int(min(max(1, n_maps), max(1, budget // per_map)))


def _batch_accuracy(mapped: MappedNetwork, X, y, g_list, n_maps: int, offsets) -> np.ndarray:
    """``behavioral.batch_accuracy(mapped, X, y, g_list, n_maps=n_maps, offsets=offsets)``, the same numbers,
    faster: the layers in front of the first batched array (unbatched conductances, no per-map offsets) are
    computed once for all maps, and the rest in passes of :func:`pass_maps` maps, whose temporaries stay in
    cache (and small enough that the allocator reuses them rather than returning them to the system and
    page-faulting them back, which cost more than the arithmetic in passes of 256)."""
    n_layers = len(mapped.arrays)
    batched = [np.ndim(g) == 3 for g in g_list]
    first = 0 if offsets is not None or not any(batched) else batched.index(True)
    widths = [max(mapped.arrays[n].shape) for n in range(first, n_layers)]
    step = pass_maps(len(y), widths, n_maps)
    if first == 0:
        return behavioral.batch_accuracy(mapped, X, y, g_list, chunk=step, n_maps=n_maps, offsets=offsets)
    # as behavioral.forward_voltages does, layer by layer; the front layers are the same for every map
    own = None if mapped.ideal_opamps else mapped.opamp_offsets()
    g64 = [np.asarray(g, dtype=np.float64) for g in g_list]
    v_front = np.asarray(X, dtype=np.float64) * mapped.device.v_read_volt
    for n in range(first):
        v_front = behavioral.layer_forward(mapped, n, v_front, g64[n], offsets=None if own is None else own[n])
    out = np.empty(n_maps)
    for s in range(0, n_maps, step):
        v = v_front
        for n in range(first, n_layers):
            g = g64[n][s : s + step] if batched[n] else g64[n]
            v = behavioral.layer_forward(mapped, n, v, g, offsets=None if own is None else own[n])
        out[s : s + step] = accuracy(v, y)
    return out
