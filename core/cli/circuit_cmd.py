"""CLI command ``circuit-info``: the transistor-level neurons measured in ngspice, beside the macro-model."""

from __future__ import annotations

import numpy as np

from core.circuit.spice import characterize, cmos
from core.cli.common import CommandResult, Deadline, load_project, parse_timeout, run_job, timeout_arg
from core.errors import ParameterError


def register(sub, common) -> None:
    """Add ``circuit-info`` to ``sub``."""
    p = sub.add_parser(
        "circuit-info",
        parents=[common],
        help="open-loop gain, GBW, phase margin, offset, swing and supply current of the CMOS op-amp, and the "
        "ReLU rectifier's transfer, from ngspice (with the macro-model for comparison)",
    )
    p.add_argument("project")
    p.add_argument(
        "--r-load",
        type=float,
        default=None,
        help="op-amp load in ohm (default: the heaviest TIA load of the project mapped for +-0.5 V rails)",
    )
    p.add_argument(
        "--r-relu-load",
        type=float,
        default=None,
        help="rectifier load in ohm (default: the heaviest crossbar row a ReLU drives)",
    )
    timeout_arg(p, "the measurement")
    p.set_defaults(func=cmd_circuit_info)


def loads(mapped) -> tuple[float, float]:
    """(op-amp load, ReLU load) in ohm of a network mapped for the transistor neurons.

    The heaviest op-amp load is a TIA's: its feedback resistor (to the virtual ground of its column) in parallel
    with the stage-2 input resistor it drives. A ReLU drives one row of the next crossbar, whose devices end at
    virtual grounds: the largest row conductance sum.
    """
    r2 = mapped.circuit.r_stage2_ohm
    r_tia = min(a.r_tia_ohm for a in mapped.arrays)
    r_load = 1.0 / (1.0 / r_tia + 1.0 / r2)
    g_rows = [float(np.max(np.sum(g, axis=1))) for g in mapped.conductances()[1:]]
    r_relu = 1.0 / max(g_rows) if g_rows else 1e6
    return r_load, r_relu


def cmd_circuit_info(args) -> CommandResult:
    deadline = Deadline(parse_timeout(args.timeout))
    proj = load_project(args.project)
    if proj.weights is None:
        raise ParameterError("project", "has no trained network to map for the transistor neurons")
    mapped = cmos.transistor_mapping(proj.weights, proj.require_mapped(), proj.load_dataset().X_train)
    r_load, r_relu = loads(mapped)
    r_load = r_load if args.r_load is None else args.r_load
    r_relu = r_relu if args.r_relu_load is None else args.r_relu_load
    d = run_job(characterize.characterize_job(mapped, r_load, r_relu), args, deadline)
    d["mapping"] = {
        "v_rail_volt": mapped.circuit.v_rail_volt,
        "r_stage2_ohm": mapped.circuit.r_stage2_ohm,
        "r_tia_ohm": [a.r_tia_ohm for a in mapped.arrays],
        "k_stage2": [a.k_stage2 for a in mapped.arrays],
    }
    t, r, m = d["transistor"], d["relu"], d["macro"]
    text = "\n".join(
        [
            f"CMOS two-stage Miller op-amp (45 nm PTM, +-0.5 V), load {r_load:.4g} ohm ({d['solver']}):",
            f"  open-loop DC gain {t['dc_gain']:.4g} ({t['dc_gain_db']:.1f} dB; "
            f"DC sweep slope {t['dc_gain_sweep']:.4g})",
            f"  GBW {t['gbw_hz'] / 1e6:.3g} MHz (hand estimate gm1/(2 pi Cc) "
            f"{t['gbw_hand_estimate_hz'] / 1e6:.3g} MHz), phase margin {t['phase_margin_deg']:.1f} deg",
            f"  input offset {t['input_offset_volt'] * 1e3:.3g} mV, output swing {t['swing_volt'][0]:.3f} .. "
            f"{t['swing_volt'][1]:.3f} V, supply current {t['supply_current_a'] * 1e6:.4g} uA",
            f"ReLU rectifier, load {r_relu:.4g} ohm: max error {r['max_error_volt_0p05_to_0p2'] * 1e3:.3g} mV on "
            f"0.05-0.2 V, output {r['output_at_zero_volt'] * 1e3:.3g} mV at 0 V, "
            f"{r['output_at_minus_0p1_volt'] * 1e3:.3g} mV at -0.1 V",
            f"macro-model: gain {m['dc_gain']:.4g} (sweep {m['dc_gain_sweep']:.4g}), swing {m['swing_volt'][0]:.3f} .. "
            f"{m['swing_volt'][1]:.3f} V, no offset, no supply current",
        ]
    )
    return CommandResult(d, text)
