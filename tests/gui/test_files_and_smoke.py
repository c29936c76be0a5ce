"""Saving and opening from the window, the smoke test in a subprocess, Qt signal references, Dask from the GUI."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtGui import QImage

from core import project_io
from gui_helpers import ROOT, wait_job


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


def test_smoke_test_subprocess_exits_zero_and_writes_a_screenshot_per_panel(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = tmp_path / "shots"
    r = subprocess.run(
        [sys.executable, "-m", "app", "--smoke-test", "--screenshots", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert "smoke test ok" in r.stdout
    names = {"main-window", "crossbar", "training", "queue", "defect-editor", "results-sweep",
             "results-simulations", "results-recovery", "new-project-dialog"}  # fmt: skip
    assert {p.stem for p in out.glob("*.png")} == names
    for p in out.glob("*.png"):
        img = QImage(str(p))
        assert img.width() >= 300 and img.height() >= 300, p.name
        colours = {img.pixel(x, y) for x in range(0, img.width(), 9) for y in range(0, img.height(), 9)}
        assert len(colours) >= 5, p.name  # a rendered panel, not a blank image


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
