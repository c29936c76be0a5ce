"""Exception types shared by the core.

Every error a user can cause carries a message that names the offending field and what is allowed, so
front ends (CLI, GUI) can show it as one line without a traceback.
"""

import math


class WorkbenchError(Exception):
    """Base class for errors caused by user input or files; front ends show ``str(err)`` as is."""


class ParameterError(WorkbenchError, ValueError):
    """A parameter is out of its allowed range or has the wrong type."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class DataError(WorkbenchError, ValueError):
    """A dataset file is missing, malformed or inconsistent."""


class DefectSpecError(WorkbenchError, ValueError):
    """A defect specification string or object is invalid."""


class ProjectFormatError(WorkbenchError):
    """A project file is unreadable, damaged, from a newer version or violates the schema.

    The message names the HDF5 path of the problem.
    """

    def __init__(self, path: str, message: str):
        self.hdf5_path = path
        self.reason = message  # the message without the HDF5 path (a front end may name the file instead)
        super().__init__(f"{path}: {message}")


class ProjectSaveError(WorkbenchError, OSError):
    """A project could not be written (unwritable folder, disk full, unsupported content); nothing was lost."""


class SimulationError(WorkbenchError, RuntimeError):
    """A circuit simulation failed (ngspice missing, non-convergence, crash, unreadable output)."""


def describe_error(err: BaseException, limit: int = 300) -> str:
    """One line for a failure: the message of a :class:`WorkbenchError`, else ``Type: message``.

    The one error-to-text function of the workbench (queue rows, sweep failures, CLI, GUI dialogs).
    """
    text = str(err) if isinstance(err, WorkbenchError) else f"{type(err).__name__}: {err}"
    return " ".join(text.split())[:limit] or type(err).__name__


def check_range(field: str, value, lo=None, hi=None, *, integer: bool = False, lo_open: bool = False):
    """Validate a scalar parameter and return it converted to int or float.

    Raises
    ------
    ParameterError
        Naming ``field`` and the allowed range.
    """
    rng = _describe_range(lo, hi, lo_open)
    v: int | float
    try:
        if integer:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            v = int(value)
        else:
            v = float(value)
    except (TypeError, ValueError):
        kind = "an integer" if integer else "a number"
        raise ParameterError(field, f"must be {kind} {rng}, got {value!r}") from None
    if not integer and not math.isfinite(v):
        raise ParameterError(field, f"must be a finite number {rng}, got {value!r}")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise ParameterError(field, f"must be {rng}, got {value!r}")
    if hi is not None and v > hi:
        raise ParameterError(field, f"must be {rng}, got {value!r}")
    return v


def _describe_range(lo, hi, lo_open) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}]"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"<= {hi:g}"
    return ""
