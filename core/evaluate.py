"""Evaluating a project's network at one of four fidelities, with or without defects, as a job.

``ideal``       the software network (float weights, no circuit)
``behavioral``  crossbar conductances, ideal wires, closed-form op-amp neurons (:mod:`core.behavioral`)
``nodal``       sparse nodal solve of every crossbar with wire resistance (:mod:`core.nodal`)
``spice``       the whole analog circuit in ngspice (:mod:`core.spice`)
"""
from __future__ import annotations

import dataclasses
import time
from typing import Optional, Sequence

import numpy as np

from core import behavioral, defects as defects_mod, network
from core.defects import Defect
from core.errors import ParameterError
from core.jobs import Progress
from core.mapping import MappedNetwork
from core.project import Project, SimulationResult

FIDELITIES = ("ideal", "behavioral", "nodal", "spice")


def with_overrides(mapped: MappedNetwork, r_wire_ohm: Optional[float] = None,
                   device_model: Optional[str] = None) -> MappedNetwork:
    """A copy of ``mapped`` with wire resistance and/or device model replaced (conductances unchanged)."""
    dev, cir = mapped.device, mapped.circuit
    if device_model is not None:
        dev = dataclasses.replace(dev, model=device_model)
    if r_wire_ohm is not None:
        cir = dataclasses.replace(cir, r_wire_ohm=r_wire_ohm)
    return dataclasses.replace(mapped, device=dev, circuit=cir)


def project_view(project: Project, r_wire_ohm: Optional[float] = None,
                 device_model: Optional[str] = None) -> Project:
    """The project itself, or a shallow view whose mapped network carries circuit overrides.

    The view shares every list (results, sweeps, recoveries) and the dataset cache, so jobs that store their
    results into it store them into ``project``.
    """
    if r_wire_ohm is None and device_model is None:
        return project
    return dataclasses.replace(project, mapped=with_overrides(project.require_mapped(), r_wire_ohm, device_model))


def circuit_params(mapped: MappedNetwork) -> dict:
    """The circuit settings a result was computed with (stored beside sweeps and recoveries)."""
    return {"r_wire_ohm": mapped.circuit.r_wire_ohm, "device_model": mapped.device.model, "scheme": mapped.scheme}


def defective_conductances(mapped: MappedNetwork, defects: Sequence[Defect]):
    """(conductances with stuck cells applied, defective fraction per array)."""
    stuck = defects_mod.stuck_maps(mapped.shapes, defects, mapped.device)
    return defects_mod.apply_stuck(mapped.conductances(), stuck), defects_mod.defect_fractions(stuck)


def output_voltages_job(mapped: MappedNetwork, X: np.ndarray, g_list, fidelity: str, workers: Optional[int] = None):
    """Job: output voltages (N, n_out) and the solver description for conductances ``g_list``."""
    if fidelity == "behavioral":
        yield Progress(0, 1, "behavioural model")
        return behavioral.forward_voltages(mapped, X, g_list), "behavioral (closed form)"
    if fidelity == "nodal":
        from core import nodal

        yield Progress(0, 1, "nodal solve")
        return nodal.forward_voltages(mapped, X, g_list), "scipy.sparse splu"
    if fidelity == "spice":
        from core.spice import simulate

        return (yield from simulate.output_voltages_job(mapped, X, g_list, workers=workers))
    raise ParameterError("fidelity", f"must be one of {', '.join(FIDELITIES)}; got {fidelity!r}")


def evaluate_job(project: Project, defects: Sequence[Defect] = (), fidelity: str = "behavioral", *,
                 split: str = "test", r_wire_ohm: Optional[float] = None, device_model: Optional[str] = None,
                 workers: Optional[int] = None, scenario: str = "", store: bool = True):
    """Job: evaluate the project's network on a data split and return a :class:`SimulationResult`.

    With ``store`` the result (accuracy, output voltages, solver, timing) is appended to ``project.results``.
    """
    if fidelity not in FIDELITIES:
        raise ParameterError("fidelity", f"must be one of {', '.join(FIDELITIES)}; got {fidelity!r}")
    if split not in ("test", "cal", "train"):
        raise ParameterError("split", f"must be one of test, cal, train; got {split!r}")
    ds = project.load_dataset()
    X, y = {"test": (ds.X_test, ds.y_test), "cal": (ds.X_cal, ds.y_cal), "train": (ds.X_train, ds.y_train)}[split]
    mapped = with_overrides(project.require_mapped(), r_wire_ohm, device_model)
    t0 = time.perf_counter()
    g_list, fractions = defective_conductances(mapped, defects)
    if fidelity == "ideal":
        if defects:
            # the software network has no devices; defects act through the effective weights
            from core.mapping import effective_weights

            W, b = effective_weights(mapped, g_list)
        else:
            W, b = project.weights.weights, project.weights.biases
        v, solver = network.forward(W, b, X), "numpy (software network)"
    else:
        v, solver = yield from output_voltages_job(mapped, X, g_list, fidelity, workers)
    seconds = time.perf_counter() - t0
    res = SimulationResult(
        id=project.next_id("run"), fidelity=fidelity, accuracy=network.accuracy(v, y), n_images=len(y),
        defect_specs=[d.to_spec() for d in defects], defect_fraction=fractions,
        output_voltages=np.asarray(v, dtype=np.float32), seconds=seconds, solver=solver, scenario=scenario,
        params={"split": split, "r_wire_ohm": mapped.circuit.r_wire_ohm, "device_model": mapped.device.model,
                "scheme": mapped.scheme})
    if store:
        project.results.append(res)
    yield Progress(1, 1, f"{fidelity}: accuracy {res.accuracy:.3f}")
    return res
