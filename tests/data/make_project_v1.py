"""Regenerate ``tests/data/project_v1.h5``, the version-1 project file every future version must still open.

Run from the repository root (only needed if the file is lost; the committed file is the reference)::

    .venv/bin/python tests/data/make_project_v1.py

What it holds (kept small, < 300 KB, so it trains for only 30 epochs: the file tests the *format*, not
accuracy):

- the user's data embedded (``npz`` source): 500 images of sklearn's 8x8 digits, stratified by label;
- the ``paper`` network (64-8-8-8-10) trained with seed 0, history, mapped with ``differential-columns``;
- scenarios ``center blob`` (circle + ring + a 50 kOhm columns defect), ``measured map`` (a 0/1 mask with
  a random and a checkerboard defect) and ``bias row`` (rows, circle_complement);
- results: ideal (no defects) and behavioural for each scenario; one sweep table with int, float, bool,
  string and JSON columns (one cell absent); one recovery with float, int and boolean arrays.
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from core import jobs, project_io
from core.evaluate import evaluate_job
from core.ml.new_project import create_project_job
from core.model.data import spec_from_npz
from core.model.defects import Defect, parse_spec
from core.model.network import NetworkConfig, TrainConfig
from core.model.project import Scenario
from core.model.results import RecoveryResult, SweepResult
from core.session.store import store_result

OUT = os.path.join(ROOT, "tests", "data", "project_v1.h5")


def build():
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(0)
    idx = np.concatenate([rng.permutation(np.flatnonzero(d.target == c))[:50] for c in range(10)])
    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "digits-500.npz")
        np.savez(npz, X=d.data[idx], y=d.target[idx])
        spec = spec_from_npz(npz, seed=0, test_fraction=0.2, cal_fraction=0.1)
    p = jobs.run(create_project_job(spec, NetworkConfig.preset("paper"), TrainConfig(epochs=30, seed=0)))
    shape1 = p.mapped.arrays[0].shape
    mask = np.zeros(shape1, dtype=bool)
    mask[10:14, 3:7] = True
    mask[40, :] = True
    p.scenarios = {
        "center blob": Scenario(
            "center blob",
            [
                parse_spec("circle:array=1,cx=0.5,cy=0.5,r=0.2,stuck=on"),
                parse_spec("ring:array=2,r_in=0.1,r_out=0.3,stuck=off"),
                parse_spec("columns:array=3,start=2,count=2,stuck=50k"),
            ],
            "a cluster of stuck-on devices",
        ),
        "measured map": Scenario(
            "measured map",
            [
                Defect("mask", 1, "off", 0.0, {}, mask),
                parse_spec("random:array=4,fraction=0.05,seed=3,stuck=on"),
                parse_spec("checkerboard:array=2,period=4,phase=1,stuck=1.5meg"),
            ],
            "wafer map, die 7",
        ),
        "bias row": Scenario(
            "bias row",
            [parse_spec("rows:array=1,indices=64,stuck=on"), parse_spec("circle_complement:array=4,r=0.6,stuck=off")],
        ),
    }
    store_result(p, jobs.run(evaluate_job(p, (), "ideal")))
    for name, sc in p.scenarios.items():
        store_result(p, jobs.run(evaluate_job(p, sc.defects, "behavioral", scenario=name)))
    p.sweeps.append(
        SweepResult(
            p.next_id("sweep"),
            {"pattern": "circle", "array": 1, "r": [0.1, 0.2, 0.3], "fidelity": "behavioral"},
            [
                {"r": 0.1, "accuracy": 0.81, "n_cells": 17, "clipped": False, "stuck": "on", "fractions": [0.02, 0.0]},
                {"r": 0.2, "accuracy": 0.62, "n_cells": 66, "clipped": False, "stuck": "on", "fractions": [0.08, 0.0]},
                {"r": 0.3, "accuracy": 0.40, "n_cells": 148, "clipped": True, "stuck": "on"},
            ],
            partial=False,
            seconds=1.25,
        )
    )
    w1 = p.weights.weights[0]
    p.recoveries.append(
        RecoveryResult(
            p.next_id("rec"),
            "retrain",
            [d.to_spec() for d in p.scenarios["center blob"].defects],
            "behavioral",
            before=0.5,
            after=0.75,
            arrays={"W_1": w1 * 0.9, "permutation": np.arange(8, dtype=np.int64), "frozen": np.abs(w1) > 0.5},
            params={"epochs": 5, "learning_rate": 0.005},
            scenario="center blob",
        )
    )
    return p


if __name__ == "__main__":
    project_io.save(build(), OUT)
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")
