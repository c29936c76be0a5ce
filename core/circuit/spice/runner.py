"""Running the ``ngspice`` executable as child processes in batch mode and reading its binary raw files.

Each simulation is one child ``ngspice -b -r run.raw run.cir`` in a private temporary directory. A job starts
all its children at once (they run in parallel on the OS's cores while the job only polls them), yields
:class:`core.jobs.Progress` about every 0.1 s and, when closed (cancel) or failing, kills and reaps every
child and removes the directory in its ``finally``. PySpice's own subprocess backend is not used: it cannot
read ngspice >= 39's raw header nor run on numpy 2, and its shared-library backend is not thread-safe.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Optional

import numpy as np

from core.errors import SimulationError
from core.jobs import Progress

INSTALL_HINT = (
    "install it with `make install` (as root), or `apt-get install ngspice` (on Debian bookworm "
    "`apt-get install -t bookworm-backports ngspice` gives version 46 with the fast KLU solver)"
)
DEFAULT_TIMEOUT_S = 600.0
POLL_S = 0.1

# log messages by which ngspice reports that Newton iterations failed
_NONCONVERGENCE = (
    "timestep too small",
    "no convergence",
    "iteration limit reached",
    "gmin stepping failed",
    "source stepping failed",
    "singular matrix",
)


def find_ngspice() -> str:
    """Path of the ``ngspice`` executable on PATH.

    Raises
    ------
    SimulationError
        If it is not installed, with the command that installs it.
    """
    path = shutil.which("ngspice")
    if path is None:
        raise SimulationError(f"ngspice: executable not found on PATH; {INSTALL_HINT}")
    return path


@functools.lru_cache(maxsize=8)
def _probe(path: str) -> tuple[str, bool]:
    try:
        out = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SimulationError(f"ngspice: cannot run {path} -v ({exc}); {INSTALL_HINT}") from None
    text = out.stdout + out.stderr
    m = re.search(r"ngspice-(\d+(?:\.\d+)?)", text)
    if m is None:
        raise SimulationError(f"ngspice: {path} -v does not report an ngspice version; {INSTALL_HINT}")
    return m.group(1), "klu" in text.lower()


def solver_info() -> dict:
    """Installed ngspice: ``{"path", "version", "klu", "solver"}`` (detected once per executable, cached).

    ``solver`` reads like ``"ngspice 46 klu"`` or ``"ngspice 39 sparse"``.
    """
    path = find_ngspice()
    version, klu = _probe(path)
    return {"path": path, "version": version, "klu": klu, "solver": f"ngspice {version} {'klu' if klu else 'sparse'}"}


def parse_raw(data: bytes) -> dict[str, np.ndarray]:
    """Vectors of the first plot of an ngspice binary raw file, keyed by lower-case name.

    Raises
    ------
    SimulationError
        If the header or the data block is incomplete or not binary.
    """
    marker = data.find(b"Binary:\n")
    if marker < 0:
        raise SimulationError("ngspice: raw file has no binary data block (incomplete or ASCII output)")
    lines = data[:marker].decode("latin-1").splitlines()
    try:
        n_vars = int(next(l for l in lines if l.startswith("No. Variables:")).split(":", 1)[1])
        n_points = int(next(l for l in lines if l.startswith("No. Points:")).split(":", 1)[1])
        flags = next((l for l in lines if l.startswith("Flags:")), "Flags: real").split(":", 1)[1].lower()
        start = lines.index("Variables:") + 1
        names = [lines[start + k].split()[1].lower() for k in range(n_vars)]
    except (StopIteration, ValueError, IndexError):
        raise SimulationError("ngspice: raw file header is unreadable") from None
    dtype = np.dtype("<c16") if "complex" in flags else np.dtype("<f8")
    payload = data[marker + len(b"Binary:\n") :]
    need = n_vars * n_points * dtype.itemsize
    if n_points < 1 or len(payload) < need:
        raise SimulationError(f"ngspice: raw file is truncated ({len(payload)} of {need} data bytes)")
    values = np.frombuffer(payload[:need], dtype=dtype).reshape(n_points, n_vars)
    return {name: values[:, k].copy() for k, name in enumerate(names)}


def vector(vectors: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A vector by name, case-insensitively, accepting both ``i(vx)`` and ``vx#branch`` spellings."""
    key = name.lower()
    candidates = [key]
    m = re.fullmatch(r"i\((\w+)\)", key)
    if m:
        candidates.append(f"{m.group(1)}#branch")
    m = re.fullmatch(r"v\((\w+)\)", key)
    if m:
        candidates.append(m.group(1))
    for c in candidates:
        if c in vectors:
            return vectors[c]
    raise SimulationError(f"ngspice: vector {name} missing from the raw file")


def _failure(rc: int, log: str, k: int) -> tuple[Optional[str], bool]:
    """(message, is_nonconvergence) for a finished run, or (None, False) if it succeeded."""
    low = log.lower()
    for pattern in _NONCONVERGENCE:
        if pattern in low:
            return (
                f"ngspice run {k}: the circuit did not converge ({pattern}); check for extreme conductances "
                "or gains (opamp_gain, r_tia) or lower v_read_volt for the gap model",
                True,
            )
    if rc < 0:
        return f"ngspice run {k}: crashed (killed by signal {-rc})", False
    if rc != 0:
        errs = [l.strip() for l in log.splitlines() if "error" in l.lower()][:3]
        return f"ngspice run {k}: failed with exit code {rc}" + (f": {'; '.join(errs)}" if errs else ""), False
    return None, False


def run_batch_job(
    netlists: Sequence[str],
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_spawn: Optional[Callable[[subprocess.Popen, str], None]] = None,
    partial_on_nonconvergence: bool = False,
):
    """Job: run every netlist text in its own ngspice child, all in parallel.

    Parameters
    ----------
    netlists
        Complete netlist texts (generated by :mod:`core.circuit.spice.netlist`, never user text).
    timeout_s
        Wall-clock limit for the whole batch; exceeding it kills every child.
    on_spawn
        Called with each started ``Popen`` and the temporary directory (tests use it to check clean-up).
    partial_on_nonconvergence
        Instead of raising when a run does not converge, return what it wrote before it stopped.

    Returns
    -------
    list of (vectors dict or None, used_klu bool, error message or None), one per netlist, in order; the
    error is set only for a non-converged run with ``partial_on_nonconvergence``.

    Raises
    ------
    SimulationError
        Missing ngspice, timeout, non-convergence, crash or unreadable raw file.
    """
    path = find_ngspice()
    workdir = tempfile.mkdtemp(prefix="reram-ngspice-")
    procs: list[subprocess.Popen] = []
    try:
        for k, text in enumerate(netlists):
            cir = os.path.join(workdir, f"run{k}.cir")
            with open(cir, "w", encoding="ascii") as fh:
                fh.write(text)
            with open(os.path.join(workdir, f"run{k}.log"), "wb") as log_fh:
                procs.append(
                    subprocess.Popen(
                        [path, "-b", "-r", f"run{k}.raw", f"run{k}.cir"],
                        cwd=workdir,
                        stdin=subprocess.DEVNULL,
                        stdout=log_fh,
                        stderr=subprocess.STDOUT,
                    )
                )
            if on_spawn is not None:
                on_spawn(procs[-1], workdir)
        t0 = time.monotonic()
        n = len(procs)
        while True:
            pending = [p for p in procs if p.poll() is None]
            elapsed = time.monotonic() - t0
            yield Progress(n - len(pending), n, f"ngspice: {n - len(pending)} of {n} runs done ({elapsed:.1f} s)")
            if not pending:
                break
            if elapsed > timeout_s:
                raise SimulationError(
                    f"ngspice: timed out after {timeout_s:g} s (timeout_s); raise the timeout or simulate fewer images"
                )
            try:
                pending[0].wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                pass
        results: list[tuple[Optional[dict[str, np.ndarray]], bool, Optional[str]]] = []
        for k, p in enumerate(procs):
            with open(os.path.join(workdir, f"run{k}.log"), "rb") as fh:
                log = fh.read().decode("latin-1")
            msg, nonconverged = _failure(p.returncode, log, k)
            raw = os.path.join(workdir, f"run{k}.raw")
            if msg is not None:
                if not (nonconverged and partial_on_nonconvergence):
                    raise SimulationError(msg)
                try:
                    with open(raw, "rb") as fh:
                        vectors = parse_raw(fh.read())
                except (OSError, SimulationError):
                    vectors = None
                results.append((vectors, "using klu" in log.lower(), msg))
                continue
            if not os.path.exists(raw):
                raise SimulationError(f"ngspice run {k}: wrote no raw file; last output: {log.strip()[-300:]}")
            with open(raw, "rb") as fh:
                vectors = parse_raw(fh.read())
            results.append((vectors, "using klu" in log.lower(), None))
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()  # reap: no zombie is left behind
        shutil.rmtree(workdir, ignore_errors=True)
