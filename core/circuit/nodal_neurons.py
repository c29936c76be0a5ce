"""The neuron stage as the nodal solver sees it: everything downstream of the column ends, given their voltages.

The op-amp macro-model is the one of :mod:`core.model.opamp` (offset ``V_os``, bias current ``I_b`` out of the
inverting input, gain ``A``, internal source clamped at ``+-E``, output resistance ``R_o``). Unlike the
behavioural closed forms (:mod:`core.circuit.opamp`, which start from each column's Norton equivalent), the
nodal solver knows the voltage ``n`` of every column end (the TIA's inverting input) from the crossbar solve,
so each TIA's internal drive is explicit, ``e = A (V_os - n)`` (or ``sigma E`` when saturated), and the rest
follows from KCL at the TIA outputs and the stage-2 nodes (``Gf = 1/R_f``, ``G2 = 1/R2``, ``Gk = 1/(k R2)``):

plus-side TIA (drives the passive divider ``k/(1+k)`` of a stage-2 non-inverting input, load ``G_L``)::

    (e - t)/R_o + Gf (n - t) - G_L t = 0           =>  t = (e + R_o Gf n) / (1 + R_o (Gf + G_L))

minus-side TIA ``t``, stage-2 inverting input ``m`` and output ``s``::

    (e - t)/R_o + Gf (n - t) + G2 (m - t) = 0      =>  t = (e + R_o Gf n + R_o G2 m) / D1,  D1 = 1 + R_o (Gf + G2)
    G2 (t - m) + Gk (s - m) - I_b = 0              =>  m = m0 + q s,  m0 = (G2 (e + R_o Gf n)/D1 - I_b)/(Ga + Gk),
                                                        q = Gk/(Ga + Gk),  Ga = G2 (1 + R_o Gf)/D1
    (e_s - s)/R_o + Gk (m - s) = 0,  e_s = A (p + V_os2 - m) or sigma E

The current the column end delivers into its TIA is ``(n - t) Gf + I_b``: affine in ``n`` for fixed op-amp
states, so :func:`port_affine` turns the whole neuron stage into a termination ``i = Y n + i0`` of the crossbar's
column ends (``Y`` diagonal when ``R_o = 0``: then no TIA output depends on its load).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.circuit.opamp import OpAmpModel
from core.model.crossbar import ArrayMap, layout
from core.model.opamp import OpAmpOffsets


@dataclass(frozen=True)
class NeuronPorts:
    """The neuron stage of one crossbar with its op-amp model and offsets (see the module docstring)."""

    m: OpAmpModel
    array: ArrayMap
    scheme: str
    r2: float
    offsets: Optional[OpAmpOffsets] = None

    @property
    def cols(self) -> int:
        return self.array.logical_shape[1]  # tiled: the layer's own columns (the others end at ground)

    def _split(self):
        """(minus columns, plus columns or None, plus-side load G_L)."""
        k, n_out = self.array.k_stage2, self.array.n_out
        lay = layout(self.scheme)
        g_div = 1.0 / ((1.0 + k) * self.r2)
        if lay == "column-pairs":
            return np.arange(0, self.cols, 2), np.arange(1, self.cols, 2), g_div
        if lay == "reference-column":
            return np.arange(self.cols - 1), np.full(n_out, self.cols - 1), n_out * g_div
        return np.arange(self.cols), None, 0.0

    def downstream(self, n: np.ndarray, st_t: np.ndarray, st_s: np.ndarray):
        """For column-end voltages ``n`` (N, cols) and op-amp states (TIAs (N, cols), stage 2 (N, n_out)):
        (TIA outputs t, stage-2 outputs s, TIA drives w_t, stage-2 drives w_s, port currents (N, cols))."""
        m, a = self.m, self.array
        gf, g2, gk = 1.0 / a.r_tia_ohm, 1.0 / self.r2, 1.0 / (a.k_stage2 * self.r2)
        vos_t = 0.0 if self.offsets is None else self.offsets.tia
        vos_s = 0.0 if self.offsets is None else self.offsets.stage2
        w_t = m.a * (vos_t - n)
        e_t = np.where(st_t == 0, w_t, st_t * m.e_sat)
        minus, plus, g_load = self._split()
        t = np.empty(np.broadcast_shapes(n.shape, e_t.shape))
        if plus is None:
            p = 0.0
        else:
            t_plus = (e_t[..., plus] + m.r_o * gf * n[..., plus]) / (1.0 + m.r_o * (gf + g_load))
            t[..., plus] = t_plus
            p = a.k_stage2 / (1.0 + a.k_stage2) * t_plus
        d1 = 1.0 + m.r_o * (gf + g2)
        drive = e_t[..., minus] + m.r_o * gf * n[..., minus]
        ga = g2 * (1.0 + m.r_o * gf) / d1
        m0 = (g2 * drive / d1 - m.i_b) / (ga + gk)
        q = gk / (ga + gk)
        s_lin = (m.a * (p + vos_s) - (m.a - m.r_o * gk) * m0) / (1.0 + m.r_o * gk + (m.a - m.r_o * gk) * q)
        s_sat = (st_s * m.e_sat + m.r_o * gk * m0) / (1.0 + m.r_o * gk * (1.0 - q))
        s = np.where(st_s == 0, s_lin, s_sat)
        vm = m0 + q * s
        t[..., minus] = (drive + m.r_o * g2 * vm) / d1
        w_s = m.a * (p + vos_s - vm)
        return t, s, w_t, w_s, (n - t) * gf + m.i_b

    def port_affine(self, st_t: np.ndarray, st_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Y (cols, cols), i0 (cols,)): port currents ``i = Y n + i0`` for op-amp states (cols,) and (n_out,)."""
        probe = np.vstack([np.zeros(self.cols), np.eye(self.cols)])
        i = self.downstream(probe, st_t[None, :], st_s[None, :])[4]
        return (i[1:] - i[0]).T, i[0]

    def next_state(self, state: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The active-set update: a linear op-amp whose drive ``w`` passes ``+-E`` saturates there; a saturated one
        whose drive no longer pushes it into the rail (``sigma w < E``) becomes linear (never straight to the
        other rail, which can cycle when a stage-2 output and its TIA's load interact)."""
        e = self.m.e_sat
        wanted = np.where(w > e, 1, np.where(w < -e, -1, 0))
        return np.where(state == 0, wanted, np.where(state * w >= e, state, 0)).astype(np.int8)
