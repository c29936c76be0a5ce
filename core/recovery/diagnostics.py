"""Where a correction network cannot work: hidden neurons of the defective circuit that carry no information.

The correction network sees only the output layer's voltages. A hidden neuron whose output is the same for every
image (stuck at 0 V behind its ReLU, or held at a rail by a saturated TIA) passes nothing on, and whatever the
layers before it knew about the image is lost to every later layer: no function of the output voltages gets it
back, however large the correction network or its training set. Retraining and remapping change the circuit and
can route around such neurons; the correction network cannot.

:func:`information_diagnostic` counts those neurons on the calibration split with the behavioural model (the
hidden voltages of every fidelity agree with it within the tolerances of ``tests/test_fidelity_crosscheck.py``),
against the defect-free circuit, whose ReLUs may already be dead for every image.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.circuit import behavioral
from core.model.crossbar import MappedNetwork

CONSTANT_TOL_VOLT = 1e-6  # a neuron whose output moves less than this over the calibration set is constant


@dataclass
class InformationDiagnostic:
    """Hidden neurons that pass no information on, per hidden layer (lists) and over all hidden layers.

    Attributes
    ----------
    dead_fraction
        Fraction of all hidden neurons whose output is constant over the calibration set (defective circuit).
    newly_dead_fraction
        Of the hidden neurons that vary in the defect-free circuit, the fraction the defects made constant.
    clipped_fraction
        Of the hidden neurons that vary in the defect-free circuit, the mean fraction of calibration images on
        which the defective circuit holds them at 0 V (ReLU off) or at a rail: partial loss of information.
    healthy_clipped_fraction
        The same for the defect-free circuit (ReLUs are off for some images in any network: compare the two).
    dead_per_layer, healthy_dead_per_layer, neurons_per_layer
        Constant neurons per hidden layer in the defective and in the defect-free circuit; layer sizes.
    constant_outputs
        Output-layer voltages that are constant over the calibration set.
    """

    dead_fraction: float
    newly_dead_fraction: float
    clipped_fraction: float
    healthy_clipped_fraction: float
    dead_per_layer: list[int]
    healthy_dead_per_layer: list[int]
    neurons_per_layer: list[int]
    constant_outputs: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _constant(v: np.ndarray) -> np.ndarray:
    return np.ptp(v, axis=0) < CONSTANT_TOL_VOLT


def _at_edge(v: np.ndarray, rail: float) -> np.ndarray:
    return (np.abs(v) < CONSTANT_TOL_VOLT) | (np.abs(v) > rail - CONSTANT_TOL_VOLT)


def information_diagnostic(mapped: MappedNetwork, g_list: Sequence[np.ndarray], X: np.ndarray) -> InformationDiagnostic:
    """Dead and clipped hidden neurons of the circuit with conductances ``g_list`` on inputs ``X`` (N, n_in).

    Use the calibration split for ``X`` (never the test split: the report may quote this next to test
    accuracies, but nothing is fitted to it).
    """
    _, hidden = behavioral.forward_voltages(mapped, X, g_list, return_hidden=True)
    _, healthy = behavioral.forward_voltages(mapped, X, return_hidden=True)
    rail = mapped.circuit.v_rail_volt
    dead, dead0, sizes, newly, alive0, clipped, clipped0 = [], [], [], 0, 0, [], []
    for v, v0 in zip(hidden[:-1], healthy[:-1]):
        c, c0 = _constant(v), _constant(v0)
        dead.append(int(c.sum()))
        dead0.append(int(c0.sum()))
        sizes.append(int(v.shape[1]))
        newly += int(np.sum(c & ~c0))
        alive0 += int(np.sum(~c0))
        clipped.extend(_at_edge(v, rail).mean(axis=0)[~c0].tolist())
        clipped0.extend(_at_edge(v0, rail).mean(axis=0)[~c0].tolist())
    return InformationDiagnostic(
        dead_fraction=float(sum(dead) / max(1, sum(sizes))),
        newly_dead_fraction=float(newly / max(1, alive0)),
        clipped_fraction=float(np.mean(clipped)) if clipped else 0.0,
        healthy_clipped_fraction=float(np.mean(clipped0)) if clipped0 else 0.0,
        dead_per_layer=dead,
        healthy_dead_per_layer=dead0,
        neurons_per_layer=sizes,
        constant_outputs=int(_constant(hidden[-1]).sum()),
    )
