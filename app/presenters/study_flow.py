"""Run > Run study…, free of Qt: check the output folder, build the study job, and once it ends say where the report
is and which of its results go into the open project's plots.

The study job (:func:`core.study.job.study_job`) writes its report itself, also when cancelled (marked partial).
Its result is a plain dict, not a project result; the defect sweep of the project's own mapping scheme is a
:class:`~core.model.results.SweepResult` and is stored into the project (``store_result``), so it shows in the
results panel like any sweep.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from app.presenters.document import WorkbenchState
from app.presenters.run_flow import JobPlan, require_mapped, scheduler_address
from core.errors import ParameterError
from core.model.project import Project
from core.model.results import SweepResult
from core.session.job_queue import DONE, JobInfo
from core.session.store import store_result


@dataclass(frozen=True)
class StudyOutcome:
    """What a finished study left: the report (None if none was written), the sweep stored and the status text."""

    report: Optional[str]
    sweep: Optional[SweepResult]
    text: str
    partial: bool


def check_folder(folder: str) -> str:
    """The output folder as an absolute path; ParameterError('output folder', ...) when unusable."""
    folder = str(folder or "").strip()
    if not folder:
        raise ParameterError("output folder", "must be chosen")
    path = os.path.abspath(os.path.expanduser(folder))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ParameterError("output folder", f"{folder!r} exists and is not a folder")
    parent = path if os.path.isdir(path) else os.path.dirname(path)
    if not os.access(parent, os.W_OK):
        raise ParameterError("output folder", f"{folder!r} is not writable")
    return path


def plan_study(
    state: WorkbenchState,
    folder: str,
    *,
    quick: bool = True,
    fidelity: str = "behavioral",
    preset: Optional[str] = None,
    scheduler_text: str = "",
    plan=None,
) -> JobPlan:
    """The study of the open project into ``folder`` (``plan``: a :class:`core.study.spec.StudyPlan` overriding
    the grids, for tests)."""
    from core.study.job import study_job
    from core.study.spec import StudySpec

    require_mapped(state)
    out = check_folder(folder)
    spec = StudySpec(preset=preset, fidelity=fidelity, quick=quick, scheduler=scheduler_address(scheduler_text))
    project, path = state.project, state.path or ""
    what = "quick study" if quick else "study"
    command = f"Run > Run study… ({what}, {fidelity}) of {path or 'the unsaved project'}"
    return JobPlan(
        lambda: study_job(project, spec, out, project_path=path, command=command, plan=plan),
        name=f"{what} ({fidelity}) -> {out}",
        message=f"queued: {what} at {fidelity}; the report goes to {out}",
        project=project,
    )


def study_outcome(info: JobInfo, project: Project, open_project: Project) -> StudyOutcome:
    """After the study job ``info`` of ``project`` ended: store its own-scheme sweep into the project (only if it
    is still the open one) and say where the report is."""
    study = info.result if info.state == DONE else info.partial
    if not isinstance(study, dict):
        return StudyOutcome(None, None, f"study {info.state}: {info.error or 'nothing was written'}", True)
    report = (study.get("paths") or {}).get("report")
    partial = bool(study.get("partial", info.state != DONE))
    sweep = None
    sweeps = (study.get("sections") or {}).get("defects", {}).get("sweeps", {})
    own = sweeps.get(project.scheme, {}).get("sweep")
    if isinstance(own, SweepResult) and project is open_project:
        sweep = store_result(project, own)
    verdicts = [f"{f['id']}: {f['verdict']}" for f in study.get("findings", [])]
    head = "study finished" if not partial else f"study {info.state}; partial report"
    text = f"{head}: {report or 'no report written'}" + (f" ({'; '.join(verdicts)})" if verdicts else "")
    if sweep is not None:
        text += f"; its {project.scheme} sweep is in the results panel as {sweep.id}"
    return StudyOutcome(report if report and os.path.isfile(report) else None, sweep, text, partial)
