"""Run > Run study… in the window: the study runs in the job queue, its sweep lands in the results panel, the
report is written (and would open in the browser), a cancel leaves a partial report.

The study runs on tiny grids (the same core job and sections as ``--quick``, fewer Monte-Carlo draws) so the
test takes seconds; ``tests/test_study.py`` runs the real ``--quick`` study from the command line.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from app.presenters import study_flow
from core.errors import ParameterError
from core.study.spec import StudyPlan
from gui_helpers import wait_job

TINY = StudyPlan(
    sizes=(0.3,),
    seeds=3,
    small_line_size=0.25,
    recovery_arrays=(4,),
    recovery_patterns=("ring",),
    recovery_stuck=("on",),
    headline_scenarios=1,
    size_sweep=((2, 1), (16, 1)),
    data_sweep_images=(100,),
    sweep_scenarios=1,
    generalization_arrays=(4,),
    generalization_variants=0,
    generalization_tests=0,
    generalization_paper_config=True,
    offset_sigmas_volt=(0.0, 2e-3),
    program_sigmas=(0.1,),
    read_noise_sigmas=(0.02,),
    circuit_seeds=3,
)


def test_run_menu_has_run_study(window):
    assert window.run_menu.title() == "&Run"
    assert window.study_action in window.run_menu.actions()
    assert window.run_study() is None  # no folder and nobody to ask: nothing is queued


def test_run_study_writes_the_report_and_shows_its_sweep(window, qtbot, tmp_path):
    out = tmp_path / "study"
    st = window.state
    n_sweeps = len(st.project.sweeps)
    info = wait_job(qtbot, window.jobs, lambda: window.run_study(str(out), plan=TINY), timeout_ms=600_000)
    assert info.state == "done", info.error
    outcome = window.last_study
    assert outcome is not None and not outcome.partial
    assert outcome.report == str(out / "report.html") and os.path.isfile(outcome.report)
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert data["partial"] is False and data["project"]["scheme"] == st.project.scheme
    # the sweep of the project's own mapping is stored into the project and shown in the results panel
    assert len(st.project.sweeps) == n_sweeps + 1 and outcome.sweep is st.project.sweeps[-1]
    assert window.results.current_sweep() is outcome.sweep
    assert window.tabs.currentWidget() is window.results
    rows = data["sections"]["defects"]["sweeps"][st.project.scheme]["rows"]
    # results.json keeps 6 significant digits
    assert np.allclose([r["accuracies"] for r in outcome.sweep.rows], [r["accuracies"] for r in rows], atol=1e-6)
    curve = window.results.sweep_curves[("circle", "on", 1)]
    _, y = curve.getData()
    want = [r["mean_accuracy"] for r in rows if r["pattern"] == "circle" and r["stuck"] == "on" and r["array"] == 1]
    assert np.allclose(y, want)


def test_cancelled_study_leaves_a_partial_report(window, qtbot, tmp_path):
    out = tmp_path / "cancelled"
    job_id = window.run_study(str(out), plan=TINY)
    assert job_id is not None
    qtbot.waitUntil(
        lambda: any(j.id == job_id and j.progress and "recovery" in j.progress.message for j in window.jobs.jobs()),
        timeout=600_000,
    )
    with qtbot.waitSignal(window.jobs.job_finished, timeout=120_000, check_params_cb=lambda i: i.id == job_id):
        window.jobs.cancel(job_id)
    outcome = window.last_study
    assert outcome is not None and outcome.partial and outcome.report is not None
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Partial result" in html
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert "clean" in data["sections_done"] and "circuit:offsets" not in data["sections_done"]


def test_study_flow_checks_the_folder(window, tmp_path):
    afile = tmp_path / "a-file"
    afile.write_text("x")
    with pytest.raises(ParameterError, match="output folder"):
        study_flow.plan_study(window.state, str(afile))
    with pytest.raises(ParameterError, match="output folder"):
        study_flow.plan_study(window.state, "  ")
    plan = study_flow.plan_study(window.state, str(tmp_path / "new"))
    assert "quick study" in plan.name and plan.project is window.state.project
