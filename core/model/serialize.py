"""The one JSON encoding of the workbench: numpy scalars and arrays as plain numbers and lists, NaN as null.

Used by the CLI's ``--json`` output and by the project file for its JSON-valued fields.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def json_default(o: Any) -> Any:
    """``default=`` hook of :func:`json.dumps` for numpy scalars and arrays."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def finite_or_none(o: Any) -> Any:
    """A copy of ``o`` (nested dicts, lists, tuples) with NaN and infinities replaced by None."""
    if isinstance(o, (float, np.floating)) and not math.isfinite(float(o)):
        return None
    if isinstance(o, dict):
        return {k: finite_or_none(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [finite_or_none(v) for v in o]
    if isinstance(o, np.ndarray):
        return finite_or_none(o.tolist())
    return o


def dumps(o: Any, *, strict: bool = False, **kwargs: Any) -> str:
    """JSON text of ``o``; with ``strict`` non-finite numbers become null (standard JSON), else NaN stays NaN."""
    return json.dumps(finite_or_none(o) if strict else o, default=json_default, **kwargs)
