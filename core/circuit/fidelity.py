"""One entry point over every circuit fidelity, and the circuit settings that go with a result.

``behavioral``  crossbar conductances, ideal wires, closed-form op-amp neurons (:mod:`core.circuit.behavioral`)
``nodal``       sparse nodal solve of every crossbar with wire resistance (:mod:`core.circuit.nodal`)
``spice``       the whole analog circuit in ngspice (:mod:`core.circuit.spice`)

(``ideal``, the software network, is no circuit: :func:`core.evaluate.evaluate_job` handles it.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Optional

import numpy as np

from core.circuit import behavioral, nodal
from core.circuit.spice import simulate
from core.errors import ParameterError
from core.jobs import Progress
from core.model import defects as defects_mod
from core.model.crossbar import MappedNetwork
from core.model.defects import Defect
from core.model.network import accuracy
from core.model.opamp import OpAmpOffsets, OpAmpParams

CIRCUIT_FIDELITIES = ("behavioral", "nodal", "spice")


def check_fidelity(fidelity: str, allowed: Sequence[str] = CIRCUIT_FIDELITIES) -> str:
    """Validate a fidelity name; the error names the field and the allowed values."""
    if fidelity not in allowed:
        raise ParameterError("fidelity", f"must be one of {', '.join(allowed)}; got {fidelity!r}")
    return fidelity


def with_overrides(
    mapped: MappedNetwork, r_wire_ohm: Optional[float] = None, device_model: Optional[str] = None
) -> MappedNetwork:
    """A copy of ``mapped`` with wire resistance and/or device model replaced (conductances unchanged)."""
    dev, cir = mapped.device, mapped.circuit
    if device_model is not None:
        dev = dataclasses.replace(dev, model=device_model)
    if r_wire_ohm is not None:
        cir = dataclasses.replace(cir, r_wire_ohm=r_wire_ohm)
    return dataclasses.replace(mapped, device=dev, circuit=cir)


def with_opamp(
    mapped: MappedNetwork, opamp: Optional[OpAmpParams] = None, offsets: Optional[list[OpAmpOffsets]] = None
) -> MappedNetwork:
    """A copy of ``mapped`` with op-amp non-idealities (:mod:`core.model.opamp`) and/or explicit offsets."""
    changes: dict = {}
    if opamp is not None:
        changes["opamp"] = opamp
    if offsets is not None:
        changes["offsets"] = offsets
    return dataclasses.replace(mapped, **changes) if changes else mapped


def circuit_params(mapped: MappedNetwork) -> dict:
    """The circuit settings a result was computed with (stored with every result).

    Non-default op-amp settings are recorded under ``opamp`` (and ``opamp_offsets: "explicit"`` when offsets
    were given as arrays); an ideal macro-model adds nothing.
    """
    out = {"r_wire_ohm": mapped.circuit.r_wire_ohm, "device_model": mapped.device.model, "scheme": mapped.scheme}
    if mapped.opamp.changes():
        out["opamp"] = mapped.opamp.changes()
    if mapped.offsets is not None:
        out["opamp_offsets"] = "explicit"
    return out


def defective_conductances(mapped: MappedNetwork, defects: Sequence[Defect]):
    """(conductances with stuck cells applied, defective fraction per array)."""
    stuck = defects_mod.stuck_maps(mapped.shapes, defects, mapped.device)
    return defects_mod.apply_stuck(mapped.conductances(), stuck), defects_mod.defect_fractions(stuck)


def output_voltages_job(mapped: MappedNetwork, X: np.ndarray, g_list, fidelity: str, workers: Optional[int] = None):
    """Job: (output voltages (N, n_out), solver description) for conductances ``g_list`` at ``fidelity``."""
    check_fidelity(fidelity)
    if fidelity == "behavioral":
        yield Progress(0, 1, "behavioural model")
        return behavioral.forward_voltages(mapped, X, g_list), "behavioral (closed form)"
    if fidelity == "nodal":
        yield Progress(0, 1, "nodal solve")
        return nodal.forward_voltages(mapped, X, g_list), "scipy.sparse splu"
    return (yield from simulate.output_voltages_job(mapped, X, g_list, workers=workers))


def circuit_accuracy_job(mapped: MappedNetwork, X: np.ndarray, y: np.ndarray, g_list, fidelity: str):
    """Job: accuracy of the circuit with conductances ``g_list`` on (X, y) at ``fidelity``."""
    v, _solver = yield from output_voltages_job(mapped, X, g_list, fidelity)
    return accuracy(v, y)
