"""What every command module shares: the result type, progress on stderr, loading a project, defects, saving.

Command modules import only this module (never :mod:`core.cli.main`), so the CLI has no import circle.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from core import project_io
from core.errors import ParameterError, WorkbenchError
from core.jobs import Progress
from core.model.defects import Defect, parse_spec
from core.model.project import Project


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


def load_project(path: str) -> Project:
    """Load a project named on the command line; a missing file is a usage error naming the field."""
    if not os.path.isfile(path):
        raise ParameterError("project", f"file {path!r} does not exist")
    return project_io.load(path)


def defect_args(p) -> None:
    """Add ``--defect`` and ``--scenario`` to a sub-parser."""
    p.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="SPEC",
        help="PATTERN:key=value,... e.g. circle:array=1,cx=0.5,cy=0.5,r=0.3,stuck=on (repeatable)",
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
    out.extend(parse_spec(s) for s in args.defect)
    n_arrays = len(project.require_mapped().arrays)
    for d in out:
        if d.array > n_arrays:
            raise ParameterError("array", f"must be from 1 to {n_arrays} for this network; got {d.array}")
    return out
