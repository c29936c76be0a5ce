"""Defect sweeps as a job: accuracy against defect size for every pattern, stuck type and array.

The grid of a :class:`~core.sweep_spec.SweepSpec` is cut into :class:`ChunkTask` s — up to ``chunk_maps``
Monte-Carlo defect maps that all hit the same array. :func:`evaluate_chunk` evaluates one chunk; it is a
plain module-level function of plain data, so the local thread pool here and a Dask cluster
(:mod:`core.distributed`) run the very same code on the very same chunks and get identical numbers.

Behavioural chunks are one vectorized call: the stuck maps of the chunk are stacked (M, rows, cols) for the
one defective array, and the other arrays keep their programmed (unbatched) conductances, so the layers in
front of the defective one are computed once for the whole chunk. Nodal and SPICE chunks evaluate map by
map; a map that fails (or exceeds ``timeout_s``) is recorded as failed with its reason and the rest go on.

Result table
------------
One row per grid point, keys ``pattern, size, stuck, array, fidelity, n, mean_accuracy, std, ci95_low,
ci95_high, failures, failure_reasons, status, defect_fraction, accuracies``. ``n`` counts maps that
evaluated; ``std`` is the sample standard deviation (ddof=1); the 95 % interval is Student's t,
``mean +- t(0.975, n-1) std / sqrt(n)``, clipped to [0, 1]; it is NaN (JSON null) for n < 2.
``defect_fraction`` is the mean fraction of the array's cells that were stuck; ``accuracies`` holds the
per-seed accuracies (NaN for failed maps). ``status`` is ``ok``, ``some failed`` or ``failed``.
A cancelled sweep keeps the rows of the points whose maps had all finished and is marked ``partial``.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

import numpy as np

from core import behavioral, defects as defects_mod, jobs
from core.errors import WorkbenchError, check_range
from core.jobs import CancelToken, Progress
from core.mapping import MappedNetwork
from core.project import Project, SweepResult
from core.sweep_spec import SweepSpec, make_defect

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
    def all_failed(cls, task: ChunkTask, reason: str) -> "ChunkResult":
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
            tasks.append(ChunkTask(spec.fidelity, spec.base_seed, array, tuple(items[start:start + size]),
                                   spec.timeout_s))
    # interleave arrays so early points of every array finish first (a cancelled sweep keeps a useful table)
    tasks.sort(key=lambda t: t.items[0][0])
    return tasks


def failure_reason(err: BaseException) -> str:
    """One line describing why a map failed."""
    text = str(err) if isinstance(err, WorkbenchError) else f"{type(err).__name__}: {err}"
    return " ".join(text.split())[:300] or type(err).__name__


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
    from core import evaluate

    return (yield from evaluate.output_voltages_job(mapped, X, g_list, fidelity, workers=1))


def evaluate_chunk(mapped: MappedNetwork, X: np.ndarray, y: np.ndarray, task: ChunkTask,
                   cancel: Optional[CancelToken] = None,
                   map_evaluator: Optional[Callable] = None) -> ChunkResult:
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
            masks[j] = d.cells(shape)
            g_stuck[j] = d.stuck_conductance(mapped.device)
            frac[j] = np.count_nonzero(masks[j]) / masks[j].size
        except Exception as e:  # noqa: BLE001 - a bad map must not sink the sweep
            errors[j] = failure_reason(e)
    ok = [j for j in range(m) if masks[j] is not None]
    if not ok:
        return ChunkResult(acc, frac, errors)
    a = task.array - 1
    g_prog = mapped.conductances()
    if task.fidelity == "behavioral" and map_evaluator is None:
        stuck = np.full((len(ok),) + tuple(shape), np.nan)
        for n, j in enumerate(ok):
            stuck[n][masks[j]] = g_stuck[j]
        g_list = list(g_prog)
        g_list[a] = defects_mod.apply_stuck([g_prog[a]], [stuck])[0]
        try:
            acc[ok] = behavioral.batch_accuracy(mapped, X, y, g_list)
        except Exception as e:  # noqa: BLE001
            for j in ok:
                errors[j] = failure_reason(e)
        return ChunkResult(acc, frac, errors)
    evaluator = map_evaluator or default_map_evaluator
    for j in ok:
        if cancel is not None and cancel.cancelled:
            errors[j] = "cancelled"
            continue
        g_list = list(g_prog)
        g_list[a] = np.where(masks[j], g_stuck[j], g_prog[a])
        token = _DeadlineToken(cancel, time.monotonic() + (task.timeout_s or math.inf))
        try:
            out = jobs.run(evaluator(mapped, X, g_list, task.fidelity), cancel=token)
            v = out[0] if isinstance(out, tuple) else out
            acc[j] = float(np.mean(np.argmax(np.asarray(v), axis=-1) == y))
        except jobs.Cancelled:
            errors[j] = "cancelled" if cancel is not None and cancel.cancelled else \
                f"timed out after {task.timeout_s:g} s"
        except Exception as e:  # noqa: BLE001
            errors[j] = failure_reason(e)
    return ChunkResult(acc, frac, errors)


def t_interval(values: Sequence[float]) -> tuple[int, float, float, float, float]:
    """(n, mean, sample std, ci95_low, ci95_high) with Student's t, clipped to [0, 1]; NaN where undefined."""
    a = np.asarray(values, dtype=np.float64)
    n = int(a.size)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = float(a.mean())
    if n == 1:
        return 1, mean, 0.0, math.nan, math.nan
    from scipy.special import stdtrit

    std = float(a.std(ddof=1))
    half = float(stdtrit(n - 1, 0.975)) * std / math.sqrt(n)
    return n, mean, std, max(0.0, mean - half), min(1.0, mean + half)


class SweepTable:
    """Collects chunk results per grid point and turns finished points into table rows."""

    def __init__(self, spec: SweepSpec):
        self.spec = spec
        self.points = spec.points()
        shape = (len(self.points), spec.n_seeds)
        self.acc = np.full(shape, np.nan)
        self.frac = np.full(shape, np.nan)
        self.errors = [[""] * spec.n_seeds for _ in self.points]
        self.pending = np.full(len(self.points), spec.n_seeds)
        self.done_maps = 0
        self._rows: dict[int, dict] = {}  # a finished point's row is computed once

    @property
    def total_maps(self) -> int:
        return len(self.points) * self.spec.n_seeds

    def add(self, task: ChunkTask, result: ChunkResult) -> None:
        for j, (i, _, _, _, k) in enumerate(task.items):
            self.acc[i, k] = result.accuracy[j]
            self.frac[i, k] = result.defect_fraction[j]
            self.errors[i][k] = result.errors[j]
            self.pending[i] -= 1
        self.done_maps += len(task.items)
        for i in {item[0] for item in task.items}:
            if self.pending[i] == 0 and i not in self._rows:
                self._rows[i] = self.row(i)

    def rows(self) -> list[dict]:
        """Rows of the finished points, in table order."""
        return [self._rows[i] for i in sorted(self._rows)]

    def row(self, i: int) -> dict:
        pattern, size, stuck, array = self.points[i]
        errs = self.errors[i]
        good = [k for k in range(self.spec.n_seeds) if not errs[k]]
        n, mean, std, lo, hi = t_interval(self.acc[i, good])
        failures = self.spec.n_seeds - len(good)
        frac = self.frac[i][~np.isnan(self.frac[i])]
        return {
            "pattern": pattern, "size": size, "stuck": stuck, "array": array, "fidelity": self.spec.fidelity,
            "n": n, "mean_accuracy": mean, "std": std, "ci95_low": lo, "ci95_high": hi,
            "failures": failures, "failure_reasons": sorted({e for e in errs if e}),
            "status": "ok" if failures == 0 else ("failed" if n == 0 else "some failed"),
            "defect_fraction": float(frac.mean()) if frac.size else math.nan,
            "accuracies": [float(v) for v in self.acc[i]],
        }


def local_backend(mapped, X, y, tasks: Sequence[ChunkTask], workers: int,
                  map_evaluator: Optional[Callable] = None) -> Iterator[Optional[tuple[ChunkTask, ChunkResult]]]:
    """Run chunks on a thread pool; yields ``(task, result)`` as they finish, ``None`` while waiting.

    Closing the generator cancels queued chunks, stops per-map chunks between maps (closing a running
    SPICE job, which kills its ngspice child) and waits for the running chunks to return.
    """
    cancel = CancelToken()
    ex = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sweep")
    pending: dict = {}
    todo = iter(tasks)

    def fill() -> None:
        # a bounded number in flight keeps memory flat and cancel prompt
        for t in todo:
            pending[ex.submit(evaluate_chunk, mapped, X, y, t, cancel, map_evaluator)] = t
            if len(pending) >= 2 * workers:
                break

    try:
        fill()
        while pending:
            done, _ = wait(list(pending), timeout=0.2, return_when=FIRST_COMPLETED)
            if not done:
                yield None
                continue
            for f in done:
                t = pending.pop(f)
                try:
                    res = f.result()
                except Exception as e:  # noqa: BLE001
                    res = ChunkResult.all_failed(t, failure_reason(e))
                yield t, res
            fill()
    finally:
        cancel.cancel()
        for f in pending:
            f.cancel()
        ex.shutdown(wait=True, cancel_futures=True)


def eval_data(project: Project, split: str) -> tuple[np.ndarray, np.ndarray]:
    ds = project.load_dataset()
    return {"test": (ds.X_test, ds.y_test), "cal": (ds.X_cal, ds.y_cal), "train": (ds.X_train, ds.y_train)}[split]


def sweep_job(project: Project, spec: SweepSpec, *, store: bool = True, workers: Optional[int] = None,
              scheduler=None, chunk_maps: Optional[int] = None, map_evaluator: Optional[Callable] = None,
              r_wire_ohm: Optional[float] = None, device_model: Optional[str] = None):
    """Job: run a defect sweep and return a :class:`~core.project.SweepResult`.

    Parameters
    ----------
    project
        A project with a mapped network.
    spec
        The sweep; ``arrays=()`` means every array.
    store
        Append the result to ``project.sweeps`` — also when the job is cancelled or fails after some
        points finished (then ``partial=True``). Leave False when a queue hook stores results.
    workers
        Local worker threads (default: the number of CPUs). Ignored with ``scheduler``.
    scheduler
        A Dask scheduler address (``tcp://host:port``) or a ``distributed.Client``: run the chunks there.
    chunk_maps
        Defect maps per chunk (default 256 behavioural, 1 nodal/SPICE).
    map_evaluator
        Override of the per-map evaluation job (see :func:`evaluate_chunk`); module-level for Dask.
    r_wire_ohm, device_model
        Circuit overrides for this sweep (default: the project's); recorded in the result's ``spec``.

    Yields
    ------
    Progress
        ``done``/``total`` in defect maps; ``partial`` is a SweepResult of the finished points.
    """
    from core.evaluate import circuit_params, project_view

    project = project_view(project, r_wire_ohm, device_model)
    mapped = project.require_mapped()
    spec = spec.with_arrays(len(mapped.arrays))
    X, y = eval_data(project, spec.split)
    tasks = plan_chunks(spec, chunk_maps)
    if scheduler is not None:
        from core.distributed import dask_backend

        backend = dask_backend(scheduler, mapped, X, y, tasks, map_evaluator)
        where = "Dask"
    else:
        n = check_range("workers", workers if workers is not None else (os.cpu_count() or 1), 1, 256, integer=True)
        if spec.fidelity == "spice" and map_evaluator is None:
            from core.spice.runner import find_ngspice

            find_ngspice()  # fail the whole sweep up front, not every point, when ngspice is missing
        backend = local_backend(mapped, X, y, tasks, n, map_evaluator)
        where = f"{n} local thread{'s' if n > 1 else ''}"
    table = SweepTable(spec)
    result = SweepResult(id=project.next_id("sweep"), spec={**spec.to_dict(), **circuit_params(mapped)}, rows=[],
                         partial=True)
    t0 = time.perf_counter()
    finished = False
    try:
        yield Progress(0, table.total_maps, f"sweep: {table.total_maps} maps on {where}")
        for event in backend:
            if event is not None:
                table.add(*event)
                result.rows = table.rows()
                result.seconds = time.perf_counter() - t0
            msg = f"sweep: {table.done_maps}/{table.total_maps} maps, {len(result.rows)} points done"
            yield Progress(table.done_maps, table.total_maps, msg, partial=dataclasses.replace(result))
        finished = True
        result.partial = False
        return result
    finally:
        backend.close()
        result.rows = table.rows()
        result.seconds = time.perf_counter() - t0
        if store and (finished or result.rows):
            project.sweeps.append(result)


def summary_text(result: SweepResult) -> str:
    """A plain-text table of a sweep result."""
    head = f"{'pattern':<18} {'size':>6} {'stuck':>7} {'array':>5} {'n':>4} {'mean':>7} {'std':>7} " \
           f"{'ci95':>15} {'fail':>4}"
    lines = [f"sweep {result.id}{' (partial)' if result.partial else ''}: {len(result.rows)} points, "
             f"{result.seconds:.2f} s", head]
    for r in result.rows:
        ci = "-" if math.isnan(r["ci95_low"]) else f"{r['ci95_low']:.3f}-{r['ci95_high']:.3f}"
        mean = "-" if math.isnan(r["mean_accuracy"]) else f"{r['mean_accuracy']:.3f}"
        lines.append(f"{r['pattern']:<18} {r['size']:>6.3g} {r['stuck']:>7} {r['array']:>5} {r['n']:>4} "
                     f"{mean:>7} {r['std']:>7.3f} {ci:>15} {r['failures']:>4}")
        for reason in r["failure_reasons"]:
            lines.append(f"    failed: {reason}")
    return "\n".join(lines)

