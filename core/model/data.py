"""Datasets: scikit-learn's bundled 8x8 digits by default, or user files (.npz, MNIST IDX).

All images are flattened to feature vectors scaled to [0, 1]. Splits are stratified with a fixed seed into
train, calibration (held out of training, for recovery methods) and test sets.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from numpy.typing import DTypeLike

from core.errors import DataError, ParameterError, check_range
from core.model.params import RangeSpec

DIGITS_TEST_SIZE = 180
DIGITS_CAL_SIZE = 300
# train: the network (and fault-aware retraining); cal: the correction network; test: every reported accuracy
SPLITS = ("test", "cal", "train")
# values of one user array (60,000 MNIST images of 28x28 are 47 M): the float64 copies stay near 2 GB
MAX_DATA_ELEMENTS = 250_000_000
# the one declaration of the pooling factor's range (not a dataclass field: it is applied once, when user data is read)
DOWNSAMPLE = RangeSpec(
    name="downsample",
    default=1,
    lo=1,
    hi=16,
    integer=True,
    label="Downsampling factor",
    help="average-pool square images by this factor (e.g. 2: 28x28 -> 14x14); user data only",
)


@dataclass
class DatasetSpec:
    """Where a dataset comes from and how it is split; enough to rebuild it exactly.

    ``source`` is ``"digits"`` (bundled), ``"npz"`` or ``"idx"``; for user data the raw arrays are embedded
    in the project (``X``, ``y``) so a shared project does not depend on the sender's files.
    """

    source: str = "digits"
    seed: int = 0
    test_size: int = DIGITS_TEST_SIZE
    cal_size: int = DIGITS_CAL_SIZE
    downsample: int = 1
    name: str = "sklearn-digits-8x8"
    X: Optional[np.ndarray] = field(default=None, repr=False)
    y: Optional[np.ndarray] = field(default=None, repr=False)


@dataclass
class Dataset:
    """A split dataset; features in [0, 1], labels int64 in [0, n_classes)."""

    spec: DatasetSpec
    X_train: np.ndarray
    y_train: np.ndarray
    X_cal: np.ndarray
    y_cal: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) of the split ``name``: one of :data:`SPLITS`."""
        if name not in SPLITS:
            raise ParameterError("split", f"must be one of {', '.join(SPLITS)}; got {name!r}")
        return {
            "test": (self.X_test, self.y_test),
            "cal": (self.X_cal, self.y_cal),
            "train": (self.X_train, self.y_train),
        }[name]


def load_raw(spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    """Return the unsplit (X, y) a spec describes, validated and scaled to [0, 1]."""
    if spec.source == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        X = d.data.astype(np.float64) / 16.0
        y = d.target.astype(np.int64)
    elif spec.source in ("npz", "idx"):
        if spec.X is None or spec.y is None:
            raise DataError(f"dataset: source {spec.source!r} needs the embedded X and y arrays")
        X, y = validate_arrays(spec.X, spec.y)
    else:
        raise DataError(f"dataset.source: must be one of digits, npz, idx; got {spec.source!r}")
    return X, y


def load(spec: DatasetSpec) -> Dataset:
    """Build the stratified train/calibration/test split a spec describes."""
    from sklearn.model_selection import train_test_split

    X, y = load_raw(spec)
    n = len(y)
    test_size = check_range("dataset.test_size", spec.test_size, 1, n - 2, integer=True)
    cal_size = check_range("dataset.cal_size", spec.cal_size, 0, n - test_size - 1, integer=True)
    n_classes = int(y.max()) + 1
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_size, stratify=_stratify_or_none(y, test_size), random_state=spec.seed
    )
    if cal_size > 0:
        X_train, X_cal, y_train, y_cal = train_test_split(
            X_rest,
            y_rest,
            test_size=cal_size,
            stratify=_stratify_or_none(y_rest, cal_size),
            random_state=spec.seed + 1,
        )
    else:
        X_train, y_train = X_rest, y_rest
        X_cal, y_cal = X_rest[:0], y_rest[:0]
    return Dataset(spec, X_train, y_train, X_cal, y_cal, X_test, y_test, n_classes)


def _stratify_or_none(y: np.ndarray, size: int):
    counts = np.bincount(y)
    counts = counts[counts > 0]
    if counts.min() < 2 or size < len(counts):
        return None
    return y


def validate_arrays(X, y) -> tuple[np.ndarray, np.ndarray]:
    """Check user data and scale features to [0, 1].

    Raises
    ------
    DataError
        One message naming the problem (shape, labels, NaNs, too few samples).
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.size == 0 or y.size == 0:
        raise DataError(f"X and y: must not be empty, got shapes {X.shape} and {y.shape}")
    if X.ndim == 3:
        X = X.reshape(len(X), -1)
    if X.ndim != 2:
        raise DataError(f"X: must have shape (n_samples, n_features) or (n, height, width), got {X.shape}")
    if y.ndim != 1:
        raise DataError(f"y: must have shape (n_samples,), got {y.shape}")
    if len(X) != len(y):
        raise DataError(f"X and y: sample counts differ ({len(X)} vs {len(y)})")
    if len(y) < 20:
        raise DataError(f"X: need at least 20 samples, got {len(y)}")
    if not np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_:
        X = X.astype(np.float64) if X.dtype == np.bool_ else X
        if not np.issubdtype(X.dtype, np.number):
            raise DataError(f"X: must be numeric, got dtype {X.dtype}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise DataError("X: contains NaN or infinite values")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DataError("y: labels must be integers (found non-integer or NaN values)")
    elif not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"y: labels must be integers, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() > 999:
        raise DataError(f"y: labels must be in [0, 999], got range [{y.min()}, {y.max()}]")
    if len(np.unique(y)) < 2:
        raise DataError("y: need at least 2 classes")
    lo, hi = X.min(), X.max()
    X = (X - lo) / (hi - lo) if hi > lo else np.zeros_like(X)
    return X, y


def downsample_images(X: np.ndarray, factor: int, side: Optional[int] = None) -> np.ndarray:
    """Average-pool square images stored as rows of X by an integer factor (e.g. 28x28 -> 14x14 with 2)."""
    factor = int(DOWNSAMPLE.check(factor))
    if factor == 1:
        return X
    n, f = X.shape
    side = side or int(round(np.sqrt(f)))
    if side * side != f:
        raise DataError(f"downsample: features ({f}) are not a square image")
    if side % factor:
        raise DataError(f"downsample: image side {side} is not divisible by {factor}")
    s = side // factor
    return X.reshape(n, s, factor, s, factor).mean(axis=(2, 4)).reshape(n, s * s)


def spec_from_npz(
    path: str, seed: int = 0, downsample: int = 1, test_fraction: float = 0.1, cal_fraction: float = 0.15
) -> DatasetSpec:
    """Read an .npz with arrays ``X`` (n, features) and ``y`` (n,) into an embedded :class:`DatasetSpec`."""
    if not os.path.isfile(path):
        raise DataError(f"data file: {path!r} does not exist")
    check_npz_headers(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if "X" not in z or "y" not in z:
                raise DataError(f"{path}: must contain arrays 'X' and 'y', found {sorted(z.files)}")
            X, y = z["X"], z["y"]
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile/ValueError/OSError: not an npz, or object arrays (pickle refused)
        raise DataError(f"{path}: not a readable .npz of numeric arrays ({e})") from None
    return _embedded_spec("npz", os.path.basename(path), X, y, seed, downsample, test_fraction, cal_fraction)


def spec_from_idx(
    images_path: str,
    labels_path: str,
    seed: int = 0,
    downsample: int = 1,
    test_fraction: float = 0.1,
    cal_fraction: float = 0.15,
) -> DatasetSpec:
    """Read MNIST-style IDX image and label files (optionally gzipped) into an embedded spec."""
    X = read_idx(images_path)
    y = read_idx(labels_path)
    if X.ndim != 3:
        raise DataError(f"{images_path}: expected a 3-D IDX image array, got {X.ndim}-D")
    if y.ndim != 1:
        raise DataError(f"{labels_path}: expected a 1-D IDX label array, got {y.ndim}-D")
    return _embedded_spec(
        "idx", os.path.basename(images_path), X.reshape(len(X), -1), y, seed, downsample, test_fraction, cal_fraction
    )


def _embedded_spec(source, name, X, y, seed, downsample, test_fraction, cal_fraction) -> DatasetSpec:
    X, y = validate_arrays(X, y)
    X = downsample_images(X, downsample)
    test_fraction = check_range("test_fraction", test_fraction, 0.01, 0.5)
    cal_fraction = check_range("cal_fraction", cal_fraction, 0.0, 0.5)
    n = len(y)
    return DatasetSpec(
        source=source,
        seed=seed,
        test_size=max(1, int(round(n * test_fraction))),
        cal_size=int(round(n * cal_fraction)),
        downsample=downsample,
        name=name,
        X=X.astype(np.float32),
        y=y,
    )


_IDX_DTYPES: dict[int, DTypeLike] = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """Read an IDX file (the MNIST format); ``.gz`` files are decompressed.

    The header's shape is checked before any payload is read: its size (Python integers, so a product such as
    2**31 x 2**31 x 2**31 cannot wrap) must equal the bytes the file holds and stay within
    :data:`MAX_DATA_ELEMENTS`; a gzip file is decompressed only up to the size its header declares.
    """
    if not os.path.isfile(path):
        raise DataError(f"IDX file: {path!r} does not exist")
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
                raise DataError(f"{path}: not an IDX file (bad magic number)")
            ndim = head[3]
            dims = f.read(4 * ndim)
            if ndim < 1 or len(dims) < 4 * ndim:
                raise DataError(f"{path}: truncated IDX header")
            shape = struct.unpack(">" + "I" * ndim, dims)
            dtype = np.dtype(_IDX_DTYPES[head[2]])
            count = math.prod(shape)  # a Python int: never overflows
            need = count * dtype.itemsize
            if count > MAX_DATA_ELEMENTS:
                raise DataError(
                    f"{path}: IDX header declares shape {shape} ({count:,} values), more than the "
                    f"{MAX_DATA_ELEMENTS:,} this workbench loads"
                )
            if opener is open and os.path.getsize(path) - 4 - 4 * ndim != need:
                got = os.path.getsize(path) - 4 - 4 * ndim
                raise DataError(
                    f"{path}: IDX payload size does not match its header shape {shape} "
                    f"({got:,} bytes, {need:,} declared)"
                )
            payload = f.read(need + 1)  # one byte more tells a longer payload
    except DataError:
        raise
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    if len(payload) != need:
        raise DataError(f"{path}: IDX payload size does not match its header shape {shape}")
    if count == 0:
        raise DataError(f"{path}: IDX header declares an empty shape {shape}")
    return (
        np.frombuffer(payload, dtype=dtype)
        .reshape(shape)
        .astype(dtype.newbyteorder("=") if dtype.byteorder == ">" else dtype)
    )


def check_npz_headers(path: str, names: tuple[str, ...] = ("X", "y")) -> None:
    """Check the declared shapes of arrays in an .npz against what the archive holds, before loading them.

    Raises
    ------
    DataError
        A shape whose size (Python integers) exceeds the member's bytes or :data:`MAX_DATA_ELEMENTS`, an empty
        shape, object arrays, or a member that is not a .npy array.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            members = {os.path.splitext(i.filename)[0]: i for i in zf.infolist()}
            for name in names:
                info = members.get(name)
                if info is None:
                    continue  # the caller names missing arrays
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    if version not in ((1, 0), (2, 0)):
                        raise DataError(f"{path}: array {name!r} is in .npy format {version}, not 1.0 or 2.0")
                    read_header = np.lib.format.read_array_header_1_0
                    if version == (2, 0):
                        read_header = np.lib.format.read_array_header_2_0
                    shape, _fortran, dtype = read_header(fh, max_header_size=10_000)
                    header_bytes = fh.tell()
                if dtype.hasobject:
                    raise DataError(f"{path}: not a readable .npz of numeric arrays ({name!r} needs pickle)")
                count = math.prod(shape)
                if count > MAX_DATA_ELEMENTS:
                    raise DataError(
                        f"{path}: array {name!r} declares shape {tuple(shape)} ({count:,} values), more than the "
                        f"{MAX_DATA_ELEMENTS:,} this workbench loads"
                    )
                if count * dtype.itemsize > info.file_size - header_bytes:
                    raise DataError(
                        f"{path}: array {name!r} declares shape {tuple(shape)} ({count * dtype.itemsize:,} bytes) but "
                        f"holds {max(info.file_size - header_bytes, 0):,} bytes"
                    )
                if count == 0:
                    raise DataError(f"{path}: array {name!r} is empty (shape {tuple(shape)})")
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile/ValueError/OSError: not an npz of .npy arrays
        raise DataError(f"{path}: not a readable .npz of numeric arrays ({' '.join(str(e).split())[:200]})") from None
