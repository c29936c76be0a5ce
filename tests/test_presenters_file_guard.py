"""Open errors name the file first, never a bare HDF5 path ("/: ..."), without a QApplication."""

from __future__ import annotations

import pytest

from app.presenters.file_guard import open_error_text, task_file
from core import project_io
from core.errors import DataError, ProjectFormatError


def failure(path) -> ProjectFormatError:
    with pytest.raises(ProjectFormatError) as info:
        project_io.open_project(str(path), probe=False)
    return info.value


def test_a_missing_file_reads_cannot_open_path_no_such_file(tmp_path):
    path = tmp_path / "gone.h5"
    e = failure(path)
    assert str(e).startswith("/:")  # what the reader says: the HDF5 path of the problem first
    assert open_error_text(e) == f"Cannot open {path}: no such file"
    assert open_error_text(e, str(path)) == f"Cannot open {path}: no such file"


def test_a_text_file_reads_cannot_open_path_not_an_hdf5_file(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("just some notes")
    text = open_error_text(failure(path), str(path))
    assert text.startswith(f"Cannot open {path}: not an HDF5 file") and "/:" not in text
    assert text.count(str(path)) == 1  # the path once, not again inside the reason


def test_an_error_inside_the_file_names_the_file_first_and_the_hdf5_path_last():
    e = ProjectFormatError("/network/weights_0", "shape (3,) is not (64, 16)")
    assert (
        open_error_text(e, "/p/x.h5")
        == "Cannot open /p/x.h5: shape (3,) is not (64, 16) (at /network/weights_0 in the file)"
    )
    assert open_error_text(e).startswith("Cannot open the project file: shape")


def test_a_quoted_path_with_quotes_and_other_errors():
    e = ProjectFormatError("/", 'cannot open "/p/it\'s.h5": no such file')
    assert open_error_text(e) == "Cannot open /p/it's.h5: no such file"
    e = ProjectFormatError("/", "'/p/x.h5' kept changing on disk while it was being opened; try again")
    assert open_error_text(e) == "Cannot open /p/x.h5: it kept changing on disk while it was being opened; try again"
    assert open_error_text(DataError("X has 3 rows, y 4"), "/p/x.h5") == "Cannot open /p/x.h5: X has 3 rows, y 4"
    assert open_error_text(OSError("disk gone"), "/p/x.h5") == "Cannot open /p/x.h5: OSError: disk gone"


def test_the_file_of_a_task_text():
    assert task_file("opening p.h5 …") == "p.h5" and task_file("saving my project.h5 …") == "my project.h5"
    assert task_file("opening") == "" and task_file("reading data …") == ""
