"""File > Open of a file that is no project says "Cannot open <path>: <reason>", in the message and status bar."""

from __future__ import annotations

import h5py
import numpy as np

from app.presenters.document import DEFAULT_PROJECT


def test_open_errors_name_the_file_not_an_hdf5_path(window, tmp_path):
    before = window.state.project
    notes = tmp_path / "notes.h5"
    notes.write_text("not a project")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:  # an HDF5 file, but no workbench project
        f["x"] = np.arange(3)
    for path, reason in [(notes, "not an HDF5 file"), (tmp_path / "gone.h5", "no such file"), (other, "")]:
        assert window.open_path(str(path)) is False
        text = window.last_error
        assert text.startswith(f"Cannot open {path}: {reason}"), text  # the full path, whatever the reason
        assert not text.startswith("/") and "/:" not in text and "\n" not in text
        assert window.statusBar().currentMessage().startswith("Cannot open project: Cannot open ")
    assert window.state.project is before and window.state.path == DEFAULT_PROJECT
