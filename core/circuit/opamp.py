"""Exact closed forms of the neuron stage with non-ideal op-amps: the behavioural fidelity's model.

The op-amp macro-model is the one of :mod:`core.model.opamp`: internal source ``e = clamp(A (v+ + V_os - v-),
-E, E)`` (``E = v_rail - swing_margin``), output ``e`` behind ``R_o``, bias current ``I_b`` drawn out of the
inverting input. Conductances: ``Gf = 1/R_f``, ``G2 = 1/R2`` (``R2 = r_stage2_ohm``), ``Gk = 1/(k R2)``. Every
op-amp is in one of three states ``sigma``: linear (0, ``e = A (v+ + V_os - v-)``) or saturated at ``sigma E``.
Each state gives a linear circuit, solved below in closed form; the state is the self-consistent one
(:func:`_pick`): linear needs ``|w| <= E``, saturated at ``sigma E`` needs ``sigma w >= E``, where
``w = A (v+ + V_os - v-)`` is the drive the solution asks for. Every op-amp is in negative feedback, so exactly
one state is consistent (on a boundary both give the same voltages).

TIA (column end ``n`` with the column's Norton equivalent: short-circuit current ``I`` and conductance ``G``
to ground; feedback ``R_f`` from ``n`` to the output ``t``; ``v+ = 0``; a current ``i_x`` injected into ``t``
by its load). KCL at ``n`` and at ``t``::

    I - G n + Gf (t - n) - I_b = 0              =>  n = c + d t,   c = (I - I_b)/(G + Gf),  d = Gf/(G + Gf)
    (e - t)/R_o + Gf (n - t) + i_x = 0          =>  t (1 + R_o Gf) = e + R_o Gf n + R_o i_x

Linear, ``e = A (V_os - n)``::  t = T + Z i_x,  T = (A V_os + (R_o Gf - A) c) / D,  Z = R_o / D,
                                D = 1 + R_o Gf - (R_o Gf - A) d
Saturated, ``e = sigma E``::     T = (sigma E + R_o Gf c) / D,  Z = R_o / D,  D = 1 + R_o Gf (1 - d)

(a Thevenin source ``T`` behind ``Z``). With ``V_os = I_b = R_o = 0`` the linear ``T`` is
``-I / (Gf + (G + Gf)/A)``, :meth:`core.model.devices.CircuitParams.tia_factor`. A TIA loaded by a resistor
``1/G_L`` to ground (``i_x = -G_L t``) outputs ``t = T / (1 + Z G_L)``.

Difference amplifier (inverting input ``m`` fed from a Thevenin source ``(T, Z)`` through ``R2`` and from its
output ``s`` through ``k R2``; non-inverting input at ``p``). With ``Ga = 1/(R2 + Z)``, KCL at ``m`` and ``s``::

    Ga (T - m) + Gk (s - m) - I_b = 0         =>  m = m0 + q s,  m0 = (Ga T - I_b)/(Ga + Gk),  q = Gk/(Ga + Gk)
    (e - s)/R_o + Gk (m - s) = 0              =>  s (1 + R_o Gk) = e + R_o Gk m

Linear, ``e = A (p + V_os - m)``::  s = (A (p + V_os) + (R_o Gk - A) m0) / (1 + R_o Gk - (R_o Gk - A) q)
Saturated, ``e = sigma E``::        s = (sigma E + R_o Gk m0) / (1 + R_o Gk (1 - q))

and the TIA driving it sees ``i_x = -(T - m) Ga``. With ``V_os = I_b = R_o = Z = 0`` and ``p = k/(1 + k) t_p``
this is ``s = k A / (A + 1 + k) (t_p - T)``, :meth:`~core.model.devices.CircuitParams.stage2_factor`. The
non-inverting input is a passive divider: ``p = k/(1 + k) t_p`` of the plus-side TIA, which therefore sees the
load ``G_L = 1 / ((1 + k) R2)`` (``reference``: its TIA drives all ``n_out`` dividers, ``G_L = n_out / ((1 + k)
R2)``); ``differential-rows`` has ``p = 0``. The minus-side TIA and its stage 2 are solved together over their
3 x 3 states, since with ``R_o > 0`` the TIA's output (and so its state) depends on the current stage 2 draws.

-V row inverter (``differential-rows``; input ``x`` through ``R2`` into ``u_i``, feedback ``R2``, ``v+ = 0``, no
``R_o``): ``(x - u_i) G2 + (u - u_i) G2 - I_b = 0`` and ``u = A (V_os - u_i)`` give
``u = A (2 V_os + I_b R2 - x) / (A + 2)``, clipped to ``+-E``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from core.model.crossbar import ArrayMap, layout
from core.model.devices import CircuitParams
from core.model.opamp import OpAmpOffsets, OpAmpParams

STATES = (0, 1, -1)


@dataclass(frozen=True)
class OpAmpModel:
    """The numbers of the macro-model: gain ``a``, output limit ``e_sat``, ``r_o``, bias current ``i_b``."""

    a: float
    e_sat: float
    r_o: float
    i_b: float

    @classmethod
    def of(cls, circuit: CircuitParams, opamp: OpAmpParams) -> OpAmpModel:
        e_sat = opamp.v_sat(circuit.v_rail_volt)
        return cls(circuit.opamp_gain, e_sat, opamp.r_out_ohm, opamp.bias_current_amp)

    def violation(self, state: int, w: Any) -> Any:
        """How far drive ``w`` is from being consistent with ``state`` (0 when consistent)."""
        if state == 0:
            return np.maximum(np.abs(w) - self.e_sat, 0.0)
        return np.maximum(self.e_sat - state * w, 0.0)


def _pick(candidates: list[tuple[Any, tuple]]) -> tuple:
    """Per element, the values of the first candidate with the smallest violation (0 = self-consistent)."""
    viol = np.stack(np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v, _ in candidates)))
    best = np.argmin(viol, axis=0)
    n_out = len(candidates[0][1])
    out = []
    for k in range(n_out):
        vals = np.stack(np.broadcast_arrays(*(np.asarray(c[1][k], dtype=np.float64) for c in candidates)))
        out.append(np.take_along_axis(vals, np.broadcast_to(best, vals.shape[1:])[None], axis=0)[0])
    return tuple(out)


def tia_thevenin(i_col, g_col, r_f: float, m: OpAmpModel, v_os, state: int):
    """(T, Z, c, d) of a TIA in ``state`` (module docstring): ``t = T + Z i_x`` and ``n = c + d t``."""
    gf = 1.0 / r_f
    c = (i_col - m.i_b) / (g_col + gf)
    d = gf / (g_col + gf)
    if state == 0:
        den = 1.0 + m.r_o * gf - (m.r_o * gf - m.a) * d
        t = (m.a * v_os + (m.r_o * gf - m.a) * c) / den
    else:
        den = 1.0 + m.r_o * gf * (1.0 - d)
        t = (state * m.e_sat + m.r_o * gf * c) / den
    return t, m.r_o / den, c, d


def tia_loaded(i_col, g_col, r_f: float, m: OpAmpModel, v_os, g_load: float):
    """Output voltage of a TIA whose output also drives ``g_load`` (S) to ground, its state resolved."""
    cands = []
    for st in STATES:
        th, z, c, d = tia_thevenin(i_col, g_col, r_f, m, v_os, st)
        t = th / (1.0 + z * g_load)
        cands.append((m.violation(st, m.a * (v_os - (c + d * t))), (t,)))
    return _pick(cands)[0]


def minus_pair(i_col, g_col, r_f: float, m: OpAmpModel, v_os_t, p, v_os_s, k: float, r2: float):
    """(stage-2 output s, TIA output t) of a TIA feeding the inverting input of its stage-2 amplifier."""
    gk = 1.0 / (k * r2)
    cands = []
    for st_t in STATES:
        th, z, c, d = tia_thevenin(i_col, g_col, r_f, m, v_os_t, st_t)
        ga = 1.0 / (r2 + z)
        q = gk / (ga + gk)
        m0 = (ga * th - m.i_b) / (ga + gk)
        for st_s in STATES:
            if st_s == 0:
                s = (m.a * (p + v_os_s) + (m.r_o * gk - m.a) * m0) / (1.0 + m.r_o * gk - (m.r_o * gk - m.a) * q)
            else:
                s = (st_s * m.e_sat + m.r_o * gk * m0) / (1.0 + m.r_o * gk * (1.0 - q))
            vm = m0 + q * s
            t = th - z * ga * (th - vm)
            viol = m.violation(st_t, m.a * (v_os_t - (c + d * t))) + m.violation(st_s, m.a * (p + v_os_s - vm))
            cands.append((viol, (s, t)))
    return _pick(cands)


def inverter_outputs(x, m: OpAmpModel, v_os, r2: float):
    """-V row voltages of unity-gain inverters with offset ``v_os`` for signals ``x`` (no R_o; docstring)."""
    return np.clip(m.a * (2.0 * v_os + m.i_b * r2 - x) / (m.a + 2.0), -m.e_sat, m.e_sat)


def _last(a: Optional[np.ndarray], sl) -> Any:
    """Offsets (..., n) as (..., 1, n) so they broadcast over images; 0 without offsets."""
    return 0.0 if a is None else np.asarray(a)[..., None, sl]


def neuron_stage(
    i_cols,
    g_sum,
    array: ArrayMap,
    scheme: str,
    circuit: CircuitParams,
    opamp: OpAmpParams,
    offsets: Optional[OpAmpOffsets] = None,
):
    """(neuron outputs (..., N, n_out), TIA outputs (..., N, cols)) of one crossbar with non-ideal op-amps.

    ``i_cols`` are the columns' short-circuit currents and ``g_sum`` their conductances to ground (the Norton
    equivalent of each column with ideal wires); ``offsets`` may carry leading batch dimensions.
    """
    m = OpAmpModel.of(circuit, opamp)
    rf, k, r2 = array.r_tia_ohm, array.k_stage2, circuit.r_stage2_ohm
    i_cols = np.asarray(i_cols, dtype=np.float64)
    g_sum = np.broadcast_to(np.asarray(g_sum, dtype=np.float64), i_cols.shape[:-2] + g_sum.shape[-2:])
    tia = None if offsets is None else offsets.tia
    vos_s = _last(None if offsets is None else offsets.stage2, slice(None))
    lay = layout(scheme)
    g_div = 1.0 / ((1.0 + k) * r2)
    if lay == "column-pairs":
        mi, pl = slice(0, None, 2), slice(1, None, 2)
        t_p = tia_loaded(i_cols[..., pl], g_sum[..., pl], rf, m, _last(tia, pl), g_div)
        s, t_m = minus_pair(i_cols[..., mi], g_sum[..., mi], rf, m, _last(tia, mi), k / (1 + k) * t_p, vos_s, k, r2)
        v_tia = np.empty(np.broadcast_shapes(t_p.shape, t_m.shape)[:-1] + (2 * t_p.shape[-1],))
        v_tia[..., 0::2], v_tia[..., 1::2] = t_m, t_p
    elif lay == "reference-column":
        ref, own = slice(-1, None), slice(0, -1)
        t_p = tia_loaded(i_cols[..., ref], g_sum[..., ref], rf, m, _last(tia, ref), array.n_out * g_div)
        s, t_m = minus_pair(i_cols[..., own], g_sum[..., own], rf, m, _last(tia, own), k / (1 + k) * t_p, vos_s, k, r2)
        lead = np.broadcast_shapes(t_m.shape[:-1], t_p.shape[:-1])
        v_tia = np.concatenate([np.broadcast_to(t_m, lead + t_m.shape[-1:]), np.broadcast_to(t_p, lead + (1,))], -1)
    else:
        s, v_tia = minus_pair(i_cols, g_sum, rf, m, _last(tia, slice(None)), 0.0, vos_s, k, r2)
    if array.relu:
        s = np.maximum(s, 0.0)
    return s, v_tia
