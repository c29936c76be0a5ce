"""The in-memory project: everything one study holds. Persistence lives in :mod:`core.project_io`.

Results are appended by :func:`core.session.store.store_result` only; jobs return them.

Plain dataclasses and numpy arrays only, so front ends receive no live torch or PySpice objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from core.errors import ParameterError
from core.model import data as data_mod
from core.model.crossbar import MappedNetwork
from core.model.data import Dataset, DatasetSpec
from core.model.defects import Defect
from core.model.devices import CircuitParams, DeviceParams
from core.model.measured import MeasuredMap
from core.model.network import NetworkConfig, TrainConfig, Weights
from core.model.results import RecoveryResult, SimulationResult, SweepResult, now_iso


@dataclass
class Scenario:
    """A named list of defects (a 'defect scenario')."""

    name: str
    defects: list[Defect]
    description: str = ""


@dataclass
class Draft(Scenario):
    """The scenario being edited when the project was saved, restored on open (it is not one of the saved scenarios).

    ``array`` is the 1-based crossbar array that was on screen (0: none recorded).
    """

    array: int = 0


@dataclass
class Project:
    """One study: dataset, network, devices, mapping, defect scenarios, the draft scenario and every result."""

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
    draft: Optional[Draft] = None  # the defects being edited in the workbench (not yet a named scenario)
    # measured defect maps (provenance of the scenarios made from them), by name: core.model.measured
    measured_maps: dict[str, MeasuredMap] = field(default_factory=dict)
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

    def next_id(self, prefix: str) -> str:
        """The first free result id ``prefix-0001``, ``prefix-0002``... over results, sweeps and recoveries."""
        stored: list[SimulationResult | SweepResult | RecoveryResult] = [*self.results, *self.sweeps, *self.recoveries]
        taken = {r.id for r in stored}
        i = 1
        while f"{prefix}-{i:04d}" in taken:
            i += 1
        return f"{prefix}-{i:04d}"
