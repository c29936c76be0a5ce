"""Opening files from elsewhere: read them first in a short-lived child process with memory and time limits.

A few structurally damaged files (object headers or free-space nodes changed, checksums fixed up) make libhdf5
itself crash (SIGSEGV, "double free or corruption"), and valid files can ask for gigabytes or minutes. Python
cannot catch either, so :func:`open_project` first runs the very same reader (:func:`core.project_io.loader.read`)
in a child process (``python -m core.project_io.probe FILE``) with an address-space limit, a CPU-time limit and a
wall-clock timeout. Only when the child read the file cleanly does the caller read it itself. A crash, a limit
or a timeout there is a :class:`core.errors.ProjectFormatError` ("damaged file ...") like any other refusal, so
the CLI prints one line and exits 2 and the GUI shows a message with the open project kept.

The child reports one JSON line on stdout; nothing from the file is executed or unpickled on either side.
Its cost is a Python start-up with h5py plus one read (about 0.3 s for the example project: see
``tests/test_project_hardening.py``).
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from core.errors import ProjectFormatError
from core.model.project import Project
from core.project_io.loader import read

PROBE_MEMORY_BYTES = 3 * 2**30  # address space the child may add to its start-up size
PROBE_CPU_S = 60  # CPU seconds of the child
PROBE_WALL_S = 90.0  # wall-clock seconds before the child is killed
_CHILD = "import sys; from core.project_io.probe import _child; sys.exit(_child(*sys.argv[1:]))"
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass(frozen=True)
class FileStamp:
    """What identifies the bytes of a file on disk: a save replaces the file, so the inode changes too."""

    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str) -> FileStamp:
        st = os.stat(path)
        return cls(st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class Opened:
    """A project opened from ``path``: the file's stamp at reading time and integrity warnings (see
    :mod:`core.project_io.integrity`); a front end must not save over ``path`` by itself when there are any."""

    project: Project
    path: str
    stamp: FileStamp
    warnings: list[str] = field(default_factory=list)


def open_project(path: str, probe: bool = True) -> Opened:
    """Open a project file that may come from anywhere: probe it in a child process, then read it here.

    The one open path of the front ends (CLI commands, GUI Open, Open Recent, drag and drop).

    Raises
    ------
    ProjectFormatError
        As :func:`core.project_io.loader.load`, and "damaged file" when the probe crashed, ran out of its
        memory or time, or the file changed while it was being opened.
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise ProjectFormatError("/", f"cannot open {path!r}: no such file")
    for _attempt in range(3):  # another writer may replace the file meanwhile: then read its new version
        before = FileStamp.of(path)
        if probe:
            probe_file(path)
        loaded = read(path)
        if FileStamp.of(path) == before:
            return Opened(loaded.project, path, before, loaded.warnings)
    raise ProjectFormatError("/", f"{path!r} kept changing on disk while it was being opened; try again")


def probe_file(
    path: str, memory_bytes: int = PROBE_MEMORY_BYTES, cpu_s: int = PROBE_CPU_S, wall_s: float = PROBE_WALL_S
) -> list[str]:
    """Read ``path`` in a child process under limits; its integrity warnings, or ProjectFormatError.

    A caller without other Python threads and without Qt (the CLI) forks: the child has every module imported
    already, so the probe costs about one read. Otherwise (the GUI, whose Qt and job threads could hold locks at
    fork time) a fresh interpreter is started.
    """
    name = os.path.basename(path)
    try:
        if _single_threaded():
            code, out = _run_forked(path, memory_bytes, cpu_s, wall_s)
        else:
            code, out = _run_fresh(path, memory_bytes, cpu_s, wall_s)
    except subprocess.TimeoutExpired:
        raise ProjectFormatError(
            "/", f"damaged file: reading {name} took longer than {wall_s:g} s (the read was stopped)"
        ) from None
    except OSError as e:
        raise ProjectFormatError("/", f"cannot check {name}: the checking process did not start ({e})") from None
    report = _report(out)
    if code == 0 and report.get("ok") is True:
        return [str(w) for w in report.get("warnings", [])]
    if code == 2 and isinstance(report.get("error"), str):
        raise ProjectFormatError(str(report.get("where", "/")), str(report["error"])[:4000])
    raise ProjectFormatError("/", f"damaged file: {_death(code, report, memory_bytes, cpu_s)}")


def _single_threaded() -> bool:
    """True when forking is safe: no other Python thread (one could hold h5py's lock) and no Qt in the process.

    Native pool threads (OpenBLAS starts one per core at numpy's import) hold no lock the child needs: glibc's
    fork handlers reset malloc's, and the child only reads one file and leaves with ``os._exit``.
    """
    return (
        sys.platform.startswith("linux")
        and threading.active_count() == 1
        and threading.current_thread() is threading.main_thread()
        and "PySide6" not in sys.modules
    )


def _run_fresh(path: str, memory_bytes: int, cpu_s: int, wall_s: float) -> tuple[int, bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([_ROOT, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        # one thread per library: fewer address-space reservations, and nothing competes with the caller
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
        "HDF5_USE_FILE_LOCKING": "FALSE",
    }
    cmd = [sys.executable, "-c", _CHILD, path, str(int(memory_bytes)), str(int(cpu_s))]
    child = subprocess.run(
        cmd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=wall_s,
        cwd=_ROOT,
        start_new_session=True,  # a Ctrl-C in the terminal reaches the caller, which then ends the child
    )
    return child.returncode, child.stdout


def _run_forked(path: str, memory_bytes: int, cpu_s: int, wall_s: float) -> tuple[int, bytes]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code, never runs its atexit handlers
        code = 4
        try:
            os.close(r)
            os.dup2(w, 1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)  # HDF5's error stack and glibc's "double free" go nowhere
            code = _child(path, str(memory_bytes), str(cpu_s))
        except BaseException:  # noqa: BLE001 - anything unexpected is exit code 4
            pass
        finally:
            os._exit(code)
    os.close(w)
    chunks: list[bytes] = []
    deadline = time.monotonic() + wall_s
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired("probe", wall_s)
            ready, _, _ = select.select([r], [], [], min(left, 1.0))
            if ready:
                data = os.read(r, 65536)
                if not data:
                    break
                chunks.append(data)
        while True:  # the pipe closed: the child is exiting
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status), b"".join(chunks)
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired("probe", wall_s)
            time.sleep(0.005)
    except BaseException:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ChildProcessError, ProcessLookupError):
            pass
        raise
    finally:
        os.close(r)


def _report(stdout: bytes) -> dict:
    lines = stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        value = json.loads(lines[-1]) if lines else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _death(code: int, report: dict, memory_bytes: int, cpu_s: int) -> str:
    if report.get("memory"):
        return f"reading it needs more than {memory_bytes / 2**30:g} GiB of memory"
    if code < 0:
        sig = -code
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            return f"reading it takes more than {cpu_s} s of CPU time (or it was killed)"
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"the HDF5 library crashed reading it ({name})"
    return f"the checking process failed (exit code {code})"


def _emit(report: dict) -> None:
    """The child's one report line, written to file descriptor 1 itself: ``sys.stdout`` may be something else
    (pytest's capture, an embedding application), which the parent would never see."""
    data = (json.dumps(report) + "\n").encode()
    while data:
        data = data[os.write(1, data) :]


def _child(path: str, memory: str, cpu: str) -> int:
    """The child's side: limits, one read, one JSON line; exit 0 (read), 2 (refused) or 3 (out of memory)."""
    memory_bytes, cpu_s = int(memory), int(cpu)
    with open("/proc/self/statm") as fh:  # start-up size: the limit is on what reading the file adds
        vm_bytes = int(fh.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (vm_bytes + memory_bytes, vm_bytes + memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # crashes are expected here: no core dumps
    try:
        loaded = read(path)
    except ProjectFormatError as e:
        text, prefix = str(e), f"{e.hdf5_path}: "
        message = text[len(prefix) :] if text.startswith(prefix) else text
        _emit({"ok": False, "where": e.hdf5_path, "error": message})
        return 2
    except MemoryError:
        _emit({"ok": False, "memory": True})
        return 3
    _emit({"ok": True, "warnings": loaded.warnings})
    return 0
