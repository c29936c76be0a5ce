"""Transistor-level neurons: a two-stage Miller CMOS op-amp and a CMOS ReLU rectifier on the 45 nm PTM card.

Everything here is emitted through PySpice's ``Circuit`` / ``SubCircuit`` API: three subcircuit definitions and
``X`` instances, with every name generated from fixed words and integer indices and every number formatted by
:func:`core.circuit.spice.macro.num`. The BSIM4 model card (``resources/ptm45/ptm45nm_bulk.lib``, source and terms
in the README beside it) is ``.include``-d by absolute path.

Supplies are +-0.5 V (the card's nominal VDD of 1.0 V, split around the circuit's ground, which is the crossbar
columns' virtual ground and the ReLU's zero), so the op-amps swing about +-0.4 V and a network must be mapped for
rails of :data:`RAIL_VOLT` (:func:`transistor_mapping`).

``cmosoa`` (ports ``inp inn out vdd vss pb``), used for every TIA, difference amplifier and -V row inverter::

    M5  PMOS tail current source (gate pb), ~14 uA
    M1, M2  PMOS differential pair (M1 gate inn, M2 gate inp), W/L = 20u/0.5u (moderate inversion)
    M3, M4  NMOS current-mirror load (M3 diode-connected), 2u/1u; first-stage output y at M2/M4's drains
    M6  NMOS common-source second stage, 8u/0.1u (a short channel keeps its gate-tunnelling leakage, which
        loads y, small: the card's 1.4 nm oxide leaks ~0.1 uA per um^2 at 0.4 V)
    M7  PMOS current-source load of M6 (gate pb), ~135 uA: the most the output can source; it sinks more
    Cc = 1 pF in series with the nulling resistor Rz = 2 kOhm from y to out (Miller compensation; Rz > 1/gm6
    moves the right-half-plane zero into the left half plane)

A PMOS input pair because the inputs sit at or below ground (TIAs hold 0 V, the difference amplifiers' inputs are
at most a few hundred mV below it), where an NMOS pair's tail would run out of headroom on a 1 V supply; an NMOS
second stage because TIAs with non-negative inputs only ever sink current.

``cmosrelu`` (ports ``inp out vdd vss nb``): a unity-gain follower whose output device only sources. An NMOS pair
(M1 gate = out, the follower's feedback; M2 gate = inp) with a PMOS mirror load drives a PMOS common-source
output M6 from vdd, and the output is pulled to ground (0 V) by Rpd = 20 kOhm instead of by a current sink. For
``inp > 0`` the loop makes ``out = inp`` (M6 sources the load current); for ``inp < 0`` M6 turns off and the
output rests at 0 V (the next crossbar's rows only lead to virtual grounds): ``out = max(inp, 0)`` with a soft
knee of a few mV, where M6's current, and with it the loop gain, vanishes.

``cmosbias`` (ports ``pb nb vdd vss``): a diode-connected PMOS and Rb = 30 kOhm set ~14 uA; ``pb`` biases every
PMOS current source, a mirrored NMOS diode gives ``nb`` for the ReLU tails. One bias network per netlist (a chip
has one), shared by all amplifiers.

The instance parameters ``rbodymod=0 rgatemod=0`` switch off the card's body-resistor and gate-resistor networks
(they add four internal nodes per transistor and change no DC value); the card is otherwise used as published,
gate tunnelling included.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

from core.circuit.spice.macro import num
from core.errors import ParameterError, SimulationError
from core.model.crossbar import MappedNetwork

MODEL_CARD = Path(__file__).resolve().parents[3] / "resources" / "ptm45" / "ptm45nm_bulk.lib"
NMOS, PMOS = "ptm45n", "ptm45p"
VDD_VOLT = 0.5
VSS_VOLT = -0.5
RAIL_VOLT = 0.5  # the rails a network is mapped for when its neurons are transistors
# stage-2 input resistance of a transistor-level mapping: 10x the default, so a TIA drives its own feedback
# resistor and two light 100 kOhm inputs, and a difference amplifier's feedback is k * 100 kOhm
R_STAGE2_OHM = 100e3
OPAMP, RELU, BIAS = "cmosoa", "cmosrelu", "cmosbias"
SUPPLY_SOURCES = ("vdd", "vss")  # names (without the V prefix) of the two supply sources
NEURONS = ("macro", "transistor")
_INSTANCE = "rbodymod=0 rgatemod=0"


def check_neuron(neuron: str) -> str:
    """Validate a neuron name (``macro`` or ``transistor``); the error names the allowed values."""
    if neuron not in NEURONS:
        raise ParameterError("neuron", f"must be one of {', '.join(NEURONS)}; got {neuron!r}")
    return neuron


def model_card() -> str:
    """Absolute path of the BSIM4 card, checked to exist and to be safe on an ``.include`` line."""
    path = str(MODEL_CARD)
    if not MODEL_CARD.is_file():
        raise SimulationError(f"transistor neurons: the model card {path} is missing (see resources/ptm45/README.md)")
    if any(ch.isspace() or ch in "\"';" for ch in path):
        raise SimulationError(f"transistor neurons: the model card path {path!r} has characters a netlist cannot hold")
    return path


@dataclasses.dataclass(frozen=True)
class Sizing:
    """Transistor sizes (m), compensation and bias values of the op-amp, ReLU and bias network (module docstring)."""

    w_tail: float = 4e-6
    l_bias: float = 0.5e-6
    w_pair: float = 20e-6
    l_pair: float = 0.5e-6
    w_mirror: float = 2e-6
    l_mirror: float = 1e-6
    w_cs: float = 3e-6
    l_cs: float = 0.1e-6
    w_load: float = 30e-6
    c_comp_farad: float = 1e-12
    r_zero_ohm: float = 2e3
    r_bias_ohm: float = 30e3
    # ReLU follower
    w_relu_tail: float = 2e-6
    w_relu_pair: float = 4e-6
    l_relu_pair: float = 0.25e-6
    w_relu_mirror: float = 8e-6
    w_relu_out: float = 10e-6
    r_pulldown_ohm: float = 20e3


SIZING = Sizing()


def _m(sub, name: str, d: str, g: str, s: str, b: str, model: str, w: float, l: float) -> None:
    sub.M(name, d, g, s, b, model=model, w=num(w, "w"), l=num(l, "l"), raw_spice=_INSTANCE)


def opamp_subcircuit(z: Sizing = SIZING):
    """The ``cmosoa`` two-stage Miller op-amp as a PySpice ``SubCircuit``."""
    from PySpice.Spice.Netlist import SubCircuit

    s = SubCircuit(OPAMP, "inp", "inn", "out", "vdd", "vss", "pb")
    _m(s, "5", "tail", "pb", "vdd", "vdd", PMOS, z.w_tail, z.l_bias)
    _m(s, "1", "x", "inn", "tail", "vdd", PMOS, z.w_pair, z.l_pair)
    _m(s, "2", "y", "inp", "tail", "vdd", PMOS, z.w_pair, z.l_pair)
    _m(s, "3", "x", "x", "vss", "vss", NMOS, z.w_mirror, z.l_mirror)
    _m(s, "4", "y", "x", "vss", "vss", NMOS, z.w_mirror, z.l_mirror)
    _m(s, "6", "out", "y", "vss", "vss", NMOS, z.w_cs, z.l_cs)
    _m(s, "7", "out", "pb", "vdd", "vdd", PMOS, z.w_load, z.l_bias)
    s.R("z", "y", "z", num(z.r_zero_ohm, "r_zero_ohm"))
    s.C("c", "z", "out", num(z.c_comp_farad, "c_comp_farad"))
    return s


def relu_subcircuit(z: Sizing = SIZING):
    """The ``cmosrelu`` follower rectifier (one-sided PMOS output, pulled down to 0 V) as a ``SubCircuit``."""
    from PySpice.Spice.Netlist import SubCircuit

    s = SubCircuit(RELU, "inp", "out", "vdd", "vss", "nb")
    _m(s, "5", "tail", "nb", "vss", "vss", NMOS, z.w_relu_tail, z.l_bias)
    _m(s, "1", "x", "out", "tail", "vss", NMOS, z.w_relu_pair, z.l_relu_pair)
    _m(s, "2", "y", "inp", "tail", "vss", NMOS, z.w_relu_pair, z.l_relu_pair)
    _m(s, "3", "x", "x", "vdd", "vdd", PMOS, z.w_relu_mirror, z.l_mirror)
    _m(s, "4", "y", "x", "vdd", "vdd", PMOS, z.w_relu_mirror, z.l_mirror)
    _m(s, "6", "out", "y", "vdd", "vdd", PMOS, z.w_relu_out, z.l_cs)
    s.R("pd", "out", s.gnd, num(z.r_pulldown_ohm, "r_pulldown_ohm"))
    s.R("z", "y", "z", num(z.r_zero_ohm, "r_zero_ohm"))
    s.C("c", "z", "out", num(z.c_comp_farad, "c_comp_farad"))
    return s


def bias_subcircuit(z: Sizing = SIZING):
    """The shared ``cmosbias`` network (``pb`` for PMOS sources, ``nb`` for the ReLU's NMOS tails)."""
    from PySpice.Spice.Netlist import SubCircuit

    s = SubCircuit(BIAS, "pb", "nb", "vdd", "vss")
    _m(s, "b", "pb", "pb", "vdd", "vdd", PMOS, z.w_tail, z.l_bias)
    s.R("b", "pb", "vss", num(z.r_bias_ohm, "r_bias_ohm"))
    _m(s, "p", "nb", "pb", "vdd", "vdd", PMOS, z.w_tail, z.l_bias)
    _m(s, "n", "nb", "nb", "vss", "vss", NMOS, z.w_relu_tail, z.l_bias)
    return s


def add_core(c, z: Sizing = SIZING, relu: bool = True) -> None:
    """Model card, subcircuit definitions, the +-0.5 V supplies ``Vvdd``/``Vvss`` and the one bias instance."""
    c.include(model_card())
    c.subcircuit(opamp_subcircuit(z))
    if relu:
        c.subcircuit(relu_subcircuit(z))
    c.subcircuit(bias_subcircuit(z))
    c.V("vdd", "vdd", c.gnd, num(VDD_VOLT))
    c.V("vss", "vss", c.gnd, num(VSS_VOLT))
    c.X("bias", BIAS, "pb", "nb", "vdd", "vss")


def add_opamp(c, name: str, out: str, plus: Optional[str], minus: str, v_os: float = 0.0) -> None:
    """Op-amp instance ``X{name}`` driving ``out`` from ``plus`` (None: ground) and ``minus``.

    An explicit input offset ``v_os`` is a source in series with the non-inverting input, as in the macro-model
    (on top of the transistor op-amp's own systematic offset).
    """
    p = plus if plus is not None else c.gnd
    if v_os != 0.0:
        q = f"q{name}"
        c.V(f"os{name}", q, p, num(v_os, "offset"))
        p = q
    c.X(name, OPAMP, p, minus, out, "vdd", "vss", "pb")


def add_relu(c, name: str, inp: str, out: str) -> None:
    """ReLU instance ``X{name}``: ``out = max(inp, 0)`` through the follower rectifier."""
    c.X(name, RELU, inp, out, "vdd", "vss", "nb")


def check_supported(mapped: MappedNetwork) -> None:
    """ParameterError for macro-model settings a transistor op-amp does not take (it has its own)."""
    op = mapped.opamp
    own = {
        "bias_current_amp": op.bias_current_amp,
        "swing_margin_volt": op.swing_margin_volt,
        "r_out_ohm": op.r_out_ohm,
        "gbw_hz": op.gbw_hz,
        "slew_volt_per_s": op.slew_volt_per_s,
    }
    for field, value in own.items():
        if value != 0:
            raise ParameterError(
                field,
                "must be 0 with transistor neurons (the CMOS op-amp has its own bias current, swing, output "
                f"resistance, bandwidth and slew); got {value:g}",
            )
    rail = mapped.circuit.v_rail_volt
    if abs(rail - RAIL_VOLT) > 1e-12:
        raise ParameterError(
            "v_rail_volt",
            f"transistor neurons run on +-{RAIL_VOLT:g} V supplies: map the network for rails of {RAIL_VOLT:g} V "
            f"(core.circuit.spice.cmos.transistor_mapping), got {rail:g} V",
        )


def transistor_mapping(weights, mapped: MappedNetwork, X_calibration) -> MappedNetwork:
    """``mapped`` re-mapped for the transistor op-amps' rails (:data:`RAIL_VOLT`), keeping its settings.

    The TIA feedback and stage-2 gains are re-sized (:func:`core.circuit.mapping.map_network`, headroom as set)
    so the largest activation uses the same share of +-0.5 V as it did of the old rails, and the stage-2
    resistors become :data:`R_STAGE2_OHM` (lighter loads for op-amps whose second stage has a gain of only ~10
    into 5 kOhm); conductances, scheme, device, op-amp settings, offsets and variability are unchanged. A network
    already mapped so is returned as it is. The macro-model baseline of a transistor run is this same mapping
    with ``neuron="macro"``.
    """
    if abs(mapped.circuit.v_rail_volt - RAIL_VOLT) <= 1e-12 and mapped.circuit.r_stage2_ohm == R_STAGE2_OHM:
        return mapped
    from core.circuit.mapping import map_network

    circuit = dataclasses.replace(mapped.circuit, v_rail_volt=RAIL_VOLT, r_stage2_ohm=R_STAGE2_OHM)
    fresh = map_network(weights, mapped.device, circuit, X_calibration, mapped.scheme)
    return dataclasses.replace(mapped, circuit=circuit, arrays=fresh.arrays, opamp=mapped.opamp, offsets=mapped.offsets)
