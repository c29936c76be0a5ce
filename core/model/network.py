"""The multilayer perceptron: configuration, presets and a numpy forward pass.

Weights are plain numpy arrays: ``weights[l]`` has shape (n_in, n_out) and ``biases[l]`` (n_out,), so the
software network, the crossbar mapping and the circuit all index the same way (inputs are rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.errors import ParameterError, check_range
from core.model.params import ranged, validate

N_HIDDEN = 3
MAX_HIDDEN = 4096  # neurons per hidden layer

PRESETS: dict[str, tuple[int, ...]] = {
    # hidden width 8: the original group's framework
    "paper": (8, 8, 8),
    "wide": (32, 32, 16),
    # the 2025 follow-up study by the same group: 64-50-20-8-10
    "followup": (50, 20, 8),
    # for MNIST-sized inputs (28 x 28 = 784 pixels from the user's IDX files; the input size follows the data)
    "mnist": (128, 64, 32),
}


@dataclass
class NetworkConfig:
    """Layer sizes of an MLP with exactly three ReLU hidden layers."""

    n_inputs: int = 64
    hidden: tuple[int, ...] = PRESETS["paper"]
    n_outputs: int = 10

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        if len(self.hidden) != N_HIDDEN:
            raise ParameterError("hidden", f"must list exactly {N_HIDDEN} layer sizes, got {len(self.hidden)}")
        for h in self.hidden:
            check_range("hidden", h, 1, MAX_HIDDEN, integer=True)
        check_range("n_inputs", self.n_inputs, 1, 100_000, integer=True)
        check_range("n_outputs", self.n_outputs, 2, 1000, integer=True)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.n_inputs, *self.hidden, self.n_outputs)

    @classmethod
    def preset(cls, name: str, n_inputs: int = 64, n_outputs: int = 10) -> NetworkConfig:
        if name not in PRESETS:
            raise ParameterError("preset", f"must be one of {', '.join(PRESETS)}; got {name!r}")
        return cls(n_inputs, PRESETS[name], n_outputs)


def preset_name(hidden, other: str = "custom") -> str:
    """The name of the preset whose hidden sizes are ``hidden``, else ``other``."""
    return next((k for k, v in PRESETS.items() if tuple(v) == tuple(hidden)), other)


def parse_hidden(text: str) -> tuple[int, ...]:
    """Parse ``"8,8,8"`` into a tuple of three positive ints."""
    try:
        sizes = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise ParameterError("hidden", f"must be three comma-separated integers such as 8,8,8; got {text!r}") from None
    NetworkConfig(1, sizes, 2)  # validates count and range
    return sizes


@dataclass
class TrainConfig:
    """Training hyper-parameters (Adam, cross-entropy, mini-batches)."""

    epochs: int = ranged(150, 1, 100_000, integer=True, label="Epochs")
    learning_rate: float = ranged(0.01, 0, 10, lo_open=True, label="Learning rate")
    batch_size: int = ranged(32, 1, 1_000_000, integer=True, label="Batch size")
    weight_decay: float = ranged(1e-4, 0, 1, label="Weight decay")
    seed: int = ranged(0, 0, 2**31 - 1, integer=True, label="Seed", help="seed of the data split and of training")

    def __post_init__(self) -> None:
        validate(self)


@dataclass
class Weights:
    """Trained parameters and training history."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    history: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    def copy(self) -> Weights:
        return Weights(
            [w.copy() for w in self.weights],
            [b.copy() for b in self.biases],
            {k: v.copy() for k, v in self.history.items()},
        )


def forward(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], X: np.ndarray, return_hidden: bool = False):
    """Software forward pass: ReLU on hidden layers, raw logits out.

    With ``return_hidden`` also returns the list of every layer's post-activation output.
    """
    h = np.asarray(X, dtype=np.float64)
    acts = []
    for l, (W, b) in enumerate(zip(weights, biases)):
        h = h @ W + b
        if l < len(weights) - 1:
            h = np.maximum(h, 0.0)
        acts.append(h)
    return (h, acts) if return_hidden else h


def accuracy(scores, y: np.ndarray):
    """Fraction of samples whose largest score is the label: the one accuracy helper of the workbench.

    ``scores`` is (N, classes) (logits, output voltages...) and gives a float; with a leading batch dimension
    (M, N, classes) it gives an array of M accuracies, one per defect map.
    """
    acc = np.mean(np.argmax(np.asarray(scores), axis=-1) == np.asarray(y), axis=-1)
    return float(acc) if np.ndim(acc) == 0 else acc
