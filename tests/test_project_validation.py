"""Loading validates everything: damaged files name the HDF5 path, versions, migrations, the v1 fixture, summary."""

from __future__ import annotations

import json
import os
import time

import h5py
import numpy as np
import pytest

from core import project_io
from core.errors import ProjectFormatError
from core.model.crossbar import physical_shape
from core.model.network import forward
from core.project_io import schema
from project_builders import ODD_NAME, V1_FILE, edit


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
    assert s["arrays"][0] == {
        "array": 1,
        "rows": 65,
        "columns": 16,
        "tile": None,
        "tiles": 1,
        "unused_state": None,
        "layout": "65x16",
    }
    assert [x["name"] for x in s["scenarios"]] == [ODD_NAME, "empty"]
    assert (s["n_results"], s["n_sweeps"], s["n_recoveries"]) == (2, 2, 1)
    assert s["device"]["r_on_ohm"] == 10e3 and s["scheme"] == "differential-columns"


# --- a save killed midway -----------------------------------------------------------------------------
