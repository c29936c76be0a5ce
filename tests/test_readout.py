"""The defect editor's live read-out without Qt: the core computation and the "latest edit wins" computer.

:func:`core.evaluate.defect_readout` must give exactly what ``evaluate_job(..., "behavioral")`` gives; the
presenter must deliver results in order, drop edits overtaken while it computes, and turn failures into text.
"""

from __future__ import annotations

import copy
import math
import os
import threading
import time

import numpy as np
import pytest

from app.presenters import readout as ro
from core import jobs, project_io
from core.errors import DefectSpecError
from core.evaluate import DefectReadout, defect_readout, evaluate_job
from core.model.defects import Defect, parse_spec
from core.model.stats import wilson_interval

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "projects", "digits-paper.h5")


@pytest.fixture(scope="module")
def _example():
    return project_io.load(EXAMPLE)


@pytest.fixture
def example(_example):
    return copy.deepcopy(_example)


def _mask(shape, seed=3):
    return np.random.default_rng(seed).random(shape) < 0.2


DEFECT_SETS = {
    "none": lambda p: [],
    "circle": lambda p: [parse_spec("circle:array=1,r=0.3,stuck=on")],
    "ring+rows": lambda p: [
        parse_spec("ring:array=1,r_in=0.1,r_out=0.4,stuck=off"),
        parse_spec("rows:array=2,count=3,stuck=on"),
    ],
    "columns 50k": lambda p: [parse_spec("columns:array=3,start=2,count=4,stuck=50k")],
    "complement": lambda p: [parse_spec("circle_complement:array=4,r=0.35,stuck=off")],
    "checkerboard+random": lambda p: [
        parse_spec("checkerboard:array=2,period=2,stuck=on"),
        parse_spec("random:array=1,fraction=0.15,seed=4,stuck=off"),
    ],
    "mask": lambda p: [Defect("mask", 2, "on", 0.0, {}, mask=_mask(p.mapped.shapes[1]))],
}


@pytest.mark.parametrize("name", list(DEFECT_SETS))
def test_readout_equals_evaluate_job_behavioral(example, name):
    defects = DEFECT_SETS[name](example)
    r = defect_readout(example, defects)
    res = jobs.run(evaluate_job(example, defects, "behavioral"))
    clean = jobs.run(evaluate_job(example, [], "behavioral"))
    assert r.accuracy == res.accuracy
    assert r.defect_fraction == tuple(res.defect_fraction)
    assert r.clean_accuracy == clean.accuracy
    assert r.delta == res.accuracy - clean.accuracy
    assert r.n_images == res.n_images == 180
    assert (r.ci_low, r.ci_high) == wilson_interval(round(res.accuracy * 180), 180)
    assert r.ci_low <= r.accuracy <= r.ci_high
    if name == "none":
        assert r.delta == 0 and r.defect_fraction == (0.0, 0.0, 0.0, 0.0)
    else:
        assert any(f > 0 for f in r.defect_fraction)


def test_big_defect_lowers_accuracy_and_interval_excludes_clean(example):
    r = defect_readout(example, [parse_spec("circle:array=1,r=0.5,stuck=on")])
    assert r.delta < -0.2 and r.ci_high < r.clean_accuracy
    assert 0.5 < r.defect_fraction[0] < 1 and r.defect_fraction[1:] == (0.0, 0.0, 0.0)


def test_clean_accuracy_is_cached_per_mapped_network(example, monkeypatch):
    from core import evaluate

    defect_readout(example, [])  # fills the cache for this network
    calls = []
    real = evaluate.behavioral.forward_voltages
    monkeypatch.setattr(evaluate.behavioral, "forward_voltages", lambda *a, **k: calls.append(len(a)) or real(*a, **k))
    defect_readout(example, [parse_spec("rows:array=1,count=2,stuck=off")])
    assert len(calls) == 1  # the defective circuit only
    other = copy.deepcopy(example)  # another network (same numbers): its own clean evaluation
    defect_readout(other, [parse_spec("rows:array=1,count=2,stuck=off")])
    assert len(calls) == 3


def test_readout_of_a_project_without_network_and_of_a_bad_mask_raise_user_errors(example):
    from core.errors import ParameterError
    from core.model.project import Project

    with pytest.raises(ParameterError, match="project"):
        defect_readout(Project(), [])
    with pytest.raises(DefectSpecError, match="mask: shape"):
        defect_readout(example, [Defect("mask", 1, "on", 0.0, {}, mask=np.ones((3, 3), bool))])


# ---- texts ----------------------------------------------------------------------------------------------
def test_readout_text():
    r = DefectReadout(0.4222, 0.9167, 0.4222 - 0.9167, 0.3528, 0.4946, 180, (0.123, 0.0, 1.0, 0.0004))
    assert ro.readout_text(r) == (
        "accuracy 0.422 (95% CI 0.35-0.49), -0.494 vs defect-free 0.917; "
        "defective: array 1 12.3%, array 2 0%, array 3 100%, array 4 <0.1%"
    )
    assert [f for _n, f, _t in ro.fraction_items(r)] == [0.123, 0.0, 1.0, 0.0004]
    same = DefectReadout(0.9167, 0.9167, 0.0, 0.86, 0.95, 180, (0.0,))
    assert "+0.000 vs defect-free 0.917" in ro.readout_text(same)
    assert "180 test images" in ro.readout_tooltip(r)
    empty = DefectReadout(math.nan, math.nan, math.nan, math.nan, math.nan, 0, ())
    assert "no interval" in ro.accuracy_text(empty)
    assert ro.ReadoutOutcome(3, error="mask: shape (3, 3) does not match").text.startswith("no read-out: mask")


# ---- the latest-edit-wins computer ----------------------------------------------------------------------
class Recorder:
    """Collects outcomes (on the worker thread) and lets a test wait for a serial."""

    def __init__(self):
        self.outcomes: list[ro.ReadoutOutcome] = []
        self.cond = threading.Condition()

    def __call__(self, outcome):
        with self.cond:
            self.outcomes.append(outcome)
            self.cond.notify_all()

    def wait_for(self, serial, timeout_s=10.0):
        with self.cond:
            assert self.cond.wait_for(lambda: any(o.serial == serial for o in self.outcomes), timeout_s)
        return next(o for o in self.outcomes if o.serial == serial)


def _fake_readout(value):
    return DefectReadout(value, 0.9, value - 0.9, 0.0, 1.0, 10, (0.0,))


def test_results_arrive_in_order_with_their_serials():
    rec = Recorder()
    comp = ro.ReadoutComputer(rec, compute=lambda project, defects: _fake_readout(len(defects) / 10))
    serials = []
    for n in range(5):
        serials.append(comp.submit(None, [None] * n))
        rec.wait_for(serials[-1])  # each waited for: none is dropped
    assert serials == [1, 2, 3, 4, 5]
    assert [o.serial for o in rec.outcomes] == serials
    assert [o.readout.accuracy for o in rec.outcomes] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert not comp.busy and comp.delivered == 5 and comp.computed == 5
    comp.close()


def test_edits_overtaken_while_computing_are_dropped():
    rec = Recorder()
    started, release = threading.Event(), threading.Event()
    seen = []

    def slow(project, defects):
        seen.append(project)
        if project == "first":
            started.set()
            assert release.wait(10)
        return _fake_readout(0.5)

    comp = ro.ReadoutComputer(rec, compute=slow)
    assert comp.submit("first", []) == 1
    assert started.wait(10)
    t0 = time.perf_counter()
    for name in ("second", "third", "fourth"):
        comp.submit(name, [])
    assert time.perf_counter() - t0 < 0.5  # submit never waits for the computation
    assert comp.busy and comp.is_current(4) and not comp.is_current(3)
    release.set()
    rec.wait_for(4)
    comp.close()
    assert seen == ["first", "fourth"]  # the two overtaken edits were never computed
    assert [o.serial for o in rec.outcomes] == [1, 4]
    assert not comp.busy
    # a GUI thread that wakes only now takes the newest outcome, once; the one it overtook is gone
    assert comp.take_latest() is rec.outcomes[-1] and comp.take_latest() is None


def test_invalidate_makes_the_running_result_stale():
    rec = Recorder()
    started, release = threading.Event(), threading.Event()

    def slow(project, defects):
        started.set()
        assert release.wait(10)
        return _fake_readout(0.5)

    comp = ro.ReadoutComputer(rec, compute=slow)
    comp.submit("old project", [])
    assert started.wait(10)
    assert comp.invalidate() == 2
    release.set()
    deadline = time.monotonic() + 10
    while comp.busy and time.monotonic() < deadline:  # the worker finishes the stale computation and ends
        time.sleep(0.005)
    assert comp.computed == 1 and not comp.busy
    assert rec.outcomes == []  # the result of the project that went away is never shown
    release.clear()
    release.set()
    assert rec.wait_for(comp.submit("new project", [])).ok  # later edits are shown as usual
    comp.close()


def test_failures_become_text_and_the_worker_goes_on():
    rec = Recorder()

    def compute(project, defects):
        if project == "bad spec":
            raise DefectSpecError("mask: shape (3, 3) does not match array 1 (65, 16)")
        if project == "bug":
            raise ZeroDivisionError("division by zero")
        return _fake_readout(0.8)

    comp = ro.ReadoutComputer(rec, compute=compute)
    a = rec.wait_for(comp.submit("bad spec", []))
    b = rec.wait_for(comp.submit("bug", []))
    c = rec.wait_for(comp.submit("fine", []))
    assert not a.ok and a.error == "mask: shape (3, 3) does not match array 1 (65, 16)"
    assert not b.ok and b.error == "ZeroDivisionError: division by zero"
    assert c.ok and c.readout.accuracy == 0.8
    comp.close()


def test_a_failing_receiver_does_not_stop_later_readouts():
    got = []

    def receiver(outcome):
        got.append(outcome.serial)
        if outcome.serial == 1:
            raise RuntimeError("receiver gone")

    comp = ro.ReadoutComputer(receiver, compute=lambda p, d: _fake_readout(0.1))
    comp.submit(None, [])
    deadline = time.monotonic() + 10
    while 1 not in got and time.monotonic() < deadline:
        time.sleep(0.005)
    comp.submit(None, [])
    while 2 not in got and time.monotonic() < deadline:
        time.sleep(0.005)
    assert got == [1, 2]
    comp.close()


def test_close_stops_the_thread_and_later_submits_do_nothing():
    rec = Recorder()
    comp = ro.ReadoutComputer(rec, compute=lambda p, d: _fake_readout(0.3))
    rec.wait_for(comp.submit(None, []))
    comp.close()
    assert comp._thread is None or not comp._thread.is_alive()
    comp.submit(None, [])
    time.sleep(0.1)
    assert [o.serial for o in rec.outcomes] == [1]
    assert not any(t.name == "defect-readout" and t.is_alive() for t in threading.enumerate())


def test_real_computation_through_the_computer(example):
    rec = Recorder()
    comp = ro.ReadoutComputer(rec)
    defects = [parse_spec("circle:array=1,r=0.3,stuck=on")]
    out = rec.wait_for(comp.submit(example, defects))
    comp.close()
    assert out.ok and out.readout == defect_readout(example, defects)
    assert out.text == ro.readout_text(out.readout)
