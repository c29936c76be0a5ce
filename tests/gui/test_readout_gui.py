"""The defect editor's live read-out in the real window: every kind of draft edit updates it, exactly.

Each read-out shown is compared with ``evaluate_job(..., "behavioral")`` run afresh on the same draft; the
computation runs on the read-out's worker thread and reaches the label through a queued signal.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from app.panels.defects import DefectEditorPanel
from app.presenters import readout as ro
from app.presenters.document import DEFAULT_PROJECT, WorkbenchState
from core import jobs
from core.evaluate import evaluate_job
from core.model.defects import Defect, parse_spec
from core.model.project import Project


def wait_readout(qtbot, panel, serial=None, timeout_ms=15_000):
    """Process events until the panel shows the read-out of edit ``serial`` (default: the newest edit)."""
    serial = panel.readout.latest if serial is None else serial
    qtbot.waitUntil(lambda: panel.shown_serial >= serial, timeout=timeout_ms)
    assert panel.shown_serial == serial and panel.readout_box.hint.text() == ""
    return panel.readout_outcome


def assert_matches_core(panel, project, defects):
    """The shown read-out is what evaluate_job gives for ``defects``, and the label says so."""
    out = panel.readout_outcome
    assert out is not None and out.ok, out
    res = jobs.run(evaluate_job(project, defects, "behavioral"))
    clean = jobs.run(evaluate_job(project, [], "behavioral"))
    r = out.readout
    assert r.accuracy == res.accuracy and r.clean_accuracy == clean.accuracy
    assert r.defect_fraction == tuple(res.defect_fraction)
    text = panel.readout_box.text.text()
    assert f"accuracy {res.accuracy:.3f} " in text and f"defect-free {clean.accuracy:.3f}" in text
    assert f"{res.accuracy - clean.accuracy:+.3f}" in text and "95% CI" in text
    bars = panel.readout_box.bars
    assert len(bars) == len(res.defect_fraction)
    assert [b.value() for b in bars] == [round(1000 * f) for f in res.defect_fraction]
    assert [b.text() for b in bars] == [f"{i}: {t}" for i, (_n, _f, t) in enumerate(ro.fraction_items(r), start=1)]
    return r


def test_edit_updates_readout_exactly_and_undo_redo_restore_it(window, qtbot):
    ed, st = window.editor, window.state
    before = wait_readout(qtbot, ed)
    assert_matches_core(ed, st.project, [])
    label_before = ed.readout_box.text.text()
    ed.set_fields("circle", {"r": "0.3", "cx": "0.4"})
    ed.add_button.click()
    assert ed.readout_box.hint.text() == ro.COMPUTING  # until the worker's result arrives
    wait_readout(qtbot, ed)
    r = assert_matches_core(ed, st.project, st.draft)
    assert r.delta < -0.1 and r.defect_fraction[0] > 0.2
    window.undo_action.trigger()
    undone = wait_readout(qtbot, ed)
    assert undone.readout == before.readout and ed.readout_box.text.text() == label_before
    window.redo_action.trigger()
    wait_readout(qtbot, ed)
    assert ed.readout_outcome.readout == r
    # remove, too
    ed.draft_list.setCurrentRow(0)
    ed.remove_button.click()
    assert wait_readout(qtbot, ed).readout == before.readout


@pytest.mark.parametrize(
    "pattern, values",
    [
        ("ring", {"r_in": "0.1", "r_out": "0.3"}),
        ("rows", {"start": "2", "count": "3"}),
        ("random", {"fraction": "0.2"}),
    ],
)
def test_enter_in_a_pattern_field_adds_the_defect(window, qtbot, pattern, values):
    ed, st = window.editor, window.state
    ed.set_fields(pattern, values)
    key = list(values)[-1]
    qtbot.keyClick(ed.field_edits[key], Qt.Key.Key_Return)
    assert [d.pattern for d in st.draft] == [pattern]
    assert st.draft[0].params[key] == pytest.approx(float(values[key]))
    wait_readout(qtbot, ed)
    assert_matches_core(ed, st.project, st.draft)
    # Enter on a bad value adds nothing and says why, like the button
    ed.field_edits[key].setText("-5")
    qtbot.keyClick(ed.field_edits[key], Qt.Key.Key_Return)
    assert len(st.draft) == 1 and ed.message.is_error and key in ed.message.text()


def test_paint_stroke_updates_readout(window, qtbot):
    ed, cb, st = window.editor, window.crossbar, window.state
    wait_readout(qtbot, ed)
    cb.set_array(1)
    ed.paint_buttons.button(1).click()  # paint, stuck on
    for c in range(16):
        cb.stroke_point(QPointF(c + 0.5, 64.5))  # the bias row of array 1
    cb.finish_stroke()
    assert [d.pattern for d in st.draft] == ["mask"] and st.draft[0].mask[64].all()
    wait_readout(qtbot, ed)
    r = assert_matches_core(ed, st.project, st.draft)
    assert r.defect_fraction[0] == pytest.approx(16 / (65 * 16))
    ed.paint_buttons.button(2).click()  # erase half of it
    for c in range(8):
        cb.stroke_point(QPointF(c + 0.5, 64.5))
    cb.finish_stroke()
    wait_readout(qtbot, ed)
    r2 = assert_matches_core(ed, st.project, st.draft)
    assert r2.defect_fraction[0] == pytest.approx(8 / (65 * 16))


def test_loading_a_stored_scenario_updates_readout(window, qtbot):
    ed, st = window.editor, window.state
    wait_readout(qtbot, ed)
    for name in ("ring-off-array1", "checkerboard-50k-array4", "measured-mask-array2"):
        ed.scenario_box.setCurrentText(name)
        ed.load_button.click()
        wait_readout(qtbot, ed)
        r = assert_matches_core(ed, st.project, st.project.scenarios[name].defects)
        assert r.defect_fraction == tuple(
            jobs.run(evaluate_job(st.project, st.project.scenarios[name].defects, "behavioral")).defect_fraction
        )


def test_defect_that_does_not_fit_is_text_and_no_network_is_said(window, qtbot):
    ed, st = window.editor, window.state
    wait_readout(qtbot, ed)
    st.add_defect(Defect("mask", 1, "on", 0.0, {}, mask=np.ones((3, 3), dtype=bool)))  # another array's shape
    out = wait_readout(qtbot, ed)
    assert not out.ok and "mask: shape (3, 3) does not match array 1" in ed.readout_box.text.text()
    window.undo_action.trigger()
    assert wait_readout(qtbot, ed).ok
    st.set_project(Project(), None)  # nothing to compute: said at once, no bars, nothing pending
    assert "no mapped network" in ed.readout_box.text.text() and ed.readout_box.bars == []
    assert ed.readout_box.hint.text() == "" and ed.readout_outcome is None


def test_burst_of_edits_latest_wins(qtbot, example):
    # a fresh project: the panel's first read-out loads the dataset (slow), and the burst arrives meanwhile
    state = WorkbenchState(example, DEFAULT_PROJECT)
    panel = DefectEditorPanel(state)
    qtbot.addWidget(panel)
    shown = []
    panel.readout_shown.connect(shown.append)
    specs = [f"circle:array={1 + i % 4},r={0.05 + 0.02 * i:.2f},stuck={'on' if i % 2 else 'off'}" for i in range(20)]
    for spec in specs:
        state.add_defect(parse_spec(spec))
    state.stack.undo()
    state.stack.undo()
    last = panel.readout.latest
    wait_readout(qtbot, panel, last)
    assert shown == sorted(set(shown)) and shown[-1] == last  # in order, never a stale one after a newer
    # 23 submits (the panel's first, 20 adds, 2 undos): those overtaken while the dataset loaded were dropped, and an
    # outcome overtaken before the GUI thread woke up is never shown
    assert last == 23 and panel.readout.computed <= 5 and len(shown) <= panel.readout.computed
    assert_matches_core(panel, state.project, state.draft)
    assert len(state.draft) == 18
    qtbot.wait(100)
    assert panel.shown_serial == last  # nothing older arrives afterwards
    panel.shutdown()
