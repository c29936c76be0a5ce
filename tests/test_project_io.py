"""Project files: round trips of every part, the file layout, atomic saves, kills during a save."""

from __future__ import annotations

import glob
import math
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
from core.errors import WorkbenchError
from core.evaluate import evaluate_job
from core.model.crossbar import physical_shape
from core.model.data import spec_from_npz
from core.model.project import Project
from core.model.results import RecoveryResult
from core.session.store import store_result
from project_builders import ODD_NAME, ROOT, add_everything, assert_same


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
