"""Issue 14 in the window: a refused file keeps the open project, a file changed on disk is merged (or the save
is cancelled), a file that loaded with warnings is not saved over without asking. Real files, real processes."""

from __future__ import annotations

import os
import subprocess
import sys

import h5py
import pytest

pytest.importorskip("PySide6")

from app.presenters import file_guard
from app.presenters.document import DEFAULT_PROJECT
from core import jobs, project_io
from core.evaluate import evaluate_job
from core.session.store import store_result
from project_builders import ROOT


@pytest.fixture
def own_file(tmp_path, example):
    path = str(tmp_path / "p.h5")
    project_io.save(example, path)  # with digests (the bundled file predates them)
    return path


def test_a_refused_file_keeps_the_open_project(window, own_file):
    def damage(f):
        first = next(iter(f["results"]))
        for i in range(2000):
            f["results"][f"zz-{i:05d}"] = f["results"][first]

    with h5py.File(own_file, "r+") as f:
        damage(f)
    before = window.state.project
    assert window.open_path(own_file) is False
    assert window.state.project is before and window.state.path == DEFAULT_PROJECT
    assert "hard links" in window.last_error and "\n" not in window.last_error


def test_a_result_stored_on_disk_meanwhile_is_merged_not_lost(window, own_file):
    assert window.open_path(own_file)
    n = len(window.state.project.results)
    # a real CLI process stores a result into the open file
    r = subprocess.run(
        [sys.executable, "-m", "core.cli.main", "evaluate", own_file, "--fidelity", "ideal", "--json", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    store_result(window.state.project, jobs.run(evaluate_job(window.state.project, (), "ideal", scenario="gui")))
    window.state.results_added()
    before = open(own_file, "rb").read()
    window.answer = lambda q: file_guard.CANCEL  # first: cancel, nothing is written
    assert window.save() is False
    assert window.last_question.title == "Project changed on disk" and "1 new result" in window.last_question.text
    assert open(own_file, "rb").read() == before
    window.answer = lambda q: file_guard.MERGE
    assert window.save() is True
    on_disk = project_io.load(own_file)
    assert len(on_disk.results) == n + 2 == len(window.state.project.results)
    assert {r.id for r in on_disk.results} == {r.id for r in window.state.project.results}
    assert not window.state.dirty
    window.answer = None
    assert window.save() is True  # the file is now the one this window wrote: no question


def test_a_file_that_loaded_with_warnings_is_not_saved_over_unattended(window, own_file):
    with h5py.File(own_file, "r+") as f:
        f["device"].attrs.modify("v_read_volt", f["device"].attrs["v_read_volt"] * 1.01)
    assert window.open_path(own_file)
    assert "/device" in window.last_warning
    before = open(own_file, "rb").read()
    assert window.save() is False  # unattended: the answer is cancel
    assert window.last_question.title == "Project loaded with warnings"
    assert open(own_file, "rb").read() == before
    window.answer = lambda q: file_guard.OVERWRITE
    assert window.save() is True
    assert project_io.read(own_file).warnings == []
