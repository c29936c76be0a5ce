"""Sparse nodal analysis of crossbars with wire resistance: the ``nodal`` fidelity.

The crossbar topology is exactly the one of the ngspice netlist (:mod:`core.circuit.spice.cells`): row ``i`` runs
driver -r_drv- -r_wl- cell (i,0) -r_wl- ... -r_wl- cell (i,cols-1); column ``j`` runs cell (0,j) -r_bl- ... -r_bl-
cell (rows-1,j) -r_bl- -r_tia_in- TIA input; device (i,j) joins its row node and its column node (resistances:
:class:`core.model.devices.Wires`, from ``CircuitParams.wires``). Unknowns are the cell nodes (2 rows cols of them
when both lines have segments; a line without segments is one node) plus one node per column end
(:mod:`core.circuit.nodal_graph`). The matrix is factored once per crossbar (``scipy.sparse.linalg.splu``) and
every image is solved from that factorisation; with more images than rows, the solver computes the (cols x rows)
transfer matrix from the drivers instead, so the cost no longer grows with the number of images.

Neurons. A TIA of feedback ``R_f`` and open-loop gain ``A`` holds its input at ``v_n = -v_out / A``, so seen
from the column end it is a conductance ``(1 + A) / R_f`` to ground; the output is ``-A v_n``. A TIA that
saturates at ``+-rail`` instead ties the column end through ``R_f`` to ``+-rail``; with wire resistance this
changes the row lines shared with the other columns, so the solver iterates on the set of saturated TIAs
(each distinct set gets its own factorisation) until it is consistent. The result is the exact solution of
the circuit ngspice simulates. Stage 2, ReLU and rails are the shared neuron stage of :mod:`core.circuit.neuron`.

Non-ideal op-amps (offset, bias current, swing margin, output resistance: :mod:`core.model.opamp`): the TIAs and
stage-2 amplifiers become an affine termination ``i = Y n + i0`` of the column ends for each set of op-amp
states (:mod:`core.circuit.nodal_neurons`): an offset shifts the column-end potential (so with wires it changes
every cell's current), a bias current is an injection at the column end, and with ``R_o > 0`` a TIA feeding a
stage-2 inverting input is coupled to its partner (``Y`` is then not diagonal, nor symmetric). The same active
set iteration finds the saturated op-amps.

The gap device models (``gap``, ``va-gap``) are solved by a chord iteration (the linear small-signal matrix as a
fixed Jacobian); with ideal wires every column is independent and is solved by a scalar Newton iteration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional, Union

import numpy as np

from core.circuit import neuron
from core.circuit.mapping import row_voltages
from core.circuit.nodal_graph import crossbar_graph
from core.circuit.nodal_neurons import NeuronPorts
from core.circuit.opamp import OpAmpModel
from core.errors import ParameterError, SimulationError
from core.model import tiling
from core.model.crossbar import MappedNetwork
from core.model.devices import DeviceParams, Wires
from core.model.opamp import OpAmpOffsets

MAX_CHORD_ITER = 400
MAX_ACTIVE_SET_ITER = 30


def crossbar_matrix(g: np.ndarray, r_wire_ohm: Union[float, Wires], term_siemens: Optional[np.ndarray] = None):
    """Nodal conductance matrix (CSC) of one crossbar with non-ideal wires (:mod:`core.circuit.nodal_graph`).

    With a single ``r_wire_ohm > 0`` the node order is: row nodes ``a(i, j) = i cols + j``, column nodes
    ``b(i, j) = rows cols + i cols + j`` and, if ``term_siemens`` (cols,) is given, column ends
    ``n(j) = 2 rows cols + j`` each with ``term_siemens[j]`` to ground (a (cols, cols) ``term_siemens`` is a full
    termination matrix: entry (j, k) is added at (n(j), n(k))). Without it the last column segment goes straight
    to ground (0 V). Row drivers are not unknowns: their segment to ``a(i, 0)`` is on the diagonal and its
    current on the right-hand side.
    """
    return crossbar_graph(g, Wires.of(r_wire_ohm), term_siemens).k


def _factor(k, symmetric: bool = True):
    from scipy.sparse.linalg import splu

    # the matrix is symmetric positive definite: a symmetric ordering keeps the fill-in small; a termination
    # coupling column ends (op-amps with output resistance) is not symmetric, so it gets partial pivoting
    return splu(k, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": symmetric})


def _solve_crossbar(
    g: np.ndarray,
    v_rows: np.ndarray,
    r_wire_ohm: Union[float, Wires],
    device: DeviceParams,
    term_siemens: Optional[np.ndarray] = None,
    inject_amp: Optional[np.ndarray] = None,
    tile: Optional[tuple[int, int]] = None,
    used_cols: Optional[int] = None,
) -> np.ndarray:
    """Voltages (N, cols) at the column ends (``term_siemens`` given), else currents (N, cols) into 0 V ends.

    ``tile``: ``g`` is a mosaic of tiles whose first ``used_cols`` columns end in TIAs (wired current summing,
    :func:`core.circuit.nodal_graph.crossbar_graph`); the result has those ``used_cols`` columns.
    """
    rows, cols = g.shape
    used = cols if used_cols is None else int(used_cols)
    graph = crossbar_graph(g, Wires.of(r_wire_ohm), term_siemens, tile, used)
    symmetric = term_siemens is None or np.ndim(term_siemens) == 1 or np.array_equal(term_siemens, term_siemens.T)
    lu = _factor(graph.k, symmetric)
    n_nodes = graph.n_unknown
    if graph.ends is not None:
        out = graph.ends
    elif graph.r_end > 0:
        out = graph.last[:, :used]  # (tile rows, used): the partial currents of a column's tiles add up
    else:
        out = None  # the columns are one node with their 0 V ends: currents from the devices themselves
    extra = np.zeros(n_nodes)
    if inject_amp is not None and graph.ends is not None:
        extra[graph.ends] = inject_amp
    n_img = len(v_rows)

    def result(x):
        if graph.ends is not None:
            return x[graph.ends].T
        if out is not None:
            return x[out].sum(axis=0).T / graph.r_end
        vd = graph.full(x, v_rows)[graph.dev_a].reshape(rows, cols, -1)[:, :used]  # column nodes at 0 V
        if not device.uses_gap_iv:
            return np.einsum("rcn,rc->nc", vd, g[:, :used])
        return np.einsum("rcn,rc->nc", np.sinh(vd / device.v0_volt), coef.reshape(rows, cols)[:, :used])

    coef = (device.i0_amp * np.exp(-device.gap_from_conductance(g) / device.g0_m)).ravel()[:, None]
    if not device.uses_gap_iv:
        if n_img > rows and out is not None:
            unit = graph.drive.toarray()
            transfer = lu.solve(unit)[out]  # (cols, rows); (tile rows, cols, rows) without ends
            if transfer.ndim == 3:
                transfer = transfer.sum(axis=0)
            v = v_rows @ transfer.T
            if graph.ends is None:
                v = v / graph.r_end
        else:
            v = result(lu.solve(graph.drive @ v_rows.T))
        if inject_amp is not None and np.any(inject_amp):
            v = v + lu.solve(extra)[out][None, :]
        return v
    # gap model: K x = rhs - P d(x), d = I_gap(v) - g v on each device, P puts +d on a and -d on b
    gl = g.ravel()[:, None]
    rhs = graph.drive @ v_rows.T
    rhs += extra[:, None]
    a_dev, b_dev = graph.dev_a, graph.dev_b
    a_in, b_in = a_dev < n_nodes, b_dev < n_nodes
    a_unique, b_unique = graph.a_unique, graph.b_unique
    x = lu.solve(rhs)
    for _ in range(MAX_CHORD_ITER):
        if a_unique and b_unique:
            vd = x[a_dev] - x[b_dev]
        else:
            full = graph.full(x, v_rows)
            vd = full[a_dev] - full[b_dev]
        d = coef * np.sinh(vd / device.v0_volt) - gl * vd
        r = rhs.copy()
        if a_unique:
            r[a_dev] -= d
        else:
            np.subtract.at(r, a_dev[a_in], d[a_in])
        if b_unique:
            r[b_dev] += d
        else:
            np.add.at(r, b_dev[b_in], d[b_in])
        x_new = lu.solve(r)
        step = np.max(np.abs(x_new - x))
        x = x_new
        if step <= 1e-15 + 1e-12 * np.max(np.abs(x)):
            return result(x)
    raise SimulationError(
        "nodal: the gap-model iteration did not converge; device voltages are too large "
        "for v0_volt (lower v_read_volt or use --fidelity spice)"
    )


def column_currents(
    g: np.ndarray,
    v_rows: np.ndarray,
    r_wire_ohm: Union[float, Wires],
    device: Optional[DeviceParams] = None,
    tile: Optional[tuple[int, int]] = None,
    used_cols: Optional[int] = None,
) -> np.ndarray:
    """Column currents (N, cols) in A of one crossbar with columns held at 0 V.

    Parameters
    ----------
    g
        Conductances (rows, cols) in S.
    v_rows
        Row driver voltages (N, rows) in V.
    r_wire_ohm
        Wire segment resistance on both lines (0 = ideal wires), or a :class:`~core.model.devices.Wires` with
        separate word-line, bit-line, driver and TIA input resistances; topology in the module docstring.
    device
        Device parameters (default linear devices).
    tile, used_cols
        ``g`` is a mosaic of ``tile``-sized tiles (:mod:`core.model.tiling`) of which the first ``used_cols``
        columns end at the (shared) virtual grounds; the result has ``used_cols`` columns.
    """
    device = device or DeviceParams()
    g = np.asarray(g, dtype=np.float64)
    v_rows = np.atleast_2d(np.asarray(v_rows, dtype=np.float64))
    wires = _check(g, v_rows, r_wire_ohm)
    used = g.shape[1] if used_cols is None else int(used_cols)
    if wires.ideal:
        gu = g[:, :used]
        if device.uses_gap_iv:
            coef = device.i0_amp * np.exp(-device.gap_from_conductance(gu) / device.g0_m)
            return np.sinh(v_rows / device.v0_volt) @ coef
        return v_rows @ gu
    if tile is not None and tuple(tile) != g.shape:
        # with the column ends at 0 V the tiles are separate meshes: solve each on its own (a smaller
        # factorization per tile) and add the partial currents of a column's tiles
        tr, tc = tile
        out = np.zeros((len(v_rows), g.shape[1]))
        for r0 in range(0, g.shape[0], tr):
            for c0 in range(0, g.shape[1], tc):
                out[:, c0 : c0 + tc] += _solve_crossbar(
                    g[r0 : r0 + tr, c0 : c0 + tc], v_rows[:, r0 : r0 + tr], wires, device
                )
        return out[:, :used]
    return _solve_crossbar(g, v_rows, wires, device, tile=tile, used_cols=used)


def _check(g: np.ndarray, v_rows: np.ndarray, r_wire_ohm: Union[float, Wires]) -> Wires:
    if g.ndim != 2 or not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ParameterError("g", f"must be a 2-D array of finite conductances > 0 S, got shape {g.shape}")
    if v_rows.ndim != 2 or v_rows.shape[1] != g.shape[0] or not np.all(np.isfinite(v_rows)):
        raise ParameterError("v_rows", f"must be finite voltages of shape (N, {g.shape[0]}), got {v_rows.shape}")
    return Wires.of(r_wire_ohm)


def _tia_inputs_ideal_wires(g, v_rows, device, term):
    """Column-end voltages (N, cols) with ideal wires: KCL at each column end on its own."""
    if not device.uses_gap_iv:
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
    r_wire_ohm: Union[float, Wires],
    r_tia_ohm: float,
    device: DeviceParams,
    opamp_gain: float,
    rail_volt: float,
    tile: Optional[tuple[int, int]] = None,
    used_cols: Optional[int] = None,
) -> np.ndarray:
    """TIA output voltages (N, cols) of one crossbar, saturated TIAs included (see the module docstring).

    Tiled (``tile``), ``g`` is the whole mosaic and only its first ``used_cols`` columns have TIAs.
    """
    a, rf = opamp_gain, r_tia_ohm
    cols = g.shape[1] if used_cols is None else int(used_cols)
    if Wires.of(r_wire_ohm).ideal:
        vn = _tia_inputs_ideal_wires(g[:, :cols], v_rows, device, np.full(cols, (1.0 + a) / rf))
        return np.clip(-a * vn, -rail_volt, rail_volt)
    state = np.zeros((len(v_rows), cols), dtype=np.int8)  # 0 linear, +-1 saturated at +-rail
    for _ in range(MAX_ACTIVE_SET_ITER):
        wanted = np.empty((len(v_rows), cols))  # A (V+ - V-) before the clamp
        patterns, inverse = np.unique(state, axis=0, return_inverse=True)
        for k, pat in enumerate(patterns):
            sel = np.flatnonzero(inverse.ravel() == k)
            term = np.where(pat == 0, (1.0 + a) / rf, 1.0 / rf)
            vn = _solve_crossbar(g, v_rows[sel], r_wire_ohm, device, term, pat * rail_volt / rf, tile, cols)
            wanted[sel] = -a * vn
        new_state = np.where(wanted > rail_volt, 1, np.where(wanted < -rail_volt, -1, 0)).astype(np.int8)
        if np.array_equal(new_state, state):
            return np.where(state == 0, wanted, state * rail_volt)
        state = new_state
    raise SimulationError("nodal: the set of saturated TIAs did not settle; use --fidelity spice")


def _ends_ideal_wires(g, v_rows, device, y_term, i0):
    """Column-end voltages (N, cols) with ideal wires and the termination ``i = Y n + i0`` (KCL, all ends at once)."""
    y_term = np.asarray(y_term)
    if not device.uses_gap_iv:
        mat = np.diag(g.sum(axis=0)) + y_term
        return np.linalg.solve(mat, (v_rows @ g - i0).T).T
    coef = device.i0_amp * np.exp(-device.gap_from_conductance(g) / device.g0_m)
    v0 = device.v0_volt
    vn = np.zeros((len(v_rows), g.shape[1]))
    for _ in range(50):
        u = (v_rows[:, :, None] - vn[:, None, :]) / v0  # (N, rows, cols)
        f = np.einsum("nrc,rc->nc", np.sinh(u), coef) - vn @ y_term.T - i0
        jac = -y_term[None] - np.einsum("nrc,rc->nc", np.cosh(u), coef)[:, :, None] / v0 * np.eye(g.shape[1])
        step = np.linalg.solve(jac, f[..., None])[..., 0]
        vn -= step
        if np.max(np.abs(step)) <= 1e-18:
            break
    return vn


def neuron_layer(
    g,
    v_rows,
    r_wire_ohm: Union[float, Wires],
    ports: NeuronPorts,
    device: DeviceParams,
    tile: Optional[tuple[int, int]] = None,
):
    """(neuron outputs (N, n_out) before the ReLU, TIA outputs (N, cols)) of one crossbar with non-ideal op-amps.

    The neuron stage terminates the column ends as ``i = Y n + i0`` (:mod:`core.circuit.nodal_neurons`); the
    states of every TIA and stage-2 op-amp are found by the same active-set iteration as for ideal TIAs. With
    ``R_o = 0`` the stage-2 states do not change the terminations, so only TIA states are re-solved.
    """
    n_img, cols, n_out = len(v_rows), ports.cols, ports.array.n_out
    coupled = ports.m.r_o > 0
    st_t = np.zeros((n_img, cols), dtype=np.int8)
    st_s = np.zeros((n_img, n_out), dtype=np.int8)
    key_prev, n = None, np.empty((n_img, cols))
    for _ in range(MAX_ACTIVE_SET_ITER):
        key = np.concatenate([st_t, st_s], axis=1) if coupled else st_t
        if key_prev is None or not np.array_equal(key, key_prev):
            patterns, inverse = np.unique(key, axis=0, return_inverse=True)
            for k, pat in enumerate(patterns):
                sel = np.flatnonzero(inverse.ravel() == k)
                y_term, i0 = ports.port_affine(pat[:cols], pat[cols:] if coupled else st_s[sel[0]])
                if Wires.of(r_wire_ohm).ideal:
                    n[sel] = _ends_ideal_wires(g[:, :cols], v_rows[sel], device, y_term, i0)
                else:
                    term = np.diag(y_term).copy() if not coupled else y_term
                    n[sel] = _solve_crossbar(g, v_rows[sel], r_wire_ohm, device, term, -i0, tile, cols)
            key_prev = key
        t, s, w_t, w_s, _ = ports.downstream(n, st_t, st_s)
        new_t, new_s = ports.next_state(st_t, w_t), ports.next_state(st_s, w_s)
        if np.array_equal(new_t, st_t) and np.array_equal(new_s, st_s):
            return s, t
        st_t, st_s = new_t, new_s
    raise SimulationError("nodal: the set of saturated op-amps did not settle; use --fidelity spice")


def layer_forward(
    mapped: MappedNetwork, layer: int, v_in: np.ndarray, g: np.ndarray, offsets: Optional[OpAmpOffsets] = None
) -> np.ndarray:
    """Output voltages (N, n_out) of crossbar ``layer`` for input voltages ``v_in`` (N, n_in).

    ``offsets``: this array's op-amp offsets (non-ideal op-amps only; default ``mapped.opamp_offsets()``).
    """
    arr = mapped.arrays[layer]
    dev, cir = mapped.device, mapped.circuit
    if mapped.ideal_opamps:
        v_rows = tiling.pad_rows(row_voltages(mapped.scheme, v_in, dev.v_read_volt, cir, layer), arr)
        wires = _check(g, v_rows, cir.wires)
        v_tia = tia_outputs(
            g, v_rows, wires, arr.r_tia_ohm, dev, cir.opamp_gain, cir.v_rail_volt, arr.tile, arr.logical_shape[1]
        )
        return neuron.neuron_outputs(v_tia, arr, mapped.scheme, cir)
    if offsets is None:
        all_offsets = mapped.opamp_offsets()
        offsets = None if all_offsets is None else all_offsets[layer]
    if offsets is not None and offsets.batch_shape:
        raise ParameterError("offsets", f"the nodal solver takes one set of offsets, got batch {offsets.batch_shape}")
    inv = None if offsets is None else offsets.inverter
    v_rows = tiling.pad_rows(row_voltages(mapped.scheme, v_in, dev.v_read_volt, cir, layer, mapped.opamp, inv), arr)
    wires = _check(g, v_rows, cir.wires)
    ports = NeuronPorts(OpAmpModel.of(cir, mapped.opamp), arr, mapped.scheme, cir.r_stage2_ohm, offsets)
    s, _ = neuron_layer(g, v_rows, wires, ports, dev, arr.tile)
    return np.maximum(s, 0.0) if arr.relu else s


def forward_voltages(mapped: MappedNetwork, X: np.ndarray, g_list: Optional[Sequence[np.ndarray]] = None) -> np.ndarray:
    """Output-layer voltages (N, n_out) for inputs ``X`` (N, n_in) in [0, 1], wire resistance included.

    Uses ``mapped.circuit.wires``; ``g_list`` holds one (rows, cols) array per crossbar (default: the
    programmed conductances). With ideal wires this equals :func:`core.circuit.behavioral.forward_voltages`.
    """
    g_list = mapped.conductances() if g_list is None else list(g_list)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != mapped.n_inputs:
        raise ParameterError("X", f"must be (N, {mapped.n_inputs}) inputs, got shape {X.shape}")
    v = X * mapped.device.v_read_volt
    offsets = None if mapped.ideal_opamps else mapped.opamp_offsets()
    for l in range(len(mapped.arrays)):
        g = np.asarray(g_list[l], dtype=np.float64)
        if g.shape != mapped.arrays[l].shape:
            raise ParameterError("g_list", f"array {l + 1} must have shape {mapped.arrays[l].shape}, got {g.shape}")
        v = layer_forward(mapped, l, v, g, None if offsets is None else offsets[l])
    return v
