"""Sparse nodal analysis of crossbars with wire resistance: the ``nodal`` fidelity.

The crossbar topology is exactly the one of the ngspice netlist (:mod:`core.circuit.spice.netlist`): row ``i`` runs
driver -r- cell (i,0) -r- ... -r- cell (i,cols-1); column ``j`` runs cell (0,j) -r- ... -r- cell (rows-1,j) -r- TIA
input; device (i,j) joins its row node and its column node. Unknowns are the 2 rows cols cell nodes plus one
node per column end. The matrix is factored once per crossbar (``scipy.sparse.linalg.splu``) and every image is
solved from that factorisation; with more images than rows, the solver computes the (cols x rows) transfer
matrix from the drivers instead, so the cost no longer grows with the number of images.

Neurons. A TIA of feedback ``R_f`` and open-loop gain ``A`` holds its input at ``v_n = -v_out / A``, so seen
from the column end it is a conductance ``(1 + A) / R_f`` to ground; the output is ``-A v_n``. A TIA that
saturates at ``+-rail`` instead ties the column end through ``R_f`` to ``+-rail``; with wire resistance this
changes the row lines shared with the other columns, so the solver iterates on the set of saturated TIAs
(each distinct set gets its own factorisation) until it is consistent. The result is the exact solution of
the circuit ngspice simulates. Stage 2, ReLU and rails are the shared neuron stage of :mod:`core.circuit.neuron`.

The ``gap`` device model is solved by a chord iteration (the linear small-signal matrix as a fixed Jacobian);
with ``r_wire_ohm == 0`` every column is independent and is solved by a scalar Newton iteration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np

from core.circuit import neuron
from core.circuit.mapping import row_voltages
from core.errors import ParameterError, SimulationError
from core.model.crossbar import MappedNetwork
from core.model.devices import DeviceParams

MAX_CHORD_ITER = 400
MAX_ACTIVE_SET_ITER = 30


def crossbar_matrix(g: np.ndarray, r_wire_ohm: float, term_siemens: Optional[np.ndarray] = None):
    """Nodal conductance matrix (CSC) of one crossbar with wire segments ``r_wire_ohm > 0``.

    Node order: row nodes ``a(i, j) = i cols + j``, column nodes ``b(i, j) = rows cols + i cols + j`` and, if
    ``term_siemens`` (cols,) is given, column ends ``n(j) = 2 rows cols + j`` each with ``term_siemens[j]`` to
    ground. Without it the last column segment goes straight to ground (0 V). Row drivers are not unknowns:
    their segment to ``a(i, 0)`` is on the diagonal and its current ``V_i / r`` on the right-hand side.
    """
    import scipy.sparse as sp

    rows, cols = g.shape
    rc = rows * cols
    gw = 1.0 / r_wire_ohm
    a = np.arange(rc).reshape(rows, cols)
    b = rc + a
    p_list, q_list, c_list = [], [], []

    def edges(p, q, cond):
        p_list.append(np.ravel(p))
        q_list.append(np.ravel(q))
        c_list.append(np.broadcast_to(cond, np.shape(p)).ravel())

    edges(a[:, :-1], a[:, 1:], gw)  # row segments
    edges(b[:-1, :], b[1:, :], gw)  # column segments
    edges(a, b, g)  # devices
    n_nodes = 2 * rc + (cols if term_siemens is not None else 0)
    if term_siemens is not None:
        n = 2 * rc + np.arange(cols)
        edges(b[-1, :], n, gw)
    p, q, c = np.concatenate(p_list), np.concatenate(q_list), np.concatenate(c_list)
    diag = np.zeros(n_nodes)
    np.add.at(diag, p, c)
    np.add.at(diag, q, c)
    diag[a[:, 0]] += gw  # driver segments
    if term_siemens is None:
        diag[b[-1, :]] += gw  # last column segment to ground
    else:
        diag[2 * rc :] += term_siemens
    idx = np.arange(n_nodes)
    k = sp.coo_matrix(
        (np.concatenate([diag, -c, -c]), (np.concatenate([idx, p, q]), np.concatenate([idx, q, p]))),
        shape=(n_nodes, n_nodes),
    )
    return k.tocsc()


def _factor(k):
    from scipy.sparse.linalg import splu

    # the matrix is symmetric positive definite: a symmetric ordering keeps the fill-in small
    return splu(k, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})


def _solve_crossbar(
    g: np.ndarray,
    v_rows: np.ndarray,
    r_wire_ohm: float,
    device: DeviceParams,
    term_siemens: Optional[np.ndarray] = None,
    inject_amp: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Voltages (N, cols) at the column ends (``term_siemens`` given) or at the last column nodes."""
    rows, cols = g.shape
    rc = rows * cols
    gw = 1.0 / r_wire_ohm
    lu = _factor(crossbar_matrix(g, r_wire_ohm, term_siemens))
    n_nodes = lu.shape[0]
    drv = np.arange(rows) * cols
    out = 2 * rc + np.arange(cols) if term_siemens is not None else rc + (rows - 1) * cols + np.arange(cols)
    extra = np.zeros(n_nodes)
    if inject_amp is not None:
        extra[2 * rc :] = inject_amp
    n_img = len(v_rows)
    if device.model == "linear":
        if n_img > rows:
            unit = np.zeros((n_nodes, rows))
            unit[drv, np.arange(rows)] = gw
            transfer = lu.solve(unit)[out]  # (cols, rows)
            v = v_rows @ transfer.T
        else:
            rhs = np.zeros((n_nodes, n_img))
            rhs[drv] = gw * v_rows.T
            v = lu.solve(rhs)[out].T
        if inject_amp is not None and np.any(inject_amp):
            v = v + lu.solve(extra)[out][None, :]
        return v
    # gap model: K x = rhs - P d(x), d = I_gap(v) - g v on each device, P puts +d on a and -d on b
    coef = (device.i0_amp * np.exp(-device.gap_from_conductance(g) / device.g0_m)).ravel()[:, None]
    gl = g.ravel()[:, None]
    rhs = np.zeros((n_nodes, n_img))
    rhs[drv] = gw * v_rows.T
    rhs += extra[:, None]
    x = lu.solve(rhs)
    for _ in range(MAX_CHORD_ITER):
        vd = x[:rc] - x[rc : 2 * rc]
        d = coef * np.sinh(vd / device.v0_volt) - gl * vd
        r = rhs.copy()
        r[:rc] -= d
        r[rc : 2 * rc] += d
        x_new = lu.solve(r)
        step = np.max(np.abs(x_new - x))
        x = x_new
        if step <= 1e-15 + 1e-12 * np.max(np.abs(x)):
            return x[out].T
    raise SimulationError(
        "nodal: the gap-model iteration did not converge; device voltages are too large "
        "for v0_volt (lower v_read_volt or use --fidelity spice)"
    )


def column_currents(
    g: np.ndarray, v_rows: np.ndarray, r_wire_ohm: float, device: Optional[DeviceParams] = None
) -> np.ndarray:
    """Column currents (N, cols) in A of one crossbar with columns held at 0 V.

    Parameters
    ----------
    g
        Conductances (rows, cols) in S.
    v_rows
        Row driver voltages (N, rows) in V.
    r_wire_ohm
        Wire segment resistance (0 = ideal wires); topology in the module docstring.
    device
        Device parameters (default linear devices).
    """
    device = device or DeviceParams()
    g = np.asarray(g, dtype=np.float64)
    v_rows = np.atleast_2d(np.asarray(v_rows, dtype=np.float64))
    _check(g, v_rows, r_wire_ohm)
    if r_wire_ohm == 0:
        if device.model == "gap":
            coef = device.i0_amp * np.exp(-device.gap_from_conductance(g) / device.g0_m)
            return np.sinh(v_rows / device.v0_volt) @ coef
        return v_rows @ g
    return _solve_crossbar(g, v_rows, r_wire_ohm, device) / r_wire_ohm


def _check(g: np.ndarray, v_rows: np.ndarray, r_wire_ohm: float) -> None:
    if g.ndim != 2 or not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ParameterError("g", f"must be a 2-D array of finite conductances > 0 S, got shape {g.shape}")
    if v_rows.ndim != 2 or v_rows.shape[1] != g.shape[0] or not np.all(np.isfinite(v_rows)):
        raise ParameterError("v_rows", f"must be finite voltages of shape (N, {g.shape[0]}), got {v_rows.shape}")
    if not (np.isfinite(r_wire_ohm) and r_wire_ohm >= 0):
        raise ParameterError("r_wire_ohm", f"must be >= 0, got {r_wire_ohm!r}")


def _tia_inputs_ideal_wires(g, v_rows, device, term):
    """Column-end voltages (N, cols) with ideal wires: KCL at each column end on its own."""
    if device.model == "linear":
        return (v_rows @ g) / (g.sum(axis=0) + term)
    coef = device.i0_amp * np.exp(-device.gap_from_conductance(g) / device.g0_m)
    v0 = device.v0_volt
    vn = np.zeros((len(v_rows), g.shape[1]))
    for _ in range(50):
        u = (v_rows[:, :, None] - vn[:, None, :]) / v0  # (N, rows, cols)
        f = np.einsum("nrc,rc->nc", np.sinh(u), coef) - vn * term
        df = -np.einsum("nrc,rc->nc", np.cosh(u), coef) / v0 - term
        step = f / df
        vn -= step
        if np.max(np.abs(step)) <= 1e-18:
            break
    return vn


def tia_outputs(
    g: np.ndarray,
    v_rows: np.ndarray,
    r_wire_ohm: float,
    r_tia_ohm: float,
    device: DeviceParams,
    opamp_gain: float,
    rail_volt: float,
) -> np.ndarray:
    """TIA output voltages (N, cols) of one crossbar, saturated TIAs included (see the module docstring)."""
    a, rf = opamp_gain, r_tia_ohm
    cols = g.shape[1]
    if r_wire_ohm == 0:
        vn = _tia_inputs_ideal_wires(g, v_rows, device, np.full(cols, (1.0 + a) / rf))
        return np.clip(-a * vn, -rail_volt, rail_volt)
    state = np.zeros((len(v_rows), cols), dtype=np.int8)  # 0 linear, +-1 saturated at +-rail
    for _ in range(MAX_ACTIVE_SET_ITER):
        wanted = np.empty((len(v_rows), cols))  # A (V+ - V-) before the clamp
        patterns, inverse = np.unique(state, axis=0, return_inverse=True)
        for k, pat in enumerate(patterns):
            sel = np.flatnonzero(inverse.ravel() == k)
            term = np.where(pat == 0, (1.0 + a) / rf, 1.0 / rf)
            vn = _solve_crossbar(g, v_rows[sel], r_wire_ohm, device, term, pat * rail_volt / rf)
            wanted[sel] = -a * vn
        new_state = np.where(wanted > rail_volt, 1, np.where(wanted < -rail_volt, -1, 0)).astype(np.int8)
        if np.array_equal(new_state, state):
            return np.where(state == 0, wanted, state * rail_volt)
        state = new_state
    raise SimulationError("nodal: the set of saturated TIAs did not settle; use --fidelity spice")


def layer_forward(mapped: MappedNetwork, layer: int, v_in: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Output voltages (N, n_out) of crossbar ``layer`` for input voltages ``v_in`` (N, n_in)."""
    arr = mapped.arrays[layer]
    dev, cir = mapped.device, mapped.circuit
    v_rows = row_voltages(mapped.scheme, v_in, dev.v_read_volt, cir, layer)
    _check(g, v_rows, cir.r_wire_ohm)
    v_tia = tia_outputs(g, v_rows, cir.r_wire_ohm, arr.r_tia_ohm, dev, cir.opamp_gain, cir.v_rail_volt)
    return neuron.neuron_outputs(v_tia, arr, mapped.scheme, cir)


def forward_voltages(mapped: MappedNetwork, X: np.ndarray, g_list: Optional[Sequence[np.ndarray]] = None) -> np.ndarray:
    """Output-layer voltages (N, n_out) for inputs ``X`` (N, n_in) in [0, 1], wire resistance included.

    Uses ``mapped.circuit.r_wire_ohm``; ``g_list`` holds one (rows, cols) array per crossbar (default: the
    programmed conductances). With ``r_wire_ohm == 0`` this equals :func:`core.circuit.behavioral.forward_voltages`.
    """
    g_list = mapped.conductances() if g_list is None else list(g_list)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != mapped.n_inputs:
        raise ParameterError("X", f"must be (N, {mapped.n_inputs}) inputs, got shape {X.shape}")
    v = X * mapped.device.v_read_volt
    for l in range(len(mapped.arrays)):
        g = np.asarray(g_list[l], dtype=np.float64)
        if g.shape != mapped.arrays[l].shape:
            raise ParameterError("g_list", f"array {l + 1} must have shape {mapped.arrays[l].shape}, got {g.shape}")
        v = layer_forward(mapped, l, v, g)
    return v
