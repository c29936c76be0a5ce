"""Helpers for the project-file tests: a deep equality check and a project holding one of everything."""

from __future__ import annotations

import dataclasses
import math
import numbers
import os

import h5py
import numpy as np

from core import jobs
from core.evaluate import evaluate_job
from core.model.defects import Defect, parse_spec
from core.model.project import Project, Scenario
from core.model.results import RecoveryResult, SweepResult
from core.session.store import store_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
V1_FILE = os.path.join(ROOT, "tests", "data", "project_v1.h5")
ODD_NAME = "wafer 3/die (7) — ü.."


def assert_same(a, b, where="project"):
    """Deep equality of projects: dataclass fields, arrays (dtype, shape, values, NaN = NaN), containers."""
    if dataclasses.is_dataclass(a):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            if f.compare:
                assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} vs {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, (bool, np.bool_)):
        assert isinstance(b, (bool, np.bool_)) and bool(a) == bool(b), where
    elif isinstance(a, numbers.Real):
        assert isinstance(b, numbers.Real) and not isinstance(b, bool), where
        assert a == b or (math.isnan(a) and math.isnan(b)), f"{where}: {a!r} vs {b!r}"
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} vs {b!r}"


def edit(path, fn):
    """Open the HDF5 file at ``path`` for writing and let ``fn(f)`` change it (damage it, in the tests)."""
    with h5py.File(path, "r+") as f:
        fn(f)


def add_everything(p: Project) -> Project:
    """Scenarios with every pattern (a mask too), simulation results, a sweep and a recovery."""
    rng = np.random.default_rng(1)
    mask = rng.random(p.mapped.shapes[1]) < 0.1
    p.scenarios[ODD_NAME] = Scenario(
        ODD_NAME,
        [
            parse_spec("circle:array=1,cx=0.4,cy=0.6,r=0.25,stuck=on"),
            Defect("circle", 1, "on", 0.0, {"cx": 0.123456789, "r": 1 / 3}),  # more digits than the spec string
            parse_spec("ring:array=2,r_in=0.1,r_out=0.4,stuck=off"),
            parse_spec("rows:array=1,indices=0+5+64,stuck=on"),
            parse_spec("columns:array=3,start=2,count=3,stuck=50k"),
            parse_spec("checkerboard:array=4,period=2,phase=1,stuck=off"),
            parse_spec("random:array=2,fraction=0.07,seed=11,stuck=on"),
            parse_spec("circle_complement:array=4,r=0.7,stuck=1.5meg"),
            Defect("mask", 2, "ohm", 123456.789, {}, mask),
        ],
        "line one\nline two: ü",
    )
    p.scenarios["empty"] = Scenario("empty", [])
    store_result(p, jobs.run(evaluate_job(p, (), "ideal")))
    store_result(p, jobs.run(evaluate_job(p, p.scenarios[ODD_NAME].defects, "behavioral", scenario=ODD_NAME)))
    p.sweeps.append(
        SweepResult(
            p.next_id("sweep"),
            {"pattern": "circle", "r": [0.1, 0.2], "nested": {"a": None}},
            [
                {"r": 0.1, "acc": np.float64(0.5), "n": 3, "ok": True, "s": "x", "l": [1, 2]},
                {"r": 0.2, "acc": float("nan"), "n": np.int64(4), "ok": False, "s": "ü", "extra": None},
            ],
            partial=True,
            seconds=2.5,
        )
    )
    p.sweeps.append(SweepResult(p.next_id("sweep"), {}, []))
    p.recoveries.append(
        RecoveryResult(
            p.next_id("rec"),
            "correction",
            [d.to_spec() for d in p.scenarios[ODD_NAME].defects],
            "behavioral",
            0.42,
            0.9,
            {
                "W_1": p.weights.weights[0] * 2,
                "stuck/map": np.full((3, 4), np.nan, dtype=np.float32),
                "perm": np.arange(10, dtype=np.int32),
                "frozen": rng.random((2, 3, 4)) < 0.5,
                "empty": np.zeros(0),
            },
            {"epochs": 3, "lr": 1e-3, "tags": ["a", "b"]},
            scenario=ODD_NAME,
        )
    )
    return p
