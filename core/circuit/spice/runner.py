"""Running the ``ngspice`` executable as child processes in batch mode and reading its binary raw files.

Each simulation is one child ``ngspice -b -r run.raw run.cir`` in a private temporary directory. A job starts
all its children at once (they run in parallel on the OS's cores while the job only polls them), yields
:class:`core.jobs.Progress` about every 0.1 s and, when closed (cancel) or failing, kills and reaps every
child and removes the directory in its ``finally``. PySpice's own subprocess backend is not used: it cannot
read ngspice >= 39's raw header nor run on numpy 2, and its shared-library backend is not thread-safe.

Children never outlive their purpose: each starts in its own session (so its process group holds ngspice and
anything it starts), on Linux with ``PR_SET_PDEATHSIG(SIGKILL)`` set between fork and exec (so a parent killed
with SIGKILL takes its ngspice children along), and timeouts, cancels and errors kill the whole group. Output
vectors holding NaN or infinity fail the run with a reason instead of being scored.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
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


PROBE_TIMEOUT_S = 10.0  # `ngspice -v` answers in milliseconds; a probe silent this long is hung
PROBE_HUNG_S = 1.0  # a probe cancelled after running this long counts as hung too (and is not repeated)

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Optional[Callable[..., int]]:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


# resolved once in the parent: the pre-exec hook then runs no import and no library lookup after fork
_PRCTL = _load_prctl()


def _die_with_parent(parent_pid: int, mask: set) -> Callable[[], None]:
    """Pre-exec hook: SIGKILL this child when the thread that started it dies (Linux), give up at once if the
    parent already died between fork and prctl (it would then never deliver the signal), and restore the
    signal mask :func:`spawn` blocked."""

    def hook() -> None:
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    return hook


# the signals the CLI turns into KeyboardInterrupt: held back while a child starts, so an interrupt cannot fall
# between the fork and the moment the child is on the caller's list (it would then never be killed)
_DEFERRED = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def spawn(args: Sequence[str], into: Optional[list] = None, **kwargs) -> subprocess.Popen:
    """``Popen`` of a child in its own session and process group, set to die with this process on Linux.

    Stop it with :func:`kill_group`. ``into`` (the caller's list of children) receives it before any interrupt
    can be raised. ``PR_SET_PDEATHSIG`` fires when the *thread* that started the child ends; jobs kill their
    children in ``finally`` before their thread can end, so in practice it acts when the whole process dies.
    """
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED)
    p: Optional[subprocess.Popen] = None
    try:
        p = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid(), mask),
            **kwargs,
        )
        if into is not None:
            into.append(p)
    finally:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a held-back interrupt is raised here
        except BaseException:
            if p is not None and into is None:
                kill_group(p)
            raise
    return p


def kill_group(p: subprocess.Popen) -> None:
    """SIGKILL the child's whole process group (ngspice and anything it started), then reap the child."""
    try:
        os.killpg(p.pid, signal.SIGKILL)  # the child leads its own group: pgid == pid
    except (ProcessLookupError, PermissionError):
        pass
    if p.poll() is None:
        p.kill()
    p.wait()  # reap: no zombie is left behind


# (path, inode, mtime, size) -> (version, klu) or the SimulationError of a failed or hung probe; a reinstalled
# executable is probed afresh
_PROBES: dict[tuple, object] = {}
_PROBING: dict[tuple, threading.Event] = {}
_PROBE_LOCK = threading.Lock()


def _probe_key(path: str) -> tuple:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise SimulationError(f"ngspice: cannot run {path} -v ({exc.strerror}); {INSTALL_HINT}") from None
    return (path, st.st_ino, st.st_mtime_ns, st.st_size)


def _probe_outcome(path: str, rc: Optional[int], text: str, waited_s: float) -> object:
    if rc is None:
        return SimulationError(
            f"ngspice: {path} -v gave no answer within {waited_s:.2g} s (hung); not tried again for this executable"
        )
    m = re.search(r"ngspice-(\d+(?:\.\d+)?)", text)
    if m is None:
        return SimulationError(f"ngspice: {path} -v does not report an ngspice version; {INSTALL_HINT}")
    return m.group(1), "klu" in text.lower()


def _run_probe(path: str, key: tuple, timeout_s: float):
    """Job: run ``path -v`` in its own process group, polling, and cache its outcome under ``key`` (also when
    cancelled after :data:`PROBE_HUNG_S`: it is hung; a cancel before that leaves nothing cached)."""
    t0 = time.monotonic()
    rc: Optional[int] = None
    answered = False  # an exit status, or silence for PROBE_HUNG_S or more: an outcome worth caching
    kids: list[subprocess.Popen] = []
    with tempfile.TemporaryFile() as out:
        try:
            spawn([path, "-v"], kids, stdout=out, stderr=subprocess.STDOUT)
        except OSError as exc:
            _PROBES[key] = SimulationError(f"ngspice: cannot run {path} -v ({exc.strerror or exc}); {INSTALL_HINT}")
            return
        p = kids[0]
        try:
            while time.monotonic() - t0 < timeout_s:
                try:
                    rc = p.wait(timeout=min(POLL_S, timeout_s))
                    break
                except subprocess.TimeoutExpired:
                    yield Progress(0, 1, f"ngspice -v ({time.monotonic() - t0:.1f} s)")
            answered = rc is not None
        finally:
            kill_group(p)
            waited = time.monotonic() - t0
            if answered or waited >= PROBE_HUNG_S:
                out.seek(0)
                text = out.read(1 << 16).decode("latin-1")
                _PROBES[key] = _probe_outcome(path, rc, text, min(waited, timeout_s))


def probe_job(path: str, timeout_s: float = PROBE_TIMEOUT_S):
    """Job: ``(version, klu)`` of the ngspice at ``path``, from ``path -v`` run at most once per executable.

    The probe honours ``timeout_s`` (capped at :data:`PROBE_TIMEOUT_S`) and a cancel at any yield; its outcome,
    success or failure (a hung probe included), is cached, so a broken ngspice costs one probe, not one per map.
    Concurrent callers wait for the one probe in flight.

    Raises
    ------
    SimulationError
        The executable cannot run, does not report a version, or hangs.
    """
    key = _probe_key(path)
    while True:
        with _PROBE_LOCK:
            hit = _PROBES.get(key)
            event = _PROBING.get(key)
            mine = hit is None and event is None
            if mine:
                event = _PROBING[key] = threading.Event()
        if hit is not None:
            break
        assert event is not None
        if mine:
            try:
                yield from _run_probe(path, key, min(max(float(timeout_s), 0.0), PROBE_TIMEOUT_S))
            finally:
                with _PROBE_LOCK:
                    _PROBING.pop(key, None)
                event.set()
            hit = _PROBES.get(key)
            if hit is None:  # the caller's time ran out before a healthy probe could have answered
                raise SimulationError(f"ngspice: timed out after {timeout_s:g} s while running {path} -v")
            break
        event.wait(POLL_S)
        yield Progress(0, 1, "waiting for ngspice -v")
    if isinstance(hit, SimulationError):
        raise SimulationError(str(hit))
    assert isinstance(hit, tuple)
    return hit


def solver_info_job(timeout_s: float = PROBE_TIMEOUT_S):
    """Job: :func:`solver_info` as a job (cancellable while the probe runs)."""
    path = find_ngspice()
    version, klu = yield from probe_job(path, timeout_s)
    return {"path": path, "version": version, "klu": klu, "solver": f"ngspice {version} {'klu' if klu else 'sparse'}"}


def solver_info(timeout_s: float = PROBE_TIMEOUT_S) -> dict:
    """Installed ngspice: ``{"path", "version", "klu", "solver"}`` (detected once per executable, cached).

    ``solver`` reads like ``"ngspice 46 klu"`` or ``"ngspice 39 sparse"``.
    """
    gen = solver_info_job(timeout_s)
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value
    finally:
        gen.close()


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


def check_finite(vectors: dict[str, np.ndarray], k: int = 0) -> None:
    """Raise if any output vector holds NaN or infinity (ngspice can write them without reporting an error).

    Raises
    ------
    SimulationError
        Naming the first such vector and how many of its points are not finite.
    """
    for name, v in vectors.items():
        bad = ~np.isfinite(v)
        if bad.any():
            raise SimulationError(
                f"ngspice run {k}: output vector {name} is not finite (NaN or infinity) at {int(bad.sum())} of "
                f"{v.size} time points; the result is not scored"
            )


def _finite_prefix(vectors: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], int]:
    """A non-converged run's vectors up to its first non-finite time point (what it computed soundly), and the
    number of time points cut."""
    if not vectors:
        return vectors, 0
    n = min(len(v) for v in vectors.values())
    bad = np.zeros(n, dtype=bool)
    for v in vectors.values():
        bad |= ~np.isfinite(v[:n])
    stop = int(np.argmax(bad)) if bad.any() else n
    return {name: v[:stop] for name, v in vectors.items()}, n - stop


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
                spawn(
                    [path, "-b", "-r", f"run{k}.raw", f"run{k}.cir"],
                    procs,
                    cwd=workdir,
                    stdout=log_fh,
                    stderr=subprocess.STDOUT,
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
                        vectors, n_bad = _finite_prefix(parse_raw(fh.read()))
                except (OSError, SimulationError):
                    vectors, n_bad = None, 0
                if n_bad:
                    msg += f"; {n_bad} of its time points are not finite (NaN or infinity) and are not scored"
                if vectors is not None and not any(len(v) for v in vectors.values()):
                    vectors = None  # nothing sound was computed
                results.append((vectors, "using klu" in log.lower(), msg))
                continue
            if not os.path.exists(raw):
                raise SimulationError(f"ngspice run {k}: wrote no raw file; last output: {log.strip()[-300:]}")
            with open(raw, "rb") as fh:
                vectors = parse_raw(fh.read())
            check_finite(vectors, k)
            results.append((vectors, "using klu" in log.lower(), None))
        return results
    finally:
        for p in procs:
            kill_group(p)  # also what ngspice started, and a finished child's leftovers in its group
        shutil.rmtree(workdir, ignore_errors=True)
