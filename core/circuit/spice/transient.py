"""Step response of the whole network in ngspice: settling time, and energy and power per inference.

The inputs hold image ``x_from`` until ``t = 0`` and ramp to ``x_to`` over ``edge_s`` (independent PWL sources,
so ngspice puts a breakpoint on the edge); the run starts from the operating point of ``x_from``. An output has
settled when it stays within ``tol`` times the largest output step of its final value; the settling time is the
last time any output is outside that band, measured from the start of the edge. ``NaN`` if the outputs are still
outside the band at ``t_stop``.

Two neuron kinds (:mod:`core.circuit.spice.netlist`):

* ``macro``: only meaningful with a dynamic op-amp model (:attr:`core.model.opamp.OpAmpParams.gbw_hz`, optionally
  ``slew_volt_per_s``; :mod:`core.circuit.spice.macro`): the crossbars and resistors have no capacitance, so
  without a pole the circuit is static and settles at once. The final value is the DC solution of ``x_to`` from
  :mod:`core.circuit.nodal`, which the end of the run must match.
* ``transistor``: the CMOS op-amps (:mod:`core.circuit.spice.cmos`) have their own poles. The final value is the
  run's last point, which must be flat (its last tenth moves by less than a tenth of the band).

Power (:class:`InferenceCost`): the power every ideal source delivers, ``P(t) = -sum_k v_k(t) i_k(t)`` over the
voltage sources and B voltage sources whose other terminal is ground: the inputs, the bias-row references, and
either the +-0.5 V supplies of the transistor op-amps (quiescent current included) or, for the macro-model, each
op-amp's output source (a macro op-amp has no quiescent current: its power is only the signal current it
delivers). The energy per inference is ``integral_0^t_settle P dt``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.circuit import nodal
from core.circuit.spice import cmos, netlist, runner
from core.circuit.spice.macro import num
from core.errors import ParameterError, SimulationError
from core.model.crossbar import MappedNetwork

TRANSISTOR_STOP_S = 5e-6  # the CMOS neurons' closed-loop bandwidths are ~1-10 MHz: the paper network settles in 0.6 us
TRANSISTOR_POINTS = 2000


@dataclass
class StepResponse:
    """Times (s, from the start of the edge), output voltages (T, n_out), the settled values and settling time.

    ``power_w`` (T,) is the power all sources deliver (module docstring); ``supply_current_a`` (T,) the current
    drawn from the +0.5 V supply (transistor neurons; zeros for the macro-model).
    """

    time_s: np.ndarray
    v_out: np.ndarray
    v_final: np.ndarray
    settling_s: float
    tol: float
    power_w: Optional[np.ndarray] = None
    supply_current_a: Optional[np.ndarray] = None

    def energy_j(self, t_end_s: Optional[float] = None) -> float:
        """Energy (J) the sources deliver from the edge to ``t_end_s`` (default the settling time)."""
        t_end = self.settling_s if t_end_s is None else t_end_s
        if self.power_w is None or not math.isfinite(t_end):
            return math.nan
        t = self.time_s
        keep = t <= t_end
        if keep.sum() < 2:
            return float(self.power_w[0] * t_end)
        tt, pp = t[keep], self.power_w[keep]
        return float(np.sum(0.5 * (pp[1:] + pp[:-1]) * np.diff(tt)))


def _default_stop(mapped: MappedNetwork) -> float:
    op = mapped.opamp
    t = 2000.0 / op.gbw_hz  # closed-loop bandwidths are GBW times feedback factors of ~1e-2 .. 1
    if op.slew_volt_per_s > 0:
        t += 4.0 * mapped.circuit.v_rail_volt / op.slew_volt_per_s
    return t


def _power_terms(c) -> list[tuple[str, str]]:
    """(current vector, node vector) of every voltage-type source with its other terminal at ground."""
    terms = []
    for e in c.elements:
        kind = type(e).__name__
        nodes = [str(n) for n in e.nodes]
        if kind == "BehavioralSource" and not getattr(e, "voltage_expression", None):
            continue  # a B current source is part of a macro-model pole, not a supply
        if kind not in ("VoltageSource", "BehavioralSource") or len(nodes) != 2 or nodes[1] != "0":
            continue
        terms.append((f"i({e.name.lower()})", f"v({nodes[0]})"))
    return terms


def step_response_job(
    mapped: MappedNetwork,
    x_from: np.ndarray,
    x_to: np.ndarray,
    g_list=None,
    *,
    tol: float = 0.01,
    t_stop_s: Optional[float] = None,
    edge_s: float = 1e-9,
    points: Optional[int] = None,
    timeout_s: Optional[float] = None,
    neuron: str = "macro",
):
    """Job: the :class:`StepResponse` of the network for an input step from ``x_from`` to ``x_to`` (n_in,).

    ``neuron`` is ``macro`` (needs ``mapped.opamp.gbw_hz > 0``) or ``transistor`` (module docstring).
    """
    transistor = cmos.check_neuron(neuron) == "transistor"
    if not transistor and mapped.opamp.gbw_hz <= 0:
        raise ParameterError(
            "gbw_hz", "a step response needs a dominant pole (gbw_hz > 0); the DC model settles at once"
        )
    x_from, x_to = (np.asarray(x, dtype=np.float64).reshape(-1) for x in (x_from, x_to))
    if x_from.shape != (mapped.n_inputs,) or x_to.shape != (mapped.n_inputs,):
        raise ParameterError("x", f"must be two inputs of {mapped.n_inputs} features")
    g_list = mapped.conductances() if g_list is None else list(g_list)
    if t_stop_s is not None:
        t_stop = float(t_stop_s)
    else:
        t_stop = TRANSISTOR_STOP_S if transistor else _default_stop(mapped)
    if not (t_stop > edge_s > 0):
        raise ParameterError("t_stop_s", f"must exceed the edge ({edge_s:g} s), got {t_stop:g}")
    if points is None:
        points = TRANSISTOR_POINTS if transistor else 4000
    if not 10 <= points <= 10**6:
        raise ParameterError("points", f"must be in [10, 1000000], got {points}")
    c = netlist._circuit()
    inputs = []
    v_read = mapped.device.v_read_volt
    for i, (a, b) in enumerate(zip(x_from * v_read, x_to * v_read)):
        c.V(f"x{i}", f"x{i}", c.gnd, f"pwl(0 {num(a, 'x')} {num(edge_s)} {num(b, 'x')})")
        inputs.append(f"x{i}")
    outs = netlist.add_network(c, mapped, inputs, g_list, neuron)
    saves = [f"v({o})" for o in outs]
    terms = _power_terms(c)
    extra = sorted({s for term in terms for s in term} - set(saves))
    step = t_stop / points
    info = runner.solver_info()
    lines = [".options noinit reltol=1e-6 vntol=1e-9 abstol=1e-15" + (" klu" if info["klu"] else "")]
    if transistor:
        lines.append(netlist.TRANSISTOR_OPTIONS.strip())
    all_saves = saves + extra
    lines += [".save " + " ".join(all_saves[k : k + 8]) for k in range(0, len(all_saves), 8)]
    lines += [f".tran {num(step)} {num(t_stop)} 0 {num(step)}", ".end"]
    text = str(c) + "\n".join(lines) + "\n"
    ((vectors, _klu, _err),) = yield from runner.run_batch_job([text], timeout_s or runner.DEFAULT_TIMEOUT_S)
    t = runner.vector(vectors, "time")
    v = np.stack([runner.vector(vectors, s) for s in saves], axis=1)
    power = np.zeros_like(t)
    for i_vec, v_vec in terms:
        power -= runner.vector(vectors, i_vec) * runner.vector(vectors, v_vec)
    i_supply = -runner.vector(vectors, "i(vvdd)") if transistor else np.zeros_like(t)
    if transistor:
        v_final, v_start = v[-1], v[0]
    else:
        v_final = nodal.forward_voltages(mapped, x_to[None, :], g_list)[0]
        v_start = nodal.forward_voltages(mapped, x_from[None, :], g_list)[0]
    band = tol * max(float(np.max(np.abs(v_final - v_start))), 1e-6)
    tail = v[t >= 0.9 * t[-1]]
    if np.max(np.abs(v[-1] - v_final)) > band or (transistor and np.ptp(tail, axis=0).max() > 0.1 * band):
        settling = math.nan
    else:
        outside = np.flatnonzero(np.any(np.abs(v - v_final) > band, axis=1))
        settling = float(t[outside[-1] + 1]) if outside.size else 0.0
    if not transistor and not np.allclose(v[0], v_start, atol=max(band, 1e-6)):
        raise SimulationError("ngspice: the step response did not start from the operating point of x_from")
    return StepResponse(t, v, v_final, settling, tol, power, i_supply)


def inference_cost_job(mapped: MappedNetwork, x_from, x_to, g_list=None, neuron: str = "macro", timeout_s=None):
    """Job: latency, energy and power of one inference, as a JSON-able dict (stored with SPICE results).

    Keys: ``neuron``, ``settling_s`` (1 % band, after a step from ``x_from`` to ``x_to``), ``energy_per_inference_j``
    (sources' energy from the edge to the settling time), ``power_w`` (static, at ``x_to``), and with transistor
    neurons ``supply_current_a`` (static, from the +0.5 V supply). A static macro-model (no ``gbw_hz``) has no
    latency or energy per inference (None, with a ``note``); its power is then that of the DC operating point.
    """
    static = cmos.check_neuron(neuron) == "macro" and mapped.opamp.gbw_hz <= 0
    if static:
        # no pole: any short run is the DC solution at every time point; it gives the static power
        resp = yield from step_response_job(
            _with_pole(mapped), x_from, x_to, g_list, t_stop_s=1e-6, points=10, timeout_s=timeout_s
        )
        return {
            "neuron": neuron,
            "settling_s": None,
            "energy_per_inference_j": None,
            "power_w": float(resp.power_w[-1]),
            "note": "static macro-model: op-amps without a pole (gbw_hz) and without quiescent current; "
            "power is the signal power the ideal sources deliver",
        }
    resp = yield from step_response_job(mapped, x_from, x_to, g_list, neuron=neuron, timeout_s=timeout_s)
    return cost_of(resp, neuron)


def cost_of(resp: StepResponse, neuron: str) -> dict:
    """The :func:`inference_cost_job` dict of a step response with a finite speed."""
    out: dict = {
        "neuron": neuron,
        "settling_s": None if math.isnan(resp.settling_s) else resp.settling_s,
        "energy_per_inference_j": None if math.isnan(resp.settling_s) else resp.energy_j(),
        "power_w": float(resp.power_w[-1]) if resp.power_w is not None else None,
    }
    if neuron == "transistor" and resp.supply_current_a is not None:
        out["supply_current_a"] = float(resp.supply_current_a[-1])
        out["supply_volt"] = [cmos.VDD_VOLT, cmos.VSS_VOLT]
    else:
        out["note"] = "macro op-amps have no quiescent current: power is the signal power the sources deliver"
    return out


def _with_pole(mapped: MappedNetwork) -> MappedNetwork:
    """A copy with a very fast dominant pole (1 THz GBW): DC values unchanged, step response instantaneous."""
    import dataclasses

    return dataclasses.replace(mapped, opamp=dataclasses.replace(mapped.opamp, gbw_hz=1e12))
