"""What every command module shares: the result type, progress on stderr, loading a project, defects, saving.

Command modules import only this module (never :mod:`core.cli.main`), so the CLI has no import circle.
"""

from __future__ import annotations

import os
import sys
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from core import jobs, project_io
from core.errors import ParameterError, SimulationError, WorkbenchError, check_range
from core.jobs import CancelToken, Progress
from core.model.defects import Defect, parse_spec
from core.model.floorplan import die_defects, parse_die_spec
from core.model.opamp import OpAmpParams, parse_quantity
from core.model.project import Project
from core.model.variability import DeviceVariability
from core.session import project_file


@dataclass
class CommandResult:
    """What a command returns: the JSON object and the human-readable text."""

    data: dict
    text: str = ""
    exit_code: int = 0


class CliUsageError(WorkbenchError):
    """Bad command-line input."""


def progress_printer(enabled: bool) -> Optional[Callable[[Progress], None]]:
    """A progress callback that writes one updating line to stderr (only when stderr is a terminal)."""
    if not enabled or not sys.stderr.isatty():
        return None

    def show(p: Progress) -> None:
        sys.stderr.write(f"\r[{p.fraction * 100:5.1f}%] {p.message[:100]:<100}")
        sys.stderr.flush()
        if p.done >= p.total:
            sys.stderr.write("\n")

    return show


MAX_TIMEOUT_S = 1e6
MAX_SHOWN_CHARS = 200  # of one name or spec from a file in text output


def _escape_char(c: str) -> str:
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def terminal_safe(value, limit: int = MAX_SHOWN_CHARS):
    """``value`` (strings inside dicts and lists too) fit for a terminal: control characters (escape sequences,
    newlines, carriage returns, bidirectional overrides) shown as ``\\x1b``-style escapes, each string cut to
    ``limit`` characters with its length noted, as ``--json`` escapes them."""
    if isinstance(value, str):
        text = "".join(
            _escape_char(c) if (c.isprintable() is False and c != " ") or unicodedata.category(c) == "Cf" else c
            for c in value[: limit + 1]
        )
        if len(value) > limit:
            text = text[:limit] + f"... ({len(value):,} characters)"
        return text
    if isinstance(value, dict):
        return {k: terminal_safe(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [terminal_safe(v, limit) for v in value]
    return value


def timeout_arg(p, what: str = "the whole command") -> None:
    """Add ``--timeout SECONDS`` (a wall-clock limit, see :class:`Deadline`) to a sub-parser."""
    p.add_argument(
        "--timeout",
        default=None,
        metavar="SECONDS",
        help=f"wall-clock limit in seconds for {what}; running ngspice children are killed when it passes",
    )


def parse_timeout(text, field: str = "timeout") -> Optional[float]:
    """``--timeout`` as seconds (None if not given): a finite number in (0, 1e6]."""
    if text is None:
        return None
    try:
        value = float(str(text).strip())
    except ValueError:
        raise ParameterError(field, f"must be a number of seconds in (0, {MAX_TIMEOUT_S:g}]; got {text!r}") from None
    return check_range(field, value, 0.0, MAX_TIMEOUT_S, lo_open=True)


class Deadline(CancelToken):
    """A cancel token that also fires when ``timeout_s`` seconds have passed since it was made.

    Jobs poll their token at every yield (the ngspice runner about every 0.1 s), so a command stops within a
    fraction of a second of its deadline, its ``finally`` blocks killing the children.
    """

    def __init__(self, timeout_s: Optional[float]):
        super().__init__()
        self.timeout_s = timeout_s
        self.deadline = None if timeout_s is None else time.monotonic() + timeout_s

    @property
    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    @property
    def cancelled(self) -> bool:
        return super().cancelled or self.expired


def run_job(job, args, deadline: Optional[Deadline] = None):
    """Drive a command's job with progress on stderr and the ``--timeout`` deadline (one per command).

    Raises
    ------
    SimulationError
        When the deadline passed, naming ``--timeout``.
    """
    if deadline is None:
        deadline = Deadline(parse_timeout(getattr(args, "timeout", None)))
    try:
        return jobs.run(
            job, on_progress=progress_printer(not getattr(args, "quiet", False)), cancel=deadline, min_interval_s=0.2
        )
    except jobs.Cancelled as c:
        if isinstance(c, jobs.Interrupted) or not deadline.expired:
            raise
        raise SimulationError(
            f"timeout: not finished within --timeout {deadline.timeout_s:g} s; stopped (ngspice children killed)"
        ) from None


def load_project(path: str) -> Project:
    """Load a project named on the command line (probed in a child process first, see
    :func:`core.project_io.open_project`); a missing file is a usage error naming the field. Integrity warnings
    go to stderr, one line each."""
    return open_for_store(path, save=False).project


def open_for_store(path: str, save: bool) -> project_io.Opened:
    """Open a project a command will store results into when ``save`` (then it must load without integrity
    warnings: :class:`core.session.project_file.ProjectWarningsError`); store with
    :func:`core.session.project_file.store_results`, which merges what other writers stored meanwhile."""
    if not os.path.isfile(path):
        raise ParameterError("project", f"file {path!r} does not exist")
    if save:
        return project_file.open_for_update(path)
    opened = project_io.open_project(path)
    for w in opened.warnings:
        print(f"reram-workbench: warning: {_printable(w)}", file=sys.stderr)
    return opened


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in " ".join(str(text).split()))[:400]


def defect_args(p) -> None:
    """Add ``--defect`` and ``--scenario`` to a sub-parser."""
    p.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="SPEC",
        help="PATTERN:key=value,... e.g. circle:array=1,cx=0.5,cy=0.5,r=0.3,stuck=on, or on the die "
        "die:pattern=circle,cx_um=300,cy_um=20,r_um=50,stuck=on (repeatable)",
    )
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="a defect scenario stored in the project (repeatable)",
    )


def collect_defects(project: Project, args) -> list[Defect]:
    """Defects from --scenario names (in the project) followed by --defect specs."""
    out: list[Defect] = []
    for name in args.scenario:
        if name not in project.scenarios:
            known = ", ".join(sorted(project.scenarios)) or "none"
            raise ParameterError("scenario", f"{name!r} is not in the project (known: {known})")
        out.extend(project.scenarios[name].defects)
    for s in args.defect:
        if s.strip().lower().startswith("die:"):  # a cluster on the die: one defect per array under it
            out.extend(die_defects(project.require_mapped(), parse_die_spec(s)))
        else:
            out.append(parse_spec(s))
    n_arrays = len(project.require_mapped().arrays)
    for d in out:
        if d.array > n_arrays:
            raise ParameterError("array", f"must be from 1 to {n_arrays} for this network; got {d.array}")
    return out


def opamp_args(p, sweep: bool = False) -> None:
    """Add the op-amp non-ideality options (:class:`core.model.opamp.OpAmpParams`) to a sub-parser.

    Values take SPICE-style suffixes (``0.5m`` = 0.5e-3, ``20n``, ``1k``). For ``sweep`` the offset sigma is a
    comma-separated list (the sweep's offset axis) and the offset seed comes from each Monte-Carlo seed.
    """
    if sweep:
        p.add_argument(
            "--offset-sigma",
            default=None,
            help="op-amp input offset sigmas in volts to sweep, comma-separated, e.g. 0,0.5m,1m,2m,5m; every "
            "Monte-Carlo seed draws a placement and a set of offsets",
        )
    else:
        p.add_argument("--offset-sigma", default=None, help="op-amp input offset sigma in volts, e.g. 1m (default 0)")
        p.add_argument("--offset-seed", default=None, help="seed of the sampled op-amp offsets (default 0)")
        p.add_argument("--gbw", default=None, help="op-amp gain-bandwidth in Hz, e.g. 10meg (spice only; default none)")
        p.add_argument("--slew", default=None, help="op-amp slew rate in V/s, e.g. 10meg (spice only, needs --gbw)")
    p.add_argument("--bias-current", default=None, help="op-amp input bias current in amperes, e.g. 10n (default 0)")
    p.add_argument("--swing-margin", default=None, help="op-amp output swing below each rail in volts (default 0)")
    p.add_argument("--r-out", default=None, help="op-amp output resistance in ohm, e.g. 100 (default 0)")


def opamp_from_args(args) -> Optional[OpAmpParams]:
    """The :class:`OpAmpParams` the options of :func:`opamp_args` ask for, or None if none was given."""
    fields = {
        "offset_sigma_volt": ("offset_sigma", "offset-sigma", "v"),
        "bias_current_amp": ("bias_current", "bias-current", "a"),
        "swing_margin_volt": ("swing_margin", "swing-margin", "v"),
        "r_out_ohm": ("r_out", "r-out", "ohm"),
        "gbw_hz": ("gbw", "gbw", "hz"),
        "slew_volt_per_s": ("slew", "slew", "v/s"),
    }
    values: dict = {}
    for name, (attr, flag, unit) in fields.items():
        text = getattr(args, attr, None)
        if text is not None and not (name == "offset_sigma_volt" and "," in str(text)):
            values[name] = parse_quantity(text, flag, unit)
    seed = getattr(args, "offset_seed", None)
    if seed is not None:
        try:
            values["offset_seed"] = int(str(seed).strip())
        except ValueError:
            raise ParameterError("offset-seed", f"must be an integer; got {seed!r}") from None
    if not values:
        return None
    try:
        return OpAmpParams(**values)
    except ParameterError as e:  # name the command-line flag rather than the field
        flags = {k: v[1] for k, v in fields.items()} | {"offset_seed": "offset-seed"}
        raise ParameterError(flags.get(e.field, e.field), str(e).split(": ", 1)[-1]) from None


# flag -> (DeviceVariability field, unit suffix parse_quantity strips)
_VARIABILITY_FLAGS = {
    "program-sigma": ("program_sigma", ""),
    "read-noise": ("read_noise_sigma", ""),
    "drift-nu": ("drift_nu", ""),
    "drift-time": ("drift_time_s", "s"),
    "drift-t0": ("drift_t0_s", "s"),
    "r-stuck-on": ("r_stuck_on_ohm", "ohm"),
    "r-stuck-off": ("r_stuck_off_ohm", "ohm"),
}


def variability_args(p, sweep: bool = False) -> None:
    """Add the device-variability options (:class:`core.model.variability.DeviceVariability`) to a sub-parser."""
    p.add_argument("--program-sigma", default=None, help="programming error: sigma of ln G, e.g. 0.05 (default 0)")
    p.add_argument("--read-noise", default=None, help="read noise: relative sigma per read, e.g. 0.01 (default 0)")
    p.add_argument("--drift-nu", default=None, help="drift exponent nu of G(t) = G0 (t/t0)^-nu (default 0)")
    p.add_argument("--drift-time", default=None, help="drift time t in seconds, e.g. 3600 (default 1 = t0)")
    p.add_argument("--drift-t0", default=None, help="drift reference time t0 in seconds (default 1)")
    p.add_argument("--r-stuck-on", default=None, help="resistance of stuck-on cells, e.g. 1k (default: the LRS)")
    p.add_argument("--r-stuck-off", default=None, help="resistance of stuck-off cells, e.g. 1g (default: the HRS)")
    if not sweep:
        p.add_argument("--variability-seed", default=None, help="seed of the variability sample (default 0)")


def variability_from_args(args) -> Optional[DeviceVariability]:
    """The :class:`DeviceVariability` the options of :func:`variability_args` ask for, or None if none was given."""
    values: dict = {}
    for flag, (name, unit) in _VARIABILITY_FLAGS.items():
        text = getattr(args, flag.replace("-", "_"), None)
        if text is not None:
            values[name] = parse_quantity(text, flag, unit)
    seed = getattr(args, "variability_seed", None)
    if seed is not None:
        try:
            values["seed"] = int(str(seed).strip())
        except ValueError:
            raise ParameterError("variability-seed", f"must be an integer; got {seed!r}") from None
    if not values:
        return None
    try:
        return DeviceVariability(**values)
    except ParameterError as e:  # name the command-line flag rather than the field
        flags = {v[0]: k for k, v in _VARIABILITY_FLAGS.items()} | {"seed": "variability-seed"}
        raise ParameterError(flags.get(e.field, e.field), str(e).split(": ", 1)[-1]) from None
