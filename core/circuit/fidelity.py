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
from core.circuit.spice import cmos, simulate
from core.errors import ParameterError
from core.jobs import Progress
from core.model import defects as defects_mod
from core.model.crossbar import MappedNetwork
from core.model.defects import Defect
from core.model.network import accuracy
from core.model.opamp import OpAmpOffsets, OpAmpParams
from core.model.variability import DeviceVariability, apply_variability

CIRCUIT_FIDELITIES = ("behavioral", "nodal", "spice")


def check_fidelity(fidelity: str, allowed: Sequence[str] = CIRCUIT_FIDELITIES) -> str:
    """Validate a fidelity name; the error names the field and the allowed values."""
    if fidelity not in allowed:
        raise ParameterError("fidelity", f"must be one of {', '.join(allowed)}; got {fidelity!r}")
    return fidelity


def with_overrides(
    mapped: MappedNetwork, r_wire_ohm: Optional[float] = None, device_model: Optional[str] = None
) -> MappedNetwork:
    """A copy of ``mapped`` with wire resistance and/or device model replaced (conductances unchanged).

    Switching a non-gap device to a gap device (``gap`` or ``va-gap``) fits its ``i0_amp`` to the gap range if needed
    (:meth:`~core.model.devices.DeviceParams.fitted_to_gap_range`: the currents stay the same, only the gaps
    move into [0.2, 1.7] nm; ParameterError if the window cannot fit); a device already a gap device is kept as is
    and checked when evaluated.
    """
    dev, cir = mapped.device, mapped.circuit
    if device_model is not None:
        was_gap = dev.uses_gap_iv
        dev = dataclasses.replace(dev, model=device_model)
        switched = dev.uses_gap_iv and not was_gap
        if switched:
            dev = dev.fitted_to_gap_range()
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
    were given as arrays), non-default device variability under ``variability``; ideal settings add nothing.
    """
    out = {"r_wire_ohm": mapped.circuit.r_wire_ohm, "device_model": mapped.device.model, "scheme": mapped.scheme}
    out.update(mapped.circuit.wire_changes())
    if mapped.device.uses_gap_iv:
        out["gap_i0_amp"] = mapped.device.i0_amp
    if mapped.opamp.changes():
        out["opamp"] = mapped.opamp.changes()
    if mapped.offsets is not None:
        out["opamp_offsets"] = "explicit"
    if mapped.variability.changes():
        out["variability"] = mapped.variability.changes()
    return out


def with_variability(mapped: MappedNetwork, variability: Optional[DeviceVariability] = None) -> MappedNetwork:
    """A copy of ``mapped`` with device variability and stuck values (:mod:`core.model.variability`)."""
    return mapped if variability is None else dataclasses.replace(mapped, variability=variability)


def device_conductances(mapped: MappedNetwork) -> list[np.ndarray]:
    """The conductances every fidelity reads from the healthy cells: programmed, with ``mapped.variability``
    (programming error, drift, read noise) applied; the programmed arrays themselves when it is ideal."""
    return apply_variability(mapped.conductances(), mapped.variability)


def defective_conductances(mapped: MappedNetwork, defects: Sequence[Defect]):
    """(conductances with variability and stuck cells applied, defective fraction per array).

    The one place every evaluation gets its conductances from (behavioural, nodal and SPICE read the same
    arrays): :func:`device_conductances` for the healthy cells, the stuck values of ``mapped.variability`` (or
    the window's LRS/HRS) for the stuck ones.
    """
    stuck = defects_mod.stuck_maps(
        mapped.shapes, defects, mapped.device, mapped.variability, mapped.pitches_um, mapped.tiles
    )
    return defects_mod.apply_stuck(device_conductances(mapped), stuck), defects_mod.defect_fractions(stuck)


def output_voltages_job(
    mapped: MappedNetwork,
    X: np.ndarray,
    g_list,
    fidelity: str,
    workers: Optional[int] = None,
    neuron: str = "macro",
):
    """Job: (output voltages (N, n_out), solver description) for conductances ``g_list`` at ``fidelity``.

    With the ``gap`` device model the window must lie in the model's gap range
    (:meth:`core.model.devices.DeviceParams.check_gap_window`; ParameterError otherwise). ``neuron="transistor"``
    (CMOS op-amps and rectifiers, :mod:`core.circuit.spice.cmos`) exists only at ``spice`` fidelity.
    """
    check_fidelity(fidelity)
    check_neuron_fidelity(neuron, fidelity)
    if mapped.device.uses_gap_iv:
        mapped.device.check_gap_window()
    if fidelity == "behavioral":
        yield Progress(0, 1, "behavioural model")
        return behavioral.forward_voltages(mapped, X, g_list), "behavioral (closed form)"
    if fidelity == "nodal":
        yield Progress(0, 1, "nodal solve")
        return nodal.forward_voltages(mapped, X, g_list), "scipy.sparse splu"
    return (yield from simulate.output_voltages_job(mapped, X, g_list, workers=workers, neuron=neuron))


def check_neuron_fidelity(neuron: str, fidelity: str) -> str:
    """Validate ``neuron`` (``macro`` or ``transistor``); transistor neurons need the ``spice`` fidelity."""
    cmos.check_neuron(neuron)
    if neuron == "transistor" and fidelity != "spice":
        raise ParameterError("neuron", f"transistor neurons exist only at spice fidelity, not {fidelity!r}")
    return neuron


def circuit_accuracy_job(mapped: MappedNetwork, X: np.ndarray, y: np.ndarray, g_list, fidelity: str):
    """Job: accuracy of the circuit with conductances ``g_list`` on (X, y) at ``fidelity``."""
    v, _solver = yield from output_voltages_job(mapped, X, g_list, fidelity)
    return accuracy(v, y)
