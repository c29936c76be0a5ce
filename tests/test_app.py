"""The Qt workbench (app/): panel conformance, plot data after edits, jobs through the queue, the smoke test.

Outcomes are asserted from plot data (curve.getData(), ImageItem arrays) and from the project, not pixels.
"""

from __future__ import annotations

import copy
import gc
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from app.jobs_qt import QtJobQueue
from app.main_window import MainWindow
from app.panels.crossbar import PAINT, CrossbarPanel
from app.panels.defects import DefectEditorPanel
from app.panels.queue import QueuePanel
from app.panels.results import ResultsPanel
from app.panels.training import TrainingPanel
from app.state import DEFAULT_PROJECT, WorkbenchState
from core import jobs, project_io
from core.circuit.fidelity import with_overrides
from core.evaluate import evaluate_job
from core.jobs import Progress
from core.model.defects import Defect
from core.model.project import Project

PANELS = [TrainingPanel, CrossbarPanel, DefectEditorPanel, QueuePanel, ResultsPanel]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _collect_qt_garbage_here(qapp):
    """After each test (and after qtbot closed its widgets) collect cycles on this, the GUI, thread.

    Otherwise a later test's worker thread may run the collector on Qt wrappers of this test's windows and
    deadlock against the GUI thread (see app.jobs_qt.collect_garbage_on_gui_thread_only).
    """
    yield
    qapp.processEvents()
    gc.collect()


@pytest.fixture(autouse=True, scope="module")
def _automatic_gc_back_after_this_module(qapp):
    yield
    from app.jobs_qt import release_garbage_collection

    qapp.processEvents()
    release_garbage_collection()


@pytest.fixture(scope="module")
def _example():
    return project_io.load(DEFAULT_PROJECT)


@pytest.fixture
def example(_example):
    """A fresh copy of the bundled example project (paper preset, seed 0, trained, 8 scenarios)."""
    return copy.deepcopy(_example)


@pytest.fixture
def window(qtbot, example):
    w = MainWindow(WorkbenchState(example, DEFAULT_PROJECT), interactive=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.jobs.shutdown(timeout_s=20)


def finished(qtbot, jobs: QtJobQueue, job_id: int, timeout_ms: int = 30_000):
    """Wait for the adapter's finished signal of ``job_id`` and return its JobInfo."""
    with qtbot.waitSignal(
        jobs.job_finished, timeout=timeout_ms, check_params_cb=lambda info: info.id == job_id
    ) as blocker:
        pass
    return blocker.args[0]


def wait_job(qtbot, jobs: QtJobQueue, submit, timeout_ms: int = 30_000):
    """Submit (a callable returning the job id) inside waitSignal so a fast job cannot slip past."""
    ids = []
    with qtbot.waitSignal(
        jobs.job_finished, timeout=timeout_ms, check_params_cb=lambda info: bool(ids) and info.id == ids[0]
    ) as blocker:
        ids.append(submit())
        assert ids[0] is not None
    return blocker.args[0]


# ---- conformance: every panel on an empty and on a full project ------------------------------------------
@pytest.mark.parametrize("full", [False, True], ids=["empty", "example"])
@pytest.mark.parametrize("panel_cls", PANELS, ids=[p.__name__ for p in PANELS])
def test_panel_conformance(qtbot, tmp_path, example, panel_cls, full):
    state = WorkbenchState(example if full else Project(), DEFAULT_PROJECT if full else None)
    jobs_q = QtJobQueue()
    panel = panel_cls(state, jobs_q)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    ms = panel.minimumSize()
    assert 300 <= ms.width() <= 900 and 300 <= ms.height() <= 800, (ms.width(), ms.height())
    path = tmp_path / f"{panel_cls.__name__}.png"
    img = panel.grab()
    assert img.save(str(path)) and path.stat().st_size > 1000
    assert img.width() >= ms.width() and img.height() >= ms.height()
    state.notify("project")  # refreshing must work too
    jobs_q.shutdown()


def test_empty_project_views_say_what_to_do(qtbot):
    state = WorkbenchState(Project(), None)
    w = MainWindow(state, interactive=False)
    qtbot.addWidget(w)
    assert w.crossbar.array == 0 and w.crossbar.overlay.image is None
    assert "No mapped network" in w.crossbar.message.text()
    assert not w.editor.add_button.isEnabled()
    assert not w.queue_panel.controls.eval_button.isEnabled()
    assert w.training.loss_curve.getData()[1] is None or len(w.training.loss_curve.getData()[1]) == 0
    w.jobs.shutdown()


# ---- defects: editor -> crossbar overlay, undo/redo ---------------------------------------------------------
def test_circle_defect_changes_overlay_exactly_and_undo_restores(window):
    ed, cb, st = window.editor, window.crossbar, window.state
    cb.set_array(2)
    shape = st.shape(2)
    assert not cb.overlay_cells().any() and cb.overlay_cells().shape == shape
    ed.array.setValue(2)
    ed.set_fields("circle", {"cx": "0.4", "cy": "0.6", "r": "0.35"})
    ed.stuck.setCurrentIndex(1)  # off
    ed.add_button.click()
    expected = Defect("circle", 2, "off", 0.0, {"cx": 0.4, "cy": 0.6, "r": 0.35}).cells(shape)
    assert expected.any() and not expected.all()
    assert np.array_equal(cb.overlay_cells(), expected)
    assert np.array_equal(cb.overlay_codes()[expected], np.full(expected.sum(), 2))
    assert f"defective {expected.sum()} cells" in cb.info.text()
    assert window.undo_action.isEnabled() and "add circle defect" in window.undo_action.text()
    window.undo_action.trigger()
    assert not cb.overlay_cells().any() and st.draft == []
    window.redo_action.trigger()
    assert np.array_equal(cb.overlay_cells(), expected)


def test_mouse_paint_is_one_undoable_mask_edit(window, qtbot):
    ed, cb, st = window.editor, window.crossbar, window.state
    cb.set_array(1)
    ed.paint_buttons.button(1).click()  # Paint, stuck on
    assert cb.paint_mode == PAINT and window.tabs.currentWidget() is cb
    qtbot.waitExposed(window)
    targets = [(3, 5), (10, 2)]
    for r, c in targets:
        scene = cb.overlay.mapToScene(QPointF(c + 0.5, r + 0.5))
        qtbot.mouseClick(cb.glw.viewport(), Qt.MouseButton.LeftButton, pos=cb.glw.mapFromScene(scene))
    painted = np.zeros(st.shape(1), dtype=bool)
    painted[tuple(np.array(targets).T)] = True
    assert [d.pattern for d in st.draft] == ["mask"]
    assert np.array_equal(st.draft[0].mask, painted)
    assert np.array_equal(cb.overlay_cells(), painted)
    # a drag stroke becomes one command
    n = len(st.stack)
    for c in range(4):
        cb.stroke_point(QPointF(c + 0.5, 20.5))
    cb.finish_stroke()
    assert len(st.stack) == n + 1 and cb.overlay_cells()[20, :4].all()
    window.undo_action.trigger()
    assert np.array_equal(cb.overlay_cells(), painted)
    ed.paint_buttons.button(2).click()  # Erase
    cb.stroke_point(QPointF(5.5, 3.5))
    cb.finish_stroke()
    assert cb.overlay_cells().sum() == 1


@pytest.mark.parametrize(
    "pattern, values, words",
    [
        ("circle", {"r": "5"}, ["circle", "r must be in [0, 2]"]),
        ("circle", {"r": ""}, ["missing required key 'r'"]),
        ("rows", {"start": "70"}, ["rows", "outside array 1"]),
        ("random", {"fraction": "abc"}, ["fraction must be a number in [0, 1]"]),
    ],
)
def test_bad_defect_parameter_shows_message_naming_field(window, pattern, values, words):
    ed = window.editor
    ed.set_fields(pattern, values)
    ed.add_button.click()
    assert ed.message.is_error and all(w in ed.message.text() for w in words), ed.message.text()
    assert window.state.draft == []
    ed.spec_edit.setText("ring:array=1,r_in=0.4,r_out=0.2,stuck=on")
    ed.spec_button.click()
    assert "r_out must be larger than r_in" in ed.message.text()


def test_bad_training_and_sweep_fields_show_messages(window):
    tr = window.training
    tr.fields["epochs"].setText("0")
    assert tr.train() is None
    assert tr.message.is_error and "epochs" in tr.message.text() and "[1, 100000]" in tr.message.text()
    window.undo_action.trigger()  # the parameter edit is undoable
    assert window.state.training["epochs"] == "150" and tr.fields["epochs"].text() == "150"
    c = window.queue_panel.controls
    c.sweep_fields["seeds"].setText("many")
    assert c.sweep() is None and "seeds" in c.message.text()
    c.sweep_fields["seeds"].setText("5")
    c.sweep_fields["arrays"].setText("9")
    assert c.sweep() is None and "arrays: must be from 1 to 4" in c.message.text()
    assert window.jobs.jobs() == []


# ---- jobs through the queue ----------------------------------------------------------------------------------
def test_evaluation_through_queue_matches_core(window, qtbot, example):
    ed, st = window.editor, window.state
    ed.spec_edit.setText("ring:array=4,r_in=0.2,r_out=0.35,stuck=on")
    ed.spec_button.click()
    defects = list(st.draft)
    n = len(st.project.results)
    info = wait_job(qtbot, window.jobs, lambda: window.queue_panel.controls.evaluate("behavioral"))
    assert info.state == "done"
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
    # the four curves are dodged sideways around the true sizes (within 15 % of the 0.2 gap) so CIs stay apart
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
    widths = [t.columnWidth(i) for i in range(4)]
    assert sum(widths) <= t.viewport().width() + 2, widths  # nothing off-screen at 1024 x 640
    assert widths[3] >= widths[0] * 0.8 and widths[2] < 100  # Message gets the room, not Job
    item = t.item(row, 3)
    assert item.text().startswith("done in") and item.toolTip().startswith(item.text())


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
    assert window.results.sim_table.item(0, 4).text() == "0.000123"


# ---- files -------------------------------------------------------------------------------------------------
def test_save_roundtrip_and_failed_save_loses_nothing(window, tmp_path):
    st = window.state
    window.editor.spec_edit.setText("rows:array=2,start=1,count=2,stuck=off")
    window.editor.spec_button.click()
    window.editor.name_edit.setText("two-rows")
    assert window.editor.save_scenario()
    bad = str(tmp_path / "missing-folder" / "p.h5")
    assert not window.save_to(bad)
    assert "cannot save project" in window.last_error and st.dirty and "two-rows" in st.project.scenarios
    good = str(tmp_path / "p.h5")
    assert window.save_to(good) and not st.dirty and st.path == good
    assert not window.windowTitle().endswith("*")
    loaded = project_io.load(good)
    assert [d.to_spec() for d in loaded.scenarios["two-rows"].defects] == ["rows:array=2,stuck=off,start=1,count=2"]
    assert not window.open_path(str(tmp_path / "nope.h5")) and "no such file" in window.last_error
    assert window.open_path(good) and window.state.project.scenarios.keys() == loaded.scenarios.keys()


def test_smoke_test_subprocess_exits_zero():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run(
        [sys.executable, "-m", "app", "--smoke-test"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "smoke test ok" in r.stdout


def test_qt_signal_emit_keeps_references():
    """PySide6 6.12.0 loses a reference to True per emit, which kills Python < 3.12; the pin must avoid it."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Probe(QObject):
        fired = Signal()

    probe = Probe()
    before = sys.getrefcount(True)
    for _ in range(1000):
        probe.fired.emit()
    assert sys.getrefcount(True) >= before - 10


def test_sweep_on_a_dask_scheduler_from_the_gui_equals_the_local_sweep(window, qtbot):
    import distributed

    c = window.queue_panel.controls
    c.sweep_fields["patterns"].setText("circle,columns")
    c.sweep_fields["sizes"].setText("0.2")
    c.sweep_fields["seeds"].setText("3")
    c.scheduler.setText("dask.example:8786")
    assert c.sweep() is None and "Dask scheduler: must be empty" in c.message.text()
    assert wait_job(qtbot, window.jobs, lambda: (c.scheduler.setText(""), c.sweep())[1]).state == "done"
    local = window.state.project.sweeps[-1]
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=40
    ) as cluster:
        c.scheduler.setText(cluster.scheduler_address)
        info = wait_job(qtbot, window.jobs, c.sweep, timeout_ms=60_000)
    assert info.state == "done"
    remote = window.state.project.sweeps[-1]
    assert remote is not local
    assert [r["accuracies"] for r in remote.rows] == [r["accuracies"] for r in local.rows]
