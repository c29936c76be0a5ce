"""Parameters with their default, allowed range and unit declared once, next to the field.

A dataclass field made with :func:`ranged` carries its range in the field's metadata; :func:`validate`
(called from ``__post_init__``) converts and checks every such field, and front ends read the same metadata
with :func:`spec_of` to build their forms, tooltips and messages. So the CLI, the GUI and the core can never
disagree on a default or a range::

    @dataclass
    class TrainConfig:
        epochs: int = ranged(150, 1, 100_000, integer=True, label="epochs")

        def __post_init__(self):
            validate(self)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional

from core.errors import check_range

OPTIONAL = "reram_optional"
_KEY = "reram_range"


@dataclass(frozen=True)
class RangeSpec:
    """The allowed values of one numeric parameter."""

    name: str
    default: float
    lo: Optional[float]
    hi: Optional[float]
    integer: bool = False
    lo_open: bool = False
    unit: str = ""
    label: str = ""
    help: str = ""

    def describe(self) -> str:
        """The allowed range in words, e.g. ``integer in [1, 100000]`` or ``number > 0 (ohm)``."""
        kind = "integer" if self.integer else "number"
        if self.lo is not None and self.hi is not None:
            text = f"{kind} in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}]"
        elif self.lo is not None:
            text = f"{kind} {'>' if self.lo_open else '>='} {self.lo:g}"
        elif self.hi is not None:
            text = f"{kind} <= {self.hi:g}"
        else:
            text = kind
        return f"{text} ({self.unit})" if self.unit else text

    def check(self, value: Any, field: Optional[str] = None) -> float:
        """``value`` converted to int or float; raises ParameterError naming the field and the range."""
        return check_range(field or self.name, value, self.lo, self.hi, integer=self.integer, lo_open=self.lo_open)


def ranged(
    default: float,
    lo: Optional[float] = None,
    hi: Optional[float] = None,
    *,
    integer: bool = False,
    lo_open: bool = False,
    unit: str = "",
    label: str = "",
    help: str = "",
    optional: bool = False,
) -> Any:
    """A dataclass field whose default, range, unit and label live in its metadata (see the module docstring).

    ``optional=True`` marks a field added after the project format's first version: a project file written
    before it existed has no attribute for it, and reading such a file gives the field its default.
    """
    meta: dict[str, Any] = {
        _KEY: dict(lo=lo, hi=hi, integer=integer, lo_open=lo_open, unit=unit, label=label, help=help)
    }
    if optional:
        meta[OPTIONAL] = True
    return dataclasses.field(default=default, metadata=meta)


def is_optional(fld: dataclasses.Field) -> bool:
    """Whether a dataclass field was declared with ``ranged(..., optional=True)``."""
    return bool(fld.metadata.get(OPTIONAL, False))


def spec_of(cls_or_obj: Any, name: str) -> RangeSpec:
    """The :class:`RangeSpec` of field ``name`` of a dataclass (or instance) made with :func:`ranged`."""
    for f in dataclasses.fields(cls_or_obj):
        if f.name == name and _KEY in f.metadata:
            return RangeSpec(name=name, default=f.default, **f.metadata[_KEY])  # type: ignore[arg-type]
    raise KeyError(f"{name!r} is not a ranged field of {getattr(cls_or_obj, '__name__', type(cls_or_obj).__name__)}")


def ranged_fields(cls_or_obj: Any) -> list[RangeSpec]:
    """Every ranged field of a dataclass, in declaration order."""
    return [spec_of(cls_or_obj, f.name) for f in dataclasses.fields(cls_or_obj) if _KEY in f.metadata]


def validate(obj: Any) -> None:
    """Convert and range-check every ranged field of ``obj`` in place (call from ``__post_init__``)."""
    for spec in ranged_fields(obj):
        object.__setattr__(obj, spec.name, spec.check(getattr(obj, spec.name)))
