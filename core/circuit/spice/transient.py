"""Step response of the whole network in ngspice: how long the outputs take to settle after an input step.

Only meaningful with a dynamic op-amp model (:attr:`core.model.opamp.OpAmpParams.gbw_hz`, optionally
``slew_volt_per_s``; :mod:`core.circuit.spice.macro`): the crossbars and resistors have no capacitance, so without
a pole the circuit is static and settles at once. The inputs hold image ``x_from`` until ``t = 0`` and ramp to
``x_to`` over ``edge_s`` (independent PWL sources, so ngspice puts a breakpoint on the edge); the run starts
from the operating point of ``x_from``. An output has settled when it stays within ``tol`` times the largest
output step of its final value (the DC solution of ``x_to``, from :mod:`core.circuit.nodal`, which the end of
the run must match); the settling time is the last time any output is outside that band, measured from the
start of the edge. ``NaN`` if the outputs are still outside the band at ``t_stop``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.circuit import nodal
from core.circuit.spice import netlist, runner
from core.circuit.spice.macro import num
from core.errors import ParameterError, SimulationError
from core.model.crossbar import MappedNetwork


@dataclass
class StepResponse:
    """Times (s, from the start of the edge), output voltages (T, n_out), the settled values and settling time."""

    time_s: np.ndarray
    v_out: np.ndarray
    v_final: np.ndarray
    settling_s: float
    tol: float


def _default_stop(mapped: MappedNetwork) -> float:
    op = mapped.opamp
    t = 2000.0 / op.gbw_hz  # closed-loop bandwidths are GBW times feedback factors of ~1e-2 .. 1
    if op.slew_volt_per_s > 0:
        t += 4.0 * mapped.circuit.v_rail_volt / op.slew_volt_per_s
    return t


def step_response_job(
    mapped: MappedNetwork,
    x_from: np.ndarray,
    x_to: np.ndarray,
    g_list=None,
    *,
    tol: float = 0.01,
    t_stop_s: Optional[float] = None,
    edge_s: float = 1e-9,
    points: int = 4000,
    timeout_s: Optional[float] = None,
):
    """Job: the :class:`StepResponse` of the network for an input step from ``x_from`` to ``x_to`` (n_in,)."""
    if mapped.opamp.gbw_hz <= 0:
        raise ParameterError(
            "gbw_hz", "a step response needs a dominant pole (gbw_hz > 0); the DC model settles at once"
        )
    x_from, x_to = (np.asarray(x, dtype=np.float64).reshape(-1) for x in (x_from, x_to))
    if x_from.shape != (mapped.n_inputs,) or x_to.shape != (mapped.n_inputs,):
        raise ParameterError("x", f"must be two inputs of {mapped.n_inputs} features")
    g_list = mapped.conductances() if g_list is None else list(g_list)
    t_stop = _default_stop(mapped) if t_stop_s is None else float(t_stop_s)
    if not (t_stop > edge_s > 0):
        raise ParameterError("t_stop_s", f"must exceed the edge ({edge_s:g} s), got {t_stop:g}")
    c = netlist._circuit()
    inputs = []
    v_read = mapped.device.v_read_volt
    for i, (a, b) in enumerate(zip(x_from * v_read, x_to * v_read)):
        c.V(f"x{i}", f"x{i}", c.gnd, f"pwl(0 {num(a, 'x')} {num(edge_s)} {num(b, 'x')})")
        inputs.append(f"x{i}")
    outs = netlist.add_network(c, mapped, inputs, g_list)
    saves = [f"v({o})" for o in outs]
    step = t_stop / points
    lines = [".options noinit reltol=1e-6 vntol=1e-9 abstol=1e-15" + (" klu" if runner.solver_info()["klu"] else "")]
    lines += [".save " + " ".join(saves[k : k + 8]) for k in range(0, len(saves), 8)]
    lines += [f".tran {num(step)} {num(t_stop)} 0 {num(step)}", ".end"]
    text = str(c) + "\n".join(lines) + "\n"
    ((vectors, _klu, _err),) = yield from runner.run_batch_job([text], timeout_s or runner.DEFAULT_TIMEOUT_S)
    t = runner.vector(vectors, "time")
    v = np.stack([runner.vector(vectors, s) for s in saves], axis=1)
    v_final = nodal.forward_voltages(mapped, x_to[None, :], g_list)[0]
    v_start = nodal.forward_voltages(mapped, x_from[None, :], g_list)[0]
    band = tol * max(float(np.max(np.abs(v_final - v_start))), 1e-6)
    if np.max(np.abs(v[-1] - v_final)) > band:
        settling = math.nan
    else:
        outside = np.flatnonzero(np.any(np.abs(v - v_final) > band, axis=1))
        settling = float(t[outside[-1] + 1]) if outside.size else 0.0
    if not np.allclose(v[0], v_start, atol=max(band, 1e-6)):
        raise SimulationError("ngspice: the step response did not start from the operating point of x_from")
    return StepResponse(t, v, v_final, settling, tol)
