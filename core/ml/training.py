"""Training the MLP with torch on the CPU, as a cancellable job.

Torch stays inside this module: callers get numpy weights (:class:`core.model.network.Weights`).
"""

from __future__ import annotations

import numpy as np

from core.jobs import Progress
from core.ml.torch_env import seeded_init, torch_module
from core.model.data import Dataset
from core.model.network import NetworkConfig, TrainConfig, Weights, accuracy, forward


def build_torch_mlp(config: NetworkConfig):
    import torch.nn as nn

    sizes = config.layer_sizes
    layers: list[nn.Module] = []
    for l in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[l], sizes[l + 1]))
        if l < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def torch_weights(model) -> Weights:
    import torch.nn as nn

    lins = [m for m in model if isinstance(m, nn.Linear)]
    return Weights(
        [m.weight.detach().numpy().T.astype(np.float64).copy() for m in lins],
        [m.bias.detach().numpy().astype(np.float64).copy() for m in lins],
    )


def train_job(dataset: Dataset, config: NetworkConfig, train: TrainConfig):
    """Job: train an MLP; yields one :class:`Progress` per epoch with the history so far as partial result.

    Deterministic for a given seed (single-threaded torch with deterministic algorithms).
    Returns :class:`core.model.network.Weights` with ``history`` arrays ``loss``, ``train_accuracy``,
    ``test_accuracy`` (one value per epoch).
    """
    torch = torch_module()
    with seeded_init(train.seed):
        model = build_torch_mlp(config).double()
    gen = torch.Generator().manual_seed(train.seed)
    opt = torch.optim.Adam(model.parameters(), lr=train.learning_rate, weight_decay=train.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=train.epochs)
    Xt = torch.from_numpy(np.ascontiguousarray(dataset.X_train, dtype=np.float64))
    yt = torch.from_numpy(dataset.y_train.astype(np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()
    hist: dict[str, list[float]] = {"loss": [], "train_accuracy": [], "test_accuracy": []}
    n = len(yt)
    for epoch in range(train.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, train.batch_size):
            idx = perm[start : start + train.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        w = torch_weights(model)
        hist["loss"].append(total / n)
        hist["train_accuracy"].append(accuracy(forward(w.weights, w.biases, dataset.X_train), dataset.y_train))
        hist["test_accuracy"].append(accuracy(forward(w.weights, w.biases, dataset.X_test), dataset.y_test))
        yield Progress(
            epoch + 1,
            train.epochs,
            f"epoch {epoch + 1}/{train.epochs}: loss {hist['loss'][-1]:.4f}, "
            f"test accuracy {hist['test_accuracy'][-1]:.3f}",
            partial={k: np.array(v) for k, v in hist.items()},
        )
    w = torch_weights(model)
    w.history = {k: np.array(v, dtype=np.float64) for k, v in hist.items()}
    return w
