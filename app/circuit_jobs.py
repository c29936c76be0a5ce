"""Sweep and recovery jobs run with a chosen wire resistance and device model.

:func:`core.evaluate.evaluate_job` takes ``r_wire_ohm`` and ``device_model``; :func:`core.sweeps.sweep_job`
and :func:`core.recovery.recover_job` do not. They read the circuit from ``project.require_mapped()``, so
they run here on a shallow view of the project whose mapped network carries the overrides
(:func:`core.evaluate.with_overrides`); result lists are shared, so new ids stay unique. The values used are
written into the sweep's ``spec`` (kept when a cancelled sweep is stored) and the recovery's ``params``.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from core.evaluate import with_overrides
from core.project import Project


def project_with_circuit(project: Project, r_wire_ohm: float, device_model: str) -> Project:
    """A view of ``project`` (same lists, dataset cache and weights) whose mapped network uses the overrides."""
    return dataclasses.replace(project, mapped=with_overrides(project.require_mapped(), r_wire_ohm, device_model))


def _annotated(job, annotate: Callable[[object], None]):
    """Pass ``job`` through, calling ``annotate`` on every partial result and on the final result."""
    try:
        while True:
            try:
                progress = next(job)
            except StopIteration as stop:
                annotate(stop.value)
                return stop.value
            if progress.partial is not None:
                annotate(progress.partial)
            yield progress
    finally:
        job.close()   # cancelling closes us at a yield: close the inner job so its finally runs too


def sweep_job(project: Project, spec, r_wire_ohm: float, device_model: str):
    """Job: :func:`core.sweeps.sweep_job` (``store=False``) with the circuit overrides."""
    from core.sweeps import sweep_job as core_sweep_job

    view = project_with_circuit(project, r_wire_ohm, device_model)
    extra = {"r_wire_ohm": view.mapped.circuit.r_wire_ohm, "device_model": view.mapped.device.model}
    return (yield from _annotated(core_sweep_job(view, spec, store=False), lambda r: r.spec.update(extra)))


def recover_job(project: Project, defects, method: str, fidelity: str, r_wire_ohm: float, device_model: str,
                scenario: str = ""):
    """Job: :func:`core.recovery.recover_job` (``store=False``) with the circuit overrides."""
    from core.recovery import recover_job as core_recover_job

    view = project_with_circuit(project, r_wire_ohm, device_model)
    extra = {"r_wire_ohm": view.mapped.circuit.r_wire_ohm, "device_model": view.mapped.device.model}

    def note(result) -> None:
        if hasattr(result, "params"):
            result.params.update(extra)

    return (yield from _annotated(core_recover_job(view, defects, method, fidelity, scenario=scenario,
                                                   store=False), note))
