"""The main window's flow without Qt (app.presenters.window_flow): questions, replacing and closing, quitting,
where finished results go, recent and dropped files, the About text. Jobs run on a real core JobQueue."""

from __future__ import annotations

import copy
import os
import threading
import time

import pytest

from app.presenters import window_flow as flow
from app.presenters.document import DEFAULT_PROJECT, WorkbenchState
from core import project_io
from core.jobs import Progress
from core.model.defects import parse_spec
from core.model.project import Project
from core.model.results import SweepResult
from core.project_io import FORMAT_VERSION
from core.session.job_queue import CANCELLED, DONE, FAILED, JobInfo, JobQueue
from core.version import __version__


class Jobs:
    """A real job queue plus the project each job's result goes to (what QtJobQueue adds, without Qt)."""

    def __init__(self):
        self.queue = JobQueue(max_workers=2)
        self.targets: dict[int, object] = {}

    def submit(self, factory, name, project):
        job_id = self.queue.submit(factory, name=name)
        self.targets[job_id] = project
        return job_id

    def unfinished_for(self, project):
        return [j for j in self.queue.jobs() if not j.finished and self.targets.get(j.id) is project]

    def cancel(self, job_id):
        self.queue.cancel(job_id)

    def wait_state(self, job_id, states, timeout_s=10.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.queue.get(job_id).state in states:
                return self.queue.get(job_id).state
            time.sleep(0.01)
        raise AssertionError(f"job {job_id} is {self.queue.get(job_id).state}, not in {states}")


def _waiting_job(gate: threading.Event):
    def job():
        while not gate.is_set():
            yield Progress(0, 1, "waiting for the gate")
            time.sleep(0.01)
        return 1

    return job


@pytest.fixture(scope="module")
def _example() -> Project:
    return project_io.load(DEFAULT_PROJECT)


@pytest.fixture
def state(_example) -> WorkbenchState:
    return WorkbenchState(copy.deepcopy(_example), DEFAULT_PROJECT)


@pytest.fixture
def jobs():
    j = Jobs()
    yield j
    j.queue.shutdown(cancel=True, timeout=10)


class Answers:
    """Scripted answers by question title; records every question asked."""

    def __init__(self, **by_title):
        self.by_title, self.asked = by_title, []

    def __call__(self, q: flow.Question) -> str:
        self.asked.append(q)
        answer = self.by_title[q.title]
        assert answer in q.keys()
        return answer


def test_replacing_asks_about_jobs_then_unsaved_changes_and_cancels_only_when_it_proceeds(state, jobs):
    gate = threading.Event()
    old = state.project
    job = jobs.submit(_waiting_job(gate), "sweep circle (480 maps)", old)
    jobs.wait_state(job, ("running",))
    state.add_defect(parse_spec("rows:array=2,start=1,count=2,stuck=off"))
    new = Project()

    # "Don't open": nothing happens, the job keeps running
    ask = Answers(**{"Jobs still running": flow.KEEP_JOBS})
    out = flow.replace_project(state, jobs, new, None, "open another project", ask, save=lambda: True)
    assert not out.done and "jobs of the open project are still running" in out.note
    q = ask.asked[0]
    assert "sweep circle (480 maps) (running)" in q.text and "lost if you open another project" in q.text
    assert [c.label for c in q.choices] == ["Cancel jobs and continue", "Don't open another project"]
    assert q.default == flow.KEEP_JOBS and q.unattended == flow.CANCEL_JOBS

    # cancel jobs, but then "Cancel" at the unsaved question: still nothing cancelled, nothing replaced
    ask = Answers(**{"Jobs still running": flow.CANCEL_JOBS, "Unsaved changes": flow.CANCEL})
    out = flow.replace_project(state, jobs, new, None, "open another project", ask, save=lambda: True)
    assert not out.done and [q.title for q in ask.asked] == ["Jobs still running", "Unsaved changes"]
    assert "digits-paper.h5 has unsaved changes (1 edit)" in ask.asked[1].text
    # Save chosen but the save fails (or is cancelled): stop
    ask = Answers(**{"Jobs still running": flow.CANCEL_JOBS, "Unsaved changes": flow.SAVE})
    out = flow.replace_project(state, jobs, new, None, "open another project", ask, save=lambda: False)
    assert not out.done and "was not saved" in out.note
    assert state.project is old and jobs.queue.get(job).state == "running"

    # discard: the job is cancelled and the new project is open, clean
    ask = Answers(**{"Jobs still running": flow.CANCEL_JOBS, "Unsaved changes": flow.DISCARD})
    out = flow.replace_project(state, jobs, new, "/x/new.h5", "open another project", ask, save=lambda: True)
    assert out.done and out.note == "cancelled 1 job of the previous project"
    assert state.project is new and state.path == "/x/new.h5" and not state.dirty and state.draft == []
    assert jobs.wait_state(job, (CANCELLED,)) == CANCELLED


def test_unattended_replacing_discards_but_a_finished_training_keeps_unsaved_work(state, jobs):
    state.add_defect(parse_spec("rows:array=2,start=1,count=2,stuck=off"))
    old, trained = state.project, Project()
    unattended = lambda q: q.unattended  # noqa: E731 - what the window answers without a user
    out = flow.replace_project(
        state, jobs, trained, None, "open the trained project", unattended, lambda: True, dirty=True, keep_dirty=True
    )
    assert not out.done and state.project is old and state.dirty
    assert flow.trained_text(out, state).startswith(
        "training finished; the open project has unsaved changes and was kept"
    )
    out = flow.replace_project(
        state, jobs, trained, None, "open the trained project", unattended, lambda: True, dirty=True
    )
    assert out.done and state.project is trained and state.dirty and state.path is None
    assert flow.trained_text(out, state) == "training finished; the new project is open (unsaved)"
    assert state.unsaved_summary() == "a new, never saved project"


def test_quitting_with_a_running_job_asks_and_no_keeps_it(state, jobs):
    gate = threading.Event()
    job = jobs.submit(_waiting_job(gate), "train 64-8-8-8-10", None)  # a training: no target project
    jobs.wait_state(job, ("running",))
    unfinished = [j for j in jobs.queue.jobs() if not j.finished]
    ask = Answers(**{"Jobs still running": flow.KEEP_JOBS})
    out = flow.may_quit(state, unfinished, ask, save=lambda: True)
    q = ask.asked[0]
    assert not out.done and out.note == "did not quit: jobs are still running"
    assert "1 job(s) are queued or running" in q.text and "train 64-8-8-8-10 (running)" in q.text
    assert [c.key for c in q.choices] == [flow.CANCEL_JOBS, flow.KEEP_JOBS] and q.default == flow.KEEP_JOBS
    assert jobs.queue.get(job).state == "running"
    ask = Answers(**{"Jobs still running": flow.CANCEL_JOBS})
    assert flow.may_quit(state, unfinished, ask, save=lambda: True).done  # not dirty: no second question
    assert len(ask.asked) == 1
    gate.set()
    assert jobs.wait_state(job, (DONE,)) == DONE
    assert flow.quit_question([]) is None
    state.add_defect(parse_spec("rows:array=2,start=1,count=2,stuck=off"))
    ask = Answers(**{"Unsaved changes": flow.SAVE})
    saved = []
    assert flow.may_quit(state, [], ask, save=lambda: saved.append(1) or True).done and saved == [1]
    assert "Save them before you quit?" in ask.asked[0].text


def _info(state: str, result=None, partial=None, error="", name="job") -> JobInfo:
    return JobInfo(1, name, 0, state, result=result, partial=partial, error=error)


def test_job_report_says_where_a_result_went(state):
    p = state.project
    run = copy.deepcopy(p.results[0])
    r = flow.job_report(_info(DONE, result=run, name="evaluate clean (behavioral)"), p, p)
    assert r.stored_here and r.text == "evaluate clean (behavioral) finished"
    r = flow.job_report(_info(DONE, result=run, name="evaluate x"), Project(), p)
    assert (
        not r.stored_here
        and r.text == "evaluate x finished (its project is no longer open; nothing was added to this one)"
    )
    partial = SweepResult("", {}, [{"size": 0.1}, {"size": 0.2}, {"size": 0.3}])
    r = flow.job_report(_info(CANCELLED, partial=partial, error="cancelled", name="sweep circle"), p, p)
    assert r.stored_here and r.text == "sweep circle was cancelled; kept the 3 finished points as a partial sweep"
    r = flow.job_report(_info(CANCELLED, partial=SweepResult("", {}, []), error="cancelled"), p, p)
    assert not r.stored_here and r.text == "job was cancelled"
    r = flow.job_report(_info(FAILED, error="SimulationError: ngspice: no convergence"), p, p)
    assert not r.stored_here and r.text == "job failed: SimulationError: ngspice: no convergence"
    assert flow.job_report(_info(DONE, result=Project()), None, p) is None  # a training reports elsewhere


def test_recent_and_dropped_files(tmp_path):
    a, b, c = (str(tmp_path / n) for n in ("a.h5", "b.h5", "c.hdf5"))
    open(a, "w").close()
    recent = flow.add_recent([], a)
    recent = flow.add_recent(recent, b)
    recent = flow.add_recent(recent, os.path.join(str(tmp_path), ".", "a.h5"))  # the same file, spelled otherwise
    assert recent == [a, b]
    many = recent
    for i in range(12):
        many = flow.add_recent(many, str(tmp_path / f"p{i}.h5"))
    assert len(many) == flow.MAX_RECENT and many[0].endswith("p11.h5") and a not in many
    entries = flow.recent_entries([a, b])
    assert entries[0] == (f"&1 a.h5  ({tmp_path})", a, True) and entries[1][2] is False  # b.h5 does not exist
    assert flow.dropped_project(["/x/notes.txt", "/x/P.H5", c]) == "/x/P.H5"
    assert flow.dropped_project(["/x/notes.txt", ""]) is None


def test_about_text_holds_the_versions():
    solver, err = flow.solver_details()
    text = flow.about_text(solver, err)
    assert f"ReRAM Fault Workbench {__version__}" in text and f"format version {FORMAT_VERSION}" in text
    if solver is not None:
        assert f"ngspice {solver['version']}" in text and ("KLU" in text) == bool(solver["klu"])
    missing = flow.about_text(None, "ngspice: executable not found on PATH")
    assert "SPICE: ngspice not found: ngspice: executable not found on PATH" in missing


def test_window_title_and_unsaved_summary(state):
    assert flow.window_title(state) == "ReRAM Fault Workbench — digits-paper.h5"
    state.add_defect(parse_spec("rows:array=2,start=1,count=2,stuck=off"))
    state.add_defect(parse_spec("rows:array=2,start=4,count=1,stuck=on"))
    state.results_added()
    assert flow.window_title(state).endswith("digits-paper.h5 *")
    assert state.unsaved_summary() == "2 edits and 1 new result"
    assert flow.unsaved_question(state, "close the project").title == "Unsaved changes"
    state.stack.undo(), state.stack.undo()
    assert state.unsaved_summary() == "1 new result"


def test_a_failed_sweeps_kept_points_count_as_stored(trained_project):
    """The queue keeps the finished points of a failed sweep as of a cancelled one; the report must say so,
    or the project would not be marked as changed and the points could be lost on quit."""
    from core.model.results import SweepResult
    from core.session.job_queue import FAILED, JobInfo

    partial = SweepResult(id="", spec={}, rows=[{"pattern": "circle"}], partial=True)
    info = JobInfo(7, "sweep circle", 0, FAILED, partial=partial, error="dask: worker lost")
    report = flow.job_report(info, trained_project, trained_project)
    assert report.stored_here and "kept the 1 finished points" in report.text and "worker lost" in report.text
