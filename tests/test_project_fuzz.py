"""Damaged project files: each must load valid data or raise ProjectFormatError, never anything else, never hang.

Over 200 damaged variants of one real project file are generated here (seeded): flipped bytes, truncations,
deleted, retyped, reshaped and poisoned datasets, deleted and retyped attributes, wrong versions, soft,
external and cyclic links, absurd shapes.
"""

from __future__ import annotations

import copy
import time

import h5py
import numpy as np
import pytest

from core import jobs, project_io
from core.errors import ProjectFormatError
from core.evaluate import evaluate_job
from core.model.crossbar import physical_shape
from core.model.defects import Defect, parse_spec
from core.model.project import Project, Scenario
from core.model.results import RecoveryResult, SweepResult
from core.session.store import store_result

SLOW_LOAD_S = 5.0


@pytest.fixture(scope="module")
def base(_trained_paper, tmp_path_factory):
    """(path, bytes, object list) of a saved project holding every kind of content."""
    p = copy.deepcopy(_trained_paper)
    mask = np.zeros(p.mapped.shapes[0], dtype=bool)
    mask[2:6, 1:4] = True
    p.scenarios["cluster"] = Scenario(
        "cluster",
        [
            parse_spec("circle:array=1,r=0.3,stuck=on"),
            Defect("mask", 1, "off", 0.0, {}, mask),
            parse_spec("rows:array=2,indices=1+3,stuck=50k"),
        ],
        "d",
    )
    store_result(p, jobs.run(evaluate_job(p, p.scenarios["cluster"].defects, "behavioral", scenario="cluster")))
    p.sweeps.append(
        SweepResult(
            "sweep-0001",
            {"r": [0.1, 0.2]},
            [{"r": 0.1, "acc": 0.5, "ok": True, "s": "a", "j": [1]}, {"r": 0.2, "acc": 0.4, "ok": False, "s": "b"}],
        )
    )
    p.recoveries.append(
        RecoveryResult(
            "rec-0001",
            "retrain",
            ["circle:array=1,r=0.3,stuck=on"],
            "behavioral",
            0.5,
            0.8,
            {"W": np.ones((4, 3)), "idx": np.arange(5)},
            {"e": 2},
        )
    )
    path = tmp_path_factory.mktemp("fuzz") / "base.h5"
    project_io.save(p, str(path))
    objects = []
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: objects.append(
                (
                    name,
                    "dataset" if isinstance(obj, h5py.Dataset) else "group",
                    obj.dtype.kind if isinstance(obj, h5py.Dataset) else "",
                    getattr(obj, "shape", None),
                    sorted(obj.attrs),
                )
            )
        )
    return str(path), path.read_bytes(), objects


def check_valid(p: Project) -> None:
    """A project that loaded must be internally consistent."""
    sizes = p.network.layer_sizes
    if p.weights is not None:
        for l, (W, b) in enumerate(zip(p.weights.weights, p.weights.biases)):
            assert W.shape == (sizes[l], sizes[l + 1]) and b.shape == (sizes[l + 1],)
            assert np.all(np.isfinite(W)) and np.all(np.isfinite(b))
    if p.mapped is not None:
        for l, a in enumerate(p.mapped.arrays):
            assert a.g_siemens.shape == physical_shape(p.mapped.scheme, sizes[l], sizes[l + 1])
            assert np.all(np.isfinite(a.g_siemens))
    for r in p.results:
        assert r.output_voltages.shape == (r.n_images, p.network.n_outputs)


class Outcomes:
    """Load damaged files and collect anything that is neither valid data nor a ProjectFormatError."""

    def __init__(self, tmp_path):
        self.tmp, self.n, self.loaded, self.refused, self.bad = tmp_path, 0, 0, 0, []

    def check(self, label: str, path: str) -> None:
        self.n += 1
        t0 = time.perf_counter()
        try:
            p = project_io.load(path)
        except ProjectFormatError as e:
            self.refused += 1
            if "\n" in str(e) or not e.hdf5_path.startswith("/"):
                self.bad.append(f"{label}: message not one line naming an HDF5 path: {e!r}")
        except Exception as e:  # noqa: BLE001 - exactly what the test looks for
            self.bad.append(f"{label}: {type(e).__name__}: {e}")
        else:
            self.loaded += 1
            try:
                check_valid(p)
            except AssertionError as e:
                self.bad.append(f"{label}: loaded inconsistent data {e}")
        if time.perf_counter() - t0 > SLOW_LOAD_S:
            self.bad.append(f"{label}: took {time.perf_counter() - t0:.1f} s")

    def bytes_case(self, label: str, data: bytes) -> None:
        path = self.tmp / f"case{self.n}.h5"
        path.write_bytes(data)
        self.check(label, str(path))

    def edit_case(self, label: str, original: bytes, fn) -> None:
        path = self.tmp / f"case{self.n}.h5"
        path.write_bytes(original)
        with h5py.File(path, "r+") as f:
            fn(f)
        self.check(label, str(path))

    def assert_ok(self, minimum: int) -> None:
        assert not self.bad, "\n".join(self.bad[:20])
        assert self.n >= minimum


@pytest.mark.timeout(60, method="thread")
def test_flipped_bytes(base, tmp_path):
    _, data, _ = base
    rng = np.random.default_rng(2024)
    out = Outcomes(tmp_path)
    for i in range(150):
        buf = bytearray(data)
        # a third of the cases hit the superblock and root object header, where damage is most dangerous
        hi = 4096 if i % 3 == 0 else len(buf)
        for off in rng.integers(0, hi, size=int(rng.integers(1, 9))):
            buf[off] ^= 1 << int(rng.integers(0, 8))
        out.bytes_case(f"flip#{i}", bytes(buf))
    out.assert_ok(150)
    assert out.refused > 0


@pytest.mark.timeout(60, method="thread")
def test_truncated_files(base, tmp_path):
    _, data, _ = base
    rng = np.random.default_rng(7)
    out = Outcomes(tmp_path)
    for n in [0, 1, 8, 100, 2047, len(data) - 1, *rng.integers(0, len(data), size=24)]:
        out.bytes_case(f"truncate@{n}", data[:n])
    out.assert_ok(30)
    assert out.loaded == 0  # the end of the file holds data every project needs


def _mutations(objects):
    """(label, edit function) for deleting, retyping, reshaping and poisoning every object of the file."""
    for name, typ, kind, shape, attrs in objects:
        yield f"delete {name}", lambda f, n=name: f.__delitem__(n)
        if typ == "group":

            def to_dataset(f, n=name):
                del f[n]
                f[n] = np.zeros(3)

            yield f"group->dataset {name}", to_dataset
            yield f"kind->42 {name}", lambda f, n=name: f[n].attrs.__setitem__("kind", 42)
            continue

        def retype(f, n=name, s=shape):
            del f[n]
            f[n] = np.full(s, b"text", dtype="S4") if s else np.bytes_(b"text")

        yield f"retype->string {name}", retype

        def to_float(f, n=name, s=shape, a=attrs):
            keep = {k: f[n].attrs[k] for k in a}
            del f[n]
            f[n] = np.full(s, 0.5) if s else 0.5
            f[n].attrs.update(keep)

        yield f"retype->float {name}", to_float

        def reshape(f, n=name, s=shape, a=attrs):
            keep = {k: f[n].attrs[k] for k in a}
            old = f[n][()]
            del f[n]
            f[n] = np.reshape(old, (-1,))[:, None] if np.ndim(old) else np.array([old, old])
            f[n].attrs.update(keep)

        yield f"reshape {name}", reshape

        def huge(f, n=name, a=attrs):
            keep = {k: f[n].attrs[k] for k in a}
            del f[n]
            f.create_dataset(n, shape=(10**6, 10**6), dtype="f8", chunks=(64, 64))
            f[n].attrs.update(keep)

        yield f"absurd shape {name}", huge
        if kind == "f":

            def poison(f, n=name, s=shape, a=attrs):
                keep = {k: f[n].attrs[k] for k in a}
                old = np.array(f[n][()], dtype=np.float64)
                del f[n]
                old.flat[0] = np.inf
                f[n] = old
                f[n].attrs.update(keep)

            yield f"inf {name}", poison


@pytest.mark.timeout(90, method="thread")
def test_structural_damage(base, tmp_path):
    _, data, objects = base
    out = Outcomes(tmp_path)
    for label, fn in _mutations(objects):
        out.edit_case(label, data, fn)
    out.assert_ok(200)
    assert out.loaded > 0  # e.g. a deleted optional group (no mapping) is still a valid project


def _attribute_cases(objects):
    for name, typ, _kind, _shape, attrs in objects:
        if typ != "group":
            continue
        for a in attrs:
            yield f"del attr {name}@{a}", lambda f, n=name, a=a: f[n].attrs.__delitem__(a)
            yield f"attr->array {name}@{a}", lambda f, n=name, a=a: f[n].attrs.__setitem__(a, np.zeros((100, 100)))
            yield f"attr->nan {name}@{a}", lambda f, n=name, a=a: f[n].attrs.__setitem__(a, np.nan)


@pytest.mark.timeout(90, method="thread")
def test_attribute_damage(base, tmp_path):
    _, data, objects = base
    out = Outcomes(tmp_path)
    cases = list(_attribute_cases(objects))
    # a seeded third of the cases keeps the run short while every kind of edit stays covered
    for i in sorted(np.random.default_rng(5).choice(len(cases), len(cases) // 3, replace=False)):
        out.edit_case(*cases[i][:1], data, cases[i][1])
    out.assert_ok(100)


@pytest.mark.timeout(60, method="thread")
def test_versions_and_links(base, tmp_path):
    path, data, objects = base
    out = Outcomes(tmp_path)
    for v in (0, -1, 2, 99, 2**40, 1.5, np.array([1, 1]), "1", b"1"):
        out.edit_case(f"format_version={v!r}", data, lambda f, v=v: f.attrs.__setitem__("format_version", v))
    for fmt in ("something-else", b"", 7):
        out.edit_case(f"format={fmt!r}", data, lambda f, v=fmt: f.attrs.__setitem__("format", v))
    other = tmp_path / "other.h5"
    other.write_bytes(data)
    for name, typ, *_ in objects:
        if name.count("/") > 2 and typ == "group":
            continue  # a sample: every dataset and the upper groups

        def soft(f, n=name):
            del f[n]
            f[n] = h5py.SoftLink("/network")

        def external(f, n=name):
            del f[n]
            f[n] = h5py.ExternalLink(str(other), "/" + n)

        out.edit_case(f"soft link {name}", data, soft)
        out.edit_case(f"external link {name}", data, external)
    for name in ("network", "network/weights", "scenarios", "mapping/array_1"):
        out.edit_case(f"cycle in {name}", data, lambda f, n=name: f[n].__setitem__("loop", f["/"]))
    out.assert_ok(60)
    assert out.loaded >= 1  # the cycle under /network is outside the schema: ignored, the file loads
