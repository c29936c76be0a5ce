"""Crossbar cells in ngspice netlists: wire segments and one device per cell.

Layout (shared with :mod:`core.circuit.nodal`): row ``i`` runs driver -r- cell (i,0) -r- cell (i,1) ... (open at
the far end); column ``j`` runs cell (0,j) -r- cell (1,j) ... -r- column end ``ends[j]``. Device (i,j) sits between
its row node ``a{l}_{i}_{j}`` and its column node ``b{l}_{i}_{j}``; without wire resistance the devices connect the
driver node straight to the column end. Every name is generated from integer indices and every number goes
through :func:`core.circuit.spice.macro.num`.
"""

from __future__ import annotations

import numpy as np

from core.circuit.spice.macro import num
from core.errors import ParameterError
from core.model.devices import DeviceParams


def add_crossbar(
    c, l: int, g: np.ndarray, drivers: list[str], ends: list[str], r_wire_ohm: float, device: DeviceParams
) -> None:
    """Devices (and wire segments) of crossbar ``l`` between row driver nodes and column end nodes."""
    rows, cols = g.shape
    if len(drivers) != rows or len(ends) != cols:
        raise ParameterError("g_list", f"array {l + 1} has shape {g.shape}, expected {len(drivers)} x {len(ends)}")
    if np.any(~np.isfinite(g)) or np.any(g <= 0):
        raise ParameterError("g_list", f"array {l + 1}: conductances must be finite and > 0 S")
    wired = r_wire_ohm > 0
    rw = num(r_wire_ohm, "r_wire_ohm")
    gap = device.gap_from_conductance(g) if device.model == "gap" else None
    for i in range(rows):
        for j in range(cols):
            a = f"a{l}_{i}_{j}" if wired else drivers[i]
            b = f"b{l}_{i}_{j}" if wired else ends[j]
            if wired:
                c.R(f"wr{l}_{i}_{j}", drivers[i] if j == 0 else f"a{l}_{i}_{j - 1}", a, rw)
                c.R(f"wc{l}_{i}_{j}", b, ends[j] if i == rows - 1 else f"b{l}_{i + 1}_{j}", rw)
            if gap is None:
                c.R(f"g{l}_{i}_{j}", a, b, num(1.0 / g[i, j], "conductance"))
            else:
                c.B(
                    f"g{l}_{i}_{j}",
                    a,
                    b,
                    current_expression=(
                        f"{num(device.i0_amp)}*exp(-({num(gap[i, j])})/{num(device.g0_m)})"
                        f"*sinh(v({a},{b})/{num(device.v0_volt)})"
                    ),
                )
