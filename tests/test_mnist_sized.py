"""A 784-input network (the ``mnist`` preset) from 28 x 28 IDX files: scikit-learn's digits upsampled, nothing
downloaded. Trains for real, maps to 785-row crossbars, evaluates, and a stuck-on column hurts."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import numpy as np
from sklearn.datasets import load_digits


def _write_idx(path, arr) -> None:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape) + arr.tobytes()
    path.write_bytes(raw)


def test_mnist_preset_on_upsampled_digits(tmp_path):
    d = load_digits()
    # 8 x 8 -> 24 x 24 by repeating pixels, padded by 2 on each side to 28 x 28, scaled to 0..255 as MNIST is
    img = np.kron(d.images, np.ones((3, 3)))
    img = np.pad(img, ((0, 0), (2, 2), (2, 2))) * (255 / 16)
    _write_idx(tmp_path / "images.idx", img)
    _write_idx(tmp_path / "labels.idx", d.target)
    path = str(tmp_path / "m.h5")
    cli = [sys.executable, "-m", "core.cli.main"]
    run = subprocess.run(
        [
            *cli,
            "new",
            path,
            "--idx",
            str(tmp_path / "images.idx"),
            str(tmp_path / "labels.idx"),
            "--preset",
            "mnist",
            "--epochs",
            "15",
            "--json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    assert info["layer_sizes"] == [784, 128, 64, 32, 10]
    assert info["array_shapes"][0] == [785, 256]  # 784 pixels + bias row; a G+ and a G- column per neuron
    assert info["test_accuracy"] > 0.8  # the digits are no harder for being upsampled
    ev = json.loads(
        subprocess.run(
            [*cli, "evaluate", path, "--no-save", "--json", "--quiet"], capture_output=True, text=True
        ).stdout
    )
    assert abs(ev["accuracy"] - info["test_accuracy"]) <= 0.02  # the clean circuit classifies like the network
    bad = json.loads(
        subprocess.run(
            [
                *cli,
                "evaluate",
                path,
                "--defect",
                "circle:array=1,r=0.3,stuck=on",
                "--no-save",
                "--json",
                "--quiet",
            ],
            capture_output=True,
            text=True,
        ).stdout
    )
    assert (
        bad["accuracy"] < ev["accuracy"] - 0.1 and 0.2 < bad["defect_fraction"][0] < 0.3
    )  # pi 0.3^2 = 0.28 of the array
