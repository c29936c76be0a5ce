"""Render the main window and every panel offscreen into PNGs: ``python -m app.screenshots [OUT_DIR]``.

The example project is loaded, a circle defect is added to the draft scenario, a small behavioural sweep
and one evaluation run through the real job queue, then each panel is grabbed (default ``docs/screenshots``).
"""

from __future__ import annotations

import os
import sys
import time


def _wait(app, jobs, job_id: int, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        if jobs.queue.get(job_id).finished:
            for _ in range(20):  # let the throttled adapter deliver the final state
                app.processEvents()
                time.sleep(0.02)
            return
        time.sleep(0.02)
    raise TimeoutError(f"job {job_id} did not finish in {timeout_s:g} s")


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
    w.resize(1360, 820)
    w.show()
    ed = w.editor
    ed.set_fields("circle", {"cx": "0.4", "cy": "0.35", "r": "0.25"})
    ed.array.setValue(1)
    ed.add_defect()
    ed.set_fields("columns", {"start": "12", "count": "2"})
    ed.stuck.setCurrentIndex(1)
    ed.add_defect()
    ed.name_edit.setText("circle-and-columns")
    c = w.queue_panel.controls
    c.sweep_fields["patterns"].setText("circle,ring,rows,columns")
    c.sweep_fields["sizes"].setText("0.1,0.2,0.3,0.4,0.5")
    c.sweep_fields["seeds"].setText("20")
    _wait(app, w.jobs, c.sweep())
    _wait(app, w.jobs, c.evaluate("behavioral"))
    os.makedirs(out, exist_ok=True)
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
    for name, (widget, tab) in shots.items():
        if widget is not w and widget is not w.editor:
            w.tabs.setCurrentWidget(widget)
        if tab is not None:
            widget.tabs.setCurrentIndex(tab)
        for _ in range(5):
            app.processEvents()
        path = os.path.join(out, f"{name}.png")
        widget.grab().save(path)
        print(f"{path}: {os.path.getsize(path) // 1024} KB")
    w.jobs.shutdown()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
