"""Chunks of a sweep: up to a few hundred defect maps on one array, evaluated by one plain function.

:func:`evaluate_chunk` is a module-level function of plain data, so the local thread pool
(:mod:`core.sweeps.local`) and a Dask cluster (:mod:`core.sweeps.dask_backend`) run the very same code on the
very same chunks and get identical numbers.

Behavioural chunks are one vectorized call: the stuck maps of the chunk are stacked (M, rows, cols) for the
one defective array, and the other arrays keep their programmed (unbatched) conductances, so the layers in
front of the defective one are computed once for the whole chunk. Nodal and SPICE chunks evaluate map by
map; a map that fails (or exceeds ``timeout_s``) is recorded as failed with its reason and the rest go on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core import jobs
from core.circuit import behavioral
from core.circuit.fidelity import output_voltages_job
from core.errors import check_range, describe_error
from core.jobs import CancelToken
from core.model import defects as defects_mod
from core.model.crossbar import MappedNetwork
from core.model.network import accuracy
from core.sweeps.spec import SweepSpec, make_defect

DEFAULT_CHUNK_MAPS = {"behavioral": 256, "nodal": 1, "spice": 1}

# (point index, pattern, size, stuck, seed index)
ChunkItem = tuple[int, str, float, str, int]


@dataclass(frozen=True)
class ChunkTask:
    """Up to a few hundred defect maps on one array; plain data, sent as is to Dask workers."""

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


def plan_chunks(spec: SweepSpec, chunk_maps: Optional[int] = None) -> list[ChunkTask]:
    """Cut a sweep (arrays resolved) into chunks of maps that share one array, in table order."""
    size = DEFAULT_CHUNK_MAPS[spec.fidelity] if chunk_maps is None else chunk_maps
    size = check_range("chunk", size, 1, 100_000, integer=True)
    by_array: dict[int, list[ChunkItem]] = {a: [] for a in spec.arrays}
    for i, (pattern, s, stuck, array) in enumerate(spec.points()):
        by_array[array].extend((i, pattern, s, stuck, k) for k in range(spec.n_seeds))
    tasks = []
    for array, items in by_array.items():
        for start in range(0, len(items), size):
            tasks.append(
                ChunkTask(spec.fidelity, spec.base_seed, array, tuple(items[start : start + size]), spec.timeout_s)
            )
    # interleave arrays so early points of every array finish first (a cancelled sweep keeps a useful table)
    tasks.sort(key=lambda t: t.items[0][0])
    return tasks


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
        :func:`default_map_evaluator` for nodal/SPICE, the vectorized behavioural model otherwise.
    """
    shape = mapped.shapes[task.array - 1]
    m = len(task.items)
    acc, frac, errors = np.full(m, np.nan), np.full(m, np.nan), [""] * m
    masks: list[Optional[np.ndarray]] = [None] * m
    g_stuck = np.zeros(m)
    for j, (_, pattern, size, stuck, k) in enumerate(task.items):
        try:
            d = make_defect(pattern, size, stuck, task.array, k, shape, task.base_seed)
            cells = d.cells(shape)
            masks[j] = cells
            g_stuck[j] = d.stuck_conductance(mapped.device)
            frac[j] = np.count_nonzero(cells) / cells.size
        except Exception as e:  # noqa: BLE001 - a bad map must not sink the sweep
            errors[j] = describe_error(e)
    ok_masks = {j: mask for j, mask in enumerate(masks) if mask is not None}
    ok = list(ok_masks)
    if not ok:
        return ChunkResult(acc, frac, errors)
    a = task.array - 1
    g_prog = mapped.conductances()
    if task.fidelity == "behavioral" and map_evaluator is None:
        stuck_maps = np.full((len(ok),) + tuple(shape), np.nan)
        for n, j in enumerate(ok):
            stuck_maps[n][ok_masks[j]] = g_stuck[j]
        g_list = list(g_prog)
        g_list[a] = defects_mod.apply_stuck([g_prog[a]], [stuck_maps])[0]
        try:
            acc[ok] = behavioral.batch_accuracy(mapped, X, y, g_list)
        except Exception as e:  # noqa: BLE001
            for j in ok:
                errors[j] = describe_error(e)
        return ChunkResult(acc, frac, errors)
    evaluator = map_evaluator or default_map_evaluator
    for j in ok:
        if cancel is not None and cancel.cancelled:
            errors[j] = "cancelled"
            continue
        g_list = list(g_prog)
        g_list[a] = np.where(ok_masks[j], g_stuck[j], g_prog[a])
        token = _DeadlineToken(cancel, time.monotonic() + (task.timeout_s or math.inf))
        try:
            out = jobs.run(evaluator(mapped, X, g_list, task.fidelity), cancel=token)
            v = out[0] if isinstance(out, tuple) else out
            acc[j] = accuracy(v, y)
        except jobs.Cancelled:
            errors[j] = (
                "cancelled" if cancel is not None and cancel.cancelled else f"timed out after {task.timeout_s:g} s"
            )
        except Exception as e:  # noqa: BLE001
            errors[j] = describe_error(e)
    return ChunkResult(acc, frac, errors)
