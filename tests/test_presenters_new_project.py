"""The New-project form and the training flow without Qt: defaults, validation, data preview, outcomes."""

from __future__ import annotations

import copy
import gzip
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from app.presenters import new_project as form
from app.presenters import training_flow as flow
from app.presenters.new_project import DataSource, DataState, FieldError
from core import jobs
from core.model.crossbar import physical_shape
from core.model.data import DOWNSAMPLE, DatasetSpec
from core.model.devices import SCHEMES, CircuitParams, DeviceParams
from core.model.network import NetworkConfig, TrainConfig
from core.model.project import Project
from core.session.job_queue import JobInfo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_npz(path, n=300, features=16, counts=(120, 100, 80), seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)[:n]
    X = rng.random((len(y), features)) + y[:, None]  # separable enough to learn in a few epochs
    np.savez(path, X=X, y=y)
    return X, y


def write_idx(path, arr: np.ndarray) -> None:
    """An IDX file as core.model.data.read_idx reads it: 0, 0, dtype code, ndim, big-endian dims, payload."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape) + arr.tobytes()
    with (gzip.open if str(path).endswith(".gz") else open)(path, "wb") as f:
        f.write(raw)


def read(source: DataSource, state: DataState = None):
    state = state or DataState()
    ticket = state.want(source)
    assert ticket and state.finished(ticket, jobs.run(form.preview_job(source)))
    return state


# ---- defaults and validation ---------------------------------------------------------------------------------
def test_defaults_are_the_dataclasses_and_give_a_default_request():
    v = form.default_values()
    assert v["train.epochs"] == str(TrainConfig().epochs) and v["device.r_on_ohm"] == f"{DeviceParams().r_on_ohm:g}"
    assert v["dataset.downsample"] == str(DOWNSAMPLE.default) and v["scheme"] == Project().scheme
    r = form.build_request(v, DataState())
    assert r.training == TrainConfig() and r.device == DeviceParams() and r.circuit == CircuitParams()
    assert r.network == NetworkConfig() and r.scheme == Project().scheme
    assert r.dataset.source == "digits" and r.dataset.seed == TrainConfig().seed


def test_non_default_values_reach_every_config():
    v = form.default_values()
    v.update(
        {
            "scheme": "differential-rows",
            "device.r_on_ohm": "20k",
            "device.r_off_ohm": "2M",
            "device.levels": "16",
            "device.model": "gap",
            "train.epochs": "3",
            "train.learning_rate": "0.02",
            "train.seed": "7",
            "network.preset": "custom",
            "network.hidden": "4,5,6",
            "circuit.v_rail_volt": "3.3",
            "circuit.r_wire_ohm": "2.5",
            "circuit.headroom": "0.5",
        }
    )
    r = form.build_request(v, DataState())
    assert (r.device.r_on_ohm, r.device.r_off_ohm, r.device.levels, r.device.model) == (20e3, 2e6, 16, "gap")
    assert (r.training.epochs, r.training.learning_rate, r.training.seed, r.dataset.seed) == (3, 0.02, 7, 7)
    assert r.network.hidden == (4, 5, 6) and r.scheme == "differential-rows"
    assert (r.circuit.v_rail_volt, r.circuit.r_wire_ohm, r.circuit.headroom) == (3.3, 2.5, 0.5)
    assert "130x4" in form.mapping_text(v, DataState())  # (64 + 1) row pairs x 4 neurons


@pytest.mark.parametrize("key", list(form.NUMBER_FIELDS))
def test_every_number_field_names_itself_and_its_range(key):
    f = form.NUMBER_FIELDS[key]
    bad = f.spec.hi * 10 + 1 if f.spec.hi is not None else f.spec.lo - 1
    with pytest.raises(FieldError) as e:
        form.check_field(key, str(bad))
    assert e.value.key == key and str(e.value).startswith(f.label + ":")
    assert f"{f.spec.hi:g}]" in str(e.value)
    with pytest.raises(FieldError, match="got 'abc'"):
        form.check_field(key, "abc")


def test_bad_fields_are_all_reported_in_form_order():
    v = form.default_values()
    v.update({"train.epochs": "0", "device.r_on_ohm": "20k", "device.r_off_ohm": "5k", "device.levels": "1"})
    request, errors = form.form_errors(v, DataState())
    assert request is None
    assert [e.key for e in errors] == ["train.epochs", "device.r_off_ohm", "device.levels"]
    assert str(errors[0]) == "Epochs: must be in [1, 100000], got '0'"
    assert "HRS (stuck-off) resistance" in str(errors[1]) and "LRS (stuck-on) resistance (20000 ohm)" in str(errors[1])
    assert "0 (continuous) or >= 2" in str(errors[2])
    with pytest.raises(FieldError) as e:
        form.build_request(v, DataState())
    assert e.value.key == "train.epochs"
    v = form.default_values()
    v.update({"network.preset": "custom", "network.hidden": "8,8"})
    with pytest.raises(FieldError, match="^Hidden sizes: must list exactly 3") as e:
        form.build_request(v, DataState())
    assert e.value.key == "network.hidden"


def test_resistance_suffixes():
    assert form.check_field("device.r_on_ohm", "20k") == 20e3
    assert form.check_field("device.r_off_ohm", "2M") == form.check_field("device.r_off_ohm", "2meg") == 2e6
    assert form.check_field("device.r_off_ohm", "1.5e6") == 1.5e6
    with pytest.raises(FieldError, match="got '2m'"):  # milli or mega? refused, as the defect editor does
        form.check_field("device.r_off_ohm", "2m")


def test_user_data_needs_a_path_and_a_valid_factor():
    v = form.default_values()
    v["dataset.source"] = "npz"
    with pytest.raises(FieldError, match="is empty") as e:
        form.data_source(v)
    assert e.value.key == "dataset.npz"
    v.update({"dataset.npz": "/x.npz", "dataset.downsample": "0"})
    with pytest.raises(FieldError, match=r"^Downsampling factor: must be in \[1, 16\]"):
        form.data_source(v)


# ---- data preview ------------------------------------------------------------------------------------------
def test_npz_preview_shows_square_images_and_class_counts(tmp_path):
    X, y = write_npz(tmp_path / "d.npz")
    source = DataSource("npz", (str(tmp_path / "d.npz"),))
    state = read(source)
    pv = state.preview
    assert (pv.n_samples, pv.n_features, pv.side, pv.n_classes) == (300, 16, 4, 3)
    assert list(pv.counts) == [120, 100, 80]
    assert pv.labels[:3] == [0, 1, 2] and all(img.shape == (4, 4) for img in pv.images)
    first = np.flatnonzero(y == 1)[0]
    lo, hi = X.min(), X.max()
    assert np.allclose(pv.images[1].ravel(), (X[first] - lo) / (hi - lo), atol=1e-6)  # the scaled sample itself
    assert pv.split == {"train": 225, "cal": 45, "test": 30}
    assert "300 samples, 16 features (4x4 images), 3 classes" in state.status()[1]
    v = form.default_values()
    v.update({"dataset.source": "npz", "dataset.npz": source.paths[0], "train.seed": "3"})
    r = form.build_request(v, state)
    assert r.network.layer_sizes == (16, 8, 8, 8, 3) and r.dataset.seed == 3 and r.dataset.source == "npz"
    assert r.dataset.X.shape == (300, 16) and state.preview.spec.seed == 0  # the preview is not changed


def test_idx_preview_is_downsampled(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (40, 8, 8))
    write_idx(tmp_path / "img.idx.gz", images)
    write_idx(tmp_path / "lab.idx", np.arange(40) % 4)
    source = DataSource("idx", (str(tmp_path / "img.idx.gz"), str(tmp_path / "lab.idx")), downsample=2)
    pv = read(source).preview
    assert pv.n_features == 16 and pv.side == 4 and pv.images[0].shape == (4, 4) and list(pv.counts) == [10] * 4
    scaled = images[0] / 255.0
    assert np.allclose(pv.images[0], scaled.reshape(4, 2, 4, 2).mean(axis=(1, 3)), atol=1e-6)
    bad = DataSource("idx", source.paths, downsample=3)
    state = DataState()
    ticket = state.want(bad)
    with pytest.raises(Exception, match="not divisible by 3") as e:
        jobs.run(form.preview_job(bad))
    assert state.finished(ticket, None, str(e.value))
    assert state.error_key == "dataset.downsample" and state.status()[0] == "error"


def test_features_that_are_no_square_are_shown_as_strips(tmp_path):
    write_npz(tmp_path / "d.npz", features=10)
    pv = read(DataSource("npz", (str(tmp_path / "d.npz"),))).preview
    assert pv.side is None and pv.images[0].shape == (1, 10) and "not a square image" in pv.text()


def test_digits_preview_one_sample_per_class():
    pv = read(DataSource("digits")).preview
    assert pv.labels == list(range(10)) and pv.images[0].shape == (8, 8) and pv.counts.sum() == 1797


def test_newest_read_wins_and_train_waits_for_it(tmp_path):
    write_npz(tmp_path / "a.npz")
    write_npz(tmp_path / "b.npz", features=25)
    a, b = (DataSource("npz", (str(tmp_path / n),)) for n in ("a.npz", "b.npz"))
    v = form.default_values()
    v.update({"dataset.source": "npz", "dataset.npz": b.paths[0]})
    state = DataState()
    ta, tb = state.want(a), state.want(b)
    assert ta and tb and not state.want(b)  # b asked twice: read once
    assert state.reading and state.status()[0] == "reading"
    with pytest.raises(FieldError, match="still being read") as e:
        form.build_request(v, state)
    assert e.value.key == "dataset.npz"
    assert not state.finished(ta, jobs.run(form.preview_job(a)))  # stale: dropped
    assert state.preview is None and state.reading
    assert state.finished(tb, jobs.run(form.preview_job(b))) and not state.reading
    assert form.build_request(v, state).network.n_inputs == 25
    assert not state.want(b)  # shown: nothing to read
    tc = state.want(a)  # back to a: a fresh read; the old read of a never counts
    assert tc and not state.finished(ta, None, "cancelled") and state.reading
    assert state.finished(tc, jobs.run(form.preview_job(a))) and state.preview.n_features == 16
    missing = DataSource("npz", (str(tmp_path / "none.npz"),))
    tm = state.want(missing)
    assert state.finished(tm, None, "data file: 'none.npz' does not exist")
    v["dataset.npz"] = missing.paths[0]
    with pytest.raises(FieldError, match="^Data file \\(.npz\\): cannot be used: data file"):
        form.build_request(v, state)
    assert state.want(missing)  # a failed read is tried again when asked again


def test_presenters_import_no_qt():
    """(pytest-qt loads PySide6 into this process, so ask a fresh interpreter.)"""
    code = (
        "import sys, app.presenters.new_project, app.presenters.training_flow; "
        "sys.exit(any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


# ---- training flow -----------------------------------------------------------------------------------------
def _info(state, job_id=1, result=None, progress=None, error=""):
    return JobInfo(job_id, "train", 0, state, progress=progress, result=result, error=error)


def test_outcomes_cancel_is_not_an_error():
    out = flow.outcome("cancelled", jobs.Progress(2, 150, "epoch 2/150"), "cancelled")
    assert not out.is_error and out.text == "Training cancelled after 2 of 150 epochs; the open project is unchanged."
    assert "before it started" in flow.outcome("cancelled", None, "cancelled before it started").text
    failed = flow.outcome("failed", None, "DataError: broken")
    assert failed.is_error and failed.text == "Training failed: DataError: broken"
    assert flow.outcome("done", None).text == "" and not flow.outcome("done", None).is_error


def test_flow_parks_a_declined_project_until_it_is_opened():
    f = flow.TrainingFlow()
    request = form.build_request(form.default_values(), DataState())
    f.submitted(1, request)
    assert f.active([_info("running")]) and not f.active([_info("running", job_id=2)])
    trained = Project()
    f.finished(_info("done", result=trained))
    assert f.parked is trained
    assert f.offer(lambda p: False, lambda: True) == (
        False,
        "Training finished, but the open project has unsaved changes and was kept. Save it, then press "
        "'Open trained project'.",
    )
    opened = []
    ok, text = f.offer(lambda p: opened.append(p) or True, lambda: False)
    assert ok and opened == [trained] and f.parked is None and "new project is open" in text
    f.cancel_requested(1)
    f.finished(_info("cancelled"))
    assert 1 not in f.cancelling and f.parked is None


def test_retrain_keeps_the_open_projects_set_up():
    p = Project(
        dataset=DatasetSpec(seed=0),
        device=DeviceParams(r_on_ohm=20e3, r_off_ohm=2e6, levels=16),
        circuit=CircuitParams(v_rail_volt=3.0),
        scheme=SCHEMES[1],
        training=TrainConfig(learning_rate=0.05),
    )
    before = copy.deepcopy(p)
    r = flow.retrain_request({"preset": "custom", "hidden": "4,4,4", "epochs": "3", "seed": "2"}, p)
    assert r.device == p.device and r.device is not p.device and r.circuit == p.circuit and r.scheme == SCHEMES[1]
    assert (r.training.epochs, r.training.seed, r.training.learning_rate, r.dataset.seed) == (3, 2, 0.05, 2)
    assert r.network.hidden == (4, 4, 4) and p.dataset.seed == before.dataset.seed == 0
    with pytest.raises(Exception, match=r"epochs: must be in \[1, 100000\]"):
        flow.retrain_request({"preset": "paper", "hidden": "", "epochs": "0", "seed": "0"}, p)
    assert "differential-rows" in flow.job_name(r) and "LRS 20 kohm, HRS 2 Mohm, 16 levels" in flow.running_summary(r)


def test_job_factory_trains_the_request():
    v = form.default_values()
    v.update(
        {"scheme": "differential-rows", "train.epochs": "2", "network.preset": "custom", "network.hidden": "3,3,3"}
    )
    r = form.build_request(v, DataState())
    p = jobs.run(flow.job_factory(r)())
    assert p.scheme == "differential-rows" and len(p.weights.history["loss"]) == 2
    sizes = p.network.layer_sizes
    assert p.mapped.shapes == [physical_shape("differential-rows", a, b) for a, b in zip(sizes[:-1], sizes[1:])]


def test_tile_field_reaches_the_request_and_names_itself():
    v = form.default_values()
    assert form.build_request(v, DataState()).tile is None  # default: one array per layer
    v[form.TILE_KEY], v[form.UNUSED_KEY] = "32x16", "unformed"
    r = form.build_request(v, DataState())
    assert (r.tile, r.unused_state) == ((32, 16), "unformed")
    # the paper network's 65x16 first array on 32x16 tiles: 3 tile rows, 1 tile column
    assert "65x16 on 3x1 tiles" in form.mapping_text(v, DataState())
    for bad in ("1x64", "64xx", "9000"):
        v[form.TILE_KEY] = bad
        request, errors = form.form_errors(v, DataState())
        assert request is None and errors[0].key == form.TILE_KEY
        assert "Tile size" in str(errors[0]) and ("2 to 4096" in str(errors[0]) or "[2, 4096]" in str(errors[0]))
    assert form.tile_text((64, 64)) == "64" and form.check_tile_text(form.tile_text((64, 32))) == (64, 32)


def test_tiled_job_factory_trains_a_tiled_project():
    from app.presenters.training_flow import job_factory
    from core import jobs

    v = form.default_values()
    v.update({"train.epochs": "2", form.TILE_KEY: "32"})
    p = jobs.run(job_factory(form.build_request(v, DataState()))())
    assert [a.tile for a in p.mapped.arrays] == [(32, 32)] * 4 and p.mapped.arrays[0].shape == (96, 32)


def test_levels_of_one_are_refused_as_the_user_leaves_the_field():
    with pytest.raises(FieldError, match="must be 0 \\(continuous\\) or >= 2, got 1"):
        form.check_text("device.levels", "1")
    assert form.check_text("device.levels", "8") == 8 and form.check_text("device.levels", "0") == 0
