"""The queue panel's launch controls: evaluate the draft scenario, run a sweep, run a recovery method.

A shared "Circuit" group sets the wire resistance and device model for all three (defaults: the project's).
Each button hands its fields to a planner of :mod:`app.presenters.run_flow` (validation, the job factory, its
name and message) and submits the plan to the :class:`~app.jobs_qt.QtJobQueue` with the open project as the
target of its result (the queue stores it on the GUI thread with :func:`core.session.store.store_result`);
errors are shown here, naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.jobs_qt import QtJobQueue
from app.presenters import forms, run_flow
from app.presenters.document import WorkbenchState
from app.widgets import MessageLabel, fit_text
from core.errors import WorkbenchError
from core.evaluate import FIDELITIES
from core.model.devices import DEVICE_MODELS
from core.recovery.common import METHODS, RECOVERY_FIDELITIES
from core.sweeps.spec import MAX_SEEDS, SWEEP_FIDELITIES, SWEEP_PATTERNS, SweepSpec

FIELD_MAX_PX = 200  # a field grows to show its default text, up to this (longer texts scroll; tooltip: the rules)


class RunControls(QWidget):
    """Evaluate / sweep / recover buttons with their fields."""

    def __init__(self, state: WorkbenchState, jobs: QtJobQueue, parent=None):
        super().__init__(parent)
        self.state, self.jobs = state, jobs

        # circuit used by all three actions (defaults: the project's mapped circuit)
        self.r_wire = QLineEdit()
        self.r_wire.setToolTip(
            f"resistance of each wire segment in ohm, 0 to {forms.R_WIRE_MAX_OHM:g}; "
            "used by the nodal and spice fidelities (behavioural assumes ideal wires)"
        )
        self.device_model = QComboBox()
        self.device_model.addItems(list(DEVICE_MODELS))
        self.device_model.setToolTip("linear: ohmic cells; gap: nonlinear (sinh) I-V of a filament gap")
        self.offset = QLineEdit()
        # placeholders are short enough to read in the narrow column; the tooltips say the rest
        self.offset.setPlaceholderText("0: ideal")
        self.offset.setToolTip(
            f"input offset of every op-amp: normal with this sigma in mV (0 to {run_flow.OFFSET_MAX_MV:g}), drawn "
            "per op-amp; e.g. 2, or 0,1,2 for a sweep: evaluate and recover take one value, a sweep a "
            "comma-separated list (an offset axis, seed k draws offset set k)"
        )
        cg = QGroupBox("Circuit (for all runs)")
        form = QFormLayout(cg)
        form.addRow("Wire R (Ω)", self.r_wire)
        form.addRow("Device model", self.device_model)
        form.addRow("Offset σ (mV)", self.offset)

        self.eval_fidelity = QComboBox()
        self.eval_fidelity.addItems(list(FIDELITIES))
        self.eval_fidelity.setCurrentText("behavioral")
        self.eval_button = QPushButton("Evaluate")
        self.eval_button.setToolTip("evaluate the draft scenario at this fidelity, as a job in the queue")
        ev = QGroupBox("Evaluate the scenario")
        form = QFormLayout(ev)
        row = QHBoxLayout()  # one row: the column fits a 768-pixel-high screen without scrolling
        row.addWidget(self.eval_fidelity, 1)
        row.addWidget(self.eval_button)
        form.addRow("Fidelity", row)

        spec = SweepSpec()  # the core's defaults; the arrays field starts at array 1, a sweep of seconds
        self.sweep_fields = {
            "patterns": QLineEdit("circle,ring,rows,columns"),
            "sizes": QLineEdit(",".join(f"{s:g}" for s in spec.sizes)),
            "stuck": QLineEdit(",".join(spec.stuck)),
            "arrays": QLineEdit("1"),
            "seeds": QLineEdit(str(spec.n_seeds)),
        }
        tips = {
            "patterns": f"comma-separated: {', '.join(SWEEP_PATTERNS)}",
            "sizes": "fractions in (0, 1], comma-separated or START:STOP:COUNT",
            "stuck": "comma-separated: on, off or resistances such as 50k",
            "arrays": "comma-separated 1-based arrays, or all",
            "seeds": f"Monte-Carlo placements per point, 1-{MAX_SEEDS}",
        }
        self.sweep_fidelity = QComboBox()
        self.sweep_fidelity.addItems(list(SWEEP_FIDELITIES))
        self.sweep_button = QPushButton("Run sweep")
        sw = QGroupBox("Defect sweep")
        form = QFormLayout(sw)
        for k, w in self.sweep_fields.items():
            w.setToolTip(tips[k])
            form.addRow(k.capitalize(), w)
        form.addRow("Fidelity", self.sweep_fidelity)
        self.scheduler = QLineEdit()
        self.scheduler.setPlaceholderText("empty: local")
        self.scheduler.setToolTip(
            "Dask scheduler: an address such as tcp://host:8786: sweep chunks run on that cluster (see docs/dask.md); "
            "empty: on this computer"
        )
        form.addRow("Scheduler", self.scheduler)  # short: the label column sets the width of the whole column
        form.addRow(self.sweep_button)
        for w in (*self.sweep_fields.values(), self.scheduler, self.offset, self.r_wire):
            fit_text(w, w.text() or "x" * 6, w.placeholderText(), max_px=FIELD_MAX_PX)  # the defaults show whole

        self.rec_method = QComboBox()
        self.rec_method.addItems(list(METHODS))
        self.rec_fidelity = QComboBox()
        self.rec_fidelity.addItems(list(RECOVERY_FIDELITIES))
        self.rec_button = QPushButton("Recover")
        rc = QGroupBox("Recover the scenario's accuracy")
        form = QFormLayout(rc)
        form.addRow("Method", self.rec_method)
        form.addRow("Fidelity", self.rec_fidelity)
        form.addRow(self.rec_button)

        # errors and what was queued; the queue panel shows it below its scroll area, always in sight
        self.message = MessageLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(cg)
        layout.addWidget(ev)
        layout.addWidget(sw)
        layout.addWidget(rc)
        layout.addStretch(1)

        # the job whose "queued: ..." line the message shows; when it ends the line says so (not "queued" forever)
        self._queued: Optional[tuple[int, str]] = None
        jobs.job_finished.connect(self._job_finished)
        self.eval_button.clicked.connect(lambda: self.evaluate())
        self.sweep_button.clicked.connect(lambda: self.sweep())
        self.rec_button.clicked.connect(lambda: self.recover())
        state.on_change(lambda topic: self.refresh() if topic == "project" else None)
        self.refresh()

    def refresh(self) -> None:
        """Enable the actions and reset the circuit fields to the open project's circuit."""
        mapped = self.state.project.mapped
        trained = mapped is not None
        for b in (self.eval_button, self.sweep_button, self.rec_button):
            b.setEnabled(trained)
        self.r_wire.setText(f"{mapped.circuit.r_wire_ohm:g}" if trained else "0")
        self.device_model.setCurrentText(mapped.device.model if trained else DEVICE_MODELS[0])
        if not trained:
            self.message.info("No mapped network: train or open a project to run simulations.")
        elif self.message.text().startswith("No mapped network"):
            self.message.clear_message()

    def _submit(self, build: Callable[[], run_flow.JobPlan]) -> Optional[int]:
        """Build a job with ``build`` (a run_flow planner) and queue it; None with the error shown if invalid."""
        try:
            plan = build()
        except WorkbenchError as e:
            self.message.error(str(e))
            return None
        self.message.info(plan.message)
        job_id = self.jobs.submit(plan.factory, name=plan.name, project=plan.project)
        self._queued = (job_id, plan.message)
        return job_id

    def _job_finished(self, info) -> None:
        if self._queued is None or info.id != self._queued[0]:
            return
        shown, self._queued = self._queued[1], None
        if self.message.text() == shown:  # nothing newer (an error, another job) took its place
            what = shown.removeprefix("queued: ").split(";")[0]
            tail = "; the queue says why" if info.state == "failed" else ""
            self.message.info(f"{info.state}: {what}{tail}")

    # ---- actions (return the job id, or None with the error shown) ---------------------------------
    def evaluate(self, fidelity: Optional[str] = None) -> Optional[int]:
        """Evaluate the draft scenario at ``fidelity`` (default: the Fidelity box)."""
        fid = fidelity or self.eval_fidelity.currentText()
        return self._submit(
            lambda: run_flow.plan_evaluation(
                self.state, fid, self.r_wire.text(), self.device_model.currentText(), self.offset.text()
            )
        )

    def sweep(self) -> Optional[int]:
        """Run a defect sweep with the sweep fields."""
        return self._submit(
            lambda: run_flow.plan_sweep(
                self.state,
                {k: w.text() for k, w in self.sweep_fields.items()},
                self.sweep_fidelity.currentText(),
                self.scheduler.text(),
                self.r_wire.text(),
                self.device_model.currentText(),
                self.offset.text(),
            )
        )

    def recover(self) -> Optional[int]:
        """Run the chosen recovery method on the draft scenario."""
        return self._submit(
            lambda: run_flow.plan_recovery(
                self.state,
                self.rec_method.currentText(),
                self.rec_fidelity.currentText(),
                self.r_wire.text(),
                self.device_model.currentText(),
                self.offset.text(),
            )
        )
