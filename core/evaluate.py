"""Evaluating a project's network at one of four fidelities, with or without defects, as a job.

``ideal`` is the software network (float weights, no circuit); ``behavioral``, ``nodal`` and ``spice`` are the
circuit fidelities of :mod:`core.circuit.fidelity`. The job returns a
:class:`~core.model.results.SimulationResult`; :func:`core.session.store.store_result` puts it into a project.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Optional

import numpy as np

from core.circuit import behavioral
from core.circuit.fidelity import (
    CIRCUIT_FIDELITIES,
    check_fidelity,
    check_neuron_fidelity,
    circuit_params,
    defective_conductances,
    output_voltages_job,
    with_overrides,
)
from core.circuit.mapping import effective_weights
from core.circuit.spice import cmos, transient
from core.errors import ParameterError, SimulationError
from core.jobs import Progress, stage
from core.model import network
from core.model.crossbar import MappedNetwork
from core.model.defects import Defect
from core.model.project import Project
from core.model.results import SimulationResult
from core.model.stats import wilson_interval

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
    neuron: str = "macro",
    v_rail_volt: Optional[float] = None,
):
    """Job: evaluate the project's network on a data split and return a :class:`SimulationResult`.

    The result (accuracy, output voltages, solver, timing, circuit settings) has no id yet; store it with
    :func:`core.session.store.store_result`. ``neuron="transistor"`` (spice only) builds every op-amp and ReLU
    from 45 nm MOSFETs (:mod:`core.circuit.spice.cmos`) and first re-maps the network for their +-0.5 V rails;
    ``v_rail_volt=0.5`` with the macro neurons gives the same mapping, the baseline to compare with. A SPICE
    evaluation also reports latency, energy and power per inference (a step from the split's image 0 to image 1,
    :func:`core.circuit.spice.transient.inference_cost_job`) in ``params["inference"]``.
    """
    check_fidelity(fidelity, FIDELITIES)
    check_neuron_fidelity(neuron, fidelity)
    X, y = project.load_dataset().split(split)
    mapped = with_overrides(project.require_mapped(), r_wire_ohm, device_model)
    if neuron == "transistor" or v_rail_volt is not None:
        mapped = remapped_for_rails(project, mapped, cmos.RAIL_VOLT if v_rail_volt is None else v_rail_volt)
    t0 = time.perf_counter()
    g_list, fractions = defective_conductances(mapped, defects)
    if fidelity == "ideal":
        if defects or not mapped.variability.ideal:
            # the software network has no devices; defects and variability act through the effective weights
            W, b = effective_weights(mapped, g_list)
        else:
            weights = project.weights
            if weights is None:  # a project file may hold a mapping without the weights it came from
                raise ParameterError("project", "has no trained network; the ideal fidelity needs its weights")
            W, b = weights.weights, weights.biases
        v, solver = network.forward(W, b, X), "numpy (software network)"
    else:
        # at SPICE fidelity the inference-cost transient follows: the two share one bar that only moves forward
        share = 0.5 if fidelity == "spice" else 1.0
        v, solver = yield from stage(output_voltages_job(mapped, X, g_list, fidelity, workers, neuron), 0.0, share)
    seconds = time.perf_counter() - t0
    extra: dict = {}
    if fidelity == "spice":
        extra["neuron"] = neuron
        extra["v_rail_volt"] = mapped.circuit.v_rail_volt
        try:
            extra["inference"] = yield from stage(
                transient.inference_cost_job(mapped, X[0], X[min(1, len(X) - 1)], g_list, neuron),
                0.5,
                0.5,
                label="energy and latency transient",
            )
        except (SimulationError, ParameterError) as e:  # the accuracy stands; say why the cost is missing
            extra["inference"] = {"neuron": neuron, "error": str(e)}
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
        params={"split": split, **circuit_params(mapped), **extra},
    )
    yield Progress(1, 1, f"{fidelity}: accuracy {res.accuracy:.3f}")
    return res


def remapped_for_rails(project: Project, mapped: MappedNetwork, v_rail_volt: float) -> MappedNetwork:
    """``mapped`` re-mapped for rails of ``v_rail_volt`` (TIA feedback and stage-2 gains re-sized on the training
    split, everything else kept); ``mapped`` itself if it already has those rails. 0.5 V is the transistor
    neurons' mapping (:func:`core.circuit.spice.cmos.transistor_mapping`, stage-2 resistors included)."""
    if project.weights is None:
        raise ParameterError("project", "has no trained network; re-mapping for other rails needs its weights")
    if v_rail_volt == cmos.RAIL_VOLT:
        return cmos.transistor_mapping(project.weights, mapped, project.load_dataset().X_train)
    if v_rail_volt == mapped.circuit.v_rail_volt:
        return mapped
    from core.circuit.mapping import map_network

    circuit = dataclasses.replace(mapped.circuit, v_rail_volt=v_rail_volt)  # validated by CircuitParams
    fresh = map_network(project.weights, mapped.device, circuit, project.load_dataset().X_train, mapped.scheme)
    return dataclasses.replace(mapped, circuit=circuit, arrays=fresh.arrays)


# ---- the defect editor's live read-out ------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class DefectReadout:
    """Behavioural test accuracy of a draft defect map against the defect-free circuit.

    ``defect_fraction`` holds the defective fraction of each array (array 1 first); ``ci_low``/``ci_high``
    are the 95 % Wilson interval of ``accuracy`` over the ``n_images`` images of ``split``.
    """

    accuracy: float
    clean_accuracy: float
    delta: float  # accuracy - clean_accuracy
    ci_low: float
    ci_high: float
    n_images: int
    defect_fraction: tuple[float, ...]
    split: str = "test"


# mapped network -> (its weak reference, the dataset's, split, defect-free accuracy): one clean evaluation per
# network and split, so an edit costs one behavioural evaluation. Keyed by id() because MappedNetwork (a plain,
# mutable dataclass) is unhashable; the weak references tell a live entry from a recycled id.
_CLEAN: dict[int, tuple[weakref.ref, weakref.ref, str, float]] = {}
_CLEAN_LOCK = threading.Lock()


def _clean_accuracy(mapped: MappedNetwork, dataset, split: str, X: np.ndarray, y: np.ndarray) -> float:
    key = id(mapped)
    with _CLEAN_LOCK:
        hit = _CLEAN.get(key)
    if hit is not None and hit[0]() is mapped and hit[1]() is dataset and hit[2] == split:
        return hit[3]
    acc = network.accuracy(behavioral.forward_voltages(mapped, X), y)
    with _CLEAN_LOCK:
        for k in [k for k, v in _CLEAN.items() if v[0]() is None or v[1]() is None]:
            del _CLEAN[k]  # networks and datasets gone: forget them
        _CLEAN[key] = (weakref.ref(mapped), weakref.ref(dataset), split, acc)
    return acc


def defect_readout(project: Project, defects: Sequence[Defect] = (), *, split: str = "test") -> DefectReadout:
    """Behavioural accuracy of ``project`` with ``defects`` (fast: no job, no result stored).

    The same computation as ``evaluate_job(project, defects, "behavioral")`` (accuracy and defective fractions
    are identical), plus the defect-free accuracy (cached per mapped network, see above), the difference and a
    95 % Wilson interval over the split's images. The project's device model is used and wires are ideal.

    Raises
    ------
    ParameterError
        The project has no mapped network.
    DefectSpecError
        A defect does not fit its array (e.g. a mask of another shape).
    """
    mapped = project.require_mapped()
    dataset = project.load_dataset()
    X, y = dataset.split(split)
    clean = _clean_accuracy(mapped, dataset, split, X, y)
    g_list, fractions = defective_conductances(mapped, defects)
    acc = network.accuracy(behavioral.forward_voltages(mapped, X, g_list), y) if defects else clean
    n = len(y)
    lo, hi = wilson_interval(int(round(acc * n)), n)
    return DefectReadout(
        accuracy=acc,
        clean_accuracy=clean,
        delta=acc - clean,
        ci_low=lo,
        ci_high=hi,
        n_images=n,
        defect_fraction=tuple(float(f) for f in fractions),
        split=split,
    )
