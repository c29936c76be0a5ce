"""ngspice netlists of mapped crossbar networks, built with PySpice's ``Circuit`` API.

Nothing a user typed reaches a netlist: the title and every node and element name are generated here from
integer indices, and every number is formatted by :func:`num` (``repr`` of a finite float, which round-trips
exactly).

Circuit of one crossbar layer ``l`` (``rows x cols`` devices), shared with :mod:`core.circuit.nodal`:

* Row ``i`` is driven by an ideal source at node ``d{l}_{i}``: the layer input (a staircase source for layer 0,
  the previous layer's ReLU output otherwise), the bias reference ``vbp`` (+v_read) or, for
  ``differential-rows``, a unity-gain inverting op-amp (``-V`` rows) or the ideal reference ``vbn`` (-v_read).
* Wire resistance ``r`` (``circuit.r_wire_ohm > 0``): row ``i`` runs driver -r- cell (i,0) -r- cell (i,1) ...
  -r- cell (i,cols-1) (open at the far end); column ``j`` runs cell (0,j) -r- cell (1,j) ... -r- cell (rows-1,j)
  -r- TIA input ``n{l}_{j}``. So a row has ``cols`` segments and a column ``rows`` segments. Device (i,j) sits
  between its row node ``a{l}_{i}_{j}`` and its column node ``b{l}_{i}_{j}``. With ``r = 0`` the devices connect
  the driver node directly to ``n{l}_{j}``.
* Devices: a resistor of the cell's conductance (``linear``) or a behavioural current source
  ``I = I0 exp(-gap/g0) sinh(V/V0)`` with ``gap = DeviceParams.gap_from_conductance(g)`` (``gap``).
* Op-amps are B sources ``V = clamp(A (V+ - V-), -rail, +rail)``, with offset, bias current, swing margin,
  output resistance, a dominant pole and slew when ``mapped.opamp`` asks for them
  (:mod:`core.circuit.spice.macro`). Column ``j`` has a TIA (V+ grounded,
  feedback ``r_tia``) with output ``t{l}_{j}``; stage 2 (``s{l}_{j}``) is a difference amplifier (resistors R,
  kR on both inputs) of TIA ``2j+1`` (G-) minus TIA ``2j`` (G+) with column pairs (``differential-columns``,
  ``balanced``), of the reference column's TIA ``t{l}_{n_out}`` minus TIA ``j`` with ``reference`` (the one
  reference TIA drives the + input of every neuron's difference amplifier), or an inverting amplifier of gain k
  (``differential-rows``), with R = ``r_stage2_ohm``. Hidden layers end in an analog ReLU
  ``h{l}_{j} = max(s{l}_{j}, 0)`` that drives the next crossbar.
* ``neuron="transistor"``: the same nodes, but every op-amp is an instance ``X{name}`` of the CMOS two-stage
  op-amp and every ReLU an instance ``Xh{l}_{j}`` of the CMOS follower rectifier, on +-0.5 V supplies ``vdd`` /
  ``vss`` with one shared bias network (:mod:`core.circuit.spice.cmos`, 45 nm PTM BSIM4 card).

Many inputs go through one ``.tran``: input k holds its value from t = k s to k + 0.98 s and ramps to the next
one by k + 1 s (behavioural ``pwl`` sources, which set no breakpoints); the circuit has no reactive element, so
every time point on a plateau is the exact operating point of that input.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from core.circuit.spice import cmos
from core.circuit.spice.cells import add_crossbar
from core.circuit.spice.macro import OpAmpMacro, add_opamp, num
from core.errors import ParameterError
from core.model.crossbar import MappedNetwork, layout
from core.model.devices import DeviceParams, Wires

HOLD_S = 0.98  # plateau length of each input in the staircase
MAX_STEP_S = 0.9  # < HOLD_S, so every plateau holds at least one time point
TITLE = "reram-workbench circuit"
TRANSISTOR_OPTIONS = ".options method=gear trtol=1000\n"  # see network_netlist


def _circuit():
    from PySpice.Spice.Netlist import Circuit

    return Circuit(TITLE)


def staircase(values: np.ndarray, field: str = "input") -> str:
    """``pwl(time, ...)`` expression holding ``values[k]`` on [k, k + HOLD_S]; equal neighbours merge."""
    values = np.asarray(values, dtype=np.float64)
    pts = []
    for k, v in enumerate(values):
        pts.append((float(k), v))
        pts.append((k + HOLD_S, v))
    # a point between two equal values changes nothing: drop it to keep the lines short
    keep = [pts[0]] + [p for q, p, r in zip(pts, pts[1:], pts[2:]) if not (q[1] == p[1] == r[1])] + [pts[-1]]
    return "pwl(time, " + ", ".join(f"{num(t)}, {num(v, field)}" for t, v in keep) + ")"


def add_source(c, name: str, node: str, values: np.ndarray, field: str = "input") -> None:
    """An ideal source at ``node``: DC if all ``values`` are equal, else a staircase B source."""
    values = np.asarray(values, dtype=np.float64)
    if np.all(values == values[0]):
        c.V(name, node, c.gnd, num(values[0], field))
    else:
        c.B(name, node, c.gnd, voltage_expression=staircase(values, field))


def add_network(c, mapped: MappedNetwork, inputs: list[str], g_list, neuron: str = "macro") -> list[str]:
    """Every crossbar and neuron of ``mapped``, fed from nodes ``inputs``; returns the output nodes.

    ``neuron="transistor"`` makes every TIA, difference amplifier and row inverter a ``cmosoa`` instance and
    every ReLU a ``cmosrelu`` (:mod:`core.circuit.spice.cmos`, with its supplies and bias network); the network
    must then be mapped for +-0.5 V rails.
    """
    dev, cir = mapped.device, mapped.circuit
    transistor = cmos.check_neuron(neuron) == "transistor"
    macro = OpAmpMacro.of(cir, mapped.opamp)
    if transistor:
        cmos.check_supported(mapped)
        cmos.add_core(c, relu=any(a.relu for a in mapped.arrays))

    def amp(name: str, out: str, plus, minus: str, v_os: float, with_r_o: bool = True) -> None:
        if transistor:
            cmos.add_opamp(c, name, out, plus, minus, v_os)
        else:
            add_opamp(c, macro, name, out, plus, minus, v_os, with_r_o=with_r_o)

    offsets = None if mapped.ideal_opamps else mapped.opamp_offsets()
    if offsets is not None and any(o.batch_shape for o in offsets):
        raise ParameterError("offsets", "a netlist takes one set of op-amp offsets, not a batch")
    r2 = cir.r_stage2_ohm
    lay = layout(mapped.scheme)
    c.V("bp", "vbp", c.gnd, num(dev.v_read_volt, "v_read_volt"))
    if lay == "row-pairs":
        c.V("bn", "vbn", c.gnd, num(-dev.v_read_volt, "v_read_volt"))
    signal = list(inputs)
    for l, arr in enumerate(mapped.arrays):
        g = np.asarray(g_list[l], dtype=np.float64)
        if g.ndim != 2:
            raise ParameterError(
                "g_list", f"array {l + 1}: expected one (rows, cols) conductance array, got shape {g.shape}"
            )

        def vos(kind: str, k: int) -> float:
            return 0.0 if offsets is None else float(getattr(offsets[l], kind)[k])  # noqa: B023 - used at once

        if lay != "row-pairs":
            drivers = signal + ["vbp"]
        else:
            drivers = []
            for i, node in enumerate(signal):
                # unity-gain inverting amplifier makes the -V row (no R_o: it is the row driver)
                c.R(f"ui{l}_{i}", node, f"ui{l}_{i}", num(r2))
                c.R(f"uf{l}_{i}", f"ui{l}_{i}", f"u{l}_{i}", num(r2))
                amp(f"u{l}_{i}", f"u{l}_{i}", None, f"ui{l}_{i}", vos("inverter", i), with_r_o=False)
                drivers += [node, f"u{l}_{i}"]
            drivers += ["vbp", "vbn"]
        # tiled (core.model.tiling): the mosaic's unused rows are driven at 0 V, its unused columns end at ground
        rows_m, cols_m = arr.shape
        cols = arr.logical_shape[1]
        if g.shape != (rows_m, cols_m):
            raise ParameterError("g_list", f"array {l + 1} must have shape {arr.shape}, got {g.shape}")
        drivers = drivers + ["0"] * (rows_m - len(drivers))
        ends = [f"n{l}_{j}" if j < cols else "0" for j in range(cols_m)]
        add_crossbar(c, l, g, drivers, ends, cir.wires, dev, arr.tile)
        for j in range(cols):
            c.R(f"f{l}_{j}", f"n{l}_{j}", f"t{l}_{j}", num(arr.r_tia_ohm, "r_tia_ohm"))
            amp(f"t{l}_{j}", f"t{l}_{j}", None, f"n{l}_{j}", vos("tia", j))
        rk = num(arr.k_stage2 * r2, "k_stage2")
        outs = []
        for j in range(arr.n_out):
            m, s = f"m{l}_{j}", f"s{l}_{j}"
            if lay != "row-pairs":
                # difference amplifier: v(s) = k (v(plus TIA) - v(minus TIA))
                t_minus, t_plus = (2 * j, 2 * j + 1) if lay == "column-pairs" else (j, arr.n_out)
                p = f"p{l}_{j}"
                c.R(f"sa{l}_{j}", f"t{l}_{t_minus}", m, num(r2))
                c.R(f"sf{l}_{j}", m, s, rk)
                c.R(f"sb{l}_{j}", f"t{l}_{t_plus}", p, num(r2))
                c.R(f"sg{l}_{j}", p, c.gnd, rk)
                amp(s, s, p, m, vos("stage2", j))
            else:
                c.R(f"sa{l}_{j}", f"t{l}_{j}", m, num(r2))
                c.R(f"sf{l}_{j}", m, s, rk)
                amp(s, s, None, m, vos("stage2", j))
            if arr.relu and transistor:
                cmos.add_relu(c, f"h{l}_{j}", s, f"h{l}_{j}")
                outs.append(f"h{l}_{j}")
            elif arr.relu:
                c.B(f"h{l}_{j}", f"h{l}_{j}", c.gnd, voltage_expression=f"max(v({s}), 0)")
                outs.append(f"h{l}_{j}")
            else:
                outs.append(s)
        signal = outs
    return signal


def control_lines(saves: list[str], n_steps: int, klu: bool) -> str:
    """Options, saved vectors and the staircase ``.tran`` for ``n_steps`` inputs."""
    opts = ".options noinit reltol=1e-6 vntol=1e-9 abstol=1e-15" + (" klu" if klu else "")
    lines = [opts]
    for k in range(0, len(saves), 8):
        lines.append(".save " + " ".join(saves[k : k + 8]))
    lines.append(f".tran {num(MAX_STEP_S)} {num(float(max(n_steps, 1)))} 0 {num(MAX_STEP_S)}")
    lines.append(".end")
    return "\n".join(lines) + "\n"


def network_netlist(
    mapped: MappedNetwork, X: np.ndarray, g_list, klu: bool, neuron: str = "macro"
) -> tuple[str, list[str]]:
    """Netlist text for inputs ``X`` (N, n_in) in [0, 1] and the names of the saved output vectors.

    With ``neuron="transistor"`` the circuit has capacitances (Miller capacitors, BSIM4 charges) whose time
    constants (< 1 us) are a million times shorter than a plateau: every time point is still the operating point
    of its input. The staircase is then integrated with Gear's method, which damps the op-amps' fast modes over
    the long steps where the trapezoidal rule would let them ring, and with the truncation-error test relaxed
    (``trtol=1000``), which otherwise cuts the step to microseconds at every corner of the staircase (863 instead
    of 46 time points for 20 images; the sampled outputs agree to 1.2e-7 V).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != mapped.n_inputs or len(X) == 0:
        raise ParameterError("X", f"must be (N >= 1, {mapped.n_inputs}) inputs, got shape {X.shape}")
    c = _circuit()
    inputs = []
    for i in range(X.shape[1]):
        add_source(c, f"x{i}", f"x{i}", X[:, i] * mapped.device.v_read_volt, "X")
        inputs.append(f"x{i}")
    outs = add_network(c, mapped, inputs, g_list, neuron)
    saves = [f"v({o})" for o in outs]
    extra = TRANSISTOR_OPTIONS if neuron == "transistor" else ""
    return str(c) + extra + control_lines(saves, len(X), klu), saves


def crossbar_netlist(
    g: np.ndarray,
    v_rows: np.ndarray,
    r_wire_ohm: Union[float, Wires],
    device: DeviceParams,
    klu: bool,
    tile: Optional[tuple[int, int]] = None,
) -> tuple[str, list[str]]:
    """One crossbar driven by ``v_rows`` (N, rows), each column ending in a 0 V ammeter to ground."""
    g = np.asarray(g, dtype=np.float64)
    v_rows = np.asarray(v_rows, dtype=np.float64)
    if g.ndim != 2 or v_rows.ndim != 2 or v_rows.shape[1] != g.shape[0] or len(v_rows) == 0:
        raise ParameterError("v_rows", f"must be (N >= 1, {g.shape[0] if g.ndim == 2 else '?'}), got {v_rows.shape}")
    c = _circuit()
    drivers = []
    for i in range(g.shape[0]):
        add_source(c, f"d{i}", f"d{i}", v_rows[:, i], "v_rows")
        drivers.append(f"d{i}")
    ends = [f"n0_{j}" for j in range(g.shape[1])]
    add_crossbar(c, 0, g, drivers, ends, r_wire_ohm, device, tile)
    for j, e in enumerate(ends):
        c.V(f"m{j}", e, c.gnd, "0")
    saves = [f"i(vm{j})" for j in range(g.shape[1])]
    return str(c) + control_lines(saves, len(v_rows), klu), saves
