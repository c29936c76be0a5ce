"""Evaluating a project's network at one of four fidelities, with or without defects, as a job.

``ideal`` is the software network (float weights, no circuit); ``behavioral``, ``nodal`` and ``spice`` are the
circuit fidelities of :mod:`core.circuit.fidelity`. The job returns a
:class:`~core.model.results.SimulationResult`; :func:`core.session.store.store_result` puts it into a project.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Optional

import numpy as np

from core.circuit.fidelity import (
    CIRCUIT_FIDELITIES,
    check_fidelity,
    circuit_params,
    defective_conductances,
    output_voltages_job,
    with_overrides,
)
from core.circuit.mapping import effective_weights
from core.errors import ParameterError
from core.jobs import Progress
from core.model import network
from core.model.defects import Defect
from core.model.project import Project
from core.model.results import SimulationResult

FIDELITIES = ("ideal", *CIRCUIT_FIDELITIES)


def project_view(project: Project, r_wire_ohm: Optional[float] = None, device_model: Optional[str] = None) -> Project:
    """The project itself, or a shallow view whose mapped network carries circuit overrides.

    The view shares the dataset cache with ``project``; jobs only read it.
    """
    if r_wire_ohm is None and device_model is None:
        return project
    return dataclasses.replace(project, mapped=with_overrides(project.require_mapped(), r_wire_ohm, device_model))


def evaluate_job(
    project: Project,
    defects: Sequence[Defect] = (),
    fidelity: str = "behavioral",
    *,
    split: str = "test",
    r_wire_ohm: Optional[float] = None,
    device_model: Optional[str] = None,
    workers: Optional[int] = None,
    scenario: str = "",
):
    """Job: evaluate the project's network on a data split and return a :class:`SimulationResult`.

    The result (accuracy, output voltages, solver, timing, circuit settings) has no id yet; store it with
    :func:`core.session.store.store_result`.
    """
    check_fidelity(fidelity, FIDELITIES)
    X, y = project.load_dataset().split(split)
    mapped = with_overrides(project.require_mapped(), r_wire_ohm, device_model)
    t0 = time.perf_counter()
    g_list, fractions = defective_conductances(mapped, defects)
    if fidelity == "ideal":
        if defects:
            # the software network has no devices; defects act through the effective weights
            W, b = effective_weights(mapped, g_list)
        else:
            weights = project.weights
            if weights is None:  # a project file may hold a mapping without the weights it came from
                raise ParameterError("project", "has no trained network; the ideal fidelity needs its weights")
            W, b = weights.weights, weights.biases
        v, solver = network.forward(W, b, X), "numpy (software network)"
    else:
        v, solver = yield from output_voltages_job(mapped, X, g_list, fidelity, workers)
    seconds = time.perf_counter() - t0
    res = SimulationResult(
        id="",
        fidelity=fidelity,
        accuracy=network.accuracy(v, y),
        n_images=len(y),
        defect_specs=[d.to_spec() for d in defects],
        defect_fraction=fractions,
        output_voltages=np.asarray(v, dtype=np.float32),
        seconds=seconds,
        solver=solver,
        scenario=scenario,
        params={"split": split, **circuit_params(mapped)},
    )
    yield Progress(1, 1, f"{fidelity}: accuracy {res.accuracy:.3f}")
    return res
