"""The nodal equations of one crossbar with wires: which nodes are unknowns, the conductance matrix, the drive.

Topology (the one of :mod:`core.circuit.spice.cells`, resistances :class:`core.model.devices.Wires`): row ``i``
runs driver -r_drv- -r_wl- cell (i,0) -r_wl- ... -r_wl- cell (i,cols-1); column ``j`` runs cell (0,j) -r_bl- ...
-r_bl- cell (rows-1,j) -r_bl- -r_tia_in- column end ``n(j)``. Two resistors in series with nothing between them
are one conductance: ``1/(r_drv + r_wl)`` from each driver to its row's first cell and ``1/(r_bl + r_tia_in)``
from each column's last cell to its end. A zero resistance joins its two nodes: with ``r_wl = 0`` a row is one
node (or, with ``r_drv = 0`` as well, the driver itself: a known voltage); with ``r_bl = 0`` a column is one node
(or, with ``r_tia_in = 0`` as well, the column end).

Unknowns, in order: the row nodes (``i cols + j``, or one per row), the column nodes (likewise) and, with a
termination, the column ends. The full node vector appends the known ones: the ``rows`` drivers, then ground.
Without a termination the column ends are ground (0 V ammeters). With a single wire resistance (``r_wl = r_bl``,
no driver or TIA input resistance) the matrix, its entries' summation order included, is the one this solver
used before wires were split, so results are bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from core.model.devices import Wires


@dataclass(frozen=True)
class CrossbarGraph:
    """The nodal system of one crossbar: ``k x = drive @ v_rows.T + (injections)`` for the unknowns ``x``.

    Attributes
    ----------
    k
        (n_unknown, n_unknown) conductance matrix (CSC) over the unknowns.
    drive
        (n_unknown, rows) conductances (CSR) from the drivers into the unknowns.
    dev_a, dev_b
        (rows cols,) index in the full node vector ``[x, v_rows, 0]`` of each device's row and column node
        (device ``(i, j)`` at ``i cols + j``).
    ends
        (cols,) unknown index of each column end (with a termination), else None; tiled, only the used columns'.
    last
        (tile rows, cols) full index of each column's last node in each tile row (the ones the end conductance
        leaves; one row when not tiled).
    g_end
        Conductance from a column's last node to its end, ``1 / (r_bl + r_tia_in)``; 0 if they are one node.
    r_end
        ``r_bl + r_tia_in``: a column's current into a 0 V end is its last node's voltage over it.
    """

    k: Any
    drive: Any
    dev_a: np.ndarray
    dev_b: np.ndarray
    ends: Optional[np.ndarray]
    last: np.ndarray
    g_end: float
    r_end: float

    @property
    def n_unknown(self) -> int:
        return int(self.k.shape[0])

    @property
    def rows(self) -> int:
        return int(self.drive.shape[1])

    @property
    def a_unique(self) -> bool:
        """Every device has its own row node, an unknown (so row updates can be plain fancy indexing)."""
        return bool(np.all(self.dev_a < self.n_unknown)) and len(np.unique(self.dev_a)) == len(self.dev_a)

    @property
    def b_unique(self) -> bool:
        return bool(np.all(self.dev_b < self.n_unknown)) and len(np.unique(self.dev_b)) == len(self.dev_b)

    def full(self, x: np.ndarray, v_rows: np.ndarray) -> np.ndarray:
        """The full node vector (n_nodes, N) from the unknowns (n_unknown, N) and the drivers (N, rows)."""
        return np.vstack([x, v_rows.T, np.zeros((1, x.shape[1]))])


def crossbar_graph(
    g: np.ndarray,
    wires: Wires,
    term_siemens: Optional[np.ndarray] = None,
    tile: Optional[tuple[int, int]] = None,
    used_cols: Optional[int] = None,
) -> CrossbarGraph:
    """The :class:`CrossbarGraph` of conductances ``g`` (rows, cols) with non-ideal ``wires``.

    ``term_siemens`` (cols,) puts a conductance from each column end to ground; a (cols, cols) array is a full
    termination matrix (entry (j, k) added at (n(j), n(k))); without it the column ends are ground.

    ``tile`` (T_r, T_c) makes ``g`` a mosaic of tiles (:mod:`core.model.tiling`): word lines stop at every tile
    edge and each tile's rows have their own driver segment from the row's source; bit lines stop at every tile
    edge and each tile's column ``j`` ends through its own ``r_bl + r_tia_in`` on the one shared end ``n(j)``
    (wired current summing). Only the first ``used_cols`` columns have ends (and terminations, ``(used_cols,)``);
    the others end at ground. Without ``tile`` the graph is the untiled one, entry for entry.
    """
    import scipy.sparse as sp

    rows, cols = g.shape
    tr, tc = tile if tile is not None else (rows, cols)
    if rows % tr or cols % tc:
        raise ValueError(f"a {rows}x{cols} mosaic is not whole {tr}x{tc} tiles")
    n_tr, n_tc = rows // tr, cols // tc
    used = cols if used_cols is None else int(used_cols)
    rc = rows * cols
    r_wl, r_bl, r_drv, r_tia = wires.word_line_ohm, wires.bit_line_ohm, wires.driver_ohm, wires.tia_in_ohm
    grid = np.arange(rc).reshape(rows, cols)
    n_a = rc if r_wl > 0 else (rows * n_tc if r_drv > 0 else 0)
    n_b = rc if r_bl > 0 else (n_tr * cols if r_tia > 0 else 0)
    termed = term_siemens is not None
    n_u = n_a + n_b + (used if termed else 0)
    drv, gnd = n_u, n_u + rows
    row_ix = np.arange(rows)[:, None] + np.zeros((1, cols), dtype=int)
    col_ix = np.zeros((rows, 1), dtype=int) + np.arange(cols)[None, :]
    tile_col = (np.arange(cols) // tc)[None, :]
    tile_row = (np.arange(rows) // tr)[:, None]
    n = np.full(cols, gnd)
    if termed:
        n[:used] = n_a + n_b + np.arange(used)
    a = grid if r_wl > 0 else (row_ix * n_tc + tile_col if r_drv > 0 else drv + row_ix)
    b = n_a + grid if r_bl > 0 else (n_a + tile_row * cols + col_ix if r_tia > 0 else n[col_ix])
    p_list, q_list, c_list = [], [], []

    def edges(p, q, cond):
        p_list.append(np.ravel(p))
        q_list.append(np.ravel(q))
        c_list.append(np.broadcast_to(cond, np.shape(p)).ravel())

    # segments within a tile only: none crosses a tile edge
    seg_c = (np.arange(cols - 1) + 1) % tc != 0
    seg_r = (np.arange(rows - 1) + 1) % tr != 0
    # this order (and the end edge's orientation) keeps the diagonal's summation order of the single-wire solver
    if r_wl > 0:
        edges(a[:, :-1][:, seg_c], a[:, 1:][:, seg_c], 1.0 / r_wl)  # row segments
    if r_bl > 0:
        edges(b[:-1, :][seg_r], b[1:, :][seg_r], 1.0 / r_bl)  # column segments
    edges(a, b, g)  # devices
    last = b[np.arange(n_tr) * tr + tr - 1, :]  # (n_tr, cols): each tile row's last node of every column
    first = a[:, np.arange(n_tc) * tc]  # (rows, n_tc): each tile column's first node of every row
    r_end = r_bl + r_tia
    if termed and r_end > 0:
        edges(last, np.broadcast_to(n, last.shape), 1.0 / r_end)
    if r_drv + r_wl > 0:
        edges(first, np.broadcast_to(drv + np.arange(rows)[:, None], first.shape), 1.0 / (r_drv + r_wl))
    if not termed and r_end > 0:
        edges(np.full(last.shape, gnd), last, 1.0 / r_end)
    p, q, c = np.concatenate(p_list), np.concatenate(q_list), np.concatenate(c_list)
    diag = np.zeros(n_u + rows + 1)
    np.add.at(diag, p, c)
    np.add.at(diag, q, c)
    diag = diag[:n_u]
    extra_v, extra_r, extra_c = [], [], []
    if term_siemens is not None and np.ndim(term_siemens) == 1:
        diag[n_a + n_b :] += term_siemens
    elif term_siemens is not None:
        jr, kc = np.nonzero(term_siemens)
        extra_v, extra_r, extra_c = [term_siemens[jr, kc]], [n_a + n_b + jr], [n_a + n_b + kc]
    inner = (p < n_u) & (q < n_u)
    pi, qi, ci = p[inner], q[inner], c[inner]
    idx = np.arange(n_u)
    k = sp.coo_matrix(
        (
            np.concatenate([diag, -ci, -ci, *extra_v]),
            (np.concatenate([idx, pi, qi, *extra_r]), np.concatenate([idx, qi, pi, *extra_c])),
        ),
        shape=(n_u, n_u),
    ).tocsc()
    # conductances from the drivers into the unknowns: the right-hand side is drive @ v_rows.T
    to_drv_q = (p < n_u) & (q >= drv) & (q < gnd)
    to_drv_p = (q < n_u) & (p >= drv) & (p < gnd)
    d_rows = np.concatenate([p[to_drv_q], q[to_drv_p]])
    d_cols = np.concatenate([q[to_drv_q], p[to_drv_p]]) - drv
    drive = sp.coo_matrix((np.concatenate([c[to_drv_q], c[to_drv_p]]), (d_rows, d_cols)), shape=(n_u, rows)).tocsr()
    return CrossbarGraph(
        k=k,
        drive=drive,
        dev_a=a.ravel(),
        dev_b=b.ravel(),
        ends=n[:used].copy() if termed else None,
        last=last.copy(),
        g_end=1.0 / r_end if r_end > 0 else 0.0,
        r_end=r_end,
    )
