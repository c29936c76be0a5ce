"""The correction network: a small MLP that reads the defective circuit's output-layer voltages.

The circuit is left as it is; its output voltages (at behavioural, nodal or SPICE fidelity) on the
calibration split, standardized with calibration statistics, train a one-hidden-layer MLP with the
calibration labels. The test split is only ever pushed through (circuit -> correction net) to report accuracy.
Training on several defect scenarios at once (their voltages concatenated) gives a correction net that can be
tested on scenarios it never saw (:func:`generalization_job`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.circuit.fidelity import check_fidelity, defective_conductances
from core.errors import ParameterError
from core.jobs import Progress
from core.ml.torch_env import seeded_init, torch_module
from core.model.defects import Defect
from core.model.network import accuracy
from core.model.params import ranged, validate
from core.model.project import Project
from core.recovery.common import recovery_result, voltages_job


@dataclass
class CorrectionConfig:
    """Hyper-parameters of the correction MLP (full-batch Adam, cross-entropy)."""

    hidden: int = ranged(32, 1, 4096, integer=True, label="Hidden units")
    epochs: int = ranged(300, 1, 100_000, integer=True, label="Epochs")
    learning_rate: float = ranged(0.01, 0, 10, lo_open=True, label="Learning rate")
    weight_decay: float = ranged(1e-3, 0, 1, label="Weight decay")
    seed: int = ranged(0, 0, 2**31 - 1, integer=True, label="Seed")

    def __post_init__(self) -> None:
        validate(self)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def fit_correction_job(V: np.ndarray, y: np.ndarray, n_classes: int, config: CorrectionConfig):
    """Job: train the correction MLP on voltages ``V`` (N, n_out) and labels ``y``; returns its arrays.

    Returns
    -------
    dict of numpy arrays
        ``v_mean``, ``v_scale`` (input standardization from ``V`` only), ``w1`` (n_out, hidden), ``b1``,
        ``w2`` (hidden, n_classes), ``b2``. Bit-identical for equal inputs and seed.
    """
    V = np.asarray(V, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if V.ndim != 2 or len(V) != len(y) or len(y) == 0:
        raise ParameterError(
            "calibration data", f"need matching non-empty voltages and labels, got {V.shape} and {y.shape}"
        )
    mean = V.mean(axis=0)
    scale = V.std(axis=0)
    # a saturated or dead output carries no information; do not blow it up to unit variance
    scale = np.where(scale > 1e-9, scale, 1.0)
    torch = torch_module()
    with seeded_init(config.seed):
        net = torch.nn.Sequential(
            torch.nn.Linear(V.shape[1], config.hidden), torch.nn.ReLU(), torch.nn.Linear(config.hidden, n_classes)
        ).double()
    opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    Xt = torch.from_numpy((V - mean) / scale)
    yt = torch.from_numpy(y)
    report = max(1, config.epochs // 20)
    for epoch in range(config.epochs):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(Xt), yt)
        loss.backward()
        opt.step()
        if (epoch + 1) % report == 0:
            yield Progress(
                epoch + 1, config.epochs, f"correction net epoch {epoch + 1}: loss {float(loss.detach()):.4f}"
            )
    l1, l2 = net[0], net[2]
    return {
        "v_mean": mean,
        "v_scale": scale,
        "w1": l1.weight.detach().numpy().T.copy(),
        "b1": l1.bias.detach().numpy().copy(),
        "w2": l2.weight.detach().numpy().T.copy(),
        "b2": l2.bias.detach().numpy().copy(),
    }


def apply_correction(arrays: dict, V: np.ndarray) -> np.ndarray:
    """Class scores (N, n_classes) of the correction net ``arrays`` for circuit voltages ``V`` (N, n_out)."""
    z = (np.asarray(V, dtype=np.float64) - arrays["v_mean"]) / arrays["v_scale"]
    h = np.maximum(z @ arrays["w1"] + arrays["b1"], 0.0)
    return h @ arrays["w2"] + arrays["b2"]


def correction_job(
    project: Project,
    defects: Sequence[Defect],
    fidelity: str = "behavioral",
    config: CorrectionConfig | None = None,
    *,
    scenario: str = "",
):
    """Job: train a correction net for one defect scenario and report test accuracy before and after.

    Parameters
    ----------
    project
        Trained and mapped project; calibration split trains, test split only reports.
    defects
        The scenario's defects (applied to the programmed conductances).
    fidelity
        ``behavioral``, ``nodal`` or ``spice``: where the voltages come from.
    config
        Correction-net hyper-parameters (default :class:`CorrectionConfig`).

    Returns
    -------
    core.model.project.RecoveryResult
        ``arrays`` holds the trained net (see :func:`fit_correction_job`).
    """
    config = config or CorrectionConfig()
    check_fidelity(fidelity)
    ds = project.load_dataset()
    if len(ds.y_cal) == 0:
        raise ParameterError("dataset.cal_size", "must be > 0: the correction network trains on the calibration split")
    mapped = project.require_mapped()
    t0 = time.perf_counter()
    g_list, fractions = defective_conductances(mapped, defects)
    yield Progress(0, 3, f"circuit voltages on the calibration split ({fidelity})")
    v_cal = yield from voltages_job(mapped, ds.X_cal, g_list, fidelity)
    arrays = yield from fit_correction_job(v_cal, ds.y_cal, _n_classes(project, ds), config)
    yield Progress(2, 3, f"circuit voltages on the test split ({fidelity})")
    v_test = yield from voltages_job(mapped, ds.X_test, g_list, fidelity)
    before = accuracy(v_test, ds.y_test)
    after = accuracy(apply_correction(arrays, v_test), ds.y_test)
    res = recovery_result(
        "correction",
        mapped,
        (d.to_spec() for d in defects),
        fidelity,
        before,
        after,
        arrays,
        scenario,
        t0,
        {
            **config.as_dict(),
            "defect_fraction": fractions,
            "n_calibration": int(len(ds.y_cal)),
            "n_test": int(len(ds.y_test)),
            "calibration_accuracy": accuracy(apply_correction(arrays, v_cal), ds.y_cal),
        },
    )
    yield Progress(3, 3, f"correction: {before:.3f} -> {after:.3f}")
    return res


def generalization_job(
    project: Project,
    train_scenarios: Mapping[str, Sequence[Defect]],
    test_scenarios: Mapping[str, Sequence[Defect]],
    fidelity: str = "behavioral",
    config: CorrectionConfig | None = None,
    *,
    include_healthy: bool = True,
):
    """Job: one correction net trained on several scenarios, tested on scenarios left out of training.

    The calibration split is pushed through the circuit once per training scenario (and once defect-free
    with ``include_healthy``); the voltages are concatenated with the calibration labels repeated.

    Returns
    -------
    core.model.project.RecoveryResult
        ``before``/``after`` are the mean test accuracies over the held-out scenarios; ``params['held_out']``
        lists per scenario ``{"name", "specs", "before", "after"}``, ``params['trained_on']`` the training
        scenarios with the net's accuracy on each one's test split.
    """
    config = config or CorrectionConfig()
    check_fidelity(fidelity)
    if not train_scenarios or not test_scenarios:
        raise ParameterError("scenarios", "need at least one training and one held-out scenario")
    overlap = set(train_scenarios) & set(test_scenarios)
    if overlap:
        raise ParameterError("scenarios", f"held-out scenarios must not be trained on: {sorted(overlap)}")
    ds = project.load_dataset()
    mapped = project.require_mapped()
    t0 = time.perf_counter()
    train_items = list(train_scenarios.items()) + ([("healthy", [])] if include_healthy else [])
    n_steps = len(train_items) + 2 * len(test_scenarios) + 1
    v_parts, v_train_test = [], {}
    for i, (name, defs) in enumerate(train_items):
        yield Progress(i, n_steps, f"voltages of training scenario {name}")
        g_list, _ = defective_conductances(mapped, defs)
        v_parts.append((yield from voltages_job(mapped, ds.X_cal, g_list, fidelity)))
        v_train_test[name] = yield from voltages_job(mapped, ds.X_test, g_list, fidelity)
    y_rep = np.tile(ds.y_cal, len(v_parts))
    arrays = yield from fit_correction_job(np.concatenate(v_parts), y_rep, _n_classes(project, ds), config)
    held_out: list[dict] = []
    for name, defs in test_scenarios.items():
        yield Progress(len(train_items) + len(held_out), n_steps, f"testing on held-out scenario {name}")
        g_list, _ = defective_conductances(mapped, defs)
        v = yield from voltages_job(mapped, ds.X_test, g_list, fidelity)
        held_out.append(
            {
                "name": name,
                "specs": [d.to_spec() for d in defs],
                "before": accuracy(v, ds.y_test),
                "after": accuracy(apply_correction(arrays, v), ds.y_test),
            }
        )
    trained_on = [
        {
            "name": n,
            "specs": [d.to_spec() for d in defs],
            "before": accuracy(v_train_test[n], ds.y_test),
            "after": accuracy(apply_correction(arrays, v_train_test[n]), ds.y_test),
        }
        for n, defs in train_items
    ]
    res = recovery_result(
        "correction",
        mapped,
        (s for h in held_out for s in h["specs"]),
        fidelity,
        float(np.mean([h["before"] for h in held_out])),
        float(np.mean([h["after"] for h in held_out])),
        arrays,
        "generalization",
        t0,
        {
            **config.as_dict(),
            "held_out": held_out,
            "trained_on": trained_on,
            "include_healthy": include_healthy,
        },
    )
    yield Progress(n_steps, n_steps, f"generalization: {res.before:.3f} -> {res.after:.3f} on held-out scenarios")
    return res


def _n_classes(project: Project, ds) -> int:
    return max(int(ds.n_classes), project.require_mapped().n_outputs)
