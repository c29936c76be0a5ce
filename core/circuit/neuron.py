"""The neuron stage shared by every fidelity: TIA output, difference / inverting stage 2, analog ReLU, rails.

Each crossbar column feeds a transimpedance amplifier (TIA) with feedback ``R_f`` and open-loop gain ``A``:
``v_tia = -I / (1/R_f + (G_sum + 1/R_f)/A)`` (:meth:`core.model.devices.CircuitParams.tia_factor`), clipped to
the rails. Stage 2, by the scheme's layout (:func:`core.model.crossbar.layout`), is a difference amplifier of
``v_tia(G-) - v_tia(G+)`` (column pairs: ``differential-columns``, ``balanced``) or of ``v_tia(reference column) -
v_tia(own column)`` (``reference``), or an inverting amplifier ``-v_tia`` (row pairs: ``differential-rows``). As
``v_tia = -R_f I``, each is ``+k R_f (I(G+) - I(G-))``, so positive weights give positive outputs. The gain ``k``
is reduced by the finite open-loop gain (:meth:`~core.model.devices.CircuitParams.stage2_factor`) and the output
clipped to the rails; hidden layers end in a ReLU.

The functions take an array namespace ``xp`` (``numpy`` by default, ``torch`` for fault-aware retraining) and
use only ``xp.clip`` and slicing, so the behavioural model, the nodal solver and the differentiable circuit
of :mod:`core.recovery.retrain` compute the very same neuron. This is the ideal DC op-amp macro-model; with
non-ideal op-amps (:mod:`core.model.opamp`: offset, bias current, swing margin, output resistance) the
behavioural model uses the closed forms of :mod:`core.circuit.opamp` and the nodal solver
:mod:`core.circuit.nodal_neurons` instead (they reduce to this one at the defaults; retraining stays ideal).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.model.crossbar import ArrayMap, layout
from core.model.devices import CircuitParams


def tia_outputs(i_cols: Any, g_sum: Any, array: ArrayMap, circuit: CircuitParams, xp: Any = np) -> Any:
    """TIA output voltages (..., cols) for column currents ``i_cols`` (A) into virtual grounds.

    ``g_sum`` (S) is the conductance each TIA input sees to ground (the column's devices); broadcastable.
    Saturated TIAs sit at the rail, as the SPICE macro-model's clamp does.
    """
    rail = circuit.v_rail_volt
    return xp.clip(-i_cols * circuit.tia_factor(array.r_tia_ohm, g_sum), -rail, rail)


def neuron_outputs(v_tia: Any, array: ArrayMap, scheme: str, circuit: CircuitParams, xp: Any = np) -> Any:
    """Neuron output voltages (..., n_out) from the TIA outputs (..., cols) of one crossbar."""
    rail = circuit.v_rail_volt
    gain2 = circuit.stage2_factor(array.k_stage2)
    lay = layout(scheme)
    if lay == "column-pairs":
        v = gain2 * (v_tia[..., 1::2] - v_tia[..., 0::2])
    elif lay == "reference-column":
        v = gain2 * (v_tia[..., -1:] - v_tia[..., :-1])
    else:
        v = -gain2 * v_tia
    v = xp.clip(v, -rail, rail)
    if array.relu:
        v = xp.clip(v, 0.0, None)
    return v
