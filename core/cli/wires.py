"""The wire options every circuit command shares: ``--r-wl``, ``--r-bl``, ``--r-driver``, ``--r-tia-in``.

They set the :class:`~core.model.devices.CircuitParams` wire fields beside ``--r-wire`` (which keeps meaning "both
lines"): a line given its own value ignores ``--r-wire``. Ranges come from the dataclass fields.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from core.errors import ParameterError
from core.model.devices import CircuitParams
from core.model.params import spec_of

# flag -> CircuitParams field
WIRE_FLAGS = {
    "r-wl": "r_word_line_ohm",
    "r-bl": "r_bit_line_ohm",
    "r-driver": "r_driver_ohm",
    "r-tia-in": "r_tia_in_ohm",
}
_HELP = {
    "r-wl": "word-line segment resistance per cell in ohm (default: --r-wire)",
    "r-bl": "bit-line segment resistance per cell in ohm (default: --r-wire)",
    "r-driver": "row-driver output resistance in ohm, before each word line's first segment (default 0)",
    "r-tia-in": "TIA input resistance in ohm, after each bit line's last segment (default 0)",
}


def wire_args(p) -> None:
    """Add the four wire options to a sub-parser (nodal and spice fidelities; behavioural ignores wires)."""
    for flag, name in WIRE_FLAGS.items():
        p.add_argument(
            f"--{flag}", type=float, default=None, help=f"{_HELP[flag]}; {spec_of(CircuitParams, name).describe()}"
        )


def wire_overrides(args) -> dict:
    """The wire fields the options ask for (``{}`` if none was given)."""
    return {
        name: getattr(args, flag.replace("-", "_"))
        for flag, name in WIRE_FLAGS.items()
        if getattr(args, flag.replace("-", "_"), None) is not None
    }


def with_wire_args(circuit: CircuitParams, args, r_wire_ohm: Optional[float] = None) -> CircuitParams:
    """``circuit`` with the wire options (and ``r_wire_ohm`` if given) applied; errors name the flag."""
    changes = wire_overrides(args)
    try:
        return circuit.with_wires(r_wire_ohm=r_wire_ohm, **changes)
    except ParameterError as e:
        flag = {v: k for k, v in WIRE_FLAGS.items()}.get(e.field, e.field)
        raise ParameterError(flag, str(e).split(": ", 1)[-1]) from None


def project_with_wires(project, args):
    """``project`` itself, or a view whose mapped network carries the wire options (for evaluate and sweep)."""
    if not wire_overrides(args):
        return project
    mapped = project.require_mapped()
    return dataclasses.replace(project, mapped=mapped_with_wires(mapped, args))


def mapped_with_wires(mapped, args):
    """A mapped network with the wire options applied to its circuit."""
    if not wire_overrides(args):
        return mapped
    return dataclasses.replace(mapped, circuit=with_wire_args(mapped.circuit, args))
