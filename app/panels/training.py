"""Panel 1, network & training: preset, hidden sizes, epochs and seed; a Train job with live curves."""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QVBoxLayout, QWidget)

from app import forms
from app.jobs_qt import QtJobQueue
from app.state import WorkbenchState
from app.widgets import MessageLabel, color, plot_widget
from core.errors import WorkbenchError
from core.network import PRESETS
from core.queue import DONE, JobInfo

FIELD_HELP = {
    "hidden": "three hidden-layer sizes, e.g. 8,8,8 (each 1-4096; preset 'custom' only)",
    "epochs": "integer in [1, 100000]",
    "seed": "integer in [0, 2147483647]; also seeds the data split",
}


class TrainingPanel(QWidget):
    """Form + Train button + loss and accuracy curves (from the job's partial history, then the project's)."""

    title = "Network && training"

    def __init__(self, state: WorkbenchState, jobs: QtJobQueue, parent=None,
                 confirm_discard: Optional[Callable[[], bool]] = None):
        super().__init__(parent)
        self.state, self.jobs = state, jobs
        self.confirm_discard = confirm_discard or (lambda: True)
        self.job_id: Optional[int] = None

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
        self.train_button.setToolTip("trains a new network with these settings and maps it to crossbars "
                                     "(replaces the open project when done)")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.message = MessageLabel()
        box = QGroupBox("Network")
        inner = QVBoxLayout(box)
        inner.addLayout(form)
        inner.addWidget(self.train_button)
        inner.addWidget(self.message)
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
        jobs.job_updated.connect(self._job_updated)
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
            w.setText(t[k] if k != "hidden" or t["preset"] == "custom" else
                      ",".join(str(h) for h in PRESETS.get(t["preset"], ())) or t[k])
        self.fields["hidden"].setEnabled(t["preset"] == "custom")
        p = self.state.project
        if p.weights is None:
            self.summary.setText("This project has no trained network yet: press Train.")
            if self.job_id is None:
                self.show_history({})
            return
        hist = p.weights.history
        acc = hist.get("test_accuracy")
        sizes = "-".join(str(s) for s in p.network.layer_sizes)
        self.summary.setText(f"Trained network {sizes}, {p.training.epochs} epochs, seed {p.training.seed}"
                             + (f"; test accuracy {acc[-1]:.3f}" if acc is not None and len(acc) else ""))
        self.show_history(hist)

    def show_history(self, hist: dict) -> None:
        """Draw a training history ``{'loss': [...], 'train_accuracy': [...], 'test_accuracy': [...]}``."""
        for key, curve in (("loss", self.loss_curve), ("train_accuracy", self.train_acc_curve),
                           ("test_accuracy", self.test_acc_curve)):
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

    def train(self) -> Optional[int]:
        """Queue a training job with the form's settings; returns its id (None if invalid or declined)."""
        for k, w in self.fields.items():  # a field still being edited counts too
            if w.isEnabled() and w.text().strip() != self.state.training[k]:
                self.state.set_training_field(k, w.text().strip())
        configs = self.validate()
        if configs is None or not self.confirm_discard():
            return None
        from core.project import create_project_job

        ds, net, tr = configs
        self.show_history({})
        self.message.info(f"training {'-'.join(str(s) for s in net.layer_sizes)} for {tr.epochs} epochs ...")
        self.job_id = self.jobs.submit(lambda: create_project_job(ds, net, tr),
                                       name=f"train {'-'.join(str(s) for s in net.layer_sizes)}",
                                       on_done=self._trained)
        return self.job_id

    def _job_updated(self, info: JobInfo) -> None:
        if info.id == self.job_id and isinstance(info.partial, dict):
            self.show_history(info.partial)

    def _trained(self, info: JobInfo) -> None:
        if info.state == DONE:
            self.state.set_project(info.result, None, dirty=True)
            self.message.info("Training finished; the new project is open (unsaved).")
        else:
            self.message.error(f"Training {info.state}: {info.error}")
        self.job_id = None
