"""Behavioural crossbar model: ideal wires, exact closed-form op-amp neurons, batched over defect maps.

For a column whose TIA has feedback ``R_f`` and open-loop gain ``A`` the output is
``-I / (1/R_f + (G_sum + 1/R_f)/A)`` (exact for ideal wires and linear devices: the rows are driven by ideal
sources, so columns do not interact). Saturated op-amps sit at the rail, exactly as the SPICE macro-model's
clamp does. The stage-2 amplifier and analog ReLU follow (:mod:`core.circuit.neuron`, shared by every fidelity).
With non-ideal op-amps (offset, bias current, swing margin, output resistance: :mod:`core.model.opamp`) the
neuron stage is the exact closed form of :mod:`core.circuit.opamp` instead (each column is then the Norton
source ``(I, G_sum)`` into its TIA, and the TIAs feeding one stage 2 interact through it).

Evaluations take conductance stacks with an optional leading batch dimension ``M`` (one entry per defect
map) and return output voltages of shape (M, N, n_out), or (N, n_out) without a batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Optional

import numpy as np

from core.circuit import neuron, opamp
from core.circuit.mapping import row_voltages
from core.model import network, tiling
from core.model.crossbar import MappedNetwork
from core.model.opamp import OpAmpOffsets


def layer_forward(
    mapped: MappedNetwork,
    layer: int,
    v_in: np.ndarray,
    g: np.ndarray,
    return_tia: bool = False,
    offsets: Optional[OpAmpOffsets] = None,
):
    """Output voltages of one crossbar layer for input voltages ``v_in`` (..., N, n_in) and conductances ``g``.

    Returns (..., N, n_out); with ``return_tia`` also the TIA output voltages (..., N, cols). With non-ideal
    op-amps (``mapped.opamp``) the neuron stage is :func:`core.circuit.opamp.neuron_stage`; ``offsets`` are
    this array's op-amp offsets (default: ``mapped.opamp_offsets()``).
    """
    a = mapped.arrays[layer]
    dev, cir = mapped.device, mapped.circuit
    ideal = mapped.ideal_opamps
    if not ideal and offsets is None:
        all_offsets = mapped.opamp_offsets()
        offsets = None if all_offsets is None else all_offsets[layer]
    inv = None if offsets is None else offsets.inverter
    v_rows = row_voltages(mapped.scheme, v_in, dev.v_read_volt, cir, layer, mapped.opamp, inv)
    # tiled (core.model.tiling): unused rows at 0 V, unused columns end at ground (no TIA); with ideal wires the
    # tiles of a tile column sum into one virtual ground, which is one column of the whole mosaic
    v_rows = tiling.pad_rows(v_rows, a)
    g = tiling.used_columns(a, g)
    if dev.uses_gap_iv:
        # I = I0 exp(-gap/g0) sinh(V/V0) = G_small_signal * V0 * sinh(V/V0) with the column at virtual ground
        drive = dev.v0_volt * np.sinh(v_rows / dev.v0_volt)
        g_sum = np.cosh(v_rows / dev.v0_volt) @ g  # small-signal conductance seen by the virtual ground
    else:
        drive = v_rows
        g_sum = g.sum(axis=-2)[..., None, :]
    i_cols = drive @ g
    if ideal:
        v_tia = neuron.tia_outputs(i_cols, g_sum, a, cir)
        v = neuron.neuron_outputs(v_tia, a, mapped.scheme, cir)
        return (v, v_tia) if return_tia else v
    if dev.uses_gap_iv and offsets is not None:
        # a TIA with offset holds its column end near V_os, not 0 V: expand the devices' I-V around n0 = V_os
        # (sinh(x - y) = sinh x cosh y - cosh x sinh y), a Norton source (I(V - n0) + G n0, G = I'(V - n0))
        y = np.asarray(offsets.tia)[..., None, :] / dev.v0_volt
        i_n0 = np.cosh(y) * i_cols - np.sinh(y) * dev.v0_volt * g_sum
        g_n0 = np.cosh(y) * g_sum - np.sinh(y) * (np.sinh(v_rows / dev.v0_volt) @ g)
        i_cols, g_sum = i_n0 + g_n0 * dev.v0_volt * y, g_n0
    v, v_tia = opamp.neuron_stage(i_cols, g_sum, a, mapped.scheme, cir, mapped.opamp, offsets)
    return (v, v_tia) if return_tia else v


def forward_voltages(
    mapped: MappedNetwork, X: np.ndarray, g_list: Optional[Sequence[np.ndarray]] = None, return_hidden: bool = False
):
    """Output-layer voltages for inputs ``X`` (N, n_in) in [0, 1].

    ``g_list`` holds one conductance array per crossbar, each (rows, cols) or (M, rows, cols); default: the
    programmed (defect-free) conductances. Op-amp offsets (``mapped.offsets``) may be batched (M, ...) too.
    """
    g_list = mapped.conductances() if g_list is None else list(g_list)
    offsets = None if mapped.ideal_opamps else mapped.opamp_offsets()
    v = np.asarray(X, dtype=np.float64) * mapped.device.v_read_volt
    hidden = []
    for l in range(len(mapped.arrays)):
        off = None if offsets is None else offsets[l]
        v = layer_forward(mapped, l, v, np.asarray(g_list[l], dtype=np.float64), offsets=off)
        hidden.append(v)
    return (v, hidden) if return_hidden else v


def accuracy(mapped: MappedNetwork, X: np.ndarray, y: np.ndarray, g_list=None) -> np.ndarray | float:
    """Accuracy for each defect map in the batch (array of M) or a float without a batch."""
    return network.accuracy(forward_voltages(mapped, X, g_list), y)


def batch_accuracy(
    mapped: MappedNetwork,
    X: np.ndarray,
    y: np.ndarray,
    g_stacks: Sequence[np.ndarray],
    chunk: int = 256,
    n_maps: Optional[int] = None,
    offsets: Optional[Sequence[OpAmpOffsets]] = None,
) -> np.ndarray:
    """Accuracy of M defect maps given as per-array stacks (M, rows, cols), in memory-bounded chunks.

    ``offsets`` (one batched :class:`~core.model.opamp.OpAmpOffsets` per array, leading axis M) gives each map
    its own op-amp offsets; ``n_maps`` is M when neither stacks nor offsets carry it (identical maps).
    """
    m = max(np.asarray(g).shape[0] if np.ndim(g) == 3 else 1 for g in g_stacks)
    if offsets is not None:
        m = max(m, offsets[0].tia.shape[0])
    m = max(m, n_maps or 1)
    out = np.empty(m)
    for s in range(0, m, chunk):
        sl = [g[s : s + chunk] if np.ndim(g) == 3 else g for g in g_stacks]
        view = mapped
        if offsets is not None:
            part = [
                OpAmpOffsets(o.tia[s : s + chunk], o.stage2[s : s + chunk], o.inverter[s : s + chunk]) for o in offsets
            ]
            view = dataclasses.replace(mapped, offsets=part)
        out[s : s + chunk] = np.atleast_1d(accuracy(view, X, y, sl))
    return out
