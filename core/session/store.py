"""The one way a result enters a project.

Jobs return their results and never write into a project; the CLI calls :func:`store_result` after a job,
the GUI calls it on its own thread when the queue reports a job finished. So one thread writes a project in
memory; writing it to its *file* goes through :mod:`core.session.project_file`, which holds the file's lock and
merges what other processes stored there meanwhile.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Union

from core.errors import ParameterError
from core.model.project import Project
from core.model.results import RecoveryResult, SimulationResult, SweepResult

Result = Union[SimulationResult, SweepResult, RecoveryResult]
RESULT_TYPES = (SimulationResult, SweepResult, RecoveryResult)

# result type -> (project list, id prefix)
_TARGETS = (
    (SimulationResult, "results", "run"),
    (SweepResult, "sweeps", "sweep"),
    (RecoveryResult, "recoveries", "recovery"),
)


def store_result(project: Project, result: Result) -> Result:
    """Append ``result`` to the matching list of ``project`` and give it a free id; returns it.

    A result without an id, or whose id another result of the project already holds, gets the next free
    ``run-0001`` / ``sweep-0001`` / ``recovery-0001``. Storing the same object twice is a no-op.

    Raises
    ------
    ParameterError
        If ``result`` is not a simulation, sweep or recovery result.
    """
    for cls, attr, prefix in _TARGETS:
        if isinstance(result, cls):
            items = getattr(project, attr)
            if any(x is result for x in items):
                return result
            stored: list[Result] = [*project.results, *project.sweeps, *project.recoveries]
            taken = {x.id for x in stored}
            if not result.id or result.id in taken:
                result.id = project.next_id(prefix)
            items.append(result)
            return result
    raise ParameterError("result", f"must be a simulation, sweep or recovery result; got {type(result).__name__}")


def partial_sweep(partial: object) -> Optional[SweepResult]:
    """The partial table a cancelled or failed sweep left behind (marked ``partial``), or None if it has no rows."""
    if isinstance(partial, SweepResult) and partial.rows:
        return dataclasses.replace(partial, partial=True)
    return None
