"""The correction network's size sweep and training-data sweep for one defect scenario.

Both push the splits through the defective circuit once and train one correction net per point; every point
reports test accuracy (only reported: no point is chosen by it) and the accuracy on its own training images.
The results are plain dataclasses (``as_dict`` for JSON) with the spec that produced them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from core.circuit.fidelity import check_fidelity
from core.errors import ParameterError
from core.jobs import Progress
from core.model.defects import Defect
from core.model.network import accuracy
from core.model.project import Project
from core.recovery.correction import (
    CorrectionConfig,
    _n_classes,
    apply_correction,
    fit_correction_job,
    scenario_voltages_job,
    training_set,
)

# (hidden units, hidden layers) from 52 to 4,930 parameters for 10 outputs and 10 classes
SIZE_GRID: tuple[tuple[int, int], ...] = ((2, 1), (4, 1), (8, 1), (16, 1), (32, 1), (32, 2), (60, 2))
# total training images (calibration first, then training split); None: all of them
DATA_GRID: tuple[Optional[int], ...] = (50, 100, 200, 300, 600, 1000, None)


@dataclass
class SweepPoint:
    """One correction net of a sweep."""

    hidden: int
    depth: int
    n_parameters: int
    n_images: int
    after: float
    training_accuracy: float
    seconds: float


@dataclass
class CorrectionSweep:
    """A size or training-data sweep of the correction net on one scenario (``kind``: ``size`` or ``data``)."""

    kind: str
    defect_specs: list[str]
    fidelity: str
    config: dict
    before: float
    points: list[SweepPoint] = field(default_factory=list)
    diagnostic: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _sweep_job(project, defects, fidelity, kind, configs: Sequence[CorrectionConfig], base: CorrectionConfig):
    check_fidelity(fidelity)
    ds = project.load_dataset()
    if len(ds.y_cal) == 0:
        raise ParameterError("dataset.cal_size", "must be > 0: the correction network trains on the calibration split")
    with_train = any(c.train_split and (c.max_images == 0 or c.max_images > len(ds.y_cal)) for c in configs)
    sv = yield from scenario_voltages_job(project, defects, fidelity, with_train, base.probes)
    n_classes = _n_classes(project, ds)
    out = CorrectionSweep(
        kind, [d.to_spec() for d in defects], fidelity, base.as_dict(), accuracy(sv.before, ds.y_test),
        diagnostic=sv.diagnostic,
    )  # fmt: skip
    for i, cfg in enumerate(configs):
        yield Progress(i, len(configs), f"{kind} sweep: {cfg.hidden}x{cfg.depth}, {cfg.max_images or 'all'} images")
        t0 = time.perf_counter()
        V, y, v_norm = training_set(sv, ds, cfg)
        arrays = yield from fit_correction_job(V, y, n_classes, cfg, v_norm=v_norm)
        out.points.append(
            SweepPoint(
                hidden=cfg.hidden,
                depth=cfg.depth,
                n_parameters=cfg.n_parameters(V.shape[1], n_classes),
                n_images=int(len(y)),
                after=accuracy(apply_correction(arrays, sv.test), ds.y_test),
                training_accuracy=accuracy(apply_correction(arrays, V), y),
                seconds=time.perf_counter() - t0,
            )
        )
    yield Progress(len(configs), len(configs), f"{kind} sweep done")
    return out


def size_sweep_job(
    project: Project,
    defects: Sequence[Defect],
    fidelity: str = "behavioral",
    sizes: Sequence[tuple[int, int]] = SIZE_GRID,
    config: CorrectionConfig | None = None,
):
    """Job: recovery against the correction net's size; returns a :class:`CorrectionSweep` (``kind='size'``).

    Parameters
    ----------
    sizes
        ``(hidden units, hidden layers)`` per point; the default :data:`SIZE_GRID` spans ~50 to ~5,000
        parameters for the 10-output networks of the digits data.
    config
        Every other setting (training data, epochs, ensemble...); default :class:`CorrectionConfig`.
    """
    base = config or CorrectionConfig()
    if not sizes:
        raise ParameterError("sizes", "need at least one (hidden, depth) point")
    configs = [dataclasses.replace(base, hidden=int(h), depth=int(d)) for h, d in sizes]
    return (yield from _sweep_job(project, defects, fidelity, "size", configs, base))


def data_sweep_job(
    project: Project,
    defects: Sequence[Defect],
    fidelity: str = "behavioral",
    n_images: Sequence[Optional[int]] = DATA_GRID,
    config: CorrectionConfig | None = None,
):
    """Job: recovery against the number of training images; returns a :class:`CorrectionSweep` (``kind='data'``).

    ``n_images`` are totals (calibration images first, then training-split images, so the sets are nested);
    ``None`` or 0 means all of them. The test split is never among them.
    """
    base = dataclasses.replace(config or CorrectionConfig(), train_split=True)
    if not n_images:
        raise ParameterError("n_images", "need at least one point")
    configs = [dataclasses.replace(base, max_images=int(n or 0)) for n in n_images]
    return (yield from _sweep_job(project, defects, fidelity, "data", configs, base))
