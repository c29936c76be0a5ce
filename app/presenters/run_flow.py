"""What the run controls' buttons do, free of Qt: validate the fields, build the job, name it, say what was queued.

Each ``plan_*`` function takes the open :class:`~app.presenters.document.WorkbenchState` and the text of the
fields and returns a :class:`JobPlan` (a zero-argument factory of a core job, its queue name, the message the
controls show and the project that receives the result), or raises a :class:`core.errors.WorkbenchError` naming
the field. The widget only submits ``plan.factory`` to the queue with ``plan.project`` as the target.

The factories capture copies of the draft's defects and the chosen circuit at the moment of the click, so a
later edit never changes a job that is already queued.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from app.presenters import forms
from app.presenters.document import WorkbenchState, copy_defects
from core.errors import ParameterError
from core.model.crossbar import MappedNetwork
from core.model.defects import Defect
from core.model.project import Project
from core.sweeps.spec import SweepSpec, parse_list

SCHEDULER_SCHEMES = ("tcp://", "tls://", "inproc://", "ucx://")
WIRE_NOTE = " (the wire resistance only acts at nodal and spice fidelity)"


@dataclass(frozen=True)
class JobPlan:
    """A job ready for the queue: ``jobs.submit(plan.factory, name=plan.name, project=plan.project)``."""

    factory: Callable[[], Generator[Any, None, Any]]
    name: str  # the queue row's name
    message: str  # what the controls say once it is queued
    project: Project  # the project that receives its result


@dataclass(frozen=True)
class Circuit:
    """The run controls' circuit fields, checked: wire resistance in ohm and device model."""

    r_wire_ohm: float
    device_model: str


def require_mapped(state: WorkbenchState) -> MappedNetwork:
    """The open project's mapped network, or ParameterError('project', ...) if it has none."""
    if state.project.mapped is None:
        raise ParameterError("project", "has no trained and mapped network; train one first")
    return state.project.mapped


def circuit(r_wire_text: str, device_model: str) -> Circuit:
    """The circuit fields checked (errors name 'wire resistance (ohm)' or 'device model' and the range)."""
    return Circuit(*forms.circuit_overrides(r_wire_text, device_model))


OFFSET_LABEL = "op-amp offset sigma (mV)"
OFFSET_MAX_MV = 100.0  # the core's range: 0 to 0.1 V


def offset_sigmas(text: str) -> tuple[float, ...]:
    """The offset field: comma-separated sigmas in mV (empty or 0: ideal offsets) as volts, each in [0, 100] mV."""
    out = []
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        try:
            mv = float(part)
        except ValueError:
            raise ParameterError(
                OFFSET_LABEL, f"must be numbers in [0, {OFFSET_MAX_MV:g}] mV, comma-separated; got {part!r}"
            ) from None
        if not (0.0 <= mv <= OFFSET_MAX_MV):  # also refuses NaN
            raise ParameterError(OFFSET_LABEL, f"each must be in [0, {OFFSET_MAX_MV:g}] mV; got {part!r}")
        out.append(mv * 1e-3)
    return tuple(out)


def with_offset(project: Project, text: str, what: str) -> tuple[Project, str]:
    """(the project with one op-amp offset sigma for this run, a note) from the offset field; one value only."""
    import dataclasses

    from core.circuit.fidelity import with_opamp
    from core.model.opamp import OpAmpParams

    sigmas = offset_sigmas(text)
    if len(sigmas) > 1:
        raise ParameterError(OFFSET_LABEL, f"{what} takes one sigma (a sweep takes a list); got {len(sigmas)}")
    if not sigmas or sigmas[0] == 0.0:
        return project, ""
    mapped = with_opamp(project.mapped, OpAmpParams(offset_sigma_volt=sigmas[0]))
    return dataclasses.replace(project, mapped=mapped), f", offset sigma {sigmas[0] * 1e3:g} mV"


def circuit_note(mapped: MappedNetwork, c: Circuit) -> str:
    """``", 2 Ω wires, gap devices"`` for whatever differs from the project's mapped circuit ('' if nothing)."""
    parts = []
    if c.r_wire_ohm != mapped.circuit.r_wire_ohm:
        parts.append(f"{c.r_wire_ohm:g} Ω wires")
    if c.device_model != mapped.device.model:
        parts.append(f"{c.device_model} devices")
    return f", {', '.join(parts)}" if parts else ""


def queued_message(text: str, c: Circuit, fidelity: str) -> str:
    """``text``, plus a warning when a wire resistance is set at a fidelity that ignores it."""
    return text + (WIRE_NOTE if c.r_wire_ohm > 0 and fidelity in ("ideal", "behavioral") else "")


def _same_defects(a, b) -> bool:
    """Whether two defect lists are the same defects (specs, masks and tiles), in order."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x.to_spec() != y.to_spec():
            return False
        if (x.mask is None) != (y.mask is None) or (x.mask is not None and not np.array_equal(x.mask, y.mask)):
            return False
    return True


def draft_scenario(state: WorkbenchState) -> tuple[list[Defect], str]:
    """(copies of the draft's defects, the name results are stored under; '' when the draft is empty).

    The draft's name when it holds exactly the saved scenario of that name (or no saved scenario has it);
    ``NAME (edited)`` when it was loaded from scenario NAME and changed since, so a result never claims a saved
    scenario's name for other defects.
    """
    defects = copy_defects(state.draft)
    if not defects:
        return defects, ""
    name = state.draft_name
    saved = state.project.scenarios.get(name)
    if saved is not None and not _same_defects(saved.defects, defects):
        name = f"{name} (edited)"
    return defects, name


NETLIST_IMAGES = 20  # test images in an exported netlist's staircase (one per ms of transient)


def plan_netlist_export(state: WorkbenchState, path: str, n_images: int = NETLIST_IMAGES) -> JobPlan:
    """File > Export netlist…: the whole circuit with the draft's defects on the first test images, as ngspice
    reads it (``ngspice -b PATH``); the same builder as ``reram-workbench netlist``."""
    from core.circuit.fidelity import defective_conductances
    from core.circuit.spice.export import netlist_job

    mapped = require_mapped(state)
    if not str(path).strip():
        raise ParameterError("netlist file", "needs a file name (.cir)")
    defects, name = draft_scenario(state)
    g_list, _ = defective_conductances(mapped, defects)  # a defect that cannot be placed fails here, named
    X = state.project.load_dataset().X_test[:n_images]
    what = name or ("draft" if defects else "clean")
    return JobPlan(
        lambda: netlist_job(mapped, X, g_list, path),
        f"export netlist ({what})",
        f"queued: netlist of the {what} circuit on {len(X)} test images",
        state.project,
    )


def plan_evaluation(
    state: WorkbenchState, fidelity: str, r_wire_text: str, device_model: str, offset_text: str = ""
) -> JobPlan:
    """Evaluate the draft scenario (the clean network when it is empty) at ``fidelity``; ``offset_text`` (mV) gives
    every op-amp an input offset drawn with that sigma (seed 0), the same draw at every fidelity."""
    from core.evaluate import FIDELITIES, evaluate_job

    mapped = require_mapped(state)
    c = circuit(r_wire_text, device_model)
    if fidelity not in FIDELITIES:
        raise ParameterError("fidelity", f"must be one of {', '.join(FIDELITIES)}; got {fidelity!r}")
    project = state.project
    view, offset_note = with_offset(project, offset_text, "an evaluation")
    defects, name = draft_scenario(state)
    what = name or ("draft" if defects else "clean")
    note = circuit_note(mapped, c) + offset_note
    return JobPlan(
        lambda: evaluate_job(
            view, defects, fidelity, r_wire_ohm=c.r_wire_ohm, device_model=c.device_model, scenario=name
        ),
        name=f"evaluate {what} ({fidelity}{note})",
        message=queued_message(f"queued: evaluate {what} at {fidelity}{note}", c, fidelity),
        project=project,
    )


def scheduler_address(text: str) -> Optional[str]:
    """The Dask scheduler field: None for this computer, else an address such as ``tcp://127.0.0.1:8786``."""
    address = str(text).strip() or None
    if address is not None and not address.startswith(SCHEDULER_SCHEMES):
        raise ParameterError(
            "Dask scheduler",
            f"must be empty (this computer) or an address such as tcp://127.0.0.1:8786; got {address!r}",
        )
    return address


def sweep_spec(state: WorkbenchState, fields: Mapping[str, str], fidelity: str) -> SweepSpec:
    """The sweep fields (``patterns``, ``sizes``, ``stuck``, ``arrays``, ``seeds``) as a spec for this network."""
    spec = forms.sweep_spec(
        parse_list("patterns", fields["patterns"]),
        fields["sizes"],
        fields["stuck"],
        fields["arrays"],
        fields["seeds"],
        fidelity,
    )
    return spec.with_arrays(state.n_arrays)


def plan_sweep(
    state: WorkbenchState,
    fields: Mapping[str, str],
    fidelity: str,
    scheduler_text: str,
    r_wire_text: str,
    device_model: str,
    offset_text: str = "",
) -> JobPlan:
    """A Monte-Carlo defect sweep over the fields' patterns, sizes, stuck types, arrays and seeds; ``offset_text``
    (mV, comma-separated) adds an op-amp offset axis (seed k of the sweep draws offset set k)."""
    import dataclasses

    from core.sweeps.job import sweep_job

    mapped = require_mapped(state)
    c = circuit(r_wire_text, device_model)
    spec = sweep_spec(state, fields, fidelity)
    sigmas = offset_sigmas(offset_text)
    if any(s > 0 for s in sigmas):
        spec = dataclasses.replace(spec, offset_sigma_volt=sigmas)
    scheduler = scheduler_address(scheduler_text)
    project = state.project
    n_maps = len(spec.points()) * spec.n_seeds
    note = circuit_note(mapped, c) + (f", on {scheduler}" if scheduler else "")
    if spec.offset_sigma_volt:
        note += f", offset sigmas {','.join(f'{s * 1e3:g}' for s in spec.offset_sigma_volt)} mV"
    return JobPlan(
        lambda: sweep_job(project, spec, scheduler=scheduler, r_wire_ohm=c.r_wire_ohm, device_model=c.device_model),
        name=f"sweep {','.join(spec.patterns)} ({n_maps} maps, {spec.fidelity}{note})",
        message=queued_message(f"queued: sweep of {n_maps} defect maps at {spec.fidelity}{note}", c, spec.fidelity),
        project=project,
    )


def plan_recovery(
    state: WorkbenchState, method: str, fidelity: str, r_wire_text: str, device_model: str, offset_text: str = ""
) -> JobPlan:
    """Recover the draft scenario's accuracy with ``method`` (the draft must hold defects)."""
    from core.recovery.common import METHODS, RECOVERY_FIDELITIES
    from core.recovery.recover import recover_job

    mapped = require_mapped(state)
    c = circuit(r_wire_text, device_model)
    defects, name = draft_scenario(state)
    if not defects:
        raise ParameterError("scenario", "has no defects; add some in the defect editor")
    if method not in METHODS:
        raise ParameterError("method", f"must be one of {', '.join(METHODS)}; got {method!r}")
    if fidelity not in RECOVERY_FIDELITIES:
        raise ParameterError("fidelity", f"must be one of {', '.join(RECOVERY_FIDELITIES)}; got {fidelity!r}")
    project = state.project
    view, offset_note = with_offset(project, offset_text, "a recovery")
    note = circuit_note(mapped, c) + offset_note
    return JobPlan(
        lambda: recover_job(
            view, defects, method, fidelity, scenario=name, r_wire_ohm=c.r_wire_ohm, device_model=c.device_model
        ),
        name=f"recover {name or 'draft'} ({method}, {fidelity}{note})",
        message=queued_message(f"queued: {method} recovery at {fidelity}{note}", c, fidelity),
        project=project,
    )
