"""The HDF5 project file: round trip of every part, validation on load, atomic saves, the v1 fixture."""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import numbers
import os
import signal
import subprocess
import sys
import time
import warnings

import h5py
import numpy as np
import pytest

from core import jobs, project_io
from core.errors import ProjectFormatError, WorkbenchError
from core.evaluate import evaluate_job
from core.model.crossbar import physical_shape
from core.model.data import spec_from_npz
from core.model.defects import Defect, parse_spec
from core.model.network import forward
from core.model.project import Project, Scenario
from core.model.results import RecoveryResult, SweepResult
from core.project_io import schema
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


def test_round_trip_every_part(trained_project, tmp_path):
    p = add_everything(trained_project)
    created = p.created
    path = str(tmp_path / "p.h5")
    project_io.save(p, path)
    q = project_io.load(path)
    assert_same(p, q)
    assert q.created == created and q.modified == p.modified
    # the loaded project computes the same thing: same accuracy and output voltages under the same defects
    again = jobs.run(evaluate_job(q, q.scenarios[ODD_NAME].defects, "behavioral"))
    assert again.accuracy == p.results[1].accuracy
    np.testing.assert_array_equal(again.output_voltages, p.results[1].output_voltages)
    assert os.listdir(tmp_path) == ["p.h5"]  # no temp file left


def test_round_trip_embedded_user_data(trained_project, tmp_path):
    from sklearn.datasets import load_digits

    d = load_digits()
    np.savez(tmp_path / "mine.npz", X=d.data[:400], y=d.target[:400])
    p = trained_project
    p.dataset = spec_from_npz(str(tmp_path / "mine.npz"), seed=3)
    path = str(tmp_path / "p.h5")
    project_io.save(p, path)
    q = project_io.load(path)
    assert_same(p.dataset, q.dataset)
    assert q.dataset.X.dtype == np.float32 and q.dataset.X.shape == (400, 64)
    assert len(q.load_dataset().y_test) == p.dataset.test_size


def test_round_trip_untrained_project(tmp_path):
    p = Project()
    project_io.save(p, str(tmp_path / "empty.h5"))
    q = project_io.load(str(tmp_path / "empty.h5"))
    assert q.weights is None and q.mapped is None
    assert_same(p, q)


def test_file_layout_is_self_explaining(trained_project, tmp_path):
    p = add_everything(trained_project)
    path = str(tmp_path / "p.h5")
    project_io.save(p, path)
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == project_io.FORMAT_NAME.encode()
        assert int(f.attrs["format_version"]) == 1
        assert f.attrs["app_version"].decode() and f.attrs["created"] and f.attrs["modified"]
        assert f["network/weights/layer_1/W"].shape == (64, 8)
        assert f["mapping/array_1/g_siemens"].shape == physical_shape(p.scheme, 64, 8)
        assert f["mapping/array_1/g_siemens"].compression == "gzip"
        assert f["results/run-0001/output_voltages"].shape == (180, 10)
        groups = []
        f.visititems(lambda n, o: groups.append((n, o)) if isinstance(o, h5py.Group) else None)
        assert all("kind" in o.attrs for _, o in groups)
        names = {o.attrs["name"].decode(): n for n, o in groups if o.attrs["kind"] == b"scenario"}
        assert set(names) == {ODD_NAME, "empty"}
        assert "/" not in names[ODD_NAME].split("scenarios/", 1)[1]


def test_save_sets_modified_and_save_as_keeps_both(trained_project, tmp_path):
    p = trained_project
    p.modified = "2000-01-01T00:00:00+00:00"
    project_io.save(p, str(tmp_path / "a.h5"))
    assert p.modified != "2000-01-01T00:00:00+00:00"
    project_io.save(p, str(tmp_path / "b.h5"))
    assert_same(project_io.load(str(tmp_path / "a.h5")).weights, project_io.load(str(tmp_path / "b.h5")).weights)


def test_save_to_missing_folder_is_a_clear_error(trained_project, tmp_path):
    p = trained_project
    before = p.modified
    with pytest.raises(WorkbenchError, match="cannot save project to .*No such file"):
        project_io.save(p, str(tmp_path / "missing" / "p.h5"))
    assert p.modified == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_save_to_read_only_folder_is_a_clear_error(trained_project, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(WorkbenchError, match="Permission denied"):
            project_io.save(trained_project, str(ro / "p.h5"))
    finally:
        ro.chmod(0o700)


def test_failed_save_keeps_old_file_and_memory(trained_project, tmp_path):
    p = trained_project
    path = str(tmp_path / "p.h5")
    project_io.save(p, path)
    old_bytes = open(path, "rb").read()
    stamp = p.modified
    p.recoveries.append(
        RecoveryResult("rec-0001", "retrain", [], "ideal", 0.1, 0.2, {"labels": np.array(["a", "b"], dtype=object)})
    )
    with pytest.raises(project_io.ProjectSaveError, match="labels.*numeric"):
        project_io.save(p, path)
    assert open(path, "rb").read() == old_bytes
    assert os.listdir(tmp_path) == ["p.h5"]
    assert p.modified == stamp and len(p.recoveries) == 1


def test_save_refuses_a_file_that_would_not_load_back(trained_project, tmp_path):
    p = trained_project
    path = str(tmp_path / "p.h5")
    project_io.save(p, path)
    old_bytes = open(path, "rb").read()
    p.weights.weights[1][0, 0] = np.nan  # a diverged network: load would refuse it, so save does too
    with pytest.raises(project_io.ProjectSaveError, match="would not load back.*layer_2/W.*NaN"):
        project_io.save(p, path)
    assert open(path, "rb").read() == old_bytes and os.listdir(tmp_path) == ["p.h5"]


def test_empty_split_result_round_trips(trained_project, tmp_path):
    p = trained_project
    p.dataset.cal_size = 0
    p._dataset_cache = None
    with warnings.catch_warnings():  # numpy may warn about the mean of an empty slice
        warnings.simplefilter("ignore", RuntimeWarning)
        res = jobs.run(evaluate_job(p, (), "behavioral", split="cal"))
    assert res.n_images == 0 and math.isnan(res.accuracy)
    project_io.save(p, str(tmp_path / "p.h5"))
    assert_same(p.results, project_io.load(str(tmp_path / "p.h5")).results)


# --- validation on load -------------------------------------------------------------------------------
@pytest.fixture
def saved(trained_project, tmp_path):
    path = str(tmp_path / "p.h5")
    project_io.save(add_everything(trained_project), path)
    return path


def edit(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f)


def load_error(path) -> ProjectFormatError:
    with pytest.raises(ProjectFormatError) as info:
        project_io.load(path)
    assert "\n" not in str(info.value)
    return info.value


def test_newer_version_is_refused_with_a_clear_message(saved):
    edit(saved, lambda f: f.attrs.__setitem__("format_version", np.int64(2)))
    e = load_error(saved)
    assert e.hdf5_path == "/" and "newer version" in str(e) and "format_version 2" in str(e)


def test_not_hdf5_and_missing_file(tmp_path):
    (tmp_path / "x.h5").write_text("hello")
    assert load_error(str(tmp_path / "x.h5")).hdf5_path == "/"
    assert "no such file" in str(load_error(str(tmp_path / "nothing.h5")))
    h5py.File(tmp_path / "other.h5", "w").close()
    assert "not a ReRAM workbench project" in str(load_error(str(tmp_path / "other.h5")))


def _replace(f, path, **kw):
    del f[path]
    f.create_dataset(path, **kw)


@pytest.mark.parametrize(
    "case, path, message",
    [
        ("soft", "/network/weights/layer_1/W", "soft link"),
        ("external", "/mapping/array_2/g_siemens", "external link"),
        ("external_storage", "/network/weights/layer_1/b", "external files"),
        ("lzf", "/mapping/array_1/g_siemens", "filter 32000"),
        ("huge_g", "/mapping/array_1/g_siemens", "must have shape (65, 16)"),
        ("huge_history", "/network/weights/history/loss", "claims 1000000000000 elements"),
        ("nan", "/network/weights/layer_2/W", "NaN"),
        ("string_W", "/network/weights/layer_3/W", "must have dtype floating point"),
        ("vlen_specs", "/results/run-0002/defect_specs", "must have dtype fixed-length string"),
        ("r_on", "/device", "r_on_ohm: must be in [1, 1e+09]"),
        ("hidden", "/network", "hidden: must list exactly 3"),
        ("pattern", "/defect_01", "pattern: must be one of"),
        ("mask_values", "/mask", "values must be in [0, 1]"),
        ("seconds", "/results/run-0002 (attribute 'seconds')", "must be >= 0, got -1.0"),
        ("long_name", "/results/run-0001 (attribute 'solver')", "exceeds"),
        ("bad_json", "/results/run-0001/params", "not valid JSON"),
        ("deep_json", "/recoveries/rec-0001/params", "not valid JSON"),
        ("missing", "/network/weights/layer_4", "is missing"),
        ("kind", "/mapping/array_3", "attribute 'kind' must be 'crossbar'"),
    ],
)
def test_damage_is_refused_naming_the_hdf5_path(saved, tmp_path, case, path, message):
    h5 = h5py.File(saved, "r")
    scen = [n for n in h5["scenarios"] if h5["scenarios"][n].attrs["name"].decode() == ODD_NAME][0]
    h5.close()
    defect = f"/scenarios/{scen}/defect_01"
    mask = f"/scenarios/{scen}/defect_09/mask"
    other = str(tmp_path / "other.h5")
    with h5py.File(other, "w") as o:
        o["data"] = np.zeros((9, 16))
    raw = tmp_path / "raw.bin"
    raw.write_bytes(np.ones(8).tobytes())

    def damage(f):
        if case == "soft":
            del f[path]
            f[path] = h5py.SoftLink("/network/weights/layer_2/W")
        elif case == "external":
            del f[path]
            f[path] = h5py.ExternalLink(other, "/data")
        elif case == "external_storage":
            _replace(f, path, shape=(8,), dtype="f8", external=[(str(raw), 0, 64)])
        elif case == "lzf":
            _replace(f, path, data=np.ones((65, 16)), compression="lzf")
        elif case == "huge_g":
            _replace(f, path, shape=(10**6, 10**6), dtype="f8", chunks=(100, 100))
        elif case == "huge_history":
            name = f[path].attrs["name"]
            _replace(f, path, shape=(10**12,), dtype="f8", chunks=(1000,))
            f[path].attrs["name"] = name
        elif case == "nan":
            _replace(f, path, data=np.full((8, 8), np.nan))
        elif case == "string_W":
            _replace(f, path, data=np.array([[b"x"] * 8] * 8))
        elif case == "vlen_specs":
            _replace(f, path, data=["a", "b"], dtype=h5py.string_dtype())
        elif case == "r_on":
            f[path].attrs["r_on_ohm"] = -5.0
        elif case == "hidden":
            f[path].attrs["hidden"] = np.array([8, 8], dtype=np.int64)
        elif case == "pattern":
            f[defect].attrs["pattern"] = np.bytes_(b"hexagon")
        elif case == "mask_values":
            m = f[mask][()].astype(np.int64) * 7
            _replace(f, mask, data=m)
        elif case == "seconds":
            f["/results/run-0002"].attrs["seconds"] = -1.0
        elif case == "long_name":
            f["/results/run-0001"].attrs["solver"] = np.bytes_(b"x" * (2 * 2**20))
        elif case == "bad_json":
            _replace(f, path, data=np.bytes_(b"{'a': eval('1')}"))
        elif case == "deep_json":
            _replace(f, path, data=np.bytes_(b"[" * 100_000 + b"]" * 100_000))
        elif case == "missing":
            del f[path]
        elif case == "kind":
            f[path].attrs["kind"] = np.bytes_(b"table")

    edit(saved, damage)
    t0 = time.perf_counter()
    e = load_error(saved)
    assert time.perf_counter() - t0 < 5
    want = defect if case == "pattern" else mask if case == "mask_values" else path
    assert str(e).startswith(want + ": ") or str(e).startswith(want + " "), str(e)
    assert message in str(e), str(e)


def test_hard_link_cycles_and_unknown_extras_do_not_hang(saved):
    def damage(f):
        f["scenarios"].attrs["note"] = "extra attributes are ignored"
        f["extra"] = f["/"]  # a hard-link cycle outside the schema: never walked

    edit(saved, damage)
    assert project_io.load(saved).scenarios


def test_migration_hook_upgrades_old_files_in_memory(monkeypatch, tmp_path):
    calls = []

    def v1_to_v2(f):
        calls.append(int(f.attrs["format_version"]))
        f["device"].attrs["r_on_ohm"] = 20e3  # a migration may rewrite values

    before = open(V1_FILE, "rb").read()
    monkeypatch.setattr(schema, "FORMAT_VERSION", 2)
    monkeypatch.setattr(schema, "MIGRATIONS", {1: v1_to_v2})
    p = project_io.load(V1_FILE)
    assert calls == [1] and p.device.r_on_ohm == 20e3
    assert open(V1_FILE, "rb").read() == before  # the file on disk is not touched
    monkeypatch.setattr(schema, "MIGRATIONS", {})
    assert "cannot be migrated" in str(load_error(V1_FILE))


# --- the version-1 fixture ----------------------------------------------------------------------------
def test_v1_fixture_still_loads():
    assert os.path.getsize(V1_FILE) < 300_000
    p = project_io.load(V1_FILE)
    assert p.network.layer_sizes == (64, 8, 8, 8, 10)
    assert p.dataset.source == "npz" and p.dataset.X.shape == (500, 64) and p.dataset.X.dtype == np.float32
    assert list(p.scenarios) == ["center blob", "measured map", "bias row"]
    mask_defect = p.scenarios["measured map"].defects[0]
    assert mask_defect.pattern == "mask" and mask_defect.mask.shape == (65, 16) and mask_defect.mask.sum() == 32
    assert [d.to_spec() for d in p.scenarios["center blob"].defects][2] == "columns:array=3,stuck=50000,start=2,count=2"
    assert [r.fidelity for r in p.results] == ["ideal", "behavioral", "behavioral", "behavioral"]
    assert [r.scenario for r in p.results[1:]] == list(p.scenarios)
    assert p.sweeps[0].rows[2] == {"r": 0.3, "accuracy": 0.40, "n_cells": 148, "clipped": True, "stuck": "on"}
    assert p.recoveries[0].arrays["frozen"].dtype == np.bool_
    assert p.recoveries[0].arrays["permutation"].tolist() == list(range(8))
    assert len(p.weights.history["test_accuracy"]) == p.training.epochs == 30
    # internal consistency: the stored ideal logits are the stored network applied to the stored data
    ds = p.load_dataset()
    np.testing.assert_allclose(
        p.results[0].output_voltages, forward(p.weights.weights, p.weights.biases, ds.X_test), rtol=1e-5, atol=1e-5
    )
    for a, W in zip(p.mapped.arrays, p.weights.weights):
        assert a.g_siemens.shape == physical_shape(p.mapped.scheme, *W.shape)
    json.dumps(project_io.summary(p))


def test_summary_is_json_and_complete(saved):
    s = project_io.summary(project_io.load(saved))
    s = json.loads(json.dumps(s))
    assert s["format"] == "reram-workbench-project" and s["format_version"] == 1
    assert s["network"]["layer_sizes"] == [64, 8, 8, 8, 10]
    assert s["test_accuracy"] > 0.8
    assert s["arrays"][0] == {"array": 1, "rows": 65, "columns": 16}
    assert [x["name"] for x in s["scenarios"]] == [ODD_NAME, "empty"]
    assert (s["n_results"], s["n_sweeps"], s["n_recoveries"]) == (2, 2, 1)
    assert s["device"]["r_on_ohm"] == 10e3 and s["scheme"] == "differential-columns"


# --- a save killed midway -----------------------------------------------------------------------------
_SAVER = r"""
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from core import project_io
from core.model.results import RecoveryResult
p = project_io.load(sys.argv[2])
big = np.random.default_rng(0).random(3_000_000)   # ~24 MB of incompressible data: a slow save
p.recoveries.append(RecoveryResult("rec-big", "retrain", [], "behavioral", 0.5, 0.6, {"big": big}))
print("ready", flush=True)
while True:
    project_io.save(p, sys.argv[2])
"""


@pytest.mark.timeout(120)
def test_sigkill_during_save_leaves_previous_file_loadable(trained_project, tmp_path):
    target = str(tmp_path / "p.h5")
    project_io.save(trained_project, target)
    outcomes = []
    # one save takes ~1 s here: kill early in the first write, mid-way, and (likely) during a second save
    for delay in (0.02, 0.4, 1.3):
        child = subprocess.Popen([sys.executable, "-c", _SAVER, ROOT, target], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ready"
            deadline = time.monotonic() + 30
            while not glob.glob(str(tmp_path / ".p.h5.*.tmp")) and time.monotonic() < deadline:
                time.sleep(0.002)
            assert glob.glob(str(tmp_path / ".p.h5.*.tmp")), "the saver never started writing"
            time.sleep(delay)
            mid_write = bool(glob.glob(str(tmp_path / ".p.h5.*.tmp")))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
            child.stdout.close()
        p = project_io.load(target)  # the previous file (or a completed save): never half a file
        assert p.weights is not None
        outcomes.append((mid_write, "new" if any(r.id == "rec-big" for r in p.recoveries) else "old"))
    assert any(mid for mid, _ in outcomes), outcomes


def test_real_sweep_table_round_trips(trained_project, tmp_path):
    from core.sweeps.job import sweep_job
    from core.sweeps.spec import SweepSpec

    p = trained_project
    # one seed per point: the confidence interval is NaN, which a table must carry through
    store_result(p, jobs.run(sweep_job(p, SweepSpec(sizes=(0.1, 0.3), stuck=("on",), arrays=(1,), n_seeds=1))))
    project_io.save(p, str(tmp_path / "p.h5"))
    q = project_io.load(str(tmp_path / "p.h5"))
    assert len(q.sweeps[0].rows) == 2 and all(math.isnan(r["ci95_low"]) for r in q.sweeps[0].rows)
    assert_same(p.sweeps, q.sweeps)


def test_save_respects_read_only_target_and_keeps_permissions(trained_project, tmp_path):
    import stat as stat_mod

    from core.errors import ProjectSaveError

    path = tmp_path / "p.h5"
    project_io.save(trained_project, str(path))
    os.chmod(path, 0o640)
    project_io.save(trained_project, str(path))
    assert stat_mod.S_IMODE(os.stat(path).st_mode) == 0o640
    os.chmod(path, 0o444)
    before = path.read_bytes()
    with pytest.raises(ProjectSaveError, match="read-only"):
        project_io.save(trained_project, str(path))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.h5"]
