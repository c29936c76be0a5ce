"""Behavioural crossbar model: ideal wires, exact closed-form op-amp neurons, batched over defect maps.

For a column whose TIA has feedback ``R_f`` and open-loop gain ``A`` the output is
``-I / (1/R_f + (G_sum + 1/R_f)/A)`` (exact for ideal wires and linear devices: the rows are driven by ideal
sources, so columns do not interact). Saturated op-amps sit at the rail, exactly as the SPICE macro-model's
clamp does. The stage-2 amplifier and analog ReLU follow (:mod:`core.circuit.neuron`, shared by every fidelity).

Evaluations take conductance stacks with an optional leading batch dimension ``M`` (one entry per defect
map) and return output voltages of shape (M, N, n_out), or (N, n_out) without a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np

from core.circuit import neuron
from core.circuit.mapping import row_voltages
from core.model import network
from core.model.crossbar import MappedNetwork


def layer_forward(mapped: MappedNetwork, layer: int, v_in: np.ndarray, g: np.ndarray, return_tia: bool = False):
    """Output voltages of one crossbar layer for input voltages ``v_in`` (..., N, n_in) and conductances ``g``.

    Returns (..., N, n_out); with ``return_tia`` also the TIA output voltages (..., N, cols).
    """
    a = mapped.arrays[layer]
    dev, cir = mapped.device, mapped.circuit
    v_rows = row_voltages(mapped.scheme, v_in, dev.v_read_volt, cir, layer)
    if dev.model == "gap":
        # I = I0 exp(-gap/g0) sinh(V/V0) = G_small_signal * V0 * sinh(V/V0) with the column at virtual ground
        drive = dev.v0_volt * np.sinh(v_rows / dev.v0_volt)
        g_sum = np.cosh(v_rows / dev.v0_volt) @ g  # small-signal conductance seen by the virtual ground
    else:
        drive = v_rows
        g_sum = g.sum(axis=-2)[..., None, :]
    v_tia = neuron.tia_outputs(drive @ g, g_sum, a, cir)
    v = neuron.neuron_outputs(v_tia, a, mapped.scheme, cir)
    return (v, v_tia) if return_tia else v


def forward_voltages(
    mapped: MappedNetwork, X: np.ndarray, g_list: Optional[Sequence[np.ndarray]] = None, return_hidden: bool = False
):
    """Output-layer voltages for inputs ``X`` (N, n_in) in [0, 1].

    ``g_list`` holds one conductance array per crossbar, each (rows, cols) or (M, rows, cols); default: the
    programmed (defect-free) conductances.
    """
    g_list = mapped.conductances() if g_list is None else list(g_list)
    v = np.asarray(X, dtype=np.float64) * mapped.device.v_read_volt
    hidden = []
    for l in range(len(mapped.arrays)):
        v = layer_forward(mapped, l, v, np.asarray(g_list[l], dtype=np.float64))
        hidden.append(v)
    return (v, hidden) if return_hidden else v


def accuracy(mapped: MappedNetwork, X: np.ndarray, y: np.ndarray, g_list=None) -> np.ndarray | float:
    """Accuracy for each defect map in the batch (array of M) or a float without a batch."""
    return network.accuracy(forward_voltages(mapped, X, g_list), y)


def batch_accuracy(
    mapped: MappedNetwork, X: np.ndarray, y: np.ndarray, g_stacks: Sequence[np.ndarray], chunk: int = 256
) -> np.ndarray:
    """Accuracy of M defect maps given as per-array stacks (M, rows, cols), in memory-bounded chunks."""
    m = max(np.asarray(g).shape[0] if np.ndim(g) == 3 else 1 for g in g_stacks)
    out = np.empty(m)
    for s in range(0, m, chunk):
        sl = [g[s : s + chunk] if np.ndim(g) == 3 else g for g in g_stacks]
        out[s : s + chunk] = np.atleast_1d(accuracy(mapped, X, y, sl))
    return out
