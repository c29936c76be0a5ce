"""The run controls' flow without Qt (app.presenters.run_flow): the jobs it builds compute what the core computes."""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest

from app.presenters import run_flow
from app.presenters.document import DEFAULT_PROJECT, WorkbenchState
from core import jobs, project_io
from core.circuit.fidelity import with_overrides
from core.errors import WorkbenchError
from core.evaluate import evaluate_job
from core.model.defects import parse_spec
from core.model.project import Project
from core.recovery.recover import recover_job
from core.sweeps.job import sweep_job
from core.sweeps.spec import SweepSpec
from project_builders import ROOT

SWEEP = {"patterns": "circle", "sizes": "0.2", "stuck": "on", "arrays": "1", "seeds": "3"}


@pytest.fixture(scope="module")
def _example() -> Project:
    return project_io.load(DEFAULT_PROJECT)


@pytest.fixture
def state(_example) -> WorkbenchState:
    return WorkbenchState(copy.deepcopy(_example), None)


def _error(fn) -> str:
    with pytest.raises(WorkbenchError) as info:
        fn()
    return str(info.value)


def test_evaluation_factory_returns_the_core_result_for_the_draft_and_wire_resistance(state):
    ring = parse_spec("ring:array=4,r_in=0.2,r_out=0.35,stuck=on")
    state.add_defect(ring)
    state.draft_name = "ring-4"
    plan = run_flow.plan_evaluation(state, "nodal", " 5 ", "linear")
    assert plan.project is state.project
    assert plan.name == "evaluate ring-4 (nodal, 5 Ω wires)"
    assert plan.message == "queued: evaluate ring-4 at nodal, 5 Ω wires"
    state.set_draft([], "clear")  # an edit after the click does not change the queued job
    got = jobs.run(plan.factory())
    want = jobs.run(evaluate_job(copy.deepcopy(state.project), [ring], "nodal", r_wire_ohm=5.0, scenario="ring-4"))
    assert got.accuracy == want.accuracy and np.array_equal(got.output_voltages, want.output_voltages)
    assert got.params["r_wire_ohm"] == 5.0 and got.scenario == "ring-4" and got.defect_specs == [ring.to_spec()]
    ideal_wires = jobs.run(evaluate_job(copy.deepcopy(state.project), [ring], "nodal"))
    assert not np.array_equal(got.output_voltages, ideal_wires.output_voltages)  # the 5 Ω really reached the job


def test_evaluation_texts_clean_draft_and_wire_note(state):
    clean = run_flow.plan_evaluation(state, "behavioral", "0", "linear")
    assert clean.name == "evaluate clean (behavioral)" and clean.message == "queued: evaluate clean at behavioral"
    assert jobs.run(clean.factory()).defect_specs == []
    state.add_defect(parse_spec("rows:array=2,start=1,count=2,stuck=off"))
    state.draft_name = ""
    plan = run_flow.plan_evaluation(state, "behavioral", "2", "gap")
    assert plan.name == "evaluate draft (behavioral, 2 Ω wires, gap devices)"
    assert plan.message.endswith(run_flow.WIRE_NOTE)  # behavioural ignores wires: the user is told
    assert not run_flow.plan_evaluation(state, "nodal", "2", "linear").message.endswith(run_flow.WIRE_NOTE)


def test_field_errors_name_the_field_and_range(state):
    assert "wire resistance (ohm)" in (e := _error(lambda: run_flow.plan_evaluation(state, "nodal", "-1", "linear")))
    assert "[0, 10000]" in e
    assert "wire resistance (ohm): is empty" in _error(lambda: run_flow.plan_evaluation(state, "nodal", " ", "linear"))
    assert "device model: must be one of linear, gap" in _error(
        lambda: run_flow.plan_evaluation(state, "nodal", "0", "tunnel")
    )
    assert "fidelity: must be one of" in _error(lambda: run_flow.plan_evaluation(state, "exact", "0", "linear"))
    empty = WorkbenchState(Project(), None)
    assert _error(lambda: run_flow.plan_evaluation(empty, "ideal", "0", "linear")).startswith(
        "project: has no trained and mapped network"
    )
    bad = dict(SWEEP, seeds="0")
    assert "seeds" in _error(lambda: run_flow.plan_sweep(state, bad, "behavioral", "", "0", "linear"))
    assert _error(
        lambda: run_flow.plan_sweep(state, SWEEP, "behavioral", "dask.example:8786", "0", "linear")
    ).startswith("Dask scheduler: must be empty (this computer) or an address such as tcp://127.0.0.1:8786")
    assert run_flow.scheduler_address("  tcp://10.0.0.1:8786 ") == "tcp://10.0.0.1:8786"
    assert run_flow.scheduler_address("") is None
    assert _error(lambda: run_flow.plan_recovery(state, "remap", "behavioral", "0", "linear")).startswith(
        "scenario: has no defects"
    )


def test_sweep_factory_uses_the_device_model_override(state, _example):
    plan = run_flow.plan_sweep(state, SWEEP, "behavioral", "", "0", "gap")
    assert plan.name == "sweep circle (3 maps, behavioral, gap devices)"
    assert plan.message == "queued: sweep of 3 defect maps at behavioral, gap devices"
    got = jobs.run(plan.factory())
    gap = copy.deepcopy(_example)
    gap.mapped = with_overrides(gap.mapped, 0.0, "gap")
    spec = SweepSpec(patterns=("circle",), sizes=(0.2,), stuck=("on",), arrays=(1,), n_seeds=3)
    assert got.rows[0]["mean_accuracy"] == jobs.run(sweep_job(gap, spec)).rows[0]["mean_accuracy"]
    assert got.spec["device_model"] == "gap"
    every = run_flow.plan_sweep(state, dict(SWEEP, arrays="all", patterns="circle,rows"), "nodal", "", "0", "linear")
    assert every.name == "sweep circle,rows (24 maps, nodal)"  # 2 patterns x 4 arrays x 3 seeds


def test_recovery_factory_recovers_the_draft(state):
    rows = parse_spec("rows:array=2,start=1,count=2,stuck=off")
    state.add_defect(rows)
    state.draft_name = "two-rows"
    plan = run_flow.plan_recovery(state, "remap", "behavioral", "0", "linear")
    assert plan.name == "recover two-rows (remap, behavioral)"
    assert plan.message == "queued: remap recovery at behavioral"
    got = jobs.run(plan.factory())
    want = jobs.run(recover_job(copy.deepcopy(state.project), [rows], "remap", "behavioral", scenario="two-rows"))
    assert (got.before, got.after, got.method, got.scenario) == (want.before, want.after, "remap", "two-rows")
    assert "method: must be one of" in _error(
        lambda: run_flow.plan_recovery(state, "magic", "behavioral", "0", "linear")
    )


def test_circuit_note_names_only_what_differs(state):
    m = state.project.mapped
    assert run_flow.circuit_note(m, run_flow.Circuit(m.circuit.r_wire_ohm, m.device.model)) == ""
    assert run_flow.circuit_note(m, run_flow.Circuit(2.5, m.device.model)) == ", 2.5 Ω wires"
    assert run_flow.circuit_note(m, run_flow.Circuit(0.0, "gap")) == ", gap devices"


def test_presenters_import_no_qt():
    code = (
        "import sys, app.presenters.run_flow, app.presenters.window_flow, app.presenters.document; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')]; "
        "assert not bad, bad"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def test_a_loaded_scenario_edited_afterwards_is_not_stored_under_its_name(state):
    """Load a saved scenario, add a defect, run: the result must not claim the saved scenario's name."""
    from core.model.project import Scenario

    ring = parse_spec("ring:array=4,r_in=0.2,r_out=0.35,stuck=on")
    state.project.scenarios["die7"] = Scenario("die7", [ring])
    state.load_scenario("die7")
    assert run_flow.draft_scenario(state)[1] == "die7"  # unchanged: its own name
    state.add_defect(parse_spec("rows:array=4,start=0,count=2,stuck=on"))
    defects, name = run_flow.draft_scenario(state)
    assert name == "die7 (edited)" and len(defects) == 2
    plan = run_flow.plan_evaluation(state, "behavioral", "0", "linear")
    assert jobs.run(plan.factory()).scenario == "die7 (edited)"


def test_offset_field_reaches_evaluation_sweep_and_recovery(state):
    from core.circuit.fidelity import with_opamp
    from core.model.opamp import OpAmpParams

    before = copy.deepcopy(state.project.mapped.opamp)
    plan = run_flow.plan_evaluation(state, "behavioral", "0", "linear", " 2 ")
    got = jobs.run(plan.factory())
    view = copy.deepcopy(state.project)
    view.mapped = with_opamp(view.mapped, OpAmpParams(offset_sigma_volt=2e-3))
    want = jobs.run(evaluate_job(view, [], "behavioral"))
    clean = jobs.run(evaluate_job(copy.deepcopy(state.project), [], "behavioral"))
    assert np.array_equal(got.output_voltages, want.output_voltages)
    assert not np.array_equal(got.output_voltages, clean.output_voltages)  # the offsets really reached the job
    # a run's offset is never written into the open project
    assert "offset sigma 2 mV" in plan.name and state.project.mapped.opamp == before
    sweep = run_flow.plan_sweep(state, {**SWEEP, "patterns": "none"}, "behavioral", "", "0", "linear", "0, 2")
    res = jobs.run(sweep.factory())
    assert sorted({r["offset_sigma_volt"] for r in res.rows}) == [0.0, 0.002]
    for bad, why in (("-1", "[0, 100] mV"), ("abc", "numbers"), ("1e9", "[0, 100] mV")):
        assert "op-amp offset sigma (mV)" in _error(
            lambda b=bad: run_flow.plan_evaluation(state, "behavioral", "0", "linear", b)
        )
        assert why in _error(lambda b=bad: run_flow.plan_evaluation(state, "behavioral", "0", "linear", b))
    assert "one sigma" in _error(lambda: run_flow.plan_evaluation(state, "behavioral", "0", "linear", "1,2"))
