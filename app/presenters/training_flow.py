"""The training panel's flow, free of Qt: which jobs are trainings, what each outcome means and says.

A training is one queued :func:`core.ml.new_project.create_project_job` built from a
:class:`~app.presenters.new_project.NewProjectRequest`. When it ends:

* done: the trained project is *parked* here and offered to the window (``accept_trained``); if the window
  declines (unsaved changes) it stays parked until the user opens it;
* cancelled by the user: said as "cancelled", never as an error; the open project is unchanged;
* failed: an error message with the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Optional

from app.presenters import forms
from app.presenters.new_project import NewProjectRequest
from core.jobs import Progress
from core.model.network import NetworkConfig
from core.model.params import spec_of
from core.model.project import Project
from core.session.job_queue import CANCELLED, DONE, FAILED, RUNNING, JobInfo


def job_factory(request: NewProjectRequest) -> Callable:
    """A zero-argument factory of the training job (the queue calls it on its worker thread, also on retry)."""
    from core.ml.new_project import create_project_job

    r = request
    return lambda: create_project_job(
        r.dataset,
        r.network,
        r.training,
        r.device,
        r.circuit,
        r.scheme,
        cell_pitch_um=r.cell_pitch_um,
        tile=r.tile,
        unused_state=r.unused_state,
    )


def sizes_text(network: NetworkConfig) -> str:
    return "-".join(str(s) for s in network.layer_sizes)


def _ohm(r: float) -> str:
    for factor, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if r >= factor:
            return f"{r / factor:g} {unit}ohm"
    return f"{r:g} ohm"


def setup_text(dataset, device, circuit, scheme: str) -> str:
    """One line naming the data, the mapping, the device and the circuit of a project or request."""
    levels = "continuous" if device.levels == 0 else f"{device.levels} levels"
    return (
        f"data {dataset.name}; {scheme}; LRS {_ohm(device.r_on_ohm)}, HRS {_ohm(device.r_off_ohm)}, {levels}, "
        f"read {device.v_read_volt:g} V, {device.model} model; rails ±{circuit.v_rail_volt:g} V, "
        f"wire {circuit.r_wire_ohm:g} ohm"
    )


def job_name(request: NewProjectRequest) -> str:
    return f"train {sizes_text(request.network)} ({request.scheme})"


def queued_text(request: NewProjectRequest) -> str:
    return f"queued: training {sizes_text(request.network)} for {request.training.epochs} epochs"


def running_summary(request: NewProjectRequest) -> str:
    r = request
    return (
        f"Training a new network {sizes_text(r.network)} ({r.training.epochs} epochs, seed {r.training.seed}) …\n"
        f"{setup_text(r.dataset, r.device, r.circuit, r.scheme)}.\n"
        "The open project stays open until the training finishes."
    )


def progress_text(info: JobInfo) -> str:
    """The panel's line while a training is queued or running."""
    if info.progress is not None and info.progress.message:
        return f"training … {info.progress.message}"
    if info.state == RUNNING:
        return "training … starting (loading the data set)"
    return "queued: waiting for a free worker"


def project_summary(project: Project) -> str:
    """What the panel says of the open project when no training runs."""
    p = project
    if p.weights is None:
        return "This project has no trained network yet: press New project… (or Retrain)."
    acc = p.weights.history.get("test_accuracy")
    return (
        f"Trained network {sizes_text(p.network)}, {p.training.epochs} epochs, seed {p.training.seed}"
        + (f"; test accuracy {acc[-1]:.3f}" if acc is not None and len(acc) else "")
        + f"\n{setup_text(p.dataset, p.device, p.circuit, p.scheme)}"
    )


def retrain_request(fields: dict, project: Project) -> NewProjectRequest:
    """The panel's quick form (preset, hidden, epochs, seed) applied to the open project's set-up.

    Data, device, circuit, scheme and the other training settings are the open project's, so retraining a
    project never silently falls back to defaults. Raises ParameterError naming the field and its range.
    """
    hidden = forms.hidden_sizes({"preset": "", **fields})
    epochs = spec_of(type(project.training), "epochs").check(str(fields.get("epochs", "")).strip(), "epochs")
    seed = spec_of(type(project.training), "seed").check(str(fields.get("seed", "")).strip(), "seed")
    net = project.network
    return NewProjectRequest(
        dataclasses.replace(project.dataset, seed=seed),
        NetworkConfig(net.n_inputs, hidden, net.n_outputs),
        dataclasses.replace(project.training, epochs=epochs, seed=seed),
        dataclasses.replace(project.device),
        dataclasses.replace(project.circuit),
        project.scheme,
    )


@dataclass(frozen=True)
class Outcome:
    """How a finished training is shown: ``text`` (empty when done: the offer decides), error or not."""

    state: str
    text: str
    is_error: bool


def outcome(state: str, progress: Optional[Progress], error: str = "") -> Outcome:
    """The panel's message for a training that ended in ``state``; a user cancel is not an error."""
    if state == DONE:
        return Outcome(state, "", False)
    if state == CANCELLED:
        done = f" after {progress.done:g} of {progress.total:g} epochs" if progress and progress.done else ""
        before = " before it started" if error == "cancelled before it started" else ""
        return Outcome(state, f"Training cancelled{before}{done}; the open project is unchanged.", False)
    return Outcome(FAILED, f"Training failed: {error or state}", True)


class TrainingFlow:
    """The training jobs of one panel and the trained project parked there (Qt-free state of the panel)."""

    def __init__(self) -> None:
        self.job_id: Optional[int] = None  # the newest training (its curves are drawn)
        self.job_ids: set[int] = set()  # every training submitted here (retries keep their id)
        self.requests: dict[int, NewProjectRequest] = {}
        self.parked: Optional[Project] = None  # a finished training the window has not opened
        self.cancelling: set[int] = set()  # trainings the user cancelled that have not stopped yet

    def submitted(self, job_id: int, request: NewProjectRequest) -> None:
        self.job_id = job_id
        self.job_ids.add(job_id)
        self.requests[job_id] = request

    def active(self, infos: Iterable[JobInfo]) -> bool:
        """A training of this panel is queued or running."""
        return any(not j.finished for j in infos if j.id in self.job_ids)

    def follows(self, info: JobInfo) -> bool:
        """Whether the panel draws ``info``'s progress (a retried older training becomes the current one)."""
        if info.id not in self.job_ids:
            return False
        if info.id != self.job_id and not info.finished:
            self.job_id = info.id
        return info.id == self.job_id and not info.finished

    def cancel_requested(self, job_id: int) -> None:
        self.cancelling.add(job_id)

    def removed(self, job_id: int) -> None:
        self.job_ids.discard(job_id)
        self.requests.pop(job_id, None)
        self.cancelling.discard(job_id)

    def finished(self, info: JobInfo) -> Outcome:
        """Record the end of a training; a done one parks its project (offer it with :meth:`offer`)."""
        self.cancelling.discard(info.id)
        out = outcome(info.state, info.progress, info.error)
        if info.state == DONE and isinstance(info.result, Project):
            self.parked = info.result
        return out

    def offer(self, accept: Callable[[Project], bool], dirty: Callable[[], bool]) -> tuple[bool, str]:
        """Offer the parked project to ``accept``; (opened, message). Declined: it stays parked."""
        if self.parked is None:
            return False, ""
        if accept(self.parked):
            self.parked = None
            return True, "Training finished; the new project is open (unsaved)."
        if dirty():
            return False, (
                "Training finished, but the open project has unsaved changes and was kept. Save "
                "it, then press 'Open trained project'."
            )
        return False, "Training finished; the open project was kept. Press 'Open trained project' to switch to it."
