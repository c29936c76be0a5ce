"""Remapping: permute hidden neurons so that stuck devices hold weights whose damage is smallest.

Hidden neuron ``j`` of layer ``h`` owns a column of array ``h`` (a column pair with ``differential-columns`` and
``balanced``) and a row of array ``h + 1`` (a row pair with ``differential-rows``). Moving neuron ``j`` to physical
position ``p`` moves both together, which leaves the network's function unchanged on a defect-free circuit. With
``reference`` the array's reference column never moves: only the neurons' own columns are permuted, and the row
of array ``h + 1`` moves with its reference cell (every reference cell is programmed alike, so that changes no
conductance). The defect map stays on the physical grid; the weights move. Everything goes through
:func:`core.model.crossbar.split_pairs` / ``join_pairs``, so every scheme is handled the same way; a stuck
reference cell costs the same at every position of a neuron's column (it cannot be avoided by moving columns)
and is avoided, where possible, by moving rows.

A permutation is an int array ``perm`` with ``perm[p]`` = the logical neuron placed at physical position
``p``. The cost of placing neuron ``j`` at ``p`` is the weight error the stuck devices at ``p`` would cause,
in units of the pre-activation it disturbs (weight error x mean input activation on the train split, divided
by the layer's largest activation), summed over both arrays the neuron touches. One layer's assignment is
solved exactly with the Hungarian method (:func:`scipy.optimize.linear_sum_assignment`) holding the others
fixed; a few sweeps over the layers settle it. The identity and the candidates of two cost weightings are
compared on the calibration split (behavioural fidelity), and the best one is kept, so remapping never
chooses a placement that does worse than doing nothing on data it may look at.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import numpy as np

from core.circuit import behavioral
from core.circuit.fidelity import check_fidelity, circuit_accuracy_job
from core.circuit.mapping import effective_weights
from core.errors import ParameterError, check_range
from core.jobs import Progress
from core.model import defects as defects_mod
from core.model import tiling
from core.model.crossbar import MappedNetwork, join_pairs, split_pairs
from core.model.defects import Defect
from core.model.network import Weights, forward
from core.model.project import Project
from core.recovery.common import recovery_result


def identity_perms(mapped: MappedNetwork) -> list[np.ndarray]:
    """One identity permutation per hidden layer."""
    return [np.arange(a.n_out) for a in mapped.arrays[:-1]]


def _row_col_perms(mapped: MappedNetwork, perms: Sequence[np.ndarray], layer: int):
    """(row order incl. the fixed bias row, column order) of array ``layer`` in pair coordinates."""
    a = mapped.arrays[layer]
    rows = np.append(perms[layer - 1], a.n_in) if layer > 0 else np.arange(a.n_in + 1)
    cols = perms[layer] if layer < len(mapped.arrays) - 1 else np.arange(a.n_out)
    return rows, cols


def check_perms(mapped: MappedNetwork, perms: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Validate one permutation per hidden layer; returns them as int arrays."""
    sizes = [a.n_out for a in mapped.arrays[:-1]]
    if len(perms) != len(sizes):
        raise ParameterError("perms", f"need one permutation per hidden layer ({len(sizes)}), got {len(perms)}")
    out = []
    for h, (p, n) in enumerate(zip(perms, sizes)):
        p = np.asarray(p, dtype=np.int64)
        if p.shape != (n,) or not np.array_equal(np.sort(p), np.arange(n)):
            raise ParameterError("perms", f"hidden layer {h + 1}: must be a permutation of 0..{n - 1}")
        out.append(p)
    return out


def permute_mapped(mapped: MappedNetwork, perms: Sequence[np.ndarray]) -> MappedNetwork:
    """The mapped network with hidden neurons moved: physical position ``p`` of layer h holds ``perms[h][p]``.

    Only conductances move; every array keeps its neuron parameters (a permutation does not change any
    column's largest current or any layer's largest activation, so mapping the permuted weights afresh
    gives the same parameters).
    """
    perms = check_perms(mapped, perms)
    arrays = []
    for l, a in enumerate(mapped.arrays):
        rows, cols = _row_col_perms(mapped, perms, l)
        gp, gn = split_pairs(mapped.scheme, a.logical(a.g_siemens))  # tiled: the unused cells stay where they are
        g = join_pairs(mapped.scheme, gp[rows][:, cols], gn[rows][:, cols])
        arrays.append(dataclasses.replace(a, g_siemens=tiling.embed(a, g)))
    return dataclasses.replace(mapped, arrays=arrays)


def permute_weights(weights: Weights, perms: Sequence[np.ndarray]) -> Weights:
    """The software network with the same hidden-neuron permutation (identical function)."""
    W, b = [], []
    for l, (w, bias) in enumerate(zip(weights.weights, weights.biases)):
        rows = perms[l - 1] if l > 0 else np.arange(w.shape[0])
        cols = perms[l] if l < weights.n_layers - 1 else np.arange(w.shape[1])
        W.append(w[rows][:, cols].copy())
        b.append(bias[cols].copy())
    return Weights(W, b)


def _damage(mapped: MappedNetwork, layer: int, gp, gn, sp, sn) -> np.ndarray:
    """|weight error| (w_aug units) of programmed pairs (gp, gn) when devices are stuck at (sp, sn) (NaN = ok)."""
    err = (np.where(np.isnan(sp), gp, sp) - np.where(np.isnan(sn), gn, sn)) - (gp - gn)
    return np.abs(err) * mapped.arrays[layer].w_max / mapped.span_siemens


def _importance(mapped: MappedNetwork, X: np.ndarray, weighted: bool):
    """Per array: weight of each augmented input row, and the scale of the array's outputs."""
    if not weighted:
        return ([np.ones(a.n_in + 1) for a in mapped.arrays], [a.w_max for a in mapped.arrays])
    W, b = effective_weights(mapped, mapped.conductances())
    _, acts = forward(W, b, X, return_hidden=True)
    ins = [np.asarray(X, dtype=np.float64)] + acts[:-1]
    rows = [np.append(np.mean(np.abs(h), axis=0), 1.0 / a.bias_scale) for h, a in zip(ins, mapped.arrays)]
    scales = [float(np.max(np.abs(z))) or 1.0 for z in acts]
    return rows, scales


def assignment_cost(
    mapped: MappedNetwork,
    stuck: Sequence[np.ndarray],
    perms: Sequence[np.ndarray],
    h: int,
    row_weight: Sequence[np.ndarray],
    out_scale: Sequence[float],
) -> np.ndarray:
    """Cost (n_h, n_h) of placing logical neuron j of hidden layer ``h`` at physical position p.

    Other layers' permutations are held at ``perms``.
    """

    scheme = mapped.scheme
    n = mapped.arrays[h].n_out
    # array h: neuron j's column, its rows already in physical order
    rows, _ = _row_col_perms(mapped, perms, h)
    a1, a2 = mapped.arrays[h], mapped.arrays[h + 1]
    gp, gn = split_pairs(scheme, a1.logical(a1.g_siemens))  # tiled: the layer's own cells
    sp, sn = split_pairs(scheme, a1.logical(stuck[h]))
    d1 = _damage(mapped, h, gp[rows][:, :, None], gn[rows][:, :, None], sp[:, None, :], sn[:, None, :])
    cost = np.einsum("rjp,r->jp", d1, row_weight[h][rows]) / out_scale[h]
    # array h + 1: neuron j's row, its columns in physical order
    _, cols = _row_col_perms(mapped, perms, h + 1)
    gp2, gn2 = split_pairs(scheme, a2.logical(a2.g_siemens))
    sp2, sn2 = split_pairs(scheme, a2.logical(stuck[h + 1]))
    gp2, gn2 = gp2[:n][:, cols], gn2[:n][:, cols]
    d2 = _damage(mapped, h + 1, gp2[:, None, :], gn2[:, None, :], sp2[None, :n, :], sn2[None, :n, :])
    cost += d2.sum(axis=2) * row_weight[h + 1][:n, None] / out_scale[h + 1]
    return cost


def find_perms(
    mapped: MappedNetwork, stuck: Sequence[np.ndarray], X: np.ndarray, *, weighted: bool = True, sweeps: int = 3
) -> list[np.ndarray]:
    """Hidden-neuron permutations minimizing the total stuck-device damage (coordinate-wise Hungarian).

    Parameters
    ----------
    mapped
        The defect-free mapped network (logical placement).
    stuck
        Per array the stuck conductance of each physical cell, NaN where healthy
        (:func:`core.model.defects.stuck_maps`).
    X
        Inputs whose mean activations weight the damage (the train split); ignored when not ``weighted``.
    weighted
        Weight errors by the activation they multiply (else plain |weight error| / w_max).
    sweeps
        Passes over the hidden layers.
    """
    from scipy.optimize import linear_sum_assignment

    sweeps = check_range("sweeps", sweeps, 1, 100, integer=True)
    row_weight, out_scale = _importance(mapped, X, weighted)
    perms = identity_perms(mapped)
    for _ in range(sweeps):
        changed = False
        for h in range(len(perms)):
            cost = assignment_cost(mapped, stuck, perms, h, row_weight, out_scale)
            # cost[j, p]: rows are logical neurons, columns positions; invert to "position -> neuron"
            neuron, pos = linear_sum_assignment(cost)
            new = np.empty_like(perms[h])
            new[pos] = neuron
            if cost[new, np.arange(len(new))].sum() < cost[perms[h], np.arange(len(new))].sum() - 1e-12:
                perms[h], changed = new, True
        if not changed:
            break
    return perms


def remap_job(
    project: Project, defects: Sequence[Defect], fidelity: str = "behavioral", *, sweeps: int = 3, scenario: str = ""
):
    """Job: choose a hidden-neuron permutation for the defect map; returns a :class:`RecoveryResult`.

    ``before``/``after`` are test accuracies at ``fidelity`` of the defective circuit as mapped and after
    remapping. ``arrays`` holds ``perm_hidden1``... (physical position -> logical neuron) and the remapped
    conductances ``g_array1``... with stuck cells applied. The placement is chosen on the calibration split at
    behavioural fidelity (cheap), among the identity and the Hungarian solutions of two cost weightings.
    """
    check_fidelity(fidelity)
    ds = project.load_dataset()
    mapped = project.require_mapped()
    t0 = time.perf_counter()
    stuck = defects_mod.stuck_maps(
        mapped.shapes, defects, mapped.device, pitches_um=mapped.pitches_um, tiles=mapped.tiles
    )
    fractions = defects_mod.defect_fractions(stuck)
    yield Progress(0, 3, f"defective circuit on the test split ({fidelity})")
    before = yield from circuit_accuracy_job(
        mapped, ds.X_test, ds.y_test, defects_mod.apply_stuck(mapped.conductances(), stuck), fidelity
    )
    yield Progress(1, 3, "assigning neurons to positions")
    candidates = {
        "identity": identity_perms(mapped),
        "weighted": find_perms(mapped, stuck, ds.X_train, weighted=True, sweeps=sweeps),
        "unweighted": find_perms(mapped, stuck, ds.X_train, weighted=False, sweeps=sweeps),
    }
    cal_acc = {}
    for name, perms in candidates.items():
        pm = permute_mapped(mapped, perms)
        g = defects_mod.apply_stuck(pm.conductances(), stuck)
        cal_acc[name] = behavioral.accuracy(pm, ds.X_cal, ds.y_cal, g) if len(ds.y_cal) else 0.0
    # ties keep the earlier candidate, so the identity wins unless a move helps
    chosen = max(candidates, key=lambda k: cal_acc[k])
    perms = candidates[chosen]
    remapped = permute_mapped(mapped, perms)
    g_new = defects_mod.apply_stuck(remapped.conductances(), stuck)
    yield Progress(2, 3, f"remapped circuit on the test split ({fidelity})")
    after = yield from circuit_accuracy_job(remapped, ds.X_test, ds.y_test, g_new, fidelity)
    arrays = {f"perm_hidden{h + 1}": p for h, p in enumerate(perms)}
    arrays.update({f"g_array{i + 1}": g for i, g in enumerate(g_new)})
    res = recovery_result(
        "remap",
        mapped,
        (d.to_spec() for d in defects),
        fidelity,
        before,
        after,
        arrays,
        scenario,
        t0,
        {
            "sweeps": sweeps,
            "chosen": chosen,
            "calibration_accuracy": cal_acc,
            "moved_neurons": int(sum(np.sum(p != np.arange(len(p))) for p in perms)),
            "defect_fraction": fractions,
        },
    )
    yield Progress(3, 3, f"remap: {before:.3f} -> {after:.3f}")
    return res
