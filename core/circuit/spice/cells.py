"""Crossbar cells in ngspice netlists: wire resistances and one device per cell.

Layout (shared with :mod:`core.circuit.nodal`; resistances :class:`core.model.devices.Wires`): row ``i`` runs
driver -r_drv- ``rd{l}_{i}`` -r_wl- cell (i,0) -r_wl- cell (i,1) ... (open at the far end); column ``j`` runs cell
(0,j) -r_bl- cell (1,j) ... -r_bl- ``rt{l}_{j}`` -r_tia_in- column end ``ends[j]``. Device (i,j) sits between its
row node ``a{l}_{i}_{j}`` and its column node ``b{l}_{i}_{j}``. A resistance of 0 is no element: its two nodes
are one (``r_wl = 0``: every cell of row ``i`` on ``rd{l}_{i}``, or on the driver node without ``r_drv``;
``r_bl = 0``: every cell of column ``j`` on ``rt{l}_{j}``, or on the column end without ``r_tia_in``). So with
only ``r_wire_ohm`` set (equal segments, no driver or TIA input resistance) the netlist is the one of a single
wire resistance, and with ideal wires the devices join the driver nodes straight to the column ends.

Devices: a resistor of the cell's conductance (``linear``), a behavioural current source
``I = I0 exp(-gap/g0) sinh(V/V0)`` (``gap``), or an instance ``N...`` of the compiled Verilog-A module
``rram_gap`` (``va-gap``: :mod:`core.circuit.spice.osdi`; its ``.control`` block with ``pre_osdi`` and its
``.model`` line go once into the circuit's raw SPICE text, ahead of the elements). Every name is generated from
integer indices and every number goes through :func:`core.circuit.spice.macro.num`.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from core.circuit.spice import osdi
from core.circuit.spice.macro import num
from core.errors import ParameterError
from core.model.devices import DeviceParams, Wires

VA_MODEL = "vagap"  # the .model name of the compiled gap device


def add_va_gap_model(c, device: DeviceParams) -> None:
    """Load the compiled ``rram_gap`` library and declare its ``.model`` (once per circuit)."""
    card = (
        f".model {VA_MODEL} {osdi.RRAM_GAP_MODULE} i0={num(device.i0_amp, 'i0_amp')} g0={num(device.g0_m, 'g0_m')} "
        f"v0={num(device.v0_volt, 'v0_volt')}"
    )
    raw = getattr(c, "raw_spice", "") or ""
    if card in raw:
        return
    if f".model {VA_MODEL} " in raw:
        raise ParameterError("device", "one netlist takes one set of gap-model parameters (i0, g0, v0)")
    block = osdi.control_block(osdi.netlist_library())
    c.raw_spice = raw + ("" if not raw or raw.endswith("\n") else "\n") + block + card + "\n"


def add_crossbar(
    c,
    l: int,
    g: np.ndarray,
    drivers: list[str],
    ends: list[str],
    wires: Union[float, Wires],
    device: DeviceParams,
    tile: Optional[tuple[int, int]] = None,
) -> None:
    """Devices (and wire resistances) of crossbar ``l`` between row driver nodes and column end nodes.

    ``wires`` is a :class:`Wires` or one resistance for both lines' segments (``r_wire_ohm``).

    ``tile`` (T_r, T_c): ``g`` is a mosaic of tiles (:mod:`core.model.tiling`). Every tile's rows start from the
    row's driver node through their own driver resistance (node ``rd{l}_{i}_{t}`` for tile column ``t``), every
    tile's columns end through their own TIA input resistance (node ``rt{l}_{s}_{j}`` for tile row ``s``) on the
    column's one end node: wired current summing. No wire runs from one tile into the next.
    """
    rows, cols = g.shape
    if len(drivers) != rows or len(ends) != cols:
        raise ParameterError("g_list", f"array {l + 1} has shape {g.shape}, expected {len(drivers)} x {len(ends)}")
    if np.any(~np.isfinite(g)) or np.any(g <= 0):
        raise ParameterError("g_list", f"array {l + 1}: conductances must be finite and > 0 S")
    tr, tc = tile if tile is not None else (rows, cols)
    if rows % tr or cols % tc:
        raise ParameterError("g_list", f"array {l + 1}: a {rows}x{cols} mosaic is not whole {tr}x{tc} tiles")
    n_tr, n_tc = rows // tr, cols // tc
    w = Wires.of(wires)
    r_wl, r_bl = w.word_line_ohm, w.bit_line_ohm
    gap = device.gap_from_conductance(g) if device.uses_gap_iv else None
    if device.model == "va-gap":
        add_va_gap_model(c, device)
    # starts[i][t]: the node the cells of row i in tile column t start from; stops[s][j]: the node column j's
    # last segment in tile row s ends on
    starts = [[drivers[i]] * n_tc for i in range(rows)]
    if w.driver_ohm > 0:
        for i in range(rows):
            for t in range(n_tc):
                name = f"{l}_{i}" if tile is None else f"{l}_{i}_{t}"
                starts[i][t] = f"rd{name}"
                c.R(f"wd{name}", drivers[i], starts[i][t], num(w.driver_ohm, "r_driver_ohm"))
    stops = [list(ends) for _ in range(n_tr)]
    if w.tia_in_ohm > 0:
        for s_ in range(n_tr):
            for j in range(cols):
                name = f"{l}_{j}" if tile is None else f"{l}_{s_}_{j}"
                stops[s_][j] = f"rt{name}"
                c.R(f"wt{name}", stops[s_][j], ends[j], num(w.tia_in_ohm, "r_tia_in_ohm"))
    va_lines: list[str] = []
    for i in range(rows):
        for j in range(cols):
            start, stop = starts[i][j // tc], stops[i // tr][j]
            a = f"a{l}_{i}_{j}" if r_wl > 0 else start
            b = f"b{l}_{i}_{j}" if r_bl > 0 else stop
            if r_wl > 0:
                c.R(f"wr{l}_{i}_{j}", start if j % tc == 0 else f"a{l}_{i}_{j - 1}", a, num(r_wl, "r_word_line_ohm"))
            if r_bl > 0:
                c.R(
                    f"wc{l}_{i}_{j}",
                    b,
                    stop if i % tr == tr - 1 else f"b{l}_{i + 1}_{j}",
                    num(r_bl, "r_bit_line_ohm"),
                )
            if gap is None:
                c.R(f"g{l}_{i}_{j}", a, b, num(1.0 / g[i, j], "conductance"))
            elif device.model == "va-gap":
                # PySpice has no OSDI element: the instance line goes into the raw SPICE text after the model card
                va_lines.append(f"Ng{l}_{i}_{j} {a} {b} {VA_MODEL} gap={num(gap[i, j], 'gap')}\n")
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
    if va_lines:
        c.raw_spice += "".join(va_lines)
