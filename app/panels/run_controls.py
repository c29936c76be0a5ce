"""The queue panel's launch controls: evaluate the draft scenario, run a sweep, run a recovery method.

Each button validates its fields (errors shown here, naming the field), then submits a core job to the
:class:`~app.jobs_qt.QtJobQueue` with the open project as the target of its result (``store=False`` in
the job: the queue's ``store_in_project`` hook stores it, one job at a time).
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout,
                               QWidget)

from app import forms
from app.jobs_qt import QtJobQueue
from app.state import WorkbenchState
from app.widgets import MessageLabel
from core.errors import ParameterError, WorkbenchError
from core.evaluate import FIDELITIES
from core.recovery import METHODS, RECOVERY_FIDELITIES
from core.sweep_spec import SWEEP_FIDELITIES, parse_list


class RunControls(QWidget):
    """Evaluate / sweep / recover buttons with their fields."""

    def __init__(self, state: WorkbenchState, jobs: QtJobQueue, parent=None):
        super().__init__(parent)
        self.state, self.jobs = state, jobs

        self.eval_fidelity = QComboBox()
        self.eval_fidelity.addItems(list(FIDELITIES))
        self.eval_fidelity.setCurrentText("behavioral")
        self.eval_button = QPushButton("Evaluate scenario")
        ev = QGroupBox("Evaluate the current scenario")
        row = QHBoxLayout(ev)
        row.addWidget(self.eval_fidelity)
        row.addWidget(self.eval_button)

        self.sweep_fields = {
            "patterns": QLineEdit("circle,ring,rows,columns"),
            "sizes": QLineEdit("0.1,0.2,0.3,0.4"),
            "stuck": QLineEdit("on,off"),
            "arrays": QLineEdit("1"),
            "seeds": QLineEdit("10"),
        }
        tips = {"patterns": "comma-separated: circle, ring, circle_complement, rows, columns, checkerboard, random",
                "sizes": "fractions in (0, 1], comma-separated or START:STOP:COUNT",
                "stuck": "comma-separated: on, off or resistances such as 50k",
                "arrays": "comma-separated 1-based arrays, or all",
                "seeds": "Monte-Carlo placements per point, 1-100000"}
        self.sweep_fidelity = QComboBox()
        self.sweep_fidelity.addItems(list(SWEEP_FIDELITIES))
        self.sweep_button = QPushButton("Run sweep")
        sw = QGroupBox("Defect sweep")
        form = QFormLayout(sw)
        for k, w in self.sweep_fields.items():
            w.setToolTip(tips[k])
            form.addRow(k.capitalize(), w)
        form.addRow("Fidelity", self.sweep_fidelity)
        form.addRow(self.sweep_button)

        self.rec_method = QComboBox()
        self.rec_method.addItems(list(METHODS))
        self.rec_fidelity = QComboBox()
        self.rec_fidelity.addItems(list(RECOVERY_FIDELITIES))
        self.rec_button = QPushButton("Recover")
        rc = QGroupBox("Recover accuracy for the current scenario")
        row = QHBoxLayout(rc)
        row.addWidget(self.rec_method)
        row.addWidget(self.rec_fidelity)
        row.addWidget(self.rec_button)

        self.message = MessageLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(ev)
        layout.addWidget(sw)
        layout.addWidget(rc)
        layout.addWidget(self.message)
        layout.addStretch(1)

        self.eval_button.clicked.connect(lambda: self.evaluate())
        self.sweep_button.clicked.connect(lambda: self.sweep())
        self.rec_button.clicked.connect(lambda: self.recover())
        state.on_change(lambda topic: self.refresh() if topic == "project" else None)
        self.refresh()

    def refresh(self) -> None:
        trained = self.state.project.mapped is not None
        for b in (self.eval_button, self.sweep_button, self.rec_button):
            b.setEnabled(trained)
        if not trained:
            self.message.info("No mapped network: train or open a project to run simulations.")
        elif self.message.text().startswith("No mapped network"):
            self.message.clear_message()

    def _scenario(self) -> tuple[list, str]:
        name = self.state.draft_name if self.state.draft else ""
        return list(self.state.draft), name

    def _ok(self) -> bool:
        if self.state.project.mapped is None:
            self.message.error("project: has no trained and mapped network; train one first")
            return False
        return True

    # ---- actions (return the job id, or None with the error shown) ---------------------------------
    def evaluate(self, fidelity: Optional[str] = None) -> Optional[int]:
        from core.evaluate import evaluate_job

        if not self._ok():
            return None
        fidelity = fidelity or self.eval_fidelity.currentText()
        project = self.state.project
        defects, name = self._scenario()
        what = name or ("clean" if not defects else "draft")
        self.message.info(f"queued: evaluate {what} at {fidelity}")
        return self.jobs.submit(lambda: evaluate_job(project, defects, fidelity, scenario=name, store=False),
                                name=f"evaluate {what} ({fidelity})", project=project)

    def sweep(self) -> Optional[int]:
        from core.sweeps import sweep_job

        if not self._ok():
            return None
        f = {k: w.text() for k, w in self.sweep_fields.items()}
        project = self.state.project
        try:
            spec = forms.sweep_spec(parse_list("patterns", f["patterns"]), f["sizes"], f["stuck"], f["arrays"],
                                    f["seeds"], self.sweep_fidelity.currentText())
            spec = spec.with_arrays(self.state.n_arrays)
        except WorkbenchError as e:
            self.message.error(str(e))
            return None
        n_maps = len(spec.points()) * spec.n_seeds
        self.message.info(f"queued: sweep of {n_maps} defect maps at {spec.fidelity}")
        return self.jobs.submit(lambda: sweep_job(project, spec, store=False),
                                name=f"sweep {','.join(spec.patterns)} ({n_maps} maps, {spec.fidelity})",
                                project=project)

    def recover(self) -> Optional[int]:
        from core.recovery import recover_job

        if not self._ok():
            return None
        defects, name = self._scenario()
        if not defects:
            self.message.error(str(ParameterError("scenario", "has no defects; add some in the defect editor")))
            return None
        method, fidelity = self.rec_method.currentText(), self.rec_fidelity.currentText()
        project = self.state.project
        self.message.info(f"queued: {method} recovery at {fidelity}")
        return self.jobs.submit(
            lambda: recover_job(project, defects, method, fidelity, scenario=name, store=False),
            name=f"recover {name or 'draft'} ({method}, {fidelity})", project=project)
