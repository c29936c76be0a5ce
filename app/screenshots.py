"""Render the main window, every panel and the New-project dialog into PNGs.

``python -m app.screenshots [OUT_DIR]`` (``make screenshots``, default ``docs/screenshots``) and
``python -m app --smoke-test --screenshots DIR`` both call :func:`capture`: the example project is loaded, two
defects are added to the draft, a small behavioural sweep and one evaluation run through the real job queue,
then each panel is grabbed at the window's size.
"""

from __future__ import annotations

import os
import sys
import time

SIZE = (1360, 820)


def _settle(app, seconds: float = 0.1) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def wait_job(app, jobs, job_id: int, timeout_s: float = 120.0) -> None:
    """Process events until queued job ``job_id`` has finished and its final state was delivered."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        if jobs.queue.get(job_id).finished:
            _settle(app, 0.4)  # the throttled adapter delivers the final state
            return
        time.sleep(0.02)
    raise TimeoutError(f"job {job_id} did not finish in {timeout_s:g} s")


def prepare(window, app) -> None:
    """Put the example into a state worth showing: a draft with two defects, a sweep and an evaluation."""
    ed = window.editor
    ed.set_fields("circle", {"cx": "0.4", "cy": "0.35", "r": "0.25"})
    ed.array.setValue(1)
    ed.add_defect()
    ed.set_fields("columns", {"start": "12", "count": "2"})
    ed.stuck.setCurrentIndex(1)
    ed.add_defect()
    ed.name_edit.setText("circle-and-columns")
    c = window.queue_panel.controls
    c.sweep_fields["patterns"].setText("circle,ring,rows,columns")
    c.sweep_fields["sizes"].setText("0.1,0.2,0.3,0.4,0.5")
    c.sweep_fields["seeds"].setText("20")
    wait_job(app, window.jobs, c.sweep())
    wait_job(app, window.jobs, c.evaluate("behavioral"))
    deadline = time.monotonic() + 10
    while not ed.readout_outcome and time.monotonic() < deadline:  # the live read-out of the draft
        app.processEvents()
        time.sleep(0.02)


def capture(window, app, out: str) -> list[str]:
    """Grab the window, each panel and the New-project dialog into ``out``; returns the paths written."""
    from app.dialogs.new_project import NewProjectDialog

    os.makedirs(out, exist_ok=True)
    w = window
    shots = {
        "main-window": (w, None),
        "crossbar": (w.crossbar, None),
        "training": (w.training, None),
        "queue": (w.queue_panel, None),
        "defect-editor": (w.editor, None),
        "results-sweep": (w.results, 0),
        "results-simulations": (w.results, 1),
        "results-recovery": (w.results, 2),
    }
    paths = []
    for name, (widget, tab) in shots.items():
        if widget is not w and widget is not w.editor:
            w.tabs.setCurrentWidget(widget)
        if tab is not None:
            widget.tabs.setCurrentIndex(tab)
        _settle(app)
        paths.append(_save(widget, out, name))
    w.tabs.setCurrentWidget(w.crossbar)
    dlg = NewProjectDialog(w.state, w)
    dlg.show()
    dlg.resize(1010, 730)  # its size on a 1024x768 screen (an offscreen "screen" would clamp it to 800x800)
    deadline = time.monotonic() + 30
    while dlg.reading() and time.monotonic() < deadline:  # the dataset preview is read as a job
        app.processEvents()
        time.sleep(0.02)
    _settle(app, 0.3)
    paths.append(_save(dlg, out, "new-project-dialog"))
    dlg.reject()
    dlg.deleteLater()
    return paths


def _save(widget, out: str, name: str) -> str:
    path = os.path.join(out, f"{name}.png")
    if not widget.grab().save(path):
        raise OSError(f"cannot write {path}")
    return path


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = argv[0] if argv else os.path.join("docs", "screenshots")
    if not os.environ.get("QT_QPA_PLATFORM") and not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.presenters.document import DEFAULT_PROJECT, WorkbenchState

    app = QApplication.instance() or QApplication([])
    state = WorkbenchState()
    state.open(DEFAULT_PROJECT)
    w = MainWindow(state, interactive=False)
    w.resize(*SIZE)
    w.show()
    prepare(w, app)
    for path in capture(w, app, out):
        print(f"{path}: {os.path.getsize(path) // 1024} KB")
    w.jobs.shutdown()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
