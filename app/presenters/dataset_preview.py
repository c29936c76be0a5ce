"""The data set of the New-project form, free of Qt: what to read, reading it as a job, and its preview.

:func:`preview_job` reads user files (an ``.npz``, MNIST IDX files) with the core's readers; the dialog runs it
off the GUI thread. :class:`DataState` remembers which read is wanted and drops the results of stale ones, so
the newest choice of file always wins. The preview holds a few samples (images when the features form a
square) and the number of samples per class.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.errors import ParameterError
from core.jobs import Progress
from core.model import data
from core.model.data import DOWNSAMPLE, DatasetSpec
from core.model.network import NetworkConfig

SOURCES = {
    "digits": "Bundled 8x8 digits (scikit-learn)",
    "npz": ".npz file with X (n, features) and y (n,)",
    "idx": "MNIST IDX image and label files (.gz allowed)",
}
# the file fields: (key, label)
PATH_FIELDS = {
    "dataset.npz": "Data file (.npz)",
    "dataset.idx_images": "IDX images file",
    "dataset.idx_labels": "IDX labels file",
}
PREVIEW_SAMPLES = 10


class FieldError(ParameterError):
    """A form field is invalid; ``key`` names the form field, the message its label and what is allowed."""

    def __init__(self, key: str, label: str, message: str):
        super().__init__(label, message)
        self.key = key


class MissingPath(FieldError):
    """A file field is still empty (a hint while the user is choosing; an error only when Train is pressed)."""


def message_of(e: ParameterError) -> str:
    """The message of a ParameterError without its ``field: `` prefix."""
    text = str(e)
    return text[len(e.field) + 2 :] if text.startswith(f"{e.field}: ") else text


def _label(key: str) -> str:
    return DOWNSAMPLE.label if key == "dataset.downsample" else PATH_FIELDS.get(key, "Data source")


@dataclass(frozen=True)
class DataSource:
    """What to read: ``kind`` (digits, npz, idx), its file paths and the downsampling factor."""

    kind: str
    paths: tuple[str, ...] = ()
    downsample: int = 1

    @property
    def file_key(self) -> str:
        """The form field that errors of this source are shown at."""
        return {"npz": "dataset.npz", "idx": "dataset.idx_images"}.get(self.kind, "dataset.source")

    def describe(self) -> str:
        if self.kind == "digits":
            return "the bundled digits"
        names = " + ".join(os.path.basename(p) for p in self.paths)
        return names + (f" (downsampled by {self.downsample})" if self.downsample > 1 else "")


def data_source(values: dict) -> DataSource:
    """The :class:`DataSource` the dataset fields describe; raises FieldError (empty path, bad factor)."""
    kind = values.get("dataset.source", "digits")
    if kind not in SOURCES:
        raise FieldError("dataset.source", "Data source", f"must be one of {', '.join(SOURCES)}; got {kind!r}")
    if kind == "digits":
        return DataSource("digits")
    keys = ("dataset.npz",) if kind == "npz" else ("dataset.idx_images", "dataset.idx_labels")
    paths = []
    for k in keys:
        p = str(values.get(k, "")).strip()
        if not p:
            what = "an .npz file with arrays X and y" if kind == "npz" else "an IDX file"
            raise MissingPath(k, PATH_FIELDS[k], f"is empty; choose {what}")
        paths.append(p)
    try:
        factor = int(DOWNSAMPLE.check(str(values.get("dataset.downsample", "")).strip(), DOWNSAMPLE.label))
    except ParameterError as e:
        raise FieldError("dataset.downsample", DOWNSAMPLE.label, message_of(e)) from None
    return DataSource(kind, tuple(paths), factor)


@dataclass
class DatasetPreview:
    """What the dialog shows of a data set: a few samples, the class balance and the split sizes."""

    source: DataSource
    spec: DatasetSpec
    n_samples: int
    n_features: int
    side: Optional[int]  # image side when the features form a square image
    images: list  # (side, side) arrays, or (1, n_features) strips, values in [0, 1]
    labels: list[int]
    counts: np.ndarray  # samples per class label 0..max
    split: dict  # {"train": n, "cal": n, "test": n}

    @property
    def n_classes(self) -> int:
        return len(self.counts)

    def text(self) -> str:
        shape = f"{self.side}x{self.side} images" if self.side else "not a square image"
        present = self.counts[self.counts > 0]
        lines = [
            f"{self.spec.name}: {self.n_samples} samples, {self.n_features} features ({shape}), "
            f"{self.n_classes} classes",
            f"split: {self.split['train']} train, {self.split['cal']} calibration, {self.split['test']} test",
            f"class sizes {int(present.min())} to {int(present.max())}"
            + ("" if len(present) == self.n_classes else f"; {self.n_classes - len(present)} labels have no sample"),
        ]
        return "\n".join(lines)


def read_spec(source: DataSource) -> DatasetSpec:
    """The core's DatasetSpec of ``source`` (reads user files: may take seconds for MNIST)."""
    if source.kind == "npz":
        return data.spec_from_npz(source.paths[0], downsample=source.downsample)
    if source.kind == "idx":
        return data.spec_from_idx(source.paths[0], source.paths[1], downsample=source.downsample)
    return DatasetSpec()


def make_preview(source: DataSource, spec: DatasetSpec, n: int = PREVIEW_SAMPLES) -> DatasetPreview:
    """Up to ``n`` samples (one class after another, so every class shows) and the counts per class."""
    X, y = (spec.X, spec.y) if spec.X is not None and spec.y is not None else data.load_raw(spec)
    n_samples, n_features = X.shape
    side = math.isqrt(n_features)
    side_or_none = side if side * side == n_features else None
    counts = np.bincount(y)
    by_class = [list(np.flatnonzero(y == c)[:n]) for c in range(len(counts)) if counts[c]]
    picked: list[int] = []
    for k in range(n):  # round robin over the classes
        for idx in by_class:
            if len(picked) < n and k < len(idx):
                picked.append(int(idx[k]))
    shape = (side, side) if side_or_none else (1, n_features)
    images = [np.asarray(X[i], dtype=float).reshape(shape) for i in picked]
    test, cal = int(spec.test_size), int(spec.cal_size)
    return DatasetPreview(
        source,
        spec,
        int(n_samples),
        int(n_features),
        side_or_none,
        images,
        [int(y[i]) for i in picked],
        counts,
        {"train": int(n_samples) - test - cal, "cal": cal, "test": test},
    )


def preview_job(source: DataSource, n: int = PREVIEW_SAMPLES):
    """Job: read ``source`` and return its :class:`DatasetPreview` (run it off the GUI thread)."""
    yield Progress(0, 2, f"reading {source.describe()} …")
    spec = read_spec(source)
    yield Progress(1, 2, "preparing the preview")
    return make_preview(source, spec, n)


class DataState:
    """Which data set the form shows. The newest requested read wins; results of stale reads are dropped."""

    def __init__(self) -> None:
        self.wanted: Optional[DataSource] = None
        self.preview: Optional[DatasetPreview] = None
        self.error = ""
        self._ticket = 0
        self._pending: Optional[int] = None  # the ticket of the read whose result counts

    @property
    def reading(self) -> bool:
        return self._pending is not None

    def want(self, source: DataSource) -> int:
        """Ask for ``source``: the ticket of a read to start now, or 0 if it is shown or being read already.

        A failed source is read again when asked again (the file may have been fixed).
        """
        if source == self.wanted and not self.error:
            return 0
        self.wanted, self.error = source, ""
        if self.preview is not None and self.preview.source == source:
            self._pending = None
            return 0
        self._ticket += 1
        self._pending = self._ticket
        return self._ticket

    def finished(self, ticket: int, preview: Optional[DatasetPreview] = None, error: str = "") -> bool:
        """The read of ``ticket`` ended; False (and ignored) if a newer read was asked for since."""
        if ticket != self._pending:
            return False
        self._pending = None
        self.preview, self.error = preview, error
        return True

    @property
    def error_key(self) -> str:
        """The form field a failed read is shown at (the factor if pooling failed, else the file)."""
        if self.wanted is None:
            return "dataset.source"
        return "dataset.downsample" if self.error.startswith("downsample") else self.wanted.file_key

    def status(self) -> tuple[str, str]:
        """(kind, text) for the dataset status line: kind is ``info``, ``reading`` or ``error``."""
        if self.wanted is None:
            return "info", ""
        if self.error:
            return "error", self.error
        if self.reading:
            return "reading", f"reading {self.wanted.describe()} … (the window stays usable)"
        return "info", self.preview.text() if self.preview is not None else ""

    def dataset(self, source: DataSource, seed: int) -> tuple[DatasetSpec, int, int]:
        """(spec with ``seed``, features, classes) of ``source``; raises FieldError while it is unread."""
        pv = self.preview if self.preview is not None and self.preview.source == source else None
        if source.kind == "digits":
            net = NetworkConfig()
            n_in, n_out = (pv.n_features, pv.n_classes) if pv else (net.n_inputs, net.n_outputs)
            return DatasetSpec(seed=seed), n_in, n_out
        label = _label(source.file_key)
        if pv is None:
            if source == self.wanted and self.error:
                raise FieldError(self.error_key, _label(self.error_key), f"cannot be used: {self.error}")
            if source == self.wanted:
                raise FieldError(source.file_key, label, "is still being read; press Train when its preview shows")
            raise FieldError(source.file_key, label, "has not been read yet; press Enter in the field or Browse")
        return dataclasses.replace(pv.spec, seed=seed), pv.n_features, max(pv.n_classes, 2)
