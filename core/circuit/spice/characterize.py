"""Characterising the neurons in ngspice: the CMOS op-amp and rectifier of :mod:`core.circuit.spice.cmos` against
the macro-model, each driving a stated resistive load.

Four runs of the transistor op-amp (all in parallel, each its own ngspice child):

``ac``      open loop, DC loop closed through a 1 MH inductor (unity-gain follower at DC, open at AC) and the
            input coupled through 1 F: low-frequency gain ``A0``, unity-gain frequency (GBW) and phase margin
            ``180 - |phase(GBW) - phase(f_min)|``;
``op``      unity-gain follower with its + input at 0 V: input offset (= the output), supply current from the
            +0.5 V source (bias network included), and the operating point of M1 (``gm``) for the hand estimate
            ``GBW ~ gm1 / (2 pi Cc)``;
``sweep``   open loop, + input swept from -20 to +20 mV, - input at 0 V: the DC gain from the slope of
            the transfer curve at its steepest (an independent check of the AC gain) and the output swing (the
            output's extremes into the load);
``relu``    the follower rectifier swept from -0.2 V to 0.3 V into its load: largest error against
            ``max(x, 0)`` on [0.05, 0.2] V, the output at 0 V in and the most negative output.

The macro-model (:mod:`core.circuit.spice.macro`) runs the same open-loop sweep for comparison: its gain is the
mapping's ``opamp_gain``, its swing the rail, and it has no offset, supply current or bandwidth (unless a pole is
set).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from core.circuit.spice import cmos, macro, runner
from core.circuit.spice.macro import num
from core.errors import ParameterError, SimulationError
from core.model.crossbar import MappedNetwork

SWEEP_HALF_VOLT = 0.02
SWEEP_POINTS = 801
RELU_RANGE_VOLT = (-0.2, 0.3)


def _circuit():
    from PySpice.Spice.Netlist import Circuit

    return Circuit("reram-workbench neuron characterisation")


def _options(klu: bool) -> str:
    return ".options noinit reltol=1e-6 vntol=1e-9 abstol=1e-15" + (" klu" if klu else "") + "\n"


def _ac_netlist(r_load_ohm: float, klu: bool) -> str:
    c = _circuit()
    cmos.add_core(c, relu=False)
    cmos.add_opamp(c, "oa", "out", None, "fb")
    c.L("f", "out", "fb", num(1e6))
    c.C("f", "fb", "vi", num(1.0))
    c.V("in", "vi", c.gnd, f"dc {num(0.0)} ac {num(1.0)}")
    c.R("l", "out", c.gnd, num(r_load_ohm, "r_load_ohm"))
    return str(c) + _options(klu) + ".save v(out)\n.ac dec 50 1 1e10\n.end\n"


def _op_netlist(r_load_ohm: float, klu: bool) -> str:
    c = _circuit()
    cmos.add_core(c, relu=False)
    cmos.add_opamp(c, "oa", "out", None, "out")
    c.R("l", "out", c.gnd, num(r_load_ohm, "r_load_ohm"))
    saves = "v(out) i(vvdd) i(vvss) @m.xoa.m1[gm] @m.xoa.m6[gm] @m.xoa.m1[id]"
    return str(c) + _options(klu) + f".save {saves}\n.op\n.end\n"


def _sweep_netlist(r_load_ohm: float, klu: bool, mapped: Optional[MappedNetwork] = None) -> str:
    """Open-loop DC sweep of the transistor op-amp, or of the macro-model of ``mapped``."""
    c = _circuit()
    c.V("in", "inp", c.gnd, num(0.0))
    if mapped is None:
        cmos.add_core(c, relu=False)
        cmos.add_opamp(c, "oa", "out", "inp", "inn")
    else:
        macro.add_opamp(c, macro.OpAmpMacro.of(mapped.circuit, mapped.opamp), "oa", "out", "inp", "inn")
    c.V("n", "inn", c.gnd, num(0.0))
    c.R("l", "out", c.gnd, num(r_load_ohm, "r_load_ohm"))
    # the macro-model is linear over +-E/A only: sweep +-4 E/A so the slope is sampled inside it
    half = SWEEP_HALF_VOLT if mapped is None else 4.0 * mapped.circuit.v_rail_volt / mapped.circuit.opamp_gain
    step = 2 * half / (SWEEP_POINTS - 1)
    sweep = f".dc vin {num(-half)} {num(half)} {num(step)}"
    return str(c) + _options(klu) + f".save v(out) v(inp)\n{sweep}\n.end\n"


def _relu_netlist(r_load_ohm: float, klu: bool) -> str:
    c = _circuit()
    cmos.add_core(c, relu=True)
    c.V("in", "x", c.gnd, num(0.0))
    cmos.add_relu(c, "re", "x", "h")
    c.R("l", "h", c.gnd, num(r_load_ohm, "r_load_ohm"))
    lo, hi = RELU_RANGE_VOLT
    return str(c) + _options(klu) + f".save v(h) v(x)\n.dc vin {num(lo)} {num(hi)} {num(0.005)}\n.end\n"


def _sweep_figures(vec: dict) -> dict:
    x, y = runner.vector(vec, "v(inp)").real, runner.vector(vec, "v(out)").real
    slope = np.gradient(y, x)
    return {
        "dc_gain_sweep": float(np.max(np.abs(slope))),
        "swing_volt": [float(np.min(y)), float(np.max(y))],
    }


def _ac_figures(vec: dict) -> dict:
    f = runner.vector(vec, "frequency").real
    h = runner.vector(vec, "v(out)")
    mag = np.abs(h)
    phase = np.degrees(np.unwrap(np.angle(h)))
    a0 = float(mag[0])
    below = np.flatnonzero(mag < 1.0)
    if a0 <= 1.0 or below.size == 0:
        raise SimulationError("ngspice: the op-amp's open-loop gain does not cross unity in 1 Hz .. 10 GHz")
    k = int(below[0])
    # interpolate log|H| against log f between the two points around unity
    lf = np.interp(0.0, [np.log(mag[k]), np.log(mag[k - 1])], [np.log(f[k]), np.log(f[k - 1])])
    gbw = float(np.exp(lf))
    ph = float(np.interp(lf, [np.log(f[k - 1]), np.log(f[k])], [phase[k - 1], phase[k]]))
    return {
        "dc_gain": a0,
        "dc_gain_db": 20 * math.log10(a0),
        "gbw_hz": gbw,
        "phase_margin_deg": 180.0 - abs(ph - float(phase[0])),
    }


def _relu_figures(vec: dict) -> dict:
    x, h = runner.vector(vec, "v(x)").real, runner.vector(vec, "v(h)").real
    mid = (x >= 0.05 - 1e-12) & (x <= 0.2 + 1e-12)
    return {
        "max_error_volt_0p05_to_0p2": float(np.max(np.abs(h[mid] - x[mid]))),
        "output_at_zero_volt": float(np.interp(0.0, x, h)),
        "min_output_volt": float(np.min(h)),
        "output_at_minus_0p1_volt": float(np.interp(-0.1, x, h)),
    }


def characterize_job(mapped: MappedNetwork, r_load_ohm: float, r_relu_load_ohm: float, timeout_s=None):
    """Job: figures of the transistor op-amp and rectifier and of the macro-model (module docstring), as a dict.

    ``r_load_ohm`` is the op-amp's load, ``r_relu_load_ohm`` the rectifier's (both to ground, ohm, in
    [100, 1e9]).
    """
    for field, value in (("r_load_ohm", r_load_ohm), ("r_relu_load_ohm", r_relu_load_ohm)):
        if not (math.isfinite(value) and 100.0 <= value <= 1e9):
            raise ParameterError(field, f"must be in [100, 1e9] ohm, got {value!r}")
    info = runner.solver_info()
    klu = info["klu"]
    texts = [
        _ac_netlist(r_load_ohm, klu),
        _op_netlist(r_load_ohm, klu),
        _sweep_netlist(r_load_ohm, klu),
        _relu_netlist(r_relu_load_ohm, klu),
        _sweep_netlist(r_load_ohm, klu, mapped),
    ]
    results = yield from runner.run_batch_job(texts, timeout_s or runner.DEFAULT_TIMEOUT_S)
    ac, op, sweep, relu, msweep = (r[0] for r in results)
    z = cmos.SIZING
    gm1 = float(runner.vector(op, "@m.xoa.m1[gm]")[0].real)
    transistor = {
        **_ac_figures(ac),
        **_sweep_figures(sweep),
        "input_offset_volt": float(runner.vector(op, "v(out)")[0].real),
        "supply_current_a": float(-runner.vector(op, "i(vvdd)")[0].real),
        "supply_volt": [cmos.VDD_VOLT, cmos.VSS_VOLT],
        "gm1_siemens": gm1,
        "gbw_hand_estimate_hz": gm1 / (2 * math.pi * z.c_comp_farad),
        "c_comp_farad": z.c_comp_farad,
        "model_card": cmos.MODEL_CARD.name,
    }
    m = _sweep_figures(msweep)
    macro_fig = {
        "dc_gain": mapped.circuit.opamp_gain,
        "dc_gain_sweep": m["dc_gain_sweep"],
        "swing_volt": m["swing_volt"],
        "gbw_hz": mapped.opamp.gbw_hz or None,
        "input_offset_volt": 0.0,
        "supply_current_a": 0.0,
        "note": "behavioural source: no quiescent current, no pole unless gbw_hz is set",
    }
    return {
        "r_load_ohm": r_load_ohm,
        "r_relu_load_ohm": r_relu_load_ohm,
        "solver": info["solver"],
        "transistor": transistor,
        "relu": _relu_figures(relu),
        "macro": macro_fig,
    }
