"""``python -m app [--project PATH] [--smoke-test [--screenshots DIR]]``: the ReRAM Fault Workbench application.

``--smoke-test`` starts the real application (offscreen when there is no display), loads the project,
runs one behavioural evaluation through the job queue, checks that its result was stored in the project and
exits 0; any failure exits non-zero. With ``--screenshots DIR`` it then writes one PNG per panel and one of the
New-project dialog into DIR (see :mod:`app.screenshots`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from app.presenters.document import DEFAULT_PROJECT


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m app", description="ReRAM Fault Workbench (desktop)")
    p.add_argument("--project", default=DEFAULT_PROJECT, help="project file to open (default: the bundled example)")
    p.add_argument(
        "--smoke-test",
        action="store_true",
        help="start, load the project, run one short job through the queue and exit (0 = fine)",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="smoke test time limit in seconds (default 120)")
    p.add_argument("--screenshots", metavar="DIR", help="with --smoke-test: write a PNG per panel and dialog into DIR")
    args = p.parse_args(argv)
    if args.screenshots and not args.smoke_test:
        p.error("--screenshots: only applies with --smoke-test")
    return args


def smoke_test(window, app, timeout_s: float) -> int:
    """Run one evaluation through the queue panel and wait for it; returns the exit code."""
    from core.session.job_queue import DONE

    state = window.state
    if state.project.mapped is None:
        print("smoke test: the project has no mapped network", file=sys.stderr)
        return 1
    n_before = len(state.project.results)
    job_id = window.queue_panel.controls.evaluate("behavioral")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        info = window.jobs.queue.get(job_id)
        if info.finished and window.queue_panel.row_state(job_id) == info.state:
            break
        time.sleep(0.02)
    else:
        print(f"smoke test: job {job_id} did not finish within {timeout_s:g} s", file=sys.stderr)
        return 1
    info = window.jobs.queue.get(job_id)
    if info.state != DONE:
        print(f"smoke test: job {info.state}: {info.error}\n{info.traceback}", file=sys.stderr)
        return 1
    if len(state.project.results) != n_before + 1 or state.project.results[-1] is not info.result:
        print("smoke test: the result was not stored in the project", file=sys.stderr)
        return 1
    window.grab()  # renders every visible panel once
    print(
        f"smoke test ok: {os.path.basename(state.path or '')} evaluated at behavioral fidelity, "
        f"accuracy {info.result.accuracy:.4f} in {info.seconds:.2f} s"
    )
    return 0


def main(argv=None) -> int:
    args = _parse(argv)
    no_screen = not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
    if args.smoke_test and no_screen and not os.environ.get("QT_QPA_PLATFORM"):
        # without a screen Qt aborts (with a misleading xcb message) unless told to render offscreen
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.presenters.document import WorkbenchState
    from core.errors import WorkbenchError

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ReRAM Fault Workbench")
    state = WorkbenchState()
    window = MainWindow(state, interactive=not args.smoke_test)
    if args.project:
        try:
            state.open(args.project)
        except WorkbenchError as e:
            if args.smoke_test:
                print(f"smoke test: cannot open {args.project}: {e}", file=sys.stderr)
                return 1
            window.show_error("Cannot open project", str(e))
    window.show()
    if args.smoke_test:
        try:
            code = smoke_test(window, app, args.timeout)
            if code == 0 and args.screenshots:
                from app.screenshots import SIZE, capture, prepare

                window.resize(*SIZE)
                prepare(window, app)
                for path in capture(window, app, args.screenshots):
                    print(f"wrote {path}")
        except Exception as e:  # noqa: BLE001 - any failure is a failed smoke test, reported as such
            import traceback

            traceback.print_exc()
            print(f"smoke test failed: {type(e).__name__}: {e}", file=sys.stderr)
            code = 1
        window.jobs.shutdown(timeout_s=10.0)
        window.close()
        return code
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
