"""Jobs through the window's queue: evaluations, sweeps, cancel, training, circuit fields, queue rows."""

from __future__ import annotations

import copy
import shutil
import threading
import time

import numpy as np
import pytest

from app.jobs_qt import QtJobQueue
from app.panels.crossbar import PAINT
from app.panels.queue import QueuePanel
from app.presenters.document import DEFAULT_PROJECT, WorkbenchState
from core import jobs, project_io
from core.circuit.fidelity import with_overrides
from core.evaluate import evaluate_job
from core.jobs import Progress
from core.model.project import Project
from gui_helpers import wait_job


# ---- jobs through the queue ----------------------------------------------------------------------------------
def test_evaluation_through_queue_matches_core(window, qtbot, example):
    ed, st = window.editor, window.state
    ed.spec_edit.setText("ring:array=4,r_in=0.2,r_out=0.35,stuck=on")
    ed.spec_button.click()
    defects = list(st.draft)
    n = len(st.project.results)
    info = wait_job(qtbot, window.jobs, lambda: window.queue_panel.controls.evaluate("behavioral"))
    assert info.state == "done"
    said = window.queue_panel.controls.message.text()  # the "queued: ..." line says the job ended
    assert said.startswith("done: evaluate ") and "queued" not in said, said
    direct = jobs.run(evaluate_job(copy.deepcopy(example), defects, "behavioral"))
    assert len(st.project.results) == n + 1 and st.project.results[-1] is info.result
    assert info.result.accuracy == direct.accuracy
    assert window.results.sim_accuracies()[-1] == pytest.approx(direct.accuracy)
    assert window.queue_panel.row_state(info.id) == "done"
    assert st.dirty and window.windowTitle().endswith("*")


def test_sweep_results_plot_mean_and_ci(window, qtbot):
    c = window.queue_panel.controls
    c.sweep_fields["patterns"].setText("circle,rows")
    c.sweep_fields["sizes"].setText("0.1,0.3")
    c.sweep_fields["seeds"].setText("4")
    info = wait_job(qtbot, window.jobs, c.sweep)
    assert info.state == "done"
    sweep = window.state.project.sweeps[-1]
    assert window.results.current_sweep() is sweep and len(sweep.rows) == 8
    curve = window.results.sweep_curves[("circle", "off", 1)]
    x, y = curve.getData()
    rows = [r for r in sweep.rows if r["pattern"] == "circle" and r["stuck"] == "off"]
    # by default every point sits at its true size
    assert np.allclose(x, [0.1, 0.3]) and set(window.results.sweep_offsets.values()) == {0.0}
    # "spread CIs" dodges the four curves sideways around the true sizes (within 15 % of the 0.2 gap)
    window.results.sweep_view.dodge.setChecked(True)
    curve = window.results.sweep_curves[("circle", "off", 1)]
    x, y = curve.getData()
    shifts = sorted(window.results.sweep_offsets.values())
    assert len(shifts) == 4 and np.allclose(np.diff(shifts), 0.02) and np.isclose(sum(shifts), 0)
    dx = window.results.sweep_offsets[("circle", "off", 1)]
    assert np.allclose(x - dx, [0.1, 0.3]) and np.allclose(y, [r["mean_accuracy"] for r in rows])
    err = window.results.sweep_errors[("circle", "off", 1)]
    assert np.allclose(err.opts["top"], [r["ci95_high"] - r["mean_accuracy"] for r in rows])


def test_cancel_running_job_shows_cancelled(window, qtbot):
    c, qp = window.queue_panel.controls, window.queue_panel
    c.sweep_fields["patterns"].setText("circle,ring,rows,columns,checkerboard,random")
    c.sweep_fields["sizes"].setText("0.05:0.5:10")
    c.sweep_fields["arrays"].setText("all")
    c.sweep_fields["seeds"].setText("2000")
    job = c.sweep()
    qtbot.waitUntil(
        lambda: qp.row_state(job) == "running" and bool(getattr(window.jobs.queue.get(job).partial, "rows", None)),
        timeout=10_000,
    )
    qp.select_job(job)
    assert qp.cancel_button.isEnabled()
    with qtbot.waitSignal(window.jobs.job_finished, timeout=20_000, check_params_cb=lambda i: i.id == job) as blocker:
        qp.cancel_button.click()
    assert blocker.args[0].state == "cancelled"
    assert qp.row_state(job) == "cancelled" and qp.retry_button.isEnabled()
    kept = window.state.project.sweeps[-1]
    assert kept.partial and kept.rows
    # the row and the status bar say how much of the sweep was kept
    assert f"kept {len(kept.rows)} of 480 points" in qp.row_message(job)
    assert f"kept the {len(kept.rows)} finished points" in window.statusBar().currentMessage()
    qp.remove_button.click()
    assert qp.row_state(job) == ""


def test_adapter_throttles_progress_and_reports_failures(qtbot):
    q = QtJobQueue(interval_s=0.25)
    updates = []
    q.job_updated.connect(updates.append)

    def chatty():
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < 1.0:
            k += 1
            yield Progress(k, 0, f"step {k}")
            time.sleep(0.001)
        return k

    def bad():
        yield Progress(0, 1)
        raise ValueError("broken")

    info = wait_job(qtbot, q, lambda: q.submit(chatty, "chatty"))
    assert info.state == "done" and info.result > 100
    progress_updates = [u for u in updates if u.id == info.id and u.state == "running"]
    assert 2 <= len(progress_updates) <= 8  # ~4 per second, not hundreds
    info = wait_job(qtbot, q, lambda: q.submit(bad, "bad"))
    assert info.state == "failed" and "ValueError: broken" in info.error
    q.shutdown()


def _tiny_training_form(tr):
    tr.preset.setCurrentText("custom")
    for k, v in (("hidden", "4,4,4"), ("epochs", "3"), ("seed", "1")):
        tr.fields[k].setText(v)
        tr.fields[k].editingFinished.emit()


def test_train_button_draws_live_curves_and_opens_new_project(window, qtbot):
    tr = window.training
    _tiny_training_form(tr)
    assert "Trained network" in tr.summary.text() and "0.917" in tr.summary.text()
    ids = []
    with qtbot.waitSignal(
        window.jobs.job_finished, timeout=60_000, check_params_cb=lambda info: bool(ids) and info.id == ids[0]
    ) as blocker:
        ids.append(window.new_project())
        # while it runs the old project's summary and curves are gone, and one training runs at a time
        assert tr.message.text().startswith("queued: training")
        assert tr.summary.text().startswith("Training a new network 64-4-4-4-10") and "0.917" not in tr.summary.text()
        assert len(tr.loss_curve.getData()[1] if tr.loss_curve.getData()[1] is not None else []) == 0
        assert not tr.train_button.isEnabled() and tr.train() is None
    info = blocker.args[0]
    assert info.state == "done" and tr.train_button.isEnabled()
    p = window.state.project
    assert p is info.result and p.network.hidden == (4, 4, 4) and p.mapped is not None
    assert window.state.path is None and window.state.dirty
    x, y = tr.loss_curve.getData()
    assert np.array_equal(x, [1, 2, 3]) and np.allclose(y, p.weights.history["loss"])
    assert np.allclose(tr.test_acc_curve.getData()[1], p.weights.history["test_accuracy"])
    assert window.crossbar.state.shape(1) == (65, 8)


def test_finished_training_never_replaces_unsaved_project(window, qtbot, tmp_path):
    """interactive=False: a project with unsaved edits is kept; the trained one waits behind a button."""
    tr, st = window.training, window.state
    _tiny_training_form(tr)
    old = st.project
    assert not st.dirty  # training-form edits are not document changes
    ids = []
    with qtbot.waitSignal(
        window.jobs.job_finished, timeout=60_000, check_params_cb=lambda info: bool(ids) and info.id == ids[0]
    ) as blocker:
        ids.append(tr.train())
        window.editor.spec_edit.setText("rows:array=2,start=1,count=2,stuck=off")
        window.editor.spec_button.click()  # an unsaved edit made while the training runs
        assert st.dirty
    trained = blocker.args[0].result
    assert st.project is old and st.dirty and len(st.draft) == 1
    assert tr.open_trained_button.isVisibleTo(tr) and "unsaved changes" in tr.message.text()
    assert "kept" in window.statusBar().currentMessage()
    assert not tr.open_trained()  # still unsaved: still refused
    assert window.save_to(str(tmp_path / "kept.h5")) and not st.dirty
    tr.open_trained_button.click()
    assert st.project is trained and st.path is None and st.dirty
    assert not tr.open_trained_button.isVisibleTo(tr)


def test_open_during_job_cancels_it_and_keeps_new_project_clean(window, qtbot, tmp_path):
    other = tmp_path / "other.h5"
    shutil.copy(DEFAULT_PROJECT, other)
    c, qp, st = window.queue_panel.controls, window.queue_panel, window.state
    window.editor.name_edit.setText("my-scenario")
    window.editor.message.error("something: went wrong")
    c.sweep_fields["sizes"].setText("0.05:0.5:10")
    c.sweep_fields["seeds"].setText("2000")
    job = c.sweep()
    qtbot.waitUntil(lambda: qp.row_state(job) == "running", timeout=10_000)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=20_000, check_params_cb=lambda i: i.id == job) as blocker:
        assert window.open_path(str(other))
        assert "cancelled 1 job of the previous project" in window.statusBar().currentMessage()
    assert blocker.args[0].state == "cancelled"
    new = st.project
    assert st.path == str(other) and not st.dirty and not window.windowTitle().endswith("*")
    assert [s.id for s in new.sweeps] == [s.id for s in project_io.load(str(other)).sweeps]
    assert "no longer open" in window.statusBar().currentMessage()
    qp.select_job(job)
    assert not qp.retry_button.isEnabled()  # a retry would compute into the closed project
    # the editor starts afresh on the opened project
    assert window.editor.name_edit.text() == "scenario-1" and window.editor.message.text() == ""


def test_circuit_fields_reach_evaluation_sweep_and_recovery(window, qtbot, example):
    c = window.queue_panel.controls
    assert c.r_wire.text() == "0" and c.device_model.currentText() == "linear"  # the project's circuit
    c.r_wire.setText("-1")
    assert c.evaluate("nodal") is None and c.message.is_error
    assert "wire resistance (ohm)" in c.message.text() and "[0, 10000]" in c.message.text()
    c.r_wire.setText("5")
    info = wait_job(qtbot, window.jobs, lambda: c.evaluate("nodal"))
    direct = jobs.run(evaluate_job(copy.deepcopy(example), [], "nodal", r_wire_ohm=5.0))
    assert info.result.params["r_wire_ohm"] == 5.0 and info.result.accuracy == direct.accuracy
    assert direct.accuracy != pytest.approx(example.results[0].accuracy)  # the wires do change the outcome
    c.r_wire.setText("0")
    c.device_model.setCurrentText("gap")
    c.sweep_fields["patterns"].setText("circle")
    c.sweep_fields["sizes"].setText("0.2")
    c.sweep_fields["stuck"].setText("on")
    c.sweep_fields["seeds"].setText("3")
    info = wait_job(qtbot, window.jobs, c.sweep)
    sweep = window.state.project.sweeps[-1]
    assert sweep is info.result and sweep.spec["device_model"] == "gap" and sweep.spec["r_wire_ohm"] == 0.0
    from core.sweeps.job import sweep_job
    from core.sweeps.spec import SweepSpec

    gap = copy.deepcopy(example)
    gap.mapped = with_overrides(gap.mapped, 0.0, "gap")
    spec = SweepSpec(patterns=("circle",), sizes=(0.2,), stuck=("on",), arrays=(1,), n_seeds=3)
    assert sweep.rows[0]["mean_accuracy"] == jobs.run(sweep_job(gap, spec)).rows[0]["mean_accuracy"]
    window.editor.spec_edit.setText("rows:array=2,start=1,count=2,stuck=off")
    window.editor.spec_button.click()
    c.rec_method.setCurrentText("remap")
    info = wait_job(qtbot, window.jobs, c.recover)
    assert info.state == "done" and info.result.params["device_model"] == "gap"
    assert window.state.project.recoveries[-1] is info.result


def test_queue_table_rows_are_one_readable_line(window, qtbot):
    window.resize(1024, 640)
    window.tabs.setCurrentWidget(window.queue_panel)
    qtbot.waitExposed(window)
    qp, c = window.queue_panel, window.queue_panel.controls
    window.editor.name_edit.setText("a-rather-long-scenario-name-for-the-queue")
    info = wait_job(qtbot, window.jobs, lambda: c.evaluate("behavioral"))
    qtbot.wait(50)
    t = qp.table
    row = qp.rows[info.id]
    assert not t.wordWrap() and t.rowHeight(row) <= 2 * t.fontMetrics().height()
    widths = [t.columnWidth(i) for i in range(t.columnCount())]  # Job, State, Progress, Message, Time left
    assert sum(widths) <= t.viewport().width() + 2, widths  # nothing off-screen at 1024 x 640
    assert widths[3] >= widths[0] * 0.8 and widths[2] < 100  # Message gets the room, not Job
    item = t.item(row, 3)
    # the tooltip holds the whole message, escaped as rich text so markup from a file shows as text
    assert item.text().startswith("done in") and item.toolTip().startswith("<qt>" + item.text())


def test_queue_rows_say_queued_and_starting_at_once(qtbot):
    q = QtJobQueue(max_workers=1)
    state = WorkbenchState(Project(), None)
    panel = QueuePanel(state, q)
    qtbot.addWidget(panel)
    gate = threading.Event()

    def slow_start():
        gate.wait(10)  # like loading data before the first progress report
        yield Progress(1, 1, "did it")
        return 1

    first = q.submit(slow_start, "first")
    second = q.submit(slow_start, "second")
    qtbot.waitUntil(lambda: panel.row_state(first) == "running" and panel.row_state(second) == "queued")
    assert panel.row_message(first) == "starting …"
    assert panel.row_message(second).startswith("queued")
    gate.set()
    qtbot.waitUntil(lambda: panel.row_state(second) == "done", timeout=10_000)
    q.shutdown()


def test_small_fixes_editor_error_clears_and_seconds_keep_digits(window, qtbot):
    ed = window.editor
    ed.stuck.setCurrentIndex(2)  # resistance, but none given
    ed.paint_buttons.button(1).click()
    assert ed.message.is_error and "resistance is empty" in ed.message.text()
    ed.resistance.setText("20k")
    ed.resistance.editingFinished.emit()  # fixed: painting works now, so the complaint goes
    ed.paint_buttons.button(1).click()
    assert window.crossbar.paint_mode == PAINT and not ed.message.is_error
    window.state.project.results[0].seconds = 0.000123
    window.state.notify("results")
    t = window.results.sim_table
    seconds = [t.horizontalHeaderItem(j).text() for j in range(t.columnCount())].index("seconds")
    assert t.item(0, seconds).text() == "0.000123"
