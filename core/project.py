"""The in-memory project: everything one study holds. Persistence lives in :mod:`core.project_io`.

Plain dataclasses and numpy arrays only, so front ends receive no live torch or PySpice objects.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from core import data as data_mod
from core.data import Dataset, DatasetSpec
from core.defects import Defect
from core.devices import CircuitParams, DeviceParams
from core.errors import ParameterError
from core.jobs import Progress
from core.mapping import MappedNetwork, map_network
from core.network import NetworkConfig, TrainConfig, Weights
from core.version import __version__


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Scenario:
    """A named list of defects (a 'defect scenario')."""

    name: str
    defects: list[Defect]
    description: str = ""


@dataclass
class SimulationResult:
    """One evaluation of the network at some fidelity, with or without defects."""

    id: str
    fidelity: str                 # ideal | behavioral | nodal | spice
    accuracy: float
    n_images: int
    defect_specs: list[str]
    defect_fraction: list[float]
    output_voltages: np.ndarray   # (n_images, n_outputs), volts (logits for 'ideal')
    seconds: float
    solver: str = ""
    scenario: str = ""
    params: dict = field(default_factory=dict)   # JSON-able extras: r_wire_ohm, device model, ...
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
    method: str                    # correction | retrain | remap
    defect_specs: list[str]
    fidelity: str
    before: float
    after: float
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    scenario: str = ""
    software_version: str = __version__
    created: str = field(default_factory=now_iso)


@dataclass
class Project:
    """One study: dataset, network, devices, mapping, defect scenarios and every result."""

    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    training: TrainConfig = field(default_factory=TrainConfig)
    device: DeviceParams = field(default_factory=DeviceParams)
    circuit: CircuitParams = field(default_factory=CircuitParams)
    scheme: str = "differential-columns"
    weights: Optional[Weights] = None
    mapped: Optional[MappedNetwork] = None
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    results: list[SimulationResult] = field(default_factory=list)
    sweeps: list[SweepResult] = field(default_factory=list)
    recoveries: list[RecoveryResult] = field(default_factory=list)
    created: str = field(default_factory=now_iso)
    modified: str = field(default_factory=now_iso)
    _dataset_cache: Any = field(default=None, repr=False, compare=False)

    def load_dataset(self) -> Dataset:
        """The split dataset (cached)."""
        if self._dataset_cache is None:
            self._dataset_cache = data_mod.load(self.dataset)
        return self._dataset_cache

    def require_mapped(self) -> MappedNetwork:
        if self.mapped is None:
            raise ParameterError("project", "has no trained and mapped network; run 'new' (training) first")
        return self.mapped

    def remap(self) -> MappedNetwork:
        """Map the trained weights again with the current device, circuit and scheme parameters."""
        if self.weights is None:
            raise ParameterError("project", "has no trained network to map")
        self.mapped = map_network(self.weights, self.device, self.circuit, self.load_dataset().X_train, self.scheme)
        return self.mapped

    def next_id(self, prefix: str) -> str:
        taken = {r.id for r in (*self.results, *self.sweeps, *self.recoveries)}
        i = 1
        while f"{prefix}-{i:04d}" in taken:
            i += 1
        return f"{prefix}-{i:04d}"


def create_project_job(dataset: DatasetSpec, network: NetworkConfig, training: TrainConfig,
                       device: Optional[DeviceParams] = None, circuit: Optional[CircuitParams] = None,
                       scheme: str = "differential-columns"):
    """Job: build a project, train its network (progress per epoch) and map it to crossbars."""
    from core.training import train_job

    proj = Project(dataset=dataset, network=network, training=training, device=device or DeviceParams(),
                   circuit=circuit or CircuitParams(), scheme=scheme)
    ds = proj.load_dataset()
    if ds.n_features != network.n_inputs or ds.n_classes > network.n_outputs:
        proj.network = network = NetworkConfig(ds.n_features, network.hidden, max(ds.n_classes, 2))
    proj.weights = yield from train_job(ds, network, training)
    yield Progress(training.epochs, training.epochs, "mapping weights to crossbars")
    proj.remap()
    return proj
