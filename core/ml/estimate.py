"""What training a network will cost, estimated before it starts, and the limits above which it is refused.

A 64-4096-4096-4096-10 network has 34 M parameters: training it on the digits takes hours and creating its
project about 2 GB. The estimate counts parameters, the bytes training and mapping hold (float32 weights, grads
and two Adam moments; float64 conductances of two devices per weight with working copies; activations of the
whole training split, evaluated every epoch) and the multiply-adds of training at an optimistic rate, so the
real cost is rather above than below it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import ParameterError

FLOPS_PER_S = 1e10  # an optimistic CPU rate for torch's float32 matrix products: the time is a lower bound
MAX_SECONDS = 3600.0
_GIB = 1 << 30


def max_memory_bytes() -> int:
    """The memory a project may take to create: half the machine's RAM, at most 4 GiB."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 8 * _GIB
    return int(min(4 * _GIB, ram // 2))


@dataclass(frozen=True)
class TrainingEstimate:
    """Estimated cost of training and mapping one network."""

    parameters: int
    memory_bytes: int
    seconds: float

    def text(self) -> str:
        return (
            f"{self.parameters:,} parameters, about {self.memory_bytes / _GIB:.2g} GiB of memory and at least "
            f"{_duration(self.seconds)} of training"
        )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate_training(layer_sizes: Sequence[int], n_train: int, n_eval: int, epochs: int) -> TrainingEstimate:
    """Cost of training an MLP with ``layer_sizes`` for ``epochs`` on ``n_train`` images (``n_eval`` more are
    evaluated every epoch), and of mapping it to crossbars."""
    sizes = [int(s) for s in layer_sizes]
    params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    activations = 4 * 2 * (n_train + n_eval) * sum(sizes[1:])  # float32 activations and their gradients
    memory = 16 * params + 48 * params + activations  # training state; conductances (2 devices, 3 copies)
    flops = 2.0 * params * epochs * (3 * n_train + n_train + n_eval)  # forward+backward, plus the evaluation
    return TrainingEstimate(params, int(memory), flops / FLOPS_PER_S)


def check_training_size(estimate: TrainingEstimate, allow_large: bool = False) -> None:
    """Refuse a network above :func:`max_memory_bytes` or :data:`MAX_SECONDS`, naming the estimate.

    Raises
    ------
    ParameterError
        Naming ``hidden``, with the estimate and how to go ahead anyway (``allow_large``).
    """
    if allow_large:
        return
    limit = max_memory_bytes()
    if estimate.memory_bytes > limit or estimate.seconds > MAX_SECONDS:
        raise ParameterError(
            "hidden",
            f"this network needs {estimate.text()}; the limits are {limit / _GIB:.2g} GiB and "
            f"{_duration(MAX_SECONDS)}: choose smaller layers or fewer epochs, or go ahead with --allow-large",
        )
