"""What a study runs: the preset, the fidelity, quick or full, and the size of every section's Monte-Carlo grid.

:class:`StudySpec` is what the user chooses; :func:`study_plan` turns it into a :class:`StudyPlan` (the grids),
recorded in ``results.json`` next to every number so a reader knows exactly what produced it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from core.errors import ParameterError
from core.model.defects import STUDY_PATTERNS
from core.model.network import PRESETS
from core.sweeps.spec import SWEEP_FIDELITIES

STUDY_PRESETS = ("paper", "followup")


@dataclass(frozen=True)
class StudySpec:
    """The user's choices.

    Attributes
    ----------
    preset
        ``paper`` (the 2024 study's 64-8-8-8-10) or ``followup`` (the 2025 study's 64-50-20-8-10); the network is
        trained afresh with the project's data, devices and circuit when the project's own network is another
        one. ``None``: the project's network as it is.
    fidelity
        Circuit fidelity of the sweeps and the recovery sections (the clean accuracy is measured at all).
    quick
        The small grids (under two minutes at behavioural fidelity on two cores).
    scheduler
        A Dask scheduler address for the defect sweeps (``None``: local threads).
    seed
        Base seed of every Monte-Carlo draw.
    """

    preset: Optional[str] = None
    fidelity: str = "behavioral"
    quick: bool = False
    scheduler: Optional[str] = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.preset is not None and self.preset not in STUDY_PRESETS:
            raise ParameterError("preset", f"must be one of {', '.join(STUDY_PRESETS)}; got {self.preset!r}")
        if self.fidelity not in SWEEP_FIDELITIES:
            raise ParameterError("fidelity", f"must be one of {', '.join(SWEEP_FIDELITIES)}; got {self.fidelity!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class StudyPlan:
    """The grids of every section (see :func:`study_plan`)."""

    sizes: tuple[float, ...]
    seeds: int  # Monte-Carlo placements per sweep point
    small_line_size: float  # rows against columns: sizes up to this
    recovery_arrays: tuple[int, ...]
    recovery_patterns: tuple[str, ...]
    recovery_stuck: tuple[str, ...]
    headline_scenarios: int  # random defect maps near the published "before" accuracy, corrected one by one
    size_sweep: tuple[tuple[int, int], ...]  # (hidden units, hidden layers) of the correction net
    data_sweep_images: tuple[int, ...]  # training images, calibration split first; 0: all of them
    sweep_scenarios: int  # defect maps the size and data sweeps average over
    generalization_arrays: tuple[int, ...]
    generalization_variants: int  # random copies per training pattern and stuck type
    generalization_tests: int  # random held-out maps per stuck type, besides the standard geometry
    generalization_paper_config: bool  # the pre-issue-13 correction net (1 x 32, calibration split): 5x cheaper
    offset_sigmas_volt: tuple[float, ...]
    program_sigmas: tuple[float, ...]
    read_noise_sigmas: tuple[float, ...]
    circuit_seeds: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def study_plan(spec: StudySpec, n_arrays: int = 4) -> StudyPlan:
    """The grids of ``spec`` for a network of ``n_arrays`` crossbars (quick: fewer sizes, seeds and scenarios)."""
    every = tuple(range(1, n_arrays + 1))
    if spec.quick:
        return StudyPlan(
            sizes=(0.1, 0.2, 0.3, 0.4, 0.5),
            seeds=10,
            small_line_size=0.25,
            recovery_arrays=(1, n_arrays) if n_arrays > 1 else (1,),
            recovery_patterns=("circle", "columns"),
            recovery_stuck=("on",),
            headline_scenarios=3,
            size_sweep=((2, 1), (4, 1), (8, 1), (32, 1), (60, 2)),
            data_sweep_images=(50, 300, 0),
            sweep_scenarios=1,
            generalization_arrays=(n_arrays,),
            generalization_variants=1,
            generalization_tests=1,
            generalization_paper_config=True,
            offset_sigmas_volt=(0.0, 0.5e-3, 1e-3, 2e-3, 5e-3),
            program_sigmas=(0.0, 0.02, 0.05, 0.1, 0.2),
            read_noise_sigmas=(0.01, 0.05),
            circuit_seeds=10,
        )
    return StudyPlan(
        sizes=tuple(round(0.05 * k, 2) for k in range(1, 11)),
        seeds=20,
        small_line_size=0.25,
        recovery_arrays=every,
        recovery_patterns=STUDY_PATTERNS,
        recovery_stuck=("on", "off"),
        headline_scenarios=12,
        size_sweep=((2, 1), (3, 1), (4, 1), (6, 1), (8, 1), (16, 1), (32, 1), (32, 2), (60, 2), (128, 1), (240, 1)),
        data_sweep_images=(50, 100, 200, 300, 600, 1000, 0),
        sweep_scenarios=6,
        generalization_arrays=every,
        generalization_variants=3,
        generalization_tests=3,
        generalization_paper_config=False,
        offset_sigmas_volt=(0.0, 0.5e-3, 1e-3, 2e-3, 5e-3),
        program_sigmas=(0.0, 0.02, 0.05, 0.1, 0.2, 0.3),
        read_noise_sigmas=(0.01, 0.02, 0.05),
        circuit_seeds=20,
    )


def preset_hidden(preset: str) -> tuple[int, ...]:
    """Hidden sizes of a study preset."""
    return PRESETS[preset]
