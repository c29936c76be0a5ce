"""The nodal solver's wire-resistance path against an independent dense reference (no ngspice needed).

Cross-checks
------------
* :func:`core.circuit.nodal.column_currents` (columns held at 0 V) and :func:`core.circuit.nodal.tia_outputs`
  against a plainly written modified nodal analysis (MNA) of one crossbar, solved with
  :func:`numpy.linalg.solve`. The reference has its own node for every row driver, cell, column end and TIA
  output; drivers are ideal voltage sources, every TIA is a feedback resistor ``R_f`` from the column end ``n``
  to the output ``o`` plus an op-amp written as an extra MNA row: linear ``v_o + A v_n = 0`` (a VCVS of
  gain ``-A``), or clamped ``v_o = +-rail`` (an ideal source at the rail behind ``R_f``). Saturation is found
  without the solver under test: every one of the ``3**cols`` linear / +rail / -rail states is solved and
  exactly one must be self-consistent (linear: ``|v_o| <= rail``; clamped at ``s rail``: ``-A s v_n >= rail``).
  This is the model of the :mod:`core.circuit.nodal` docstring and of the ngspice B-source clamp.
  Gap devices (``I = I0 exp(-gap/g0) sinh(V/V0)``) use a full Newton iteration on the same dense system.
* :func:`core.circuit.nodal.forward_voltages` on the trained network: with 1e-6 ohm wires it goes through the
  sparse solver and agrees with the behavioural model; with 2 ohm wires it does not.
* Non-ideal op-amps (``tests/test_nodal_reference_opamp.py``, with the helpers of this file):
  :func:`core.circuit.nodal.neuron_layer` (per-op-amp input offsets, bias current, a swing margin, output
  resistance) against a dense MNA of a ``differential-columns`` crossbar *with* its difference amplifiers:
  every op-amp is an ideal source at its internal node, ``R_o`` a resistor to the output, the offset a term
  ``A V_os`` of its row, the bias current a right-hand-side entry; all ``3**(cols + n_out)`` op-amp states are
  tried and exactly one must be self-consistent. Linear and gap devices, ideal and 2 ohm wires; measured
  agreement 2e-12 relative.

Tolerances
----------
Crossbar checks: relative 1e-9 of the largest output (currents or TIA voltages) of the batch. Both sides are
direct solves of well-posed systems of at most ~100 unknowns (the gap model iterates to steps of 1e-12), so only
rounding separates them (measured below 5e-13 relative); 1e-9 still sees a TIA term ``A / R_f`` instead of
``(1 + A) / R_f`` at A = 1e5 (1e-5 relative) and a doubled or missing wire segment (the whole wire effect is
5e-4 relative at 0.5 ohm to 3e-2 at 20 ohm here).
Network check: 10 times the first-order size of the wire effect, ``r sum_l (cols max_i sum_j g_ij + rows
max_j sum_i g_ij)`` (worst relative drop along a row plus along a column, summed over the crossbars), times
the largest output; see :func:`test_network_tiny_wires_use_sparse_solver_and_match_behavioural`.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.circuit import behavioral, nodal
from core.circuit.fidelity import with_overrides
from core.circuit.mapping import map_project
from core.model.devices import DeviceParams

RTOL = 1e-9
RAIL = 5.0


def _gap_iv(g, vd, device):
    """Gap-device currents and their derivatives dI/dV at device voltages ``vd`` (N, rows, cols)."""
    coef = device.i0_amp * np.exp(-device.gap_from_conductance(g) / device.g0_m)
    return coef * np.sinh(vd / device.v0_volt), coef / device.v0_volt * np.cosh(vd / device.v0_volt)


def dense_mna(g, v_rows, r, device, tia=None, state=None):
    """Dense MNA solution of one crossbar for every image.

    Unknowns: voltages of the driver nodes ``d_i``, row cells ``a_ij``, column cells ``b_ij``, column ends
    ``n_j`` and (with ``tia = (R_f, A, rail)``) TIA outputs ``o_j``; then one current per voltage source
    (``rows`` drivers, then one per column: a 0 V source at ``n_j`` without ``tia``, else the op-amp at ``o_j``
    in ``state[j]``: 0 linear, +-1 clamped at +-rail). Source current ``i_k`` flows into its node.
    Returns (x (N, size), index dict).
    """
    rows, cols = g.shape
    rc = rows * cols
    d = np.arange(rows)
    a = rows + np.arange(rc).reshape(rows, cols)
    b = a + rc
    n = rows + 2 * rc + np.arange(cols)
    o = n + cols
    n_nodes = rows + 2 * rc + cols + (cols if tia is not None else 0)
    size = n_nodes + rows + cols
    m = np.zeros((size, size))
    rhs = np.zeros((len(v_rows), size))

    def resistor(p, q, cond):
        m[p, p] += cond
        m[q, q] += cond
        m[p, q] -= cond
        m[q, p] -= cond

    def source(k, p):  # KCL at p: sum of currents out through resistors - i_k = 0; row n_nodes + k fixes v_p
        m[p, n_nodes + k] -= 1.0
        m[n_nodes + k, p] = 1.0

    for i in range(rows):
        for j in range(cols):
            resistor(d[i] if j == 0 else a[i, j - 1], a[i, j], 1.0 / r)  # row segment
            resistor(b[i, j], n[j] if i == rows - 1 else b[i + 1, j], 1.0 / r)  # column segment
    for i in range(rows):
        source(i, d[i])
        rhs[:, n_nodes + i] = v_rows[:, i]
    for j in range(cols):
        if tia is None:
            source(rows + j, n[j])  # column end held at 0 V
            continue
        r_f, gain, rail = tia
        resistor(n[j], o[j], 1.0 / r_f)
        source(rows + j, o[j])
        if state[j] == 0:
            m[n_nodes + rows + j, n[j]] = gain  # v_o + A v_n = 0
        else:
            rhs[:, n_nodes + rows + j] = state[j] * rail
    # devices between a_ij and b_ij
    ia, ib = a.ravel(), b.ravel()
    idx = {"n": n, "o": o, "src": n_nodes + rows + np.arange(cols)}
    if device.model == "linear":
        for p, q, cond in zip(ia, ib, g.ravel()):
            resistor(p, q, cond)
        return np.linalg.solve(m, rhs.T).T, idx
    # gap: Newton on F(x) = m x + P i_dev(x) - rhs, P puts i_dev out of a_ij and into b_ij
    x = np.zeros_like(rhs)
    for _ in range(60):
        i_dev, g_dev = _gap_iv(g, (x[:, ia] - x[:, ib]).reshape(-1, rows, cols), device)
        i_dev, g_dev = i_dev.reshape(len(x), rc), g_dev.reshape(len(x), rc)
        f = x @ m.T - rhs
        f[:, ia] += i_dev
        f[:, ib] -= i_dev
        jac = np.repeat(m[None], len(x), axis=0)
        jac[:, ia, ia] += g_dev
        jac[:, ib, ib] += g_dev
        jac[:, ia, ib] -= g_dev
        jac[:, ib, ia] -= g_dev
        step = np.linalg.solve(jac, f[..., None])[..., 0]
        x -= step
        if np.max(np.abs(step)) <= 1e-12 * np.max(np.abs(x)):  # Newton: the error is now ~ step**2
            break
    else:
        raise AssertionError("reference Newton iteration did not converge")
    return x, idx


def reference_column_currents(g, v_rows, r, device):
    """Currents (N, cols) into the 0 V column ends: minus the currents the 0 V sources deliver."""
    x, idx = dense_mna(g, v_rows, r, device)
    return -x[:, idx["src"]]


def reference_tia_outputs(g, v_rows, r, r_f, gain, rail, device):
    """TIA outputs (N, cols) and op-amp states (N, cols) of the unique self-consistent saturation state."""
    n_img, cols = len(v_rows), g.shape[1]
    out, states, hits = np.zeros((n_img, cols)), np.zeros((n_img, cols), dtype=int), np.zeros(n_img, dtype=int)
    for st in itertools.product((0, 1, -1), repeat=cols):
        st = np.array(st)
        x, idx = dense_mna(g, v_rows, r, device, (r_f, gain, rail), st)
        v_o, wanted = x[:, idx["o"]], -gain * x[:, idx["n"]]
        ok = np.all(np.where(st == 0, np.abs(v_o) <= rail, st * wanted >= rail), axis=1)
        out[ok], states[ok], hits[ok] = v_o[ok], st, hits[ok] + 1
    assert np.all(hits == 1), f"self-consistent states per image: {hits}"
    return out, states


def _random_case(seed, shape, v_lo, v_hi, n_img=6):
    dev = DeviceParams()
    rng = np.random.default_rng(seed)
    g = rng.uniform(dev.g_off_siemens, dev.g_on_siemens, shape)
    return g, rng.uniform(v_lo, v_hi, (n_img, shape[0]))


def _assert_close(actual, expected):
    err = np.max(np.abs(actual - expected)) / np.max(np.abs(expected))
    assert err <= RTOL, f"relative difference {err:.3g}"


def test_reference_reproduces_hand_example():
    """The reference itself on the 1 x 2 hand example of ``test_nodal.py``: 80 uA and 40 uA."""
    i = reference_column_currents(np.array([[1 / 10e3, 1 / 20e3]]), np.array([[1.0]]), 1e3, DeviceParams())
    np.testing.assert_allclose(i, [[80e-6, 40e-6]], rtol=1e-12)


@pytest.mark.parametrize("model", ["linear", "gap"])
@pytest.mark.parametrize("r", [0.5, 2.0, 20.0])
@pytest.mark.parametrize("shape", [(5, 4), (3, 6)], ids=["5x4", "3x6"])
def test_column_currents_match_dense_mna(shape, r, model):
    dev = DeviceParams(model=model)
    for seed, n_img in enumerate([2, 6, 12]):  # nodal solves per image up to `rows` images, else a transfer matrix
        g, v = _random_case(seed, shape, 0.0, dev.v_read_volt, n_img)
        i_ref = reference_column_currents(g, v, r, dev)
        _assert_close(nodal.column_currents(g, v, r, dev), i_ref)
        ideal = nodal.column_currents(g, v, 0.0, dev)
        assert np.max(np.abs(ideal - i_ref) / i_ref) > 1e3 * RTOL  # the wires matter at this tolerance


@pytest.mark.parametrize("gain", [1e5, 100.0])
@pytest.mark.parametrize("regime", ["read", "saturating"])
@pytest.mark.parametrize("r", [0.5, 2.0, 20.0])
@pytest.mark.parametrize("shape", [(5, 4), (3, 6)], ids=["5x4", "3x6"])
def test_tia_outputs_match_dense_mna(shape, r, regime, gain):
    """Linear devices; ``read``: inputs in [0, v_read], no TIA saturates; ``saturating``: inputs in +-2 V."""
    dev = DeviceParams()
    r_f, v_lo, v_hi = (10e3, 0.0, 0.2) if regime == "read" else (40e3, -2.0, 2.0)
    all_states = []
    for seed in range(3):
        g, v = _random_case(seed, shape, v_lo, v_hi, n_img=10)
        v_ref, states = reference_tia_outputs(g, v, r, r_f, gain, RAIL, dev)
        _assert_close(nodal.tia_outputs(g, v, r, r_f, dev, gain, RAIL), v_ref)
        all_states.append(states)
    states = np.concatenate(all_states)
    if regime == "read":
        assert np.all(states == 0)
    else:  # both rails, and images where saturated and linear TIAs share the row wires
        assert np.any(states == 1) and np.any(states == -1)
        assert np.any(np.any(states == 0, axis=1) & np.any(states != 0, axis=1))


@pytest.mark.parametrize("r", [0.5, 20.0])
def test_gap_tia_outputs_match_dense_mna(r):
    """Gap devices, inputs in +-v_read; R_f = 200k makes part of the TIAs saturate at either rail."""
    dev = DeviceParams(model="gap")
    g, v = _random_case(2, (5, 4), -dev.v_read_volt, dev.v_read_volt, n_img=8)
    v_ref, states = reference_tia_outputs(g, v, r, 200e3, 1e5, RAIL, dev)
    assert np.any(states == 1) and np.any(states == -1) and np.any(states == 0)
    _assert_close(nodal.tia_outputs(g, v, r, 200e3, dev, 1e5, RAIL), v_ref)


def _wire_effect_scale(mapped, r):
    """First-order relative wire effect: worst drop along a row plus along a column, summed over crossbars."""
    scale = 0.0
    for g in mapped.conductances():
        rows, cols = g.shape
        scale += r * (cols * g.sum(axis=1).max() + rows * g.sum(axis=0).max())
    return scale


@pytest.mark.parametrize("scheme", ["differential-columns", "differential-rows"])
def test_network_tiny_wires_use_sparse_solver_and_match_behavioural(trained_project, scheme, monkeypatch):
    """1e-6 ohm: sparse path, within 10x the first-order wire effect; 2 ohm: clearly outside that tolerance.

    The measured difference at 1e-6 ohm is ~0.04 of the tolerance (the estimate is ~2.5x the actual first-order
    effect); rounding in the sparse solve (wire conductances 1e6 S next to devices of 1e-6 S) adds ~1e-8 V.
    At 2 ohm the difference is ~6e4 tolerances (0.18 V columns, 0.45 V rows scheme).
    """
    trained_project.scheme = scheme
    mapped = map_project(trained_project)
    X = trained_project.load_dataset().X_test
    v_b = behavioral.forward_voltages(mapped, X)
    tiny = 1e-6
    tol = 10 * _wire_effect_scale(mapped, tiny) * np.max(np.abs(v_b))

    calls = []
    solve = nodal._solve_crossbar

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return solve(*args, **kwargs)

    def no_shortcut(*args, **kwargs):
        raise AssertionError("zero-wire shortcut used")

    monkeypatch.setattr(nodal, "_solve_crossbar", spy)
    monkeypatch.setattr(nodal, "_tia_inputs_ideal_wires", no_shortcut)
    v_tiny = nodal.forward_voltages(with_overrides(mapped, r_wire_ohm=tiny), X)
    assert set(calls) == set(mapped.shapes)
    diff_tiny = np.max(np.abs(v_tiny - v_b))
    assert diff_tiny <= tol, f"{diff_tiny:.3g} V > {tol:.3g} V"

    v_real = nodal.forward_voltages(with_overrides(mapped, r_wire_ohm=2.0), X)
    assert np.max(np.abs(v_real - v_b)) > 1e4 * tol  # the 2 ohm wires are far outside the tolerance
