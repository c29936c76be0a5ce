"""Helpers shared by the workbench tests: the panels to check and waiting for a queued job to finish."""

from __future__ import annotations

import os

from app.jobs_qt import QtJobQueue
from app.panels.crossbar import CrossbarPanel
from app.panels.defects import DefectEditorPanel
from app.panels.die import DiePanel
from app.panels.queue import QueuePanel
from app.panels.results import ResultsPanel
from app.panels.training import TrainingPanel

PANELS = [TrainingPanel, CrossbarPanel, DefectEditorPanel, QueuePanel, ResultsPanel, DiePanel]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def finished(qtbot, jobs: QtJobQueue, job_id: int, timeout_ms: int = 30_000):
    """Wait for the adapter's finished signal of ``job_id`` and return its JobInfo."""
    with qtbot.waitSignal(
        jobs.job_finished, timeout=timeout_ms, check_params_cb=lambda info: info.id == job_id
    ) as blocker:
        pass
    return blocker.args[0]


def wait_job(qtbot, jobs: QtJobQueue, submit, timeout_ms: int = 30_000):
    """Submit (a callable returning the job id) inside waitSignal so a fast job cannot slip past."""
    ids = []
    with qtbot.waitSignal(
        jobs.job_finished, timeout=timeout_ms, check_params_cb=lambda info: bool(ids) and info.id == ids[0]
    ) as blocker:
        ids.append(submit())
        assert ids[0] is not None
    return blocker.args[0]
