"""Panel 1, network & training: preset, hidden sizes, epochs and seed; a Train job with live curves."""

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
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.jobs_qt import QtJobQueue
from app.presenters import forms
from app.presenters.document import WorkbenchState
from app.widgets import MessageLabel, color, plot_widget
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


class TrainingPanel(QWidget):
    """Form + Train button + loss and accuracy curves (from the job's partial history, then the project's)."""

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
        self.job_id: Optional[int] = None  # the newest training job (its curves are drawn)
        self.train_jobs: set[int] = set()  # every training job submitted here (retries included)
        self.trained: Optional[Project] = None  # a finished training that was not opened

        self.preset = QComboBox()
        self.preset.addItems([*PRESETS, "custom"])
        self.fields = {k: QLineEdit() for k in ("hidden", "epochs", "seed")}
        form = QFormLayout()
        form.addRow("Preset", self.preset)
        for k, w in self.fields.items():
            w.setToolTip(FIELD_HELP[k])
            w.setPlaceholderText(FIELD_HELP[k].split(";")[0])
            form.addRow({"hidden": "Hidden sizes", "epochs": "Epochs", "seed": "Seed"}[k], w)
        self.train_button = QPushButton("Train new project")
        self.train_button.setToolTip(
            "trains a new network with these settings and maps it to crossbars (replaces the open project when done)"
        )
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
        inner.addLayout(form)
        inner.addWidget(self.train_button)
        inner.addWidget(self.message)
        inner.addWidget(self.open_trained_button)
        inner.addWidget(self.summary)
        inner.addStretch(1)
        box.setMinimumWidth(250)
        box.setMaximumWidth(340)

        self.loss_plot = plot_widget("Training loss", "epoch", "cross-entropy")
        self.acc_plot = plot_widget("Accuracy", "epoch", "accuracy")
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
        self.train_button.clicked.connect(self.train)
        self.open_trained_button.clicked.connect(self.open_trained)
        jobs.job_updated.connect(self._job_updated)
        jobs.job_removed.connect(self._job_removed)
        state.on_change(self._state_changed)
        self.refresh()

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
        p = self.state.project
        if p.weights is None:
            self.summary.setText("This project has no trained network yet: press Train.")
            self.show_history({})
            return
        hist = p.weights.history
        acc = hist.get("test_accuracy")
        sizes = "-".join(str(s) for s in p.network.layer_sizes)
        self.summary.setText(
            f"Trained network {sizes}, {p.training.epochs} epochs, seed {p.training.seed}"
            + (f"; test accuracy {acc[-1]:.3f}" if acc is not None and len(acc) else "")
        )
        self.show_history(hist)

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

    def validate(self):
        """The (dataset, network, training) configs, or None with the error shown in the panel."""
        try:
            configs = forms.training_configs(self.state.training)
        except WorkbenchError as e:
            self.message.error(str(e))
            return None
        self.message.clear_message()
        return configs

    def training_active(self) -> bool:
        """A training job submitted here is queued or running."""
        return any(not j.finished for j in self.jobs.jobs() if j.id in self.train_jobs)

    def _update_train_button(self) -> None:
        busy = self.training_active()
        self.train_button.setEnabled(not busy)
        self.train_button.setText("Training…" if busy else "Train new project")

    def train(self) -> Optional[int]:
        """Queue a training job with the form's settings; returns its id (None if invalid, busy or declined).

        The open project is replaced only when the training finishes (and only if that loses nothing).
        """
        if self.training_active():
            self.message.error("a training job is already queued or running; wait for it or cancel it")
            return None
        for k, w in self.fields.items():  # a field still being edited counts too
            if w.isEnabled() and w.text().strip() != self.state.training[k]:
                self.state.set_training_field(k, w.text().strip())
        configs = self.validate()
        if configs is None or not self.before_train():
            return None
        from core.ml.new_project import create_project_job

        ds, net, tr = configs
        sizes = "-".join(str(s) for s in net.layer_sizes)
        self.show_history({})
        self.message.info(f"queued: training {sizes} for {tr.epochs} epochs")
        self.summary.setText(
            f"Training a new network {sizes} ({tr.epochs} epochs, seed {tr.seed}) …\n"
            "The open project stays open until the training finishes."
        )
        self.job_id = self.jobs.submit(
            lambda: create_project_job(ds, net, tr), name=f"train {sizes}", on_done=self._trained
        )
        self.train_jobs.add(self.job_id)
        self._update_train_button()
        return self.job_id

    def _job_updated(self, info: JobInfo) -> None:
        if info.id not in self.train_jobs:
            return
        if info.id != self.job_id and not info.finished:  # a retried older training becomes the current one
            self.job_id = info.id
        self._update_train_button()
        if info.id != self.job_id or info.finished:
            return
        if isinstance(info.partial, dict):
            self.show_history(info.partial)
        if info.progress is not None and info.progress.message:
            self.message.info(f"training … {info.progress.message}")
        elif info.state == "running":
            self.message.info("training … starting (loading the data set)")

    def _job_removed(self, job_id: int) -> None:
        self.train_jobs.discard(job_id)
        self._update_train_button()
        if job_id == self.job_id and not self.training_active():
            self.job_id = None
            self.refresh()

    def _trained(self, info: JobInfo) -> None:
        self._update_train_button()
        if info.state == DONE:
            self.trained = info.result
            self.open_trained()
        else:
            self.message.error(f"Training {info.state}: {info.error}")
            self.refresh()

    def open_trained(self) -> bool:
        """Open the project trained last (asks through ``accept_trained``); True if it is now open."""
        if self.trained is None:
            return False
        if self.accept_trained(self.trained):
            self.trained = None
            self.open_trained_button.setVisible(False)
            self.message.info("Training finished; the new project is open (unsaved).")
            self.refresh()
            return True
        self.open_trained_button.setVisible(True)
        if self.state.dirty:
            self.message.info(
                "Training finished, but the open project has unsaved changes and was kept. Save "
                "it, then press 'Open trained project'."
            )
        else:
            self.message.info(
                "Training finished; the open project was kept. Press 'Open trained project' to switch to the new one."
            )
        self.refresh()
        return False

    def _open_trained_default(self, project: Project) -> bool:
        self.state.set_project(project, None, dirty=True)
        return True
