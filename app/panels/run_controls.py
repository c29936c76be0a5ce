"""The queue panel's launch controls: evaluate the draft scenario, run a sweep, run a recovery method.

A shared "Circuit" group sets the wire resistance and device model for all three (defaults: the project's).
Each button validates its fields (errors shown here, naming the field), then submits a core job to the
:class:`~app.jobs_qt.QtJobQueue` with the open project as the target of its result (the queue stores it on the
GUI thread with :func:`core.session.store.store_result`).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.jobs_qt import QtJobQueue
from app.presenters import forms
from app.presenters.document import WorkbenchState
from app.widgets import MessageLabel
from core.errors import ParameterError, WorkbenchError
from core.evaluate import FIDELITIES
from core.model.devices import DEVICE_MODELS
from core.recovery.common import METHODS, RECOVERY_FIDELITIES
from core.sweeps.spec import SWEEP_FIDELITIES, parse_list


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
        cg = QGroupBox("Circuit (for all runs)")
        form = QFormLayout(cg)
        form.addRow("Wire R (Ω)", self.r_wire)
        form.addRow("Device model", self.device_model)

        self.eval_fidelity = QComboBox()
        self.eval_fidelity.addItems(list(FIDELITIES))
        self.eval_fidelity.setCurrentText("behavioral")
        self.eval_button = QPushButton("Evaluate scenario")
        ev = QGroupBox("Evaluate the scenario")
        form = QFormLayout(ev)
        form.addRow("Fidelity", self.eval_fidelity)
        form.addRow(self.eval_button)

        self.sweep_fields = {
            "patterns": QLineEdit("circle,ring,rows,columns"),
            "sizes": QLineEdit("0.1,0.2,0.3,0.4"),
            "stuck": QLineEdit("on,off"),
            "arrays": QLineEdit("1"),
            "seeds": QLineEdit("10"),
        }
        tips = {
            "patterns": "comma-separated: circle, ring, circle_complement, rows, columns, checkerboard, random",
            "sizes": "fractions in (0, 1], comma-separated or START:STOP:COUNT",
            "stuck": "comma-separated: on, off or resistances such as 50k",
            "arrays": "comma-separated 1-based arrays, or all",
            "seeds": "Monte-Carlo placements per point, 1-100000",
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
        self.scheduler.setPlaceholderText("empty: this computer; or tcp://host:8786")
        self.scheduler.setToolTip("Dask scheduler address: sweep chunks run on that cluster (see docs/dask.md)")
        form.addRow("Dask scheduler", self.scheduler)
        form.addRow(self.sweep_button)

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

        self.message = MessageLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(cg)
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

    def _scenario(self) -> tuple[list, str]:
        name = self.state.draft_name if self.state.draft else ""
        return list(self.state.draft), name

    def _ok(self) -> bool:
        if self.state.project.mapped is None:
            self.message.error("project: has no trained and mapped network; train one first")
            return False
        return True

    def circuit(self) -> Optional[tuple[float, str]]:
        """(wire resistance in ohm, device model) from the fields, or None with the error shown."""
        try:
            return forms.circuit_overrides(self.r_wire.text(), self.device_model.currentText())
        except WorkbenchError as e:
            self.message.error(str(e))
            return None

    def _circuit_note(self, r_wire: float, model: str) -> str:
        """ ", 2 Ω wires, gap devices' for whatever differs from the project's circuit ('' if nothing)."""
        m = self.state.project.mapped
        parts = []
        if r_wire != m.circuit.r_wire_ohm:
            parts.append(f"{r_wire:g} Ω wires")
        if model != m.device.model:
            parts.append(f"{model} devices")
        return f", {', '.join(parts)}" if parts else ""

    def _queued(self, text: str, r_wire: float, fidelity: str) -> None:
        if r_wire > 0 and fidelity in ("ideal", "behavioral"):
            text += " (the wire resistance only acts at nodal and spice fidelity)"
        self.message.info(text)

    # ---- actions (return the job id, or None with the error shown) ---------------------------------
    def evaluate(self, fidelity: Optional[str] = None) -> Optional[int]:
        from core.evaluate import evaluate_job

        if not self._ok() or (circuit := self.circuit()) is None:
            return None
        r_wire, model = circuit
        fidelity = fidelity or self.eval_fidelity.currentText()
        project = self.state.project
        defects, name = self._scenario()
        what = name or ("clean" if not defects else "draft")
        note = self._circuit_note(r_wire, model)
        self._queued(f"queued: evaluate {what} at {fidelity}{note}", r_wire, fidelity)
        return self.jobs.submit(
            lambda: evaluate_job(project, defects, fidelity, r_wire_ohm=r_wire, device_model=model, scenario=name),
            name=f"evaluate {what} ({fidelity}{note})",
            project=project,
        )

    def sweep(self) -> Optional[int]:
        from core.sweeps.job import sweep_job

        if not self._ok() or (circuit := self.circuit()) is None:
            return None
        r_wire, model = circuit
        f = {k: w.text() for k, w in self.sweep_fields.items()}
        project = self.state.project
        try:
            spec = forms.sweep_spec(
                parse_list("patterns", f["patterns"]),
                f["sizes"],
                f["stuck"],
                f["arrays"],
                f["seeds"],
                self.sweep_fidelity.currentText(),
            )
            spec = spec.with_arrays(self.state.n_arrays)
        except WorkbenchError as e:
            self.message.error(str(e))
            return None
        scheduler = self.scheduler.text().strip() or None
        if scheduler is not None and not scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
            self.message.error(
                "Dask scheduler: must be empty (this computer) or an address such as "
                f"tcp://127.0.0.1:8786; got {scheduler!r}"
            )
            return None
        n_maps = len(spec.points()) * spec.n_seeds
        note = self._circuit_note(r_wire, model) + (f", on {scheduler}" if scheduler else "")
        self._queued(f"queued: sweep of {n_maps} defect maps at {spec.fidelity}{note}", r_wire, spec.fidelity)
        return self.jobs.submit(
            lambda: sweep_job(project, spec, scheduler=scheduler, r_wire_ohm=r_wire, device_model=model),
            name=f"sweep {','.join(spec.patterns)} ({n_maps} maps, {spec.fidelity}{note})",
            project=project,
        )

    def recover(self) -> Optional[int]:
        from core.recovery.recover import recover_job

        if not self._ok() or (circuit := self.circuit()) is None:
            return None
        r_wire, model = circuit
        defects, name = self._scenario()
        if not defects:
            self.message.error(str(ParameterError("scenario", "has no defects; add some in the defect editor")))
            return None
        method, fidelity = self.rec_method.currentText(), self.rec_fidelity.currentText()
        project = self.state.project
        note = self._circuit_note(r_wire, model)
        self._queued(f"queued: {method} recovery at {fidelity}{note}", r_wire, fidelity)
        return self.jobs.submit(
            lambda: recover_job(
                project, defects, method, fidelity, scenario=name, r_wire_ohm=r_wire, device_model=model
            ),
            name=f"recover {name or 'draft'} ({method}, {fidelity}{note})",
            project=project,
        )
