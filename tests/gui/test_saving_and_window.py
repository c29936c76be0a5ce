"""Saving and sharing without loss, and the window around it: the draft in the file, saving and opening off the GUI
thread, questions before quitting or replacing a project with running jobs, drag and drop, recent files, About,
redo keys, remembered geometry and dock layout.

Settings never touch the user's: every window here gets a QSettings file in tmp_path, and QSettings' default
paths point into a temporary folder for this module.
"""

from __future__ import annotations

import copy
import os
import shutil
import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from app.presenters import window_flow as flow
from app.presenters.document import DEFAULT_PROJECT
from core import project_io
from core.model.defects import parse_spec
from core.model.results import RecoveryResult
from window_helpers import drag, long_sweep, new_window

pytestmark = pytest.mark.usefixtures("private_settings")  # QSettings in a temporary folder


# ---- the draft in the file ---------------------------------------------------------------------------------
def test_painted_draft_is_saved_and_reopens_cell_for_cell(window, qtbot, tmp_path):
    st, cb, ed = window.state, window.crossbar, window.editor
    ed.spec_edit.setText("rows:array=2,start=1,count=2,stuck=off")
    ed.spec_button.click()
    cb.set_array(3)
    ed.stuck.setCurrentIndex(1)  # stuck off
    ed.paint_buttons.button(1).click()  # Paint
    qtbot.waitExposed(window)
    qtbot.wait(50)
    drag(cb, qtbot, [(2, c) for c in range(0, 9)])
    ed.name_edit.setText("painted by hand")
    assert [d.pattern for d in st.draft] == ["rows", "mask"] and st.draft[1].mask.sum() >= 9
    painted = st.draft[1].mask.copy()
    path = str(tmp_path / "painted.h5")
    assert window.save_to(path) and not st.dirty and not window.windowTitle().endswith("*")

    other = new_window(qtbot, project_path=None)
    assert other.open_path(path)
    s2 = other.state
    assert not s2.dirty and not other.windowTitle().endswith("*") and other.windowTitle().endswith("painted.h5")
    assert [d.to_spec() for d in s2.draft] == [d.to_spec() for d in st.draft]
    assert np.array_equal(s2.draft[1].mask, painted) and s2.draft[1].stuck == "off" and s2.draft[1].array == 3
    assert other.editor.name_edit.text() == "painted by hand" and other.editor.draft_list.count() == 2
    assert other.crossbar.array == 3 and other.editor.array.value() == 3  # the array that was on screen
    assert np.array_equal(other.crossbar.overlay_cells(), painted)

    # Ctrl+S (the Save action) writes to the file it came from, the draft included
    s2.set_draft(s2.draft[:1], "remove defect")
    assert s2.dirty
    other.save_action.trigger()
    assert not s2.dirty and [d.pattern for d in project_io.load(path).draft.defects] == ["rows"]


def test_a_failed_save_loses_nothing_and_says_why(window, tmp_path):
    st = window.state
    window.editor.spec_edit.setText("circle:array=1,r=0.3,stuck=on")
    window.editor.spec_button.click()
    locked = tmp_path / "locked.h5"
    shutil.copy(DEFAULT_PROJECT, locked)
    before = locked.read_bytes()
    os.chmod(locked, 0o444)
    try:
        assert not window.save_to(str(locked))
    finally:
        os.chmod(locked, 0o644)
    assert "read-only" in window.last_error and "Cannot save project" in window.statusBar().currentMessage()
    assert locked.read_bytes() == before  # the old file is untouched
    assert not window.save_to(str(tmp_path / "no-such-folder" / "p.h5"))
    assert "cannot save project" in window.last_error
    assert not window.save_to(str(tmp_path))  # a folder, not a file
    assert st.dirty and window.windowTitle().endswith("*") and st.path == DEFAULT_PROJECT
    assert [d.pattern for d in st.draft] == ["circle"]
    assert window.save_action.isEnabled() and window.save_to(str(tmp_path / "fine.h5")) and not st.dirty
    assert [d.pattern for d in project_io.load(str(tmp_path / "fine.h5")).draft.defects] == ["circle"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_save_as_into_a_read_only_folder_fails_cleanly(window, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o555)
    try:
        assert not window.save_to(str(folder / "p.h5"))
    finally:
        os.chmod(folder, 0o755)
    assert "cannot save project" in window.last_error and window.state.path == DEFAULT_PROJECT


# ---- off the GUI thread ------------------------------------------------------------------------------------
class Ticks:
    """A 10 ms timer on the GUI thread: how often it ran, the longest gap, and what it saw while it ran."""

    def __init__(self, window, probe=None):
        self.times, self.seen = [], []
        self.window, self.probe = window, probe
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self):
        self.times.append(time.perf_counter())
        self.seen.append(
            (
                self.window.files.bar.isVisible(),
                self.window.save_action.isEnabled(),
                self.window.open_action.isEnabled(),
            )
        )
        if self.probe is not None:
            self.probe(len(self.times))

    @property
    def max_gap_ms(self) -> float:
        return 1000 * float(np.max(np.diff(self.times))) if len(self.times) > 1 else float("inf")


def _heavy_copy(example):
    """The example plus 6 M random floats (a recovery's arrays): a file that takes about a second to save."""
    p = copy.deepcopy(example)
    rng = np.random.default_rng(0)
    p.recoveries.append(
        RecoveryResult("rec-big", "retrain", [], "behavioral", 0.5, 0.6, {"big": rng.random(6_000_000)}, {})
    )
    return p


def test_saving_and_opening_run_off_the_gui_thread(window, qtbot, tmp_path, example):
    window.state.set_project(_heavy_copy(example), None)
    path = str(tmp_path / "heavy.h5")

    def edit_during_save(n):
        if n == 5:  # an edit while the file is written: it is not in the file and stays unsaved
            window.state.add_defect(parse_spec("rows:array=2,start=0,count=1,stuck=on"))

    ticks = Ticks(window, edit_during_save)
    ticks.timer.start()
    assert window.save_to(path)
    ticks.timer.stop()
    took = window.files.last_seconds
    print(f"save {took:.2f} s, {len(ticks.times)} ticks, longest gap {ticks.max_gap_ms:.0f} ms")
    assert took > 0.3 and len(ticks.times) >= 0.3 * took / 0.010  # the event loop kept running
    assert any(busy for busy, _, _ in ticks.seen)  # the busy indicator showed
    assert not any(save_on or open_on for _, save_on, open_on in ticks.seen)  # no second save or open meanwhile
    assert window.save_action.isEnabled() and not window.files.bar.isVisible()
    assert window.state.dirty and window.state.unsaved_summary() == "1 edit"
    assert project_io.load(path).draft.defects == []

    window.state.stack.undo()  # back to what the file holds
    assert not window.state.dirty
    ticks = Ticks(window)
    ticks.timer.start()
    assert window.open_path(path)
    ticks.timer.stop()
    print(f"open {window.files.last_seconds:.2f} s, {len(ticks.times)} ticks, longest gap {ticks.max_gap_ms:.0f} ms")
    assert window.state.project.recoveries[-1].arrays["big"].shape == (6_000_000,)
    assert len(ticks.times) >= 0.3 * window.files.last_seconds / 0.010


# ---- questions before jobs are lost ------------------------------------------------------------------------
def test_quitting_with_a_running_job_asks_and_no_keeps_it(window, qtbot):
    job = long_sweep(window)
    qtbot.waitUntil(lambda: window.jobs.queue.get(job).state == "running", timeout=10_000)
    answers = []
    window.answer = lambda q: answers.append(q) or flow.KEEP_JOBS
    assert not window.close()
    q = answers[-1]
    assert q.title == "Jobs still running" and "Quitting cancels them" in q.text
    assert f"{window.jobs.queue.get(job).name} (running)" in q.text
    assert [c.label for c in q.choices] == ["Cancel jobs and quit", "Don't quit"]
    qtbot.wait(300)
    assert window.isVisible() and window.jobs.queue.get(job).state == "running"
    assert "did not quit" in window.statusBar().currentMessage()

    # opening another file, closing the project and training ask the same about the open project's jobs
    assert not window.open_path(DEFAULT_PROJECT) and answers[-1].title == "Jobs still running"
    assert "open another project" in answers[-1].text
    assert not window.close_project() and "close the project" in answers[-1].text
    assert window.new_project() is None and "train a new project" in answers[-1].text
    assert window.jobs.queue.get(job).state == "running" and not window.training.training_active()

    window.answer = lambda q: (
        answers.append(q) or (flow.CANCEL_JOBS if q.title == "Jobs still running" else q.unattended)
    )
    assert window.close()
    assert window.jobs.queue.get(job).state == "cancelled"


def test_file_close_gives_an_empty_project_after_the_unsaved_question(window):
    window.editor.spec_edit.setText("circle:array=1,r=0.3,stuck=on")
    window.editor.spec_button.click()
    answers = []
    window.answer = lambda q: answers.append(q) or flow.CANCEL
    window.close_action.trigger()
    assert answers[-1].title == "Unsaved changes" and "(1 edit)" in answers[-1].text
    assert window.state.path == DEFAULT_PROJECT and window.state.draft
    window.answer = lambda q: flow.DISCARD
    assert window.close_project()
    assert window.state.project.mapped is None and window.state.path is None and not window.state.dirty
    assert window.windowTitle() == "ReRAM Fault Workbench — untitled"
