"""Fault-aware retraining: fine-tune the healthy devices of a defective circuit while stuck ones stay stuck.

The defect map is known. Every device of every crossbar is a parameter: its normalized conductance
``theta = (G - g_off) / (g_on - g_off)``, kept in [0, 1] (the programmable window) for healthy devices and
fixed at the stuck value for stuck ones. So each weight ``(G+ - G-) * w_max / span``
(:func:`core.model.crossbar.weight_span`) stays within [-w_max, w_max] where both devices are healthy, and a
weight with one stuck side is re-programmed through its healthy side. With ``reference`` the reference column's
devices are parameters like any other (one cell per row, shared by the row's weights; moving it off g_mid widens
the row's range up to [-2 w_max, 2 w_max]). The loss is computed through a torch port of the behavioural circuit model
(:mod:`core.circuit.behavioral`: TIA gain with finite op-amp gain, rail clipping, stage 2, analog ReLU), so training
sees the same circuit it is evaluated on; ``w_max``, bias scale, TIA feedback and stage-2 gains of every
array stay as mapped (the same circuit). After training the healthy devices are programmed again
(quantized to the device's levels) and the stuck cells overwritten, and the real defective circuit is
evaluated. Training uses the train split only.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.circuit import neuron
from core.circuit.fidelity import check_fidelity, circuit_accuracy_job
from core.circuit.mapping import row_voltages
from core.jobs import Progress
from core.ml.torch_env import torch_module
from core.model import defects as defects_mod
from core.model import tiling
from core.model.crossbar import MappedNetwork
from core.model.defects import Defect
from core.model.params import ranged, validate
from core.model.project import Project
from core.recovery.common import recovery_result


@dataclass
class RetrainConfig:
    """Fine-tuning hyper-parameters (Adam on normalized conductances, mini-batches of the train split)."""

    # a small step: defects that saturate TIAs leave narrow valleys that a larger step jumps out of
    epochs: int = ranged(100, 1, 100_000, integer=True, label="Epochs")
    learning_rate: float = ranged(0.003, 0, 10, lo_open=True, label="Learning rate")
    batch_size: int = ranged(128, 1, 1_000_000, integer=True, label="Batch size")
    seed: int = ranged(0, 0, 2**31 - 1, integer=True, label="Seed")

    def __post_init__(self) -> None:
        validate(self)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _row_affine(mapped: MappedNetwork, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """(A, c) with ``row_voltages(v) == v @ A + c``, taken from the numpy function itself so both agree."""
    a = mapped.arrays[layer]
    v_bias, cir = mapped.device.v_read_volt, mapped.circuit
    c = row_voltages(mapped.scheme, np.zeros((1, a.n_in)), v_bias, cir, layer)
    A = row_voltages(mapped.scheme, np.eye(a.n_in), v_bias, cir, layer) - c
    return A, c[0]


class TorchCircuit:
    """Differentiable copy of :func:`core.circuit.behavioral.forward_voltages` for fixed neuron parameters."""

    def __init__(self, mapped: MappedNetwork):
        import torch

        self.mapped = mapped
        self.rows = [tuple(torch.from_numpy(x) for x in _row_affine(mapped, l)) for l in range(len(mapped.arrays))]

    def forward(self, X, g_list):
        """Output voltages (N, n_out) for inputs ``X`` (torch, N x n_in in [0, 1]) and conductance tensors."""
        import torch

        dev, cir = self.mapped.device, self.mapped.circuit
        v = X * dev.v_read_volt
        for l, (a, g) in enumerate(zip(self.mapped.arrays, g_list)):
            A, c = self.rows[l]
            v_rows = v @ A + c
            if a.tile is not None:  # tiled (core.model.tiling): unused rows at 0 V, unused columns without TIAs
                v_rows = torch.nn.functional.pad(v_rows, (0, a.shape[0] - v_rows.shape[-1]))
                g = g[:, : a.logical_shape[1]]
            if dev.uses_gap_iv:
                drive = dev.v0_volt * torch.sinh(v_rows / dev.v0_volt)
                g_sum = torch.cosh(v_rows / dev.v0_volt) @ g
            else:
                drive = v_rows
                g_sum = g.sum(dim=0)
            v_tia = neuron.tia_outputs(drive @ g, g_sum, a, cir, xp=torch)
            v = neuron.neuron_outputs(v_tia, a, self.mapped.scheme, cir, xp=torch)
        return v


def program(mapped: MappedNetwork, theta: Sequence[np.ndarray], stuck: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Conductances of the re-programmed circuit: healthy devices at ``theta`` (quantized), stuck ones stuck."""
    dev = mapped.device
    dg = dev.g_on_siemens - dev.g_off_siemens
    g = [dev.quantize(dev.g_off_siemens + np.clip(t, 0.0, 1.0) * dg) for t in theta]
    return defects_mod.apply_stuck(g, stuck)


def retrain_job(
    project: Project,
    defects: Sequence[Defect],
    fidelity: str = "behavioral",
    config: RetrainConfig | None = None,
    *,
    scenario: str = "",
):
    """Job: fault-aware fine-tuning of the healthy devices; returns a :class:`RecoveryResult`.

    ``before``/``after`` are test accuracies of the defective circuit at ``fidelity`` before and after
    re-programming. ``arrays`` holds the re-programmed conductances ``g_array1``... (stuck cells included).
    """
    config = config or RetrainConfig()
    check_fidelity(fidelity)
    ds = project.load_dataset()
    mapped = project.require_mapped()
    dev = mapped.device
    dg = dev.g_on_siemens - dev.g_off_siemens
    t0 = time.perf_counter()
    stuck = defects_mod.stuck_maps(mapped.shapes, defects, dev, pitches_um=mapped.pitches_um, tiles=mapped.tiles)
    fractions = defects_mod.defect_fractions(stuck)
    g_defective = defects_mod.apply_stuck(mapped.conductances(), stuck)
    # tiled: the unused cells are not re-programmed (they stay at their stated state)
    stuck = [tiling.freeze_unused(a, s) for a, s in zip(mapped.arrays, stuck)]
    total = config.epochs + 2
    yield Progress(0, total, f"defective circuit on the test split ({fidelity})")
    before = yield from circuit_accuracy_job(mapped, ds.X_test, ds.y_test, g_defective, fidelity)

    torch = torch_module()
    gen = torch.Generator().manual_seed(config.seed)  # nothing here draws from the global generator
    circuit = TorchCircuit(mapped)
    thetas = [torch.tensor((g - dev.g_off_siemens) / dg, requires_grad=True) for g in mapped.conductances()]
    healthy = [torch.from_numpy(np.isnan(s)) for s in stuck]
    fixed = [torch.from_numpy(np.nan_to_num(s, nan=0.0)) for s in stuck]
    opt = torch.optim.Adam(thetas, lr=config.learning_rate)
    Xt = torch.from_numpy(np.ascontiguousarray(ds.X_train, dtype=np.float64))
    yt = torch.from_numpy(ds.y_train.astype(np.int64))
    # output voltages -> software-logit units, so the loss has the scale the network was trained at
    logit_scale = 1.0 / mapped.arrays[-1].sigma_out
    n = len(yt)
    for epoch in range(config.epochs):
        perm = torch.randperm(n, generator=gen)
        total_loss = 0.0
        for start in range(0, n, config.batch_size):
            idx = perm[start : start + config.batch_size]
            g_list = [torch.where(h, dev.g_off_siemens + t * dg, f) for t, h, f in zip(thetas, healthy, fixed)]
            loss = torch.nn.functional.cross_entropy(circuit.forward(Xt[idx], g_list) * logit_scale, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():  # projected gradient: stay inside the programmable window
                for t in thetas:
                    t.clamp_(0.0, 1.0)
            total_loss += float(loss.detach()) * len(idx)
        yield Progress(epoch + 1, total, f"retraining epoch {epoch + 1}/{config.epochs}: loss {total_loss / n:.4f}")
    theta_np = [t.detach().numpy().copy() for t in thetas]

    g_new = program(mapped, theta_np, stuck)
    yield Progress(config.epochs + 1, total, f"re-programmed circuit on the test split ({fidelity})")
    after = yield from circuit_accuracy_job(mapped, ds.X_test, ds.y_test, g_new, fidelity)
    arrays = {f"g_array{i + 1}": g for i, g in enumerate(g_new)}
    res = recovery_result(
        "retrain",
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
            "n_train": int(n),
        },
    )
    yield Progress(total, total, f"retrain: {before:.3f} -> {after:.3f}")
    return res
