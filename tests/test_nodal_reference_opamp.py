"""The nodal solver with non-ideal op-amps against a dense MNA of crossbar, TIAs and difference amplifiers.

An extension of the independent reference of ``tests/test_nodal_reference.py`` (its helpers and its tolerance,
relative 1e-9 of the largest output; measured 2e-12): :func:`dense_neuron_mna` writes every op-amp of the
macro-model of :mod:`core.model.opamp` as an MNA row (offset ``A V_os`` on the right-hand side, bias current as
a current out of the inverting input, ``R_o`` as a resistor after an internal node) and
:func:`reference_neurons` tries all ``3**(cols + n_out)`` op-amp states, of which exactly one must be
self-consistent. No ngspice needed.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from test_nodal_reference import RAIL, _assert_close, _gap_iv, _random_case

from core.circuit import nodal
from core.model.devices import DeviceParams


def dense_neuron_mna(g, v_rows, r, device, rf, k, r2, op, vos_t, vos_s, st_t, st_s):
    """Dense MNA of a ``differential-columns`` crossbar with its TIAs and difference amplifiers, every op-amp the
    macro-model of :mod:`core.model.opamp` (``op = (A, E, R_o, I_b)``) in a given state (0 linear, +-1 at +-E).

    Each op-amp is an ideal voltage source at its internal node ``e`` (its output node when ``R_o = 0``) whose
    row reads ``v_e + A v_minus - A v_plus = A V_os`` (linear) or ``v_e = sigma E``; ``R_o`` joins ``e`` to the
    output; ``I_b`` leaves the inverting input. Neuron ``j``: TIA ``2j`` -R2- ``m``, ``m`` -kR2- ``s``, TIA
    ``2j+1`` -R2- ``p`` -kR2- ground, stage 2 ``v+ = p``, ``v- = m``. ``r = 0``: ideal wires (each device
    joins its driver and its column end). Gap devices by Newton on the whole system. Returns (x, index dict).
    """
    a_gain, e_sat, r_o, i_b = op
    rows, cols = g.shape
    n_out = cols // 2
    rc = rows * cols
    nxt = iter(range(10**6))
    d = np.array([next(nxt) for _ in range(rows)])
    n, t = (np.array([next(nxt) for _ in range(cols)]) for _ in range(2))
    if r > 0:
        a = np.array([next(nxt) for _ in range(rc)]).reshape(rows, cols)
        b = np.array([next(nxt) for _ in range(rc)]).reshape(rows, cols)
    else:  # ideal wires: every device joins its driver node and its column end directly
        a, b = np.repeat(d[:, None], cols, axis=1), np.repeat(n[None, :], rows, axis=0)
    m_, p_, s_ = (np.array([next(nxt) for _ in range(n_out)]) for _ in range(3))
    e_t = np.array([next(nxt) for _ in range(cols)]) if r_o > 0 else t
    e_s = np.array([next(nxt) for _ in range(n_out)]) if r_o > 0 else s_
    n_nodes = next(nxt)
    size = n_nodes + rows + cols + n_out
    mat = np.zeros((size, size))
    rhs = np.zeros((len(v_rows), size))

    def resistor(p, q, cond):
        mat[p, p] += cond
        mat[q, q] += cond
        mat[p, q] -= cond
        mat[q, p] -= cond

    def source(row, node):
        mat[node, row] -= 1.0
        mat[row, node] = 1.0

    for i in range(rows):
        for j in range(cols):
            if r > 0:
                resistor(d[i] if j == 0 else a[i, j - 1], a[i, j], 1.0 / r)
                resistor(b[i, j], n[j] if i == rows - 1 else b[i + 1, j], 1.0 / r)
            if device.model == "linear":
                resistor(a[i, j], b[i, j], g[i, j])
        source(n_nodes + i, d[i])
        rhs[:, n_nodes + i] = v_rows[:, i]

    def opamp(row, out_e, plus, minus, v_os, state):
        source(row, out_e)
        if state == 0:
            mat[row, minus] += a_gain
            if plus is not None:
                mat[row, plus] -= a_gain
            rhs[:, row] = a_gain * v_os
        else:
            rhs[:, row] = state * e_sat
        rhs[:, minus] -= i_b

    for j in range(cols):
        resistor(n[j], t[j], 1.0 / rf)
        if r_o > 0:
            resistor(e_t[j], t[j], 1.0 / r_o)
        opamp(n_nodes + rows + j, e_t[j], None, n[j], vos_t[j], st_t[j])
    for j in range(n_out):
        resistor(t[2 * j], m_[j], 1.0 / r2)
        resistor(m_[j], s_[j], 1.0 / (k * r2))
        resistor(t[2 * j + 1], p_[j], 1.0 / r2)
        mat[p_[j], p_[j]] += 1.0 / (k * r2)
        if r_o > 0:
            resistor(e_s[j], s_[j], 1.0 / r_o)
        opamp(n_nodes + rows + cols + j, e_s[j], p_[j], m_[j], vos_s[j], st_s[j])
    idx = {"n": n, "t": t, "m": m_, "p": p_, "s": s_}
    if device.model == "linear":
        return np.linalg.solve(mat, rhs.T).T, idx
    ia, ib = a.ravel(), b.ravel()
    x = np.zeros_like(rhs)
    for _ in range(60):
        i_dev, g_dev = _gap_iv(g, (x[:, ia] - x[:, ib]).reshape(-1, rows, cols), device)
        i_dev, g_dev = i_dev.reshape(len(x), rc), g_dev.reshape(len(x), rc)
        f = x @ mat.T - rhs
        jac = np.repeat(mat[None], len(x), axis=0)
        # np.add.at: with ideal wires many devices share a node, so the indices repeat
        np.add.at(f, (slice(None), ia), i_dev)
        np.add.at(f, (slice(None), ib), -i_dev)
        for p, q, sign in ((ia, ia, 1), (ib, ib, 1), (ia, ib, -1), (ib, ia, -1)):
            np.add.at(jac, (slice(None), p, q), sign * g_dev)
        step = np.linalg.solve(jac, f[..., None])[..., 0]
        x -= step
        if np.max(np.abs(step)) <= 1e-12 * np.max(np.abs(x)):
            break
    else:
        raise AssertionError("reference Newton iteration did not converge")
    return x, idx


def reference_neurons(g, v_rows, r, device, rf, k, r2, op, vos_t, vos_s):
    """(stage-2 outputs, TIA outputs, TIA states, stage-2 states) of the unique self-consistent op-amp states,
    found by trying all ``3**(cols + n_out)`` of them."""
    a_gain, e_sat = op[0], op[1]
    n_img, cols = len(v_rows), g.shape[1]
    n_out = cols // 2
    s_out, t_out = np.zeros((n_img, n_out)), np.zeros((n_img, cols))
    states = np.zeros((n_img, cols + n_out), dtype=int)
    hits = np.zeros(n_img, dtype=int)

    def consistent(st, w):
        return np.where(st == 0, np.abs(w) <= e_sat, st * w >= e_sat)

    for st in itertools.product((0, 1, -1), repeat=cols + n_out):
        st = np.array(st)
        x, idx = dense_neuron_mna(g, v_rows, r, device, rf, k, r2, op, vos_t, vos_s, st[:cols], st[cols:])
        w_t = a_gain * (vos_t - x[:, idx["n"]])
        w_s = a_gain * (x[:, idx["p"]] + vos_s - x[:, idx["m"]])
        ok = np.all(consistent(st[:cols], w_t), axis=1) & np.all(consistent(st[cols:], w_s), axis=1)
        s_out[ok], t_out[ok], states[ok], hits[ok] = x[ok][:, idx["s"]], x[ok][:, idx["t"]], st, hits[ok] + 1
    assert np.all(hits == 1), f"self-consistent states per image: {hits}"
    return s_out, t_out, states[:, :cols], states[:, cols:]


@pytest.mark.parametrize("model", ["linear", "gap"])
@pytest.mark.parametrize("r_o", [0.0, 200.0], ids=["R_o=0", "R_o=200"])
@pytest.mark.parametrize("regime", ["read", "saturating"])
@pytest.mark.parametrize("r", [0.0, 2.0])
def test_nonideal_neurons_match_dense_mna(r, regime, r_o, model):
    """Offsets (a few mV, per op-amp), 50 nA bias, a 1 V swing margin and R_o on a 3 x 4 array (2 neurons).

    ``read``: inputs in [0, v_read], R_f = 10k, nothing saturates; ``saturating``: inputs in +-2 V, R_f = 40k,
    TIAs and stage-2 amplifiers at both limits (gap devices: inputs in +-v_read, R_f = 200k). ``r = 0`` is the
    zero-wire path of the nodal solver."""
    from core.circuit.nodal_neurons import NeuronPorts
    from core.circuit.opamp import OpAmpModel
    from core.model.crossbar import ArrayMap
    from core.model.opamp import OpAmpOffsets

    dev = DeviceParams(model=model)
    rf, v_lo, v_hi = (10e3, 0.0, 0.2) if regime == "read" else (40e3, -2.0, 2.0)
    if model == "gap" and regime == "saturating":
        rf, v_lo, v_hi = 200e3, -dev.v_read_volt, dev.v_read_volt
    k, r2 = 2.0, 10e3
    op = (1e5, RAIL - 1.0, r_o, 50e-9)
    rng = np.random.default_rng(11)
    vos_t, vos_s = rng.normal(0, 3e-3, 4), rng.normal(0, 3e-3, 2)
    states_t, states_s = [], []
    for seed in range(3):
        g, v = _random_case(seed, (3, 4), v_lo, v_hi, n_img=8)
        s_ref, t_ref, st_t, st_s = reference_neurons(g, v, r, dev, rf, k, r2, op, vos_t, vos_s)
        arr = ArrayMap(0, g, 2, 2, 1.0, 1.0, r_tia_ohm=rf, k_stage2=k, relu=False, sigma_in=1.0, sigma_out=1.0)
        ports = NeuronPorts(OpAmpModel(*op), arr, "differential-columns", r2, OpAmpOffsets(vos_t, vos_s, np.zeros(0)))
        s, t = nodal.neuron_layer(g, v, r, ports, dev)
        _assert_close(s, s_ref)
        _assert_close(t, t_ref)
        states_t.append(st_t)
        states_s.append(st_s)
    st_t, st_s = np.concatenate(states_t), np.concatenate(states_s)
    if regime == "read":
        assert np.all(st_t == 0) and np.all(st_s == 0)
    else:
        assert np.any(st_t == 1) and np.any(st_t == -1) and np.any(st_s != 0) and np.any(st_s == 0)
