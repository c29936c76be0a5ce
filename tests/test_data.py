"""Datasets: the bundled digits split and user files."""

import gzip
import struct

import numpy as np
import pytest

from core.errors import DataError
from core.model import data


def test_digits_split_sizes_are_stratified_and_disjoint():
    ds = data.load(data.DatasetSpec(seed=0))
    assert ds.X_test.shape == (180, 64) and ds.X_cal.shape == (300, 64)
    assert len(ds.y_train) + len(ds.y_cal) + len(ds.y_test) == 1797
    assert ds.X_train.min() >= 0 and ds.X_train.max() <= 1
    assert ds.n_classes == 10
    # stratified: every class has 17 or 18 test images
    assert set(np.bincount(ds.y_test)) <= {17, 18, 19}
    rows = {r.tobytes() for r in ds.X_test}
    assert not any(r.tobytes() in rows for r in ds.X_cal[:50])
    again = data.load(data.DatasetSpec(seed=0))
    assert np.array_equal(again.X_test, ds.X_test)
    other = data.load(data.DatasetSpec(seed=1))
    assert not np.array_equal(other.X_test, ds.X_test)


def test_npz_user_data_with_downsampling(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, size=(200, 28, 28)).astype(np.uint8)
    y = np.arange(200) % 10
    np.savez(tmp_path / "d.npz", X=X, y=y)
    spec = data.spec_from_npz(str(tmp_path / "d.npz"), downsample=2)
    ds = data.load(spec)
    assert ds.n_features == 196 and ds.n_classes == 10
    assert len(ds.y_test) == 20


def write_idx(path, arr, code):
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, code, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape) + arr.tobytes())


def test_idx_files(tmp_path):
    X = (np.arange(100 * 4 * 4) % 256).astype(np.uint8).reshape(100, 4, 4)
    y = (np.arange(100) % 3).astype(np.uint8)
    write_idx(tmp_path / "img.gz", X, 0x08)
    write_idx(tmp_path / "lab.gz", y, 0x08)
    assert np.array_equal(data.read_idx(str(tmp_path / "img.gz")), X)
    spec = data.spec_from_idx(str(tmp_path / "img.gz"), str(tmp_path / "lab.gz"), downsample=2)
    assert spec.X.shape == (100, 4)
    (tmp_path / "bad").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")
    with pytest.raises(DataError, match="payload size does not match"):
        data.read_idx(str(tmp_path / "bad"))


@pytest.mark.parametrize(
    "X,y,message",
    [
        (np.zeros((50, 4)), np.zeros(40), "sample counts differ"),
        (np.zeros((50, 4)), np.full(50, 0.5), "labels must be integers"),
        (np.full((50, 4), np.nan), np.arange(50) % 2, "NaN"),
        (np.zeros((50,)), np.arange(50) % 2, "must have shape"),
        (np.zeros((50, 4)), np.zeros(50), "at least 2 classes"),
        (np.zeros((5, 4)), np.arange(5) % 2, "at least 20 samples"),
    ],
)
def test_bad_user_data_gives_one_clear_error(X, y, message):
    with pytest.raises(DataError, match=message):
        data.validate_arrays(X, y)


def test_npz_missing_and_pickled(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        data.spec_from_npz(str(tmp_path / "nope.npz"))
    np.savez(tmp_path / "obj.npz", X=np.array([{"a": 1}] * 30, dtype=object), y=np.arange(30) % 2)
    with pytest.raises(DataError, match="not a readable .npz"):
        data.spec_from_npz(str(tmp_path / "obj.npz"))
    np.savez(tmp_path / "noy.npz", X=np.zeros((30, 2)))
    with pytest.raises(DataError, match="must contain arrays 'X' and 'y'"):
        data.spec_from_npz(str(tmp_path / "noy.npz"))
