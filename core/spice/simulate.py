"""The ``spice`` fidelity: the whole analog network in ngspice, many images per run, several runs in parallel.

The images are split into one chunk per worker; each chunk becomes one netlist whose inputs step through the
chunk's images (see :mod:`core.spice.netlist`), run by its own ngspice child (:mod:`core.spice.runner`).
"""
from __future__ import annotations

import os
import time
from typing import Optional, Sequence

import numpy as np

from core import jobs
from core.devices import DeviceParams
from core.errors import ParameterError, SimulationError
from core.mapping import MappedNetwork
from core.spice import netlist, runner

MIN_CHUNK = 16  # below this many images per run, process start-up outweighs the parallel gain


def solver_info() -> dict:
    """Installed ngspice: version, KLU support, path and the solver label (see :func:`runner.solver_info`)."""
    return runner.solver_info()


def _klu() -> bool:
    try:
        return runner.solver_info()["klu"]
    except SimulationError:
        return False  # exporting a netlist does not need ngspice installed


def build_netlist_text(mapped: MappedNetwork, X: np.ndarray, g_list: Optional[Sequence[np.ndarray]] = None) -> str:
    """The complete ``.cir`` of the network for inputs ``X`` (N, n_in) in [0, 1]; runs as is with ``ngspice -b``.

    It holds only generated names and numbers: no user or file text.
    """
    g_list = mapped.conductances() if g_list is None else list(g_list)
    text, _ = netlist.network_netlist(mapped, X, g_list, _klu())
    return text


def _chunks(n: int, workers: Optional[int]) -> list[np.ndarray]:
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 1:
        raise ParameterError("workers", f"must be >= 1, got {workers!r}")
    n_chunks = max(1, min(int(workers), -(-n // MIN_CHUNK)))
    return [c for c in np.array_split(np.arange(n), n_chunks) if len(c)]


def _sample(vectors: dict, saves: list[str], n_steps: int) -> tuple[np.ndarray, int]:
    """Each saved vector's value on each input's plateau (its last time point there).

    Returns the (n_steps, len(saves)) values and how many leading inputs have a time point on their plateau
    (all of them for a complete run).
    """
    t = runner.vector(vectors, "time")
    steps = np.arange(n_steps)
    eps = 1e-9
    idx = np.searchsorted(t, steps + netlist.HOLD_S + eps, side="right") - 1
    ok = (idx >= 0) & (t[np.maximum(idx, 0)] >= steps - eps)
    n_done = n_steps if ok.all() else int(np.argmin(ok))
    values = np.stack([runner.vector(vectors, s)[np.maximum(idx, 0)] for s in saves], axis=1)
    return values, n_done


def _batch_job(make_netlist, n: int, workers: Optional[int], timeout_s: Optional[float], on_spawn=None):
    """Run chunks of the n inputs in parallel; a chunk that stops converging is resumed at its first
    unfinished input in a fresh run (Newton at one time point of a long staircase can stall on the
    gap model's stiff sinh with high-gain op-amps while a fresh start at that input converges)."""
    info = runner.solver_info()
    deadline = time.monotonic() + (timeout_s or runner.DEFAULT_TIMEOUT_S)
    pending = _chunks(n, workers)
    out = np.full((n, 0), np.nan)
    used_klu = True
    while pending:
        texts, saves = [], []
        for idx in pending:
            text, saves = make_netlist(idx, info["klu"])
            texts.append(text)
        if out.shape[1] == 0:
            out = np.full((n, len(saves)), np.nan)
        results = yield from runner.run_batch_job(texts, max(deadline - time.monotonic(), 0.0), on_spawn=on_spawn,
                                                  partial_on_nonconvergence=True)
        retry = []
        for idx, (vectors, klu, error) in zip(pending, results):
            used_klu &= klu
            values, n_done = _sample(vectors, saves, len(idx)) if vectors is not None else (None, 0)
            if error is None and n_done < len(idx):
                raise SimulationError("ngspice: the transient run skipped an input step (no time point on it)")
            if n_done == 0:
                raise SimulationError(error)
            out[idx[:n_done]] = values[:n_done]
            if n_done < len(idx):
                retry.append(idx[n_done:])
        pending = retry
    return out, f"ngspice {info['version']} {'klu' if used_klu else 'sparse'}"


def output_voltages_job(mapped: MappedNetwork, X: np.ndarray, g_list: Optional[Sequence[np.ndarray]] = None,
                        workers: Optional[int] = None, timeout_s: Optional[float] = None, on_spawn=None):
    """Job: output voltages (N, n_out) of the network in ngspice and the solver label.

    Parameters
    ----------
    mapped
        The mapped network (its ``circuit.r_wire_ohm`` and ``device.model`` are used).
    X
        Inputs (N, n_in) in [0, 1].
    g_list
        One (rows, cols) conductance array per crossbar (S); default the programmed ones.
    workers
        Parallel ngspice children (default ``os.cpu_count()``).
    timeout_s
        Limit for the whole run (default :data:`runner.DEFAULT_TIMEOUT_S`).
    on_spawn
        Optional callback ``(Popen, workdir)`` for each started child.

    Returns
    -------
    (ndarray (N, n_out), str)
        Output voltages and e.g. ``"ngspice 46 klu"``.
    """
    X = np.asarray(X, dtype=np.float64)
    g_list = mapped.conductances() if g_list is None else list(g_list)
    if X.ndim != 2 or X.shape[1] != mapped.n_inputs or len(X) == 0:
        raise ParameterError("X", f"must be (N >= 1, {mapped.n_inputs}) inputs, got shape {X.shape}")

    def make(idx, klu):
        return netlist.network_netlist(mapped, X[idx], g_list, klu)

    return (yield from _batch_job(make, len(X), workers, timeout_s, on_spawn))


def run_circuit_job(g: np.ndarray, v_rows: np.ndarray, r_wire_ohm: float = 0.0, device: Optional[DeviceParams] = None,
                    workers: Optional[int] = None, timeout_s: Optional[float] = None, on_spawn=None):
    """Job: column currents (N, cols) in A of one crossbar driven by row voltages ``v_rows`` (N, rows).

    Columns end in 0 V ammeters (ideal virtual grounds); wire topology as in :mod:`core.spice.netlist`.
    Returns ``(currents, solver label)``.
    """
    device = device or DeviceParams()
    v_rows = np.atleast_2d(np.asarray(v_rows, dtype=np.float64))

    def make(idx, klu):
        return netlist.crossbar_netlist(g, v_rows[idx], float(r_wire_ohm), device, klu)

    return (yield from _batch_job(make, len(v_rows), workers, timeout_s, on_spawn))


def run_circuit(g: np.ndarray, v_rows: np.ndarray, r_wire_ohm: float = 0.0, device: Optional[DeviceParams] = None,
                workers: Optional[int] = None, timeout_s: Optional[float] = None) -> np.ndarray:
    """Column currents (N, cols) in A of one crossbar (synchronous :func:`run_circuit_job`)."""
    currents, _ = jobs.run(run_circuit_job(g, v_rows, r_wire_ohm, device, workers, timeout_s))
    return currents


def output_voltages(mapped: MappedNetwork, X: np.ndarray, g_list=None, workers: Optional[int] = None) -> np.ndarray:
    """Output voltages (N, n_out) (synchronous :func:`output_voltages_job`)."""
    v, _ = jobs.run(output_voltages_job(mapped, X, g_list, workers))
    return v
