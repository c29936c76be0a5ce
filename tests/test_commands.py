"""The Qt-free undo stack (core.session.undo) and the document commands of app.presenters.document (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from core.model.defects import parse_spec
from core.session.undo import Command, CommandStack, FunctionCommand


class Append(Command):
    def __init__(self, target: list, value):
        self.target, self.value, self.text = target, value, f"append {value}"

    def do(self):
        self.target.append(self.value)

    def undo(self):
        self.target.pop()


def test_push_undo_redo_and_listeners():
    doc, calls = [], []
    s = CommandStack()
    s.on_change(lambda: calls.append((s.can_undo, s.can_redo)))
    assert not s.can_undo and not s.can_redo and s.is_clean
    s.push(Append(doc, 1))
    s.push(Append(doc, 2))
    assert doc == [1, 2] and s.undo_text == "append 2" and not s.is_clean
    assert s.undo().value == 2 and doc == [1]
    assert s.can_redo and s.redo_text == "append 2"
    assert s.redo().value == 2 and doc == [1, 2]
    s.undo()
    s.push(Append(doc, 3))  # a new edit drops the redo branch
    assert doc == [1, 3] and not s.can_redo and s.redo() is None
    assert calls[-1] == (True, False) and len(calls) == 6
    s.undo(), s.undo()
    assert doc == [] and s.undo() is None


def test_clean_marker_follows_undo_and_becomes_unreachable():
    doc = []
    s = CommandStack()
    s.push(Append(doc, 1))
    s.set_clean()
    s.push(Append(doc, 2))
    assert not s.is_clean
    s.undo()
    assert s.is_clean
    s.undo()
    assert not s.is_clean
    s.push(Append(doc, 9))  # the saved state [1] can no longer be reached by undo/redo
    s.undo()
    assert not s.is_clean
    s.clear()
    assert s.is_clean and not s.can_undo


def test_failing_do_is_not_recorded_and_failing_undo_keeps_history():
    s = CommandStack()

    def boom():
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        s.push(FunctionCommand("bad", boom, lambda: None))
    assert not s.can_undo
    s.push(FunctionCommand("bad undo", lambda: None, boom))
    with pytest.raises(RuntimeError):
        s.undo()
    assert s.can_undo and s.undo_text == "bad undo"


def test_max_depth_forgets_oldest():
    doc = []
    s = CommandStack(max_depth=3)
    for i in range(5):
        s.push(Append(doc, i))
    assert len(s) == 3
    while s.undo():
        pass
    assert doc == [0, 1]
    with pytest.raises(ValueError):
        CommandStack(max_depth=0)


def test_state_paint_erase_and_scenario_undo():
    from app.presenters.document import DEFAULT_PROJECT, WorkbenchState
    from core import project_io

    project = project_io.load(DEFAULT_PROJECT)  # the bundled example: trained, no training needed here
    st = WorkbenchState(project, None)
    shape = st.shape(1)
    circle = parse_spec("circle:array=1,r=0.2,stuck=off")
    st.add_defect(circle)
    stroke = np.zeros(shape, dtype=bool)
    stroke[0, :5] = True
    st.paint(1, stroke, erase=False, stuck="on")
    assert [d.pattern for d in st.draft] == ["circle", "mask"]
    assert np.array_equal(st.draft[1].mask, stroke)
    more = np.zeros(shape, dtype=bool)
    more[1, 0] = True
    st.paint(1, more, erase=False, stuck="on")  # same array and stuck: the same mask grows
    assert len(st.draft) == 2 and st.draft[1].mask.sum() == 6
    st.paint(1, stroke | more, erase=True)  # erasing everything painted removes the mask defect
    assert [d.pattern for d in st.draft] == ["circle"]
    st.stack.undo()
    assert st.draft[1].mask.sum() == 6
    st.save_scenario("mine")
    assert [d.pattern for d in project.scenarios["mine"].defects] == ["circle", "mask"]
    st.stack.undo()
    assert "mine" not in project.scenarios
    assert st.dirty
    st.stack.undo(), st.stack.undo(), st.stack.undo()
    assert st.draft == [] and not st.dirty
