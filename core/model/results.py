"""Results of jobs: one evaluation, one sweep table, one recovery run. Plain dataclasses and numpy arrays.

A job returns one of these with an empty ``id``; :func:`core.session.store.store_result` gives it a free id
and puts it into a project.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

import numpy as np

from core.version import __version__


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class SimulationResult:
    """One evaluation of the network at some fidelity, with or without defects."""

    id: str
    fidelity: str  # ideal | behavioral | nodal | spice
    accuracy: float
    n_images: int
    defect_specs: list[str]
    defect_fraction: list[float]
    output_voltages: np.ndarray  # (n_images, n_outputs), volts (logits for 'ideal')
    seconds: float
    solver: str = ""
    scenario: str = ""
    params: dict = field(default_factory=dict)  # JSON-able extras: r_wire_ohm, device model, ...
    software_version: str = __version__
    created: str = field(default_factory=now_iso)


@dataclass
class SweepResult:
    """A defect sweep: the spec that made it and its result table (one dict per row)."""

    id: str
    spec: dict
    rows: list[dict]
    partial: bool = False
    seconds: float = 0.0
    software_version: str = __version__
    created: str = field(default_factory=now_iso)


@dataclass
class RecoveryResult:
    """An accuracy-recovery run: method, accuracies and the trained model's arrays."""

    id: str
    method: str  # correction | retrain | remap
    defect_specs: list[str]
    fidelity: str
    before: float
    after: float
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    scenario: str = ""
    software_version: str = __version__
    created: str = field(default_factory=now_iso)
