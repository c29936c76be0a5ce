"""The op-amp macro-model as ngspice elements: B-source gain stage with clamp, offset, bias, R_o, pole and slew.

One op-amp ``name`` with output node ``out``, non-inverting input ``plus`` (None: ground) and inverting input
``minus`` (parameters: :mod:`core.model.opamp`):

* ideal DC (the default): ``B{name} out 0 V = max(min(A (v(plus) - v(minus)), E), -E)``, exactly the element
  the netlists always had (``E = v_rail``), so default netlists are unchanged to the character;
* offset ``V_os != 0``: a voltage source ``Vos{name} q{name} plus V_os`` in series with the non-inverting
  input, and the gain stage reads ``v(q{name})``;
* bias current ``I_b != 0``: ``Iib{name} minus 0 I_b`` draws ``I_b`` out of the inverting input;
* swing: ``E = v_rail - swing_margin``;
* ``R_o > 0``: the gain stage drives an internal node ``e{name}`` and ``Rro{name} e{name} out R_o`` follows;
* ``gbw_hz > 0`` (SPICE only): a dominant pole. The gain ``A (v+ + V_os - v-)`` charges ``C = 1 / (2 pi f_p)``
  at node ``y{name}`` through 1 ohm (``f_p = gbw / A``), i.e. ``Bp{name} 0 y I = A (v+ - v-) - v(y)``, and the
  output stage is ``clamp(v(y), -E, E)``. With ``slew_volt_per_s > 0`` that charging current is limited to
  ``+-C SR``, so the output slews at most at ``SR``. At DC ``v(y) = A (v+ - v-)`` exactly, so the clamped output
  is the DC model's: no DC value changes. The pole node is not clamped, so a saturated op-amp winds up and takes
  a while to recover, as real ones do (the clamp inside the charging path would instead cap every slope at
  ``E / (R C)``, a slew of a few hundred V/s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from core.errors import ParameterError
from core.model.devices import CircuitParams
from core.model.opamp import OpAmpParams


def num(x, field: str = "value") -> str:
    """A finite number as SPICE text (exact round trip)."""
    v = float(x)
    if not math.isfinite(v):
        raise ParameterError(field, f"must be a finite number to enter a netlist, got {x!r}")
    return repr(v)


@dataclass(frozen=True)
class OpAmpMacro:
    """The numbers every op-amp of a netlist shares."""

    a: float
    e_sat: float
    r_o: float = 0.0
    i_b: float = 0.0
    gbw_hz: float = 0.0
    slew_volt_per_s: float = 0.0

    @classmethod
    def of(cls, circuit: CircuitParams, opamp: OpAmpParams) -> OpAmpMacro:
        if opamp.slew_volt_per_s > 0 and opamp.gbw_hz <= 0:
            raise ParameterError("slew_volt_per_s", "a slew limit needs a dominant pole: set gbw_hz too")
        return cls(
            circuit.opamp_gain,
            opamp.v_sat(circuit.v_rail_volt),
            opamp.r_out_ohm,
            opamp.bias_current_amp,
            opamp.gbw_hz,
            opamp.slew_volt_per_s,
        )

    def clamp(self, expr: str) -> str:
        e = self.e_sat
        return f"max(min({num(self.a, 'opamp_gain')}*({expr}), {num(e)}), {num(-e)})"


def add_opamp(
    c,
    macro: OpAmpMacro,
    name: str,
    out: str,
    plus: Optional[str],
    minus: str,
    v_os: float = 0.0,
    with_r_o: bool = True,
) -> None:
    """Op-amp ``name`` driving ``out`` from ``plus`` (None: ground) and ``minus`` (module docstring)."""
    if v_os != 0.0:
        q = f"q{name}"
        c.V(f"os{name}", q, plus if plus is not None else c.gnd, num(v_os, "offset"))
        plus_expr = f"v({q})"
    else:
        plus_expr = "0" if plus is None else f"v({plus})"
    if macro.i_b != 0.0:
        c.I(f"ib{name}", minus, c.gnd, num(macro.i_b, "bias_current_amp"))
    wanted = macro.clamp(f"{plus_expr}-v({minus})")
    if macro.gbw_hz > 0:
        y = f"y{name}"
        cap = 1.0 / (2.0 * math.pi * macro.gbw_hz / macro.a)
        charge = f"{num(macro.a, 'opamp_gain')}*({plus_expr}-v({minus}))-v({y})"
        if macro.slew_volt_per_s > 0:
            i_max = num(cap * macro.slew_volt_per_s, "slew_volt_per_s")
            charge = f"max(min({charge}, {i_max}), -{i_max})"
        c.B(f"p{name}", c.gnd, y, current_expression=charge)
        c.C(f"p{name}", y, c.gnd, num(cap, "gbw_hz"))
        wanted = f"max(min(v({y}), {num(macro.e_sat)}), {num(-macro.e_sat)})"
    if with_r_o and macro.r_o > 0:
        e = f"e{name}"
        c.B(name, e, c.gnd, voltage_expression=wanted)
        c.R(f"ro{name}", e, out, num(macro.r_o, "r_out_ohm"))
    else:
        c.B(name, out, c.gnd, voltage_expression=wanted)
