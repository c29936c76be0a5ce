"""Panel 1, network & training: start a training (New project… or a quick retrain), live curves, Cancel.

The flow (what a finished, cancelled or failed training does and says, the parked trained project) lives in
:mod:`app.presenters.training_flow`; this module lays out and forwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import numpy as np
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.jobs_qt import QtJobQueue
from app.presenters import training_flow as flow
from app.presenters.document import WorkbenchState
from app.presenters.new_project import NewProjectRequest
from app.widgets import MessageLabel, color, cut, plot_widget
from core.errors import WorkbenchError
from core.model.network import MAX_HIDDEN, PRESETS, TrainConfig
from core.model.params import spec_of
from core.model.project import Project
from core.session.job_queue import DONE, JobInfo

FIELD_HELP = {
    "hidden": f"three hidden-layer sizes, e.g. 8,8,8 (each 1-{MAX_HIDDEN}; preset 'custom' only)",
    "epochs": spec_of(TrainConfig, "epochs").describe(),
    "seed": spec_of(TrainConfig, "seed").describe() + "; also seeds the data split",
}
BOX_SAMPLE = "Trained network 64-8-8-8-10, 150 epochs,"  # a line of the summary the box shows unwrapped
BOX_MIN_WIDTH, BOX_MAX_WIDTH = 250, 360


class TrainingPanel(QWidget):
    """Start a training, follow it live (loss and accuracy from the job's partial history), cancel it."""

    title = "Network && training"

    def __init__(
        self,
        state: WorkbenchState,
        jobs: QtJobQueue,
        parent=None,
        before_train: Optional[Callable[[], bool]] = None,
        accept_trained: Optional[Callable[[Project], bool]] = None,
    ):
        """``before_train()`` may veto a training; ``accept_trained(project)`` opens the result (True) or
        declines (False: the project is kept here for 'Open trained project'). Defaults: yes, and open it."""
        super().__init__(parent)
        self.state, self.jobs = state, jobs
        self.before_train = before_train or (lambda: True)
        self.accept_trained = accept_trained or self._open_trained_default
        self.flow = flow.TrainingFlow()

        self.new_button = QPushButton("New project…")
        self.new_button.setToolTip("set up data, network, mapping, device and circuit, then train (a queued job)")
        self.preset = QComboBox()
        self.preset.addItems([*PRESETS, "custom"])
        self.fields = {k: QLineEdit() for k in ("hidden", "epochs", "seed")}
        form = QFormLayout()
        form.addRow("Preset", self.preset)
        for k, w in self.fields.items():
            w.setToolTip(FIELD_HELP[k])
            w.setPlaceholderText(FIELD_HELP[k].split(";")[0])
            form.addRow({"hidden": "Hidden sizes", "epochs": "Epochs", "seed": "Seed"}[k], w)
        self.train_button = QPushButton("Retrain with these settings")
        self.train_button.setToolTip(
            "trains a new network on the open project's data, device, circuit and mapping with this preset, "
            "epochs and seed (the open project is replaced when it is done)"
        )
        retrain = QGroupBox("Retrain the open project's set-up")
        rl = QVBoxLayout(retrain)
        rl.addLayout(form)
        rl.addWidget(self.train_button)

        self.progress = QProgressBar()
        self.progress.setFormat("epoch %v of %m")
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.setToolTip("stop the running training after its current epoch; the open project stays")
        self.cancel_button.setEnabled(False)
        self.open_trained_button = QPushButton("Open trained project")
        self.open_trained_button.setToolTip(
            "open the network trained last (it was kept aside because the open project had unsaved changes)"
        )
        self.open_trained_button.setVisible(False)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.message = MessageLabel()
        box = QGroupBox("Network")
        inner = QVBoxLayout(box)
        inner.addWidget(self.new_button)
        inner.addWidget(retrain)
        inner.addWidget(self.progress)
        inner.addWidget(self.cancel_button)
        inner.addWidget(self.message)
        inner.addWidget(self.open_trained_button)
        inner.addWidget(self.summary)
        inner.addStretch(1)
        # one width whatever the summary and messages say (wrapped labels would otherwise resize it as they change)
        box.setFixedWidth(min(BOX_MAX_WIDTH, max(BOX_MIN_WIDTH, box.fontMetrics().horizontalAdvance(BOX_SAMPLE) + 40)))

        self.loss_plot = plot_widget("Training loss", "epoch", "cross-entropy", integer_x=True)
        self.acc_plot = plot_widget("Accuracy", "epoch", "accuracy", integer_x=True)
        self.acc_plot.addLegend(offset=(-10, -10))
        self.loss_curve = self.loss_plot.plot([], [], pen={"color": color(0), "width": 2})
        self.train_acc_curve = self.acc_plot.plot([], [], pen={"color": color(0), "width": 2}, name="train")
        self.test_acc_curve = self.acc_plot.plot([], [], pen={"color": color(1), "width": 2}, name="test")
        plots = QVBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.acc_plot)
        layout = QHBoxLayout(self)
        layout.addWidget(box)
        layout.addLayout(plots, 1)
        self.setMinimumSize(640, 420)

        self.preset.currentTextChanged.connect(lambda t: self._commit("preset", t))
        for k, w in self.fields.items():
            w.editingFinished.connect(lambda k=k, w=w: self._commit(k, w.text().strip()))
        self.new_button.clicked.connect(self.new_project)
        self.train_button.clicked.connect(self.train)
        self.cancel_button.clicked.connect(self.cancel_training)
        self.open_trained_button.clicked.connect(self.open_trained)
        jobs.job_updated.connect(self._job_updated)
        jobs.job_removed.connect(self._job_removed)
        state.on_change(self._state_changed)
        self.refresh()

    # ---- what older callers read -----------------------------------------------------------------------
    @property
    def job_id(self) -> Optional[int]:
        """The newest training job (its curves are drawn)."""
        return self.flow.job_id

    @property
    def train_jobs(self) -> set[int]:
        return self.flow.job_ids

    @property
    def trained(self) -> Optional[Project]:
        """A finished training that was not opened."""
        return self.flow.parked

    # ---- state -> widgets ----------------------------------------------------------------------------
    def _state_changed(self, topic: str) -> None:
        if topic in ("project", "params"):
            self.refresh()

    def refresh(self) -> None:
        t = self.state.training
        self.preset.blockSignals(True)
        self.preset.setCurrentText(t["preset"])
        self.preset.blockSignals(False)
        for k, w in self.fields.items():
            w.setText(
                t[k]
                if k != "hidden" or t["preset"] == "custom"
                else ",".join(str(h) for h in PRESETS.get(t["preset"], ())) or t[k]
            )
        self.fields["hidden"].setEnabled(t["preset"] == "custom")
        if self.training_active():
            return  # the summary says "training …" and the plots show the live curves until it ends
        self.summary.setText(cut(flow.project_summary(self.state.project), 2000))  # names the file's dataset
        self.show_history(self.state.project.weights.history if self.state.project.weights else {})

    def show_history(self, hist: dict) -> None:
        """Draw a training history ``{'loss': [...], 'train_accuracy': [...], 'test_accuracy': [...]}``."""
        for key, curve in (
            ("loss", self.loss_curve),
            ("train_accuracy", self.train_acc_curve),
            ("test_accuracy", self.test_acc_curve),
        ):
            y = np.asarray(hist.get(key, []), dtype=float)
            curve.setData(np.arange(1, len(y) + 1, dtype=float), y)

    # ---- widgets -> state ----------------------------------------------------------------------------
    def _commit(self, name: str, value: str) -> None:
        self.state.set_training_field(name, value)
        self.validate()

    def validate(self) -> Optional[NewProjectRequest]:
        """The retrain request of the quick form, or None with the error shown in the panel."""
        try:
            request = flow.retrain_request(self.state.training, self.state.project)
        except WorkbenchError as e:
            self.message.error(str(e))
            return None
        self.message.clear_message()
        return request

    def training_active(self) -> bool:
        """A training job submitted here is queued or running."""
        return self.flow.active(self.jobs.jobs())

    def _update_buttons(self) -> None:
        busy = self.training_active()
        self.train_button.setEnabled(not busy)
        self.new_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy and self.flow.job_id not in self.flow.cancelling)
        self.progress.setVisible(busy)

    def new_project(self) -> Optional[int]:
        """Ask for a new project's set-up (the New-project dialog) and train it; the job id or None."""
        from app.dialogs.new_project import ask_new_project

        request = ask_new_project(self.window(), self.state)
        return None if request is None else self.start_training(request)

    def train(self) -> Optional[int]:
        """Retrain with the quick form (preset, hidden, epochs, seed) on the open project's set-up."""
        if self.training_active():
            self.message.error("a training job is already queued or running; wait for it or cancel it")
            return None
        for k, w in self.fields.items():  # a field still being edited counts too
            if w.isEnabled() and w.text().strip() != self.state.training[k]:
                self.state.set_training_field(k, w.text().strip())
        request = self.validate()
        return None if request is None else self.start_training(request)

    def start_training(self, request: NewProjectRequest) -> Optional[int]:
        """Queue a training of ``request``; returns its job id (None if one already runs or it was vetoed).

        The curves follow the job live; when it is done the trained project is offered through
        ``accept_trained`` (the open project is replaced only then, and only if that loses nothing).
        """
        if self.training_active():
            self.message.error("a training job is already queued or running; wait for it or cancel it")
            return None
        if not self.before_train():
            return None
        self.show_history({})
        self.message.info(flow.queued_text(request))
        self.summary.setText(flow.running_summary(request))
        self.progress.setRange(0, request.training.epochs)
        self.progress.setValue(0)
        job_id = self.jobs.submit(flow.job_factory(request), name=flow.job_name(request), on_done=self._trained)
        self.flow.submitted(job_id, request)
        self._update_buttons()
        return job_id

    def cancel_training(self) -> bool:
        """Cancel the running or queued training (it stops after its current epoch); False if none runs."""
        job_id = self.flow.job_id
        if job_id is None or not self.training_active():
            return False
        self.flow.cancel_requested(job_id)
        self.jobs.cancel(job_id)
        self._update_buttons()
        self.message.info("cancelling … (the training stops after its current epoch)")
        return True

    def _job_updated(self, info: JobInfo) -> None:
        if info.id not in self.flow.job_ids:
            return
        follows = self.flow.follows(info)
        self._update_buttons()
        if not follows:
            return
        if isinstance(info.partial, dict):
            self.show_history(info.partial)
        if info.progress is not None and info.progress.total:
            self.progress.setRange(0, int(info.progress.total))
            self.progress.setValue(int(info.progress.done))
        if info.id not in self.flow.cancelling:  # "cancelling …" stays until the job ends
            self.message.info(flow.progress_text(info))

    def _job_removed(self, job_id: int) -> None:
        self.flow.removed(job_id)
        self._update_buttons()
        if job_id == self.flow.job_id and not self.training_active():
            self.flow.job_id = None
            self.refresh()

    def _trained(self, info: JobInfo) -> None:
        out = self.flow.finished(info)
        self._update_buttons()
        if info.state == DONE:
            self.open_trained()
            return
        self.refresh()
        if isinstance(info.partial, dict) and len(info.partial.get("loss", [])):
            # keep what the stopped training reached on screen: it is often why it was stopped
            self.show_history(info.partial)
            self.summary.setText(
                f"The curves show the {info.state} training ({len(info.partial['loss'])} epochs).\n"
                f"Open project: {cut(flow.project_summary(self.state.project), 2000)}"
            )
        (self.message.error if out.is_error else self.message.info)(out.text)

    def open_trained(self) -> bool:
        """Open the project trained last (asks through ``accept_trained``); True if it is now open."""
        opened, text = self.flow.offer(self.accept_trained, lambda: self.state.dirty)
        if not text:
            return False
        self.open_trained_button.setVisible(not opened)
        self.message.info(text)
        self.refresh()
        return opened

    def _open_trained_default(self, project: Project) -> bool:
        self.state.set_project(project, None, dirty=True)
        return True
