"""The correction network: a small MLP that reads the defective circuit's output-layer voltages.

The circuit is left as it is; its output voltages (at behavioural, nodal or SPICE fidelity) train an MLP with the
images' labels. Training images are the calibration split and, with ``train_split`` (default), the training split
too, both pushed through the defective circuit; the test split is only ever pushed through
(circuit -> correction net) to report accuracy. Inputs are standardized per output with the statistics of the
calibration images used (a saturated output keeps scale 1). Capacity is ``hidden`` units in each of ``depth``
hidden layers; ``ensemble`` nets with seeds ``seed, seed + 1, ...`` average their class probabilities.
With ``probes`` other than ``none`` every image is read several times through the same defective circuit
(:data:`PROBES`: at lower input amplitudes, or shifted by a pixel) and the net reads all the output voltages
side by side: more circuit reads per classification, not the study's single read (issue 13, docs/recovery.md).
Training on several defect scenarios at once (their voltages concatenated) gives a correction net that can be
tested on scenarios it never saw (:func:`generalization_job`). Size and training-data sweeps are in
:mod:`core.recovery.correction_sweeps`, the information diagnostic in :mod:`core.recovery.diagnostics`.
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
from core.recovery.diagnostics import information_diagnostic

# how each image is read through the defective circuit: input transforms, the first always the image itself
PROBES = ("none", "amplitude", "shift")
# input amplitudes of the "amplitude" probes: a lower read voltage takes railed TIAs out of the rails
PROBE_AMPLITUDES = (1.0, 0.4, 0.15)
# (rows, columns) pixel shifts of the "shift" probes (zero fill), square images only
PROBE_SHIFTS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0))


def probe_inputs(X: np.ndarray, probes: str) -> list[np.ndarray]:
    """The inputs (each (N, n_features) in [0, 1]) that read images ``X`` through the circuit for ``probes``.

    ``none``: ``X`` alone (the study's method). ``amplitude``: ``X`` times each of :data:`PROBE_AMPLITUDES`.
    ``shift``: ``X`` and its one-pixel shifts :data:`PROBE_SHIFTS` (zero fill; square images only).
    """
    X = np.asarray(X, dtype=np.float64)
    if probes == "none":
        return [X]
    if probes == "amplitude":
        return [a * X for a in PROBE_AMPLITUDES]
    if probes != "shift":
        raise ParameterError("probes", f"must be one of {', '.join(PROBES)}; got {probes!r}")
    side = int(round(np.sqrt(X.shape[1])))
    if side * side != X.shape[1]:
        raise ParameterError("probes", f"shift needs square images; {X.shape[1]} features are not a square")
    img = X.reshape(len(X), side, side)
    out = []
    for dr, dc in PROBE_SHIFTS:
        moved = np.zeros_like(img)
        rows = slice(max(dr, 0), side + min(dr, 0)), slice(max(-dr, 0), side + min(-dr, 0))
        cols = slice(max(dc, 0), side + min(dc, 0)), slice(max(-dc, 0), side + min(-dc, 0))
        moved[:, rows[0], cols[0]] = img[:, rows[1], cols[1]]
        out.append(moved.reshape(len(X), -1))
    return out


def probe_voltages_job(mapped, X: np.ndarray, g_list, fidelity: str, probes: str):
    """Job: output voltages (N, n_out * n_probes) of the circuit for every probe of images ``X``, side by side."""
    parts = []
    for Xp in probe_inputs(X, probes):
        parts.append((yield from voltages_job(mapped, Xp, g_list, fidelity)))
    return np.concatenate(parts, axis=1)


@dataclass
class CorrectionConfig:
    """Hyper-parameters of the correction MLP (full-batch Adam, cross-entropy) and of its training data.

    The defaults (two hidden layers of 64, 500 epochs, calibration + training split) take about 2 s per scenario
    on one core for the 8x8 digits (1,617 images); :meth:`paper` is the configuration before issue 13 (one
    layer of 32, 300 epochs, the 300 calibration images only), bit-identical to it.
    """

    hidden: int = ranged(64, 1, 4096, integer=True, label="Hidden units (per layer)")
    epochs: int = ranged(500, 1, 100_000, integer=True, label="Epochs")
    learning_rate: float = ranged(0.01, 0, 10, lo_open=True, label="Learning rate")
    weight_decay: float = ranged(1e-3, 0, 1, label="Weight decay")
    seed: int = ranged(0, 0, 2**31 - 1, integer=True, label="Seed")
    depth: int = ranged(2, 1, 4, integer=True, label="Hidden layers")
    ensemble: int = ranged(1, 1, 32, integer=True, label="Ensemble members")
    # at most this many training images, calibration split first, then training split (0: all of them)
    max_images: int = ranged(0, 0, 10_000_000, integer=True, label="Training images (0: all)")
    train_split: bool = True
    standardize: bool = True
    # circuit reads per image: "none" (one, the study's method), "amplitude" or "shift" (see PROBES)
    probes: str = "none"

    def __post_init__(self) -> None:
        validate(self)
        if self.probes not in PROBES:
            raise ParameterError("probes", f"must be one of {', '.join(PROBES)}; got {self.probes!r}")
        for name in ("train_split", "standardize"):
            value = getattr(self, name)
            if value not in (True, False):  # 0 and 1 too: they compare equal
                raise ParameterError(name, f"must be true or false; got {value!r}")
            setattr(self, name, bool(value))

    @classmethod
    def paper(cls, **overrides) -> CorrectionConfig:
        """The configuration before issue 13: one hidden layer of 32, 300 epochs, calibration split only."""
        return cls(**{"hidden": 32, "epochs": 300, "depth": 1, "train_split": False, **overrides})

    def n_parameters(self, n_in: int, n_classes: int) -> int:
        """Trainable parameters of one member (weights and biases)."""
        return n_parameters(n_in, self.hidden, self.depth, n_classes) * self.ensemble

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def n_parameters(n_in: int, hidden: int, depth: int, n_classes: int) -> int:
    """Weights and biases of an MLP ``n_in -> hidden x depth -> n_classes``."""
    sizes = [n_in] + [hidden] * depth + [n_classes]
    return int(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])))


def fit_correction_job(
    V: np.ndarray, y: np.ndarray, n_classes: int, config: CorrectionConfig, *, v_norm: np.ndarray | None = None
):
    """Job: train the correction MLP on voltages ``V`` (N, n_out) and labels ``y``; returns its arrays.

    Parameters
    ----------
    V, y
        Training voltages and labels (never the test split).
    n_classes
        Number of classes (outputs of the net).
    config
        Hyper-parameters; ``config.max_images`` and ``config.train_split`` are applied by the caller.
    v_norm
        Voltages whose per-output mean and standard deviation standardize the inputs (default ``V``; the
        correction job passes the calibration images). Ignored without ``config.standardize``.

    Returns
    -------
    dict of numpy arrays
        ``v_mean``, ``v_scale`` (input standardization), per layer ``w1``, ``b1``, ``w2``, ``b2``... (``wK``
        of shape (fan_in, fan_out)) of the first member; members ``k >= 1`` of an ensemble under the prefix
        ``m{k}_``. Bit-identical for equal inputs and seed.
    """
    V = np.asarray(V, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if V.ndim != 2 or len(V) != len(y) or len(y) == 0:
        raise ParameterError(
            "calibration data", f"need matching non-empty voltages and labels, got {V.shape} and {y.shape}"
        )
    if config.standardize:
        ref = V if v_norm is None else np.asarray(v_norm, dtype=np.float64)
        mean = ref.mean(axis=0)
        scale = ref.std(axis=0)
        # a saturated or dead output carries no information; do not blow it up to unit variance
        scale = np.where(scale > 1e-9, scale, 1.0)
    else:
        mean, scale = np.zeros(V.shape[1]), np.ones(V.shape[1])
    torch = torch_module()
    Xt = torch.from_numpy((V - mean) / scale)
    yt = torch.from_numpy(y)
    arrays: dict[str, np.ndarray] = {"v_mean": mean, "v_scale": scale}
    total = config.epochs * config.ensemble
    report = max(1, total // 20)
    for k in range(config.ensemble):
        with seeded_init(config.seed + k):
            layers: list = []
            fan_in = V.shape[1]
            for _ in range(config.depth):
                layers += [torch.nn.Linear(fan_in, config.hidden), torch.nn.ReLU()]
                fan_in = config.hidden
            net = torch.nn.Sequential(*layers, torch.nn.Linear(fan_in, n_classes)).double()
        opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        for epoch in range(config.epochs):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(Xt), yt)
            loss.backward()
            opt.step()
            done = k * config.epochs + epoch + 1
            if done % report == 0:
                yield Progress(done, total, f"correction net {k + 1}/{config.ensemble} epoch {epoch + 1}: loss "
                               f"{float(loss.detach()):.4f}")  # fmt: skip
        prefix = f"m{k}_" if k else ""
        for i, lin in enumerate(l for l in net if isinstance(l, torch.nn.Linear)):
            arrays[f"{prefix}w{i + 1}"] = lin.weight.detach().numpy().T.copy()
            arrays[f"{prefix}b{i + 1}"] = lin.bias.detach().numpy().copy()
    return arrays


def _member_layers(arrays: dict, prefix: str) -> list[tuple[np.ndarray, np.ndarray]]:
    out: list[tuple[np.ndarray, np.ndarray]] = []
    while f"{prefix}w{len(out) + 1}" in arrays:
        i = len(out) + 1
        out.append((arrays[f"{prefix}w{i}"], arrays[f"{prefix}b{i}"]))
    return out


def apply_correction(arrays: dict, V: np.ndarray) -> np.ndarray:
    """Class scores (N, n_classes) of the correction net ``arrays`` for circuit voltages ``V`` (N, n_out).

    One net: its logits. An ensemble: the mean of its members' softmax probabilities.
    """
    z = (np.asarray(V, dtype=np.float64) - arrays["v_mean"]) / arrays["v_scale"]
    members = [""] + [f"m{k}_" for k in range(1, 1000) if f"m{k}_w1" in arrays]
    scores = []
    for prefix in members:
        h = z
        layers = _member_layers(arrays, prefix)
        for i, (w, b) in enumerate(layers):
            h = h @ w + b
            if i < len(layers) - 1:
                h = np.maximum(h, 0.0)
        scores.append(h)
    if len(scores) == 1:
        return scores[0]
    probs = [np.exp(s - s.max(axis=1, keepdims=True)) for s in scores]
    return np.mean([p / p.sum(axis=1, keepdims=True) for p in probs], axis=0)


@dataclass
class ScenarioVoltages:
    """Output voltages of one defective circuit on the splits a correction net may use, and the test split.

    With probes each row holds every probe's ``n_out`` voltages side by side, the image itself first.
    """

    cal: np.ndarray
    train: np.ndarray | None
    test: np.ndarray
    fractions: list
    diagnostic: dict
    n_out: int

    @property
    def before(self) -> np.ndarray:
        """Test-split voltages of the plain read (the first probe): what the uncorrected circuit outputs."""
        return self.test[:, : self.n_out]


def scenario_voltages_job(
    project: Project, defects: Sequence[Defect], fidelity: str, with_train: bool, probes: str = "none"
):
    """Job: :class:`ScenarioVoltages` of the project's circuit with ``defects`` (train split with ``with_train``).

    With ``probes`` (see :func:`probe_inputs`) each split's voltages are those of every probe, side by side.
    """
    ds = project.load_dataset()
    mapped = project.require_mapped()
    g_list, fractions = defective_conductances(mapped, defects)
    yield Progress(0, 3, f"circuit voltages on the calibration split ({fidelity})")
    v_cal = yield from probe_voltages_job(mapped, ds.X_cal, g_list, fidelity, probes)
    v_train = None
    if with_train and len(ds.y_train):
        yield Progress(1, 3, f"circuit voltages on the training split ({fidelity})")
        v_train = yield from probe_voltages_job(mapped, ds.X_train, g_list, fidelity, probes)
    yield Progress(2, 3, f"circuit voltages on the test split ({fidelity})")
    v_test = yield from probe_voltages_job(mapped, ds.X_test, g_list, fidelity, probes)
    diag = information_diagnostic(mapped, g_list, ds.X_cal).as_dict()
    return ScenarioVoltages(v_cal, v_train, v_test, fractions, diag, int(mapped.n_outputs))


def training_set(sv: ScenarioVoltages, ds, config: CorrectionConfig):
    """(V, y, V_norm) the correction net learns from: calibration images first, then training images.

    ``config.max_images`` caps the total (0: all); ``V_norm`` are the calibration images among them (the
    standardization statistics). Never the test split.
    """
    V, y = sv.cal, np.asarray(ds.y_cal)
    if config.train_split and sv.train is not None:
        V, y = np.concatenate([V, sv.train]), np.concatenate([y, ds.y_train])
    n = len(y) if config.max_images == 0 else min(config.max_images, len(y))
    n_cal = min(n, len(sv.cal))
    return V[:n], y[:n], sv.cal[:n_cal]


def _needs_train(config: CorrectionConfig, n_cal: int) -> bool:
    return config.train_split and (config.max_images == 0 or config.max_images > n_cal)


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
        Trained and mapped project; the calibration split (and with ``config.train_split`` the training split)
        trains, the test split only reports.
    defects
        The scenario's defects (applied to the programmed conductances).
    fidelity
        ``behavioral``, ``nodal`` or ``spice``: where the voltages come from.
    config
        Correction-net hyper-parameters (default :class:`CorrectionConfig`).

    Returns
    -------
    core.model.project.RecoveryResult
        ``arrays`` holds the trained net (see :func:`fit_correction_job`); ``params`` the configuration, the
        number of training images, the net's size and the information diagnostic of the defective circuit
        (``diagnostic_*``, :func:`core.recovery.diagnostics.information_diagnostic`: behavioural model on the
        calibration split).
    """
    config = config or CorrectionConfig()
    check_fidelity(fidelity)
    ds = project.load_dataset()
    if len(ds.y_cal) == 0:
        raise ParameterError("dataset.cal_size", "must be > 0: the correction network trains on the calibration split")
    mapped = project.require_mapped()
    t0 = time.perf_counter()
    sv = yield from scenario_voltages_job(
        project, defects, fidelity, _needs_train(config, len(ds.y_cal)), config.probes
    )
    V, y, v_norm = training_set(sv, ds, config)
    arrays = yield from fit_correction_job(V, y, _n_classes(project, ds), config, v_norm=v_norm)
    before = accuracy(sv.before, ds.y_test)
    after = accuracy(apply_correction(arrays, sv.test), ds.y_test)
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
            "defect_fraction": sv.fractions,
            "n_calibration": int(len(ds.y_cal)),
            "n_images": int(len(y)),
            "n_train_images": int(max(0, len(y) - len(sv.cal))),
            "n_test": int(len(ds.y_test)),
            "n_parameters": config.n_parameters(sv.cal.shape[1], _n_classes(project, ds)),
            "n_reads": len(probe_inputs(ds.X_cal[:1], config.probes)),
            "calibration_accuracy": accuracy(apply_correction(arrays, sv.cal), ds.y_cal),
            "training_accuracy": accuracy(apply_correction(arrays, V), y),
            **{f"diagnostic_{k}": v for k, v in sv.diagnostic.items()},
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
    with ``include_healthy``); the voltages are concatenated with the calibration labels repeated
    (``config.train_split`` and ``config.max_images`` do not apply). The default ``config`` is
    :meth:`CorrectionConfig.paper`: the training set is already the calibration split times the number of
    scenarios (tens of thousands of rows), where the larger default net would cost ten times the time.

    Returns
    -------
    core.model.project.RecoveryResult
        ``before``/``after`` are the mean test accuracies over the held-out scenarios; ``params['held_out']``
        lists per scenario ``{"name", "specs", "before", "after"}``, ``params['trained_on']`` the training
        scenarios with the net's accuracy on each one's test split.
    """
    config = config or CorrectionConfig.paper()
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
        v_parts.append((yield from probe_voltages_job(mapped, ds.X_cal, g_list, fidelity, config.probes)))
        v_train_test[name] = yield from probe_voltages_job(mapped, ds.X_test, g_list, fidelity, config.probes)
    y_rep = np.tile(ds.y_cal, len(v_parts))
    arrays = yield from fit_correction_job(np.concatenate(v_parts), y_rep, _n_classes(project, ds), config)
    held_out: list[dict] = []
    for name, defs in test_scenarios.items():
        yield Progress(len(train_items) + len(held_out), n_steps, f"testing on held-out scenario {name}")
        g_list, _ = defective_conductances(mapped, defs)
        v = yield from probe_voltages_job(mapped, ds.X_test, g_list, fidelity, config.probes)
        held_out.append(
            {
                "name": name,
                "specs": [d.to_spec() for d in defs],
                "before": accuracy(v[:, : mapped.n_outputs], ds.y_test),
                "after": accuracy(apply_correction(arrays, v), ds.y_test),
            }
        )
    trained_on = [
        {
            "name": n,
            "specs": [d.to_spec() for d in defs],
            "before": accuracy(v_train_test[n][:, : mapped.n_outputs], ds.y_test),
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
