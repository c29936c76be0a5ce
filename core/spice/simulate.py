"""The ``spice`` fidelity: the whole analog network in ngspice, many images per run, several runs in parallel.

The images are split into one chunk per worker; each chunk becomes one netlist whose inputs step through the
chunk's images (see :mod:`core.spice.netlist`), run by its own ngspice child (:mod:`core.spice.runner`).
"""
from __future__ import annotations

import os
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
    workers = os.cpu_count() or 1 if workers is None else workers
    if workers < 1:
        raise ParameterError("workers", f"must be >= 1, got {workers!r}")
    n_chunks = max(1, min(int(workers), -(-n // MIN_CHUNK)))
    return [c for c in np.array_split(np.arange(n), n_chunks) if len(c)]


def _sample(vectors: dict, saves: list[str], n_steps: int) -> np.ndarray:
    """The value of each saved vector on each input's plateau (the last time point on it)."""
    t = runner.vector(vectors, "time")
    # index of the last time point <= k + HOLD_S, for each k; it must not lie before k
    eps = 1e-9
    idx = np.searchsorted(t, np.arange(n_steps) + netlist.HOLD_S + eps, side="right") - 1
    if np.any(idx < 0) or np.any(t[np.maximum(idx, 0)] < np.arange(n_steps) - eps):
        raise SimulationError("ngspice: the transient run stopped early or skipped an input step "
                              "(raw file has no time point on some plateau)")
    return np.stack([runner.vector(vectors, s)[idx] for s in saves], axis=1)


def _batch_job(make_netlist, n: int, workers: Optional[int], timeout_s: Optional[float], on_spawn=None):
    klu = runner.solver_info()["klu"]
    chunks = _chunks(n, workers)
    texts, saves = [], None
    for idx in chunks:
        text, saves = make_netlist(idx, klu)
        texts.append(text)
    results = yield from runner.run_batch_job(texts, timeout_s or runner.DEFAULT_TIMEOUT_S, on_spawn=on_spawn)
    out = np.empty((n, len(saves)))
    for idx, (vectors, _) in zip(chunks, results):
        out[idx] = _sample(vectors, saves, len(idx))
    info = runner.solver_info()
    used_klu = all(k for _, k in results)
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
