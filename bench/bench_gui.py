"""Benchmark: edit-to-read-out latency of the defect editor's live accuracy on the bundled example project.

Scripted draft edits on ``projects/digits-paper.h5`` in the real :class:`app.panels.defects.DefectEditorPanel`
(offscreen Qt, a real QApplication): defects of every pattern of :data:`core.model.defects.PATTERNS` except
``mask`` through ``WorkbenchState.add_defect``, paint and erase strokes through ``WorkbenchState.paint``,
removals, loads of stored scenarios, and undo and redo through ``state.stack``. Each edit is timed from the
call that makes it to the moment the panel's read-out label shows that edit's result (Qt events are processed
until it does, as the application's event loop would). With ``--window`` the panel sits in the whole main
window, so the crossbar view also redraws on the GUI thread after each edit. The last read-out is checked
against ``evaluate_job(..., "behavioral")``.

Run: ``.venv/bin/python -m bench.bench_gui [--edits 60] [--window] [--json]``
Goal: median edit-to-read-out under 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

GOAL_MS = 100.0


def _spec_cycle(shapes):
    """Pattern defects (every pattern but mask), varied in array, stuck type and size; endless."""
    n = len(shapes)
    stucks = ("on", "off", "50k", "off", "on", "2meg")
    templates = [
        "circle:cx=0.45,cy=0.55,r={s:.2f}",
        "ring:r_in={s:.2f},r_out={s2:.2f}",
        "circle_complement:r={s3:.2f}",
        "rows:start={k},count=2",
        "columns:start={k},count=1",
        "checkerboard:period={p},phase={ph}",
        "random:fraction={f:.2f},seed={k}",
    ]
    i = 0
    while True:
        t = templates[i % len(templates)]
        a = 1 + (i // len(templates) + i) % n
        rows, cols = shapes[a - 1]
        s = 0.1 + 0.05 * (i % 5)
        body = t.format(
            s=s,
            s2=s + 0.15,
            s3=0.45 + 0.05 * (i % 3),
            k=i % min(rows, cols),
            p=1 + i % 3,
            ph=i % 2,
            f=0.05 + 0.03 * (i % 5),
        )
        pattern, _, params = body.partition(":")
        yield f"{pattern}:array={a},stuck={stucks[i % len(stucks)]},{params}"
        i += 1


def script(state, n_edits: int, seed: int = 0):
    """``n_edits`` (kind, description, edit) in a fixed order; ``edit()`` changes the draft once."""
    from core.model.defects import parse_spec

    rng = np.random.default_rng(seed)
    shapes = state.project.mapped.shapes
    specs = _spec_cycle(shapes)
    scenarios = sorted(state.project.scenarios)
    # a repeating round: 4 pattern defects, 2 paint strokes, an undo, a redo, an undo, an erase stroke,
    # another pattern defect, a removal, every 2nd round a stored scenario loaded
    out = []
    r = 0
    while len(out) < n_edits:
        for _ in range(4):
            spec = next(specs)
            out.append(("add pattern defect", spec, lambda spec=spec: state.add_defect(parse_spec(spec))))
        for _ in range(2):
            a = 1 + int(rng.integers(len(shapes)))
            cells = np.zeros(shapes[a - 1], dtype=bool)
            r0, c0 = int(rng.integers(shapes[a - 1][0])), int(rng.integers(shapes[a - 1][1]))
            cells[max(0, r0 - 1) : r0 + 2, max(0, c0 - 2) : c0 + 3] = True  # a short brush stroke
            stuck = "on" if rng.random() < 0.5 else "off"
            out.append(("paint stroke", f"paint array {a}", lambda a=a, c=cells, s=stuck: state.paint(a, c, False, s)))
        out.append(("undo", "undo", state.stack.undo))
        out.append(("redo", "redo", state.stack.redo))
        out.append(("undo", "undo", state.stack.undo))
        a = 1 + int(rng.integers(len(shapes)))
        out.append(("erase stroke", f"erase array {a}", lambda a=a: state.paint(a, np.ones(shapes[a - 1], bool), True)))
        spec = next(specs)
        out.append(("add pattern defect", spec, lambda spec=spec: state.add_defect(parse_spec(spec))))
        out.append(("remove defect", "remove first", lambda: state.remove_defect(0)))
        if r % 2 == 1 and scenarios:
            name = scenarios[(r // 2) % len(scenarios)]
            out.append(("load scenario", name, lambda name=name: state.load_scenario(name)))
        r += 1
    return out[:n_edits]


def _wait_shown(app, panel, serial: int, timeout_s: float = 30.0) -> None:
    """Run the event loop until the panel shows the read-out of edit ``serial``."""
    from PySide6.QtCore import QEventLoop

    deadline = time.perf_counter() + timeout_s
    while panel.shown_serial < serial:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no read-out of edit {serial} within {timeout_s:g} s")
        # sleeps until an event arrives (the worker's queued signal, or the heartbeat timer)
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edits", type=int, default=60, help="scripted edits to time (default 60, at least 50)")
    ap.add_argument("--window", action="store_true", help="measure in the whole main window (crossbar view too)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.edits < 50:
        ap.error("--edits: must be at least 50")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.panels.defects import DefectEditorPanel
    from app.presenters.document import DEFAULT_PROJECT, WorkbenchState, copy_defects
    from core import jobs, project_io
    from core.evaluate import defect_readout, evaluate_job
    from core.model.defects import PATTERNS

    app = QApplication.instance() or QApplication(sys.argv[:1])
    heartbeat = QTimer()  # wakes the waiting loop now and then, so a lost wake-up cannot hang the benchmark
    heartbeat.start(50)

    t = time.perf_counter()
    state = WorkbenchState(project_io.load(DEFAULT_PROJECT), DEFAULT_PROJECT)
    load_s = time.perf_counter() - t
    window = None
    t = time.perf_counter()
    if args.window:
        from app.main_window import MainWindow

        window = MainWindow(state, interactive=False)
        window.resize(1024, 768)
        window.show()
        panel = window.editor
    else:
        panel = DefectEditorPanel(state)
        panel.resize(330, 740)
        panel.show()
    # the first read-out loads the dataset and computes the defect-free accuracy once
    _wait_shown(app, panel, panel.readout.latest)
    first_ms = 1000 * (time.perf_counter() - t)

    edits = script(state, args.edits)
    patterns = sorted({what.partition(":")[0] for kind, what, _e in edits if kind == "add pattern defect"})
    if set(patterns) != set(PATTERNS) - {"mask"}:
        raise RuntimeError(f"the script misses patterns: it adds {patterns}")
    rows, drafts = [], []
    for kind, what, edit in edits:
        before = panel.readout.latest
        t0 = time.perf_counter()
        edit()
        serial = panel.readout.latest
        if serial == before:
            raise RuntimeError(f"edit {what!r} did not change the draft")
        _wait_shown(app, panel, serial)
        ms = 1000 * (time.perf_counter() - t0)
        out = panel.readout_outcome
        if out is None or out.serial != serial or not out.ok:
            raise RuntimeError(f"edit {what!r}: the read-out shown is not this edit's ({out})")
        rows.append((kind, ms, len(state.draft)))
        drafts.append(copy_defects(state.draft))

    # the last read-out on screen is the core's evaluation of the last draft
    res = jobs.run(evaluate_job(state.project, state.draft, "behavioral"))
    shown = panel.readout_outcome.readout
    checked = shown.accuracy == res.accuracy and shown.defect_fraction == tuple(res.defect_fraction)
    checked = checked and f"accuracy {res.accuracy:.3f}" in panel.readout_box.text.text()
    panel.shutdown()
    core_ms = []  # the computation alone (on this thread, cache warm): what the worker spends per edit
    for d in drafts:
        t0 = time.perf_counter()
        defect_readout(state.project, d)
        core_ms.append(1000 * (time.perf_counter() - t0))
    if window is not None:
        window.jobs.shutdown(timeout_s=10)

    ms = np.array([r[1] for r in rows])
    kinds = {}
    for kind, v, _n in rows:
        kinds.setdefault(kind, []).append(v)

    def stats(values):
        a = np.asarray(values)
        return {"median": float(np.median(a)), "p95": float(np.percentile(a, 95)), "max": float(a.max())}

    result = {
        "edit_to_readout_ms": stats(ms),
        "n": len(rows),
        "by_kind": {k: {"n": len(v), **stats(v)} for k, v in kinds.items()},
        "core_readout_ms": stats(core_ms),
        "patterns": patterns,
        "goal_median_ms": GOAL_MS,
        "goal_met": bool(np.median(ms) < GOAL_MS),
        "computations": panel.readout.computed,
        "first_readout_ms": first_ms,
        "project_load_s": load_s,
        "max_draft_defects": int(max(r[2] for r in rows)),
        "mode": "main window" if args.window else "defect editor panel",
        "project": os.path.relpath(DEFAULT_PROJECT),
        "array_shapes": [list(s) for s in state.project.mapped.shapes],
        "test_images": int(shown.n_images),
        "last_readout_equals_evaluate_job": bool(checked),
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", ""),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"edit-to-read-out, {result['mode']}, {result['project']} {result['array_shapes']}, "
            f"{result['test_images']} test images, {result['n']} edits ({result['cpus']} CPUs)"
        )
        print(f"{'edit':<20} {'n':>4} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
        for k, v in [("all", {"n": result["n"], **result["edit_to_readout_ms"]}), *result["by_kind"].items()]:
            print(f"{k:<20} {v['n']:>4} {v['median']:>10.1f} {v['p95']:>8.1f} {v['max']:>8.1f}")
        c = result["core_readout_ms"]
        print(f"{'(computation alone)':<20} {result['n']:>4} {c['median']:>10.1f} {c['p95']:>8.1f} {c['max']:>8.1f}")
        print(
            f"first read-out (dataset load + defect-free accuracy) {first_ms:.0f} ms; "
            f"goal median < {GOAL_MS:g} ms met: {result['goal_met']}; "
            f"last read-out equals evaluate_job: {checked}"
        )
    return 0 if checked else 1


if __name__ == "__main__":
    raise SystemExit(main())
