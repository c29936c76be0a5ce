"""Panel 3, defect pattern editor: build the draft scenario from patterns and painted cells, save it.

Fields per pattern come from :data:`core.model.defects.PATTERNS`. Every edit is a command on the state's undo
stack; errors from :class:`core.model.defects.Defect` / :func:`core.model.defects.parse_spec` appear in the panel.
After every edit of the draft the read-out box shows the draft's behavioural accuracy, computed off the GUI
thread by :class:`app.presenters.readout.ReadoutComputer` (latest edit wins).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.jobs_qt import collect_garbage_on_gui_thread_only, import_worker_modules_on_gui_thread
from app.panels.crossbar import ERASE, PAINT, PAINT_OFF
from app.panels.readout_box import ReadoutBox
from app.presenters import forms
from app.presenters import readout as ro
from app.presenters.document import WorkbenchState, copy_defects
from app.widgets import MessageLabel, cut, plain_tip
from core.errors import WorkbenchError
from core.model.defects import PATTERNS, parse_spec
from core.model.floorplan import die_defects, parse_die_spec

STUCK_CHOICES = [("on (LRS)", "on"), ("off (HRS)", "off"), ("resistance", "ohm")]


def _breakable(spec: str) -> str:
    """A spec the message label may wrap after its commas (a zero-width space after each)."""
    return spec.replace(",", ",\u200b")


class DefectEditorPanel(QWidget):
    """Pattern + parameters + array + stuck type -> draft defects; paint tool; scenarios."""

    title = "Defect editor"
    paint_mode_changed = Signal(str, str, float)  # mode, stuck, stuck_ohm
    array_changed = Signal(int)
    readout_shown = Signal(int)  # serial of the edit whose read-out the box now shows
    _readout_arrived = Signal()  # emitted on the read-out's worker thread; the outcome waits in the presenter

    def __init__(self, state: WorkbenchState, jobs=None, parent=None):
        super().__init__(parent)
        self.state = state
        self.field_edits: dict[str, QLineEdit] = {}

        # --- new defect -----------------------------------------------------------------------------
        self.pattern = QComboBox()
        self.pattern.addItems(list(PATTERNS))
        self.array = QSpinBox()
        self.array.setRange(1, 4)
        self.stuck = QComboBox()
        for label, value in STUCK_CHOICES:
            self.stuck.addItem(label, value)
        self.resistance = QLineEdit()
        self.resistance.setPlaceholderText("e.g. 50k or 1.5meg")
        self.resistance.setToolTip("stuck resistance in ohms, 1 to 1e12 (k, meg, g suffixes)")
        head = QFormLayout()
        head.addRow("Pattern", self.pattern)
        head.addRow("Array", self.array)
        stuck_row = QHBoxLayout()
        stuck_row.addWidget(self.stuck)
        stuck_row.addWidget(self.resistance, 1)
        head.addRow("Stuck", stuck_row)
        self.param_form = QFormLayout()
        self.add_button = QPushButton("Add defect")
        self.spec_edit = QLineEdit()
        self.spec_edit.setPlaceholderText("or a spec: circle:array=1,r=0.3,stuck=on")
        self.spec_edit.setToolTip("a defect spec PATTERN:key=value,..., e.g. circle:array=1,r=0.3,stuck=on")
        self.spec_button = QPushButton("Add spec")
        spec_row = QHBoxLayout()
        spec_row.addWidget(self.spec_edit, 1)
        spec_row.addWidget(self.spec_button)
        new_box = QGroupBox("New defect")
        nb = QVBoxLayout(new_box)
        nb.addLayout(head)
        nb.addLayout(self.param_form)
        nb.addWidget(self.add_button)
        nb.addLayout(spec_row)

        # --- paint tool -----------------------------------------------------------------------------
        # the title fits the dock's ~330 px; the tooltip says which fields the brush uses
        paint_box = QGroupBox("Paint on the crossbar view")
        paint_box.setToolTip("Paint and Erase act on the crossbar view with the Array and Stuck chosen above")
        pb = QHBoxLayout(paint_box)
        self.paint_buttons = QButtonGroup(self)
        for i, (label, mode) in enumerate((("Off", PAINT_OFF), ("Paint", PAINT), ("Erase", ERASE))):
            b = QRadioButton(label)
            b.setProperty("mode", mode)
            self.paint_buttons.addButton(b, i)
            pb.addWidget(b)
        self.paint_buttons.button(0).setChecked(True)

        # --- draft & scenarios ----------------------------------------------------------------------
        self.draft_list = QListWidget()
        self.draft_list.setMinimumHeight(36)  # two lines: at 1024x768 the whole dock fits without scrolling
        self.remove_button = QPushButton("Remove selected")
        self.clear_button = QPushButton("Clear")
        self.name_edit = QLineEdit()
        self.save_button = QPushButton("Save scenario")
        self.scenario_box = QComboBox()
        # the box is as narrow as the dock; its list opens as wide as the longest name, the tooltip is the name
        self.scenario_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.scenario_box.currentIndexChanged.connect(
            lambda _i: self.scenario_box.setToolTip(plain_tip(self.scenario_box.currentData() or ""))
        )
        self.load_button = QPushButton("Load")
        draft_box = QGroupBox("Current scenario")
        db = QVBoxLayout(draft_box)
        db.addWidget(self.draft_list, 1)
        row = QHBoxLayout()
        row.addWidget(self.remove_button)
        row.addWidget(self.clear_button)
        db.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Name"))
        row.addWidget(self.name_edit, 1)
        row.addWidget(self.save_button)
        db.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Saved"))
        row.addWidget(self.scenario_box, 1)
        row.addWidget(self.load_button)
        db.addLayout(row)

        # --- live read-out --------------------------------------------------------------------------
        self.readout_box = ReadoutBox()
        self.readout_outcome: ro.ReadoutOutcome | None = None  # the outcome on screen
        self.shown_serial = 0
        self._readout_floor = 0
        collect_garbage_on_gui_thread_only()  # before the read-out's worker thread allocates anything
        import_worker_modules_on_gui_thread()
        self._readout_arrived.connect(self._show_readout, Qt.ConnectionType.QueuedConnection)
        # no argument crosses threads through Qt: the slot takes the newest outcome from the presenter
        self.readout = ro.ReadoutComputer(lambda _outcome: self._readout_arrived.emit())

        self.message = MessageLabel()
        layout = QVBoxLayout(self)
        layout.addWidget(new_box)
        layout.addWidget(paint_box)
        layout.addWidget(self.readout_box)
        layout.addWidget(draft_box, 1)
        layout.addWidget(self.message)
        self.setMinimumSize(320, 560)

        self.pattern.currentTextChanged.connect(self._build_fields)
        self.stuck.currentIndexChanged.connect(self._stuck_changed)
        self.resistance.editingFinished.connect(self._emit_paint_mode)
        self.array.valueChanged.connect(self.array_changed.emit)
        self.array.valueChanged.connect(lambda _v: self._rebuild_fields_if_units_changed())
        self.add_button.clicked.connect(self.add_defect)
        self.spec_button.clicked.connect(self.add_spec)
        self.spec_edit.returnPressed.connect(self.add_spec)
        self.paint_buttons.idClicked.connect(lambda _i: self._emit_paint_mode())
        self.remove_button.clicked.connect(self._remove_selected)
        self.clear_button.clicked.connect(lambda: self.state.set_draft([], "clear scenario"))
        self.save_button.clicked.connect(self.save_scenario)
        self.name_edit.textChanged.connect(self._name_edited)
        self.load_button.clicked.connect(self._load_selected)
        state.on_change(self._state_changed)
        self._build_fields(self.pattern.currentText())
        self._stuck_changed()
        self.refresh()
        self._submit_readout()  # also loads the dataset and the defect-free accuracy before the first edit

    # ---- form ----------------------------------------------------------------------------------------
    def _build_fields(self, pattern: str) -> None:
        while self.param_form.rowCount():
            self.param_form.removeRow(0)
        self.field_edits = {}
        physical = self.state.pitch(self.array.value()) is not None
        self._fields_key = (pattern, physical)
        for key, placeholder, tip in forms.pattern_fields(pattern, physical):
            edit = QLineEdit()
            edit.setPlaceholderText(placeholder)
            edit.setToolTip(tip)
            edit.returnPressed.connect(self.add_defect)  # Enter in the form adds the defect, like the button
            self.field_edits[key] = edit
            if pattern == "mask":
                browse = QPushButton("Browse…")
                browse.clicked.connect(lambda _=False, e=edit: self._browse_mask(e))
                row = QHBoxLayout()
                row.addWidget(edit, 1)
                row.addWidget(browse)
                self.param_form.addRow(key, row)
            else:
                self.param_form.addRow(key, edit)

    def _add_die_spec(self, text: str) -> bool:
        """A cluster on the die: one defect per array under it, added in one undoable step."""
        try:
            if self.state.project.mapped is None:
                raise WorkbenchError("No mapped network: train or open a project before adding defects.")
            new = die_defects(self.state.project.mapped, parse_die_spec(text))
        except WorkbenchError as e:
            self.message.error(str(e))
            return False
        if not new:
            self.message.error(f"{text} covers no cell of any array on the die; nothing added")
            return False
        self.state.set_draft([*self.state.draft, *new], "add die defect")
        arrays = ", ".join(str(d.array) for d in new)
        self.message.info(f"added {_breakable(text)} on array{'s' if len(new) > 1 else ''} {arrays}")
        self.spec_edit.clear()
        return True

    def _rebuild_fields_if_units_changed(self) -> None:
        """Arrays (or projects) with and without a cell pitch show um or normalized fields."""
        pattern = self.pattern.currentText()
        if getattr(self, "_fields_key", None) != (pattern, self.state.pitch(self.array.value()) is not None):
            self._build_fields(pattern)

    def _browse_mask(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Measured defect mask", "", "Masks (*.npy *.csv *.txt)")
        if path:
            edit.setText(path)

    def set_fields(self, pattern: str, values: dict) -> None:
        """Fill the form (used by tests and scripts): pattern and its parameter texts."""
        self.pattern.setCurrentText(pattern)
        for k, v in values.items():
            self.field_edits[k].setText(str(v))

    def _stuck_value(self) -> str:
        return self.stuck.currentData()

    def _stuck_changed(self, *_):
        self.resistance.setEnabled(self._stuck_value() == "ohm")
        self._emit_paint_mode()

    def _emit_paint_mode(self) -> None:
        mode = self.paint_buttons.checkedButton().property("mode")
        try:
            stuck, ohm = forms.stuck_value(self._stuck_value(), self.resistance.text())
        except WorkbenchError as e:
            if mode == PAINT:
                self.message.error(str(e))
            stuck, ohm, mode = "on", 0.0, (PAINT_OFF if mode == PAINT else mode)
        else:
            if self.message.is_error and self.message.text().startswith("stuck:"):
                self.message.clear_message()  # the resistance was fixed: the old complaint no longer holds
        self.paint_mode_changed.emit(mode, stuck, ohm)

    # ---- actions -------------------------------------------------------------------------------------
    def add_defect(self) -> bool:
        """Validate the form and add its defect to the draft; False (message shown) if invalid."""
        if self.state.n_arrays == 0:
            self.message.error("No mapped network: train or open a project before adding defects.")
            return False
        try:
            d = forms.build_defect(
                self.pattern.currentText(),
                self.array.value(),
                self._stuck_value(),
                self.resistance.text(),
                {k: e.text() for k, e in self.field_edits.items()},
                shape=self.state.shape(self.array.value()),
                n_arrays=self.state.n_arrays,
                pitch_um=self.state.pitch(self.array.value()),
            )
        except WorkbenchError as e:
            self.message.error(str(e))
            return False
        self.state.add_defect(d)
        self.message.info(f"added {_breakable(d.to_spec())}")
        return True

    def add_spec(self) -> bool:
        text = self.spec_edit.text().strip()
        if text.lower().startswith("die:"):
            return self._add_die_spec(text)
        try:
            d = parse_spec(text)
            shape = self.state.shape(d.array)
            if shape is None:
                raise WorkbenchError(f"array: must be from 1 to {self.state.n_arrays} for this network; got {d.array}")
            d.cells_on(shape, self.state.pitch(d.array), self.state.tile(d.array))
        except WorkbenchError as e:
            self.message.error(str(e))
            return False
        self.state.add_defect(d)
        self.message.info(f"added {_breakable(d.to_spec())}")
        self.spec_edit.clear()
        return True

    def _remove_selected(self) -> None:
        row = self.draft_list.currentRow()
        if row >= 0:
            self.state.remove_defect(row)

    def save_scenario(self) -> bool:
        try:
            self.state.save_scenario(self.name_edit.text())
        except WorkbenchError as e:
            self.message.error(str(e))
            return False
        self.state.draft_name = self.name_edit.text().strip()
        self.message.info(f"saved scenario {self.state.draft_name!r} in the project")
        return True

    def _name_edited(self, text: str) -> None:
        self.state.draft_name = text.strip()

    def _load_selected(self) -> None:
        name = self.scenario_box.currentData()  # the shown text is cut; the item's data is the full name
        if name in self.state.project.scenarios:
            self.state.load_scenario(name)
            self.name_edit.setText(name)

    # ---- state -> widgets ----------------------------------------------------------------------------
    def _state_changed(self, topic: str) -> None:
        if topic == "project":
            # another project: its own scenario name, and nothing said about the previous one
            self.name_edit.setText(self.state.draft_name)
            self.message.clear_message()
        elif topic == "draft" and self.message.is_error:
            self.message.clear_message()  # an edit went through (paint, undo, load): an old error is stale
        if topic in ("project", "draft", "scenarios"):
            self.refresh()
        if topic in ("project", "draft"):
            self._submit_readout(new_project=topic == "project")

    # ---- read-out ------------------------------------------------------------------------------------
    def _submit_readout(self, new_project: bool = True) -> None:
        """Ask for the draft's read-out (returns at once); the box shows "computing…" until it arrives."""
        n = self.state.n_arrays
        self.readout_box.set_arrays(n)
        if n == 0:
            self.shown_serial = self.readout.invalidate()
            self.readout_outcome = None
            self.readout_box.hint.setText("")
            self.readout_box.show_note("No read-out: no mapped network.")
            return
        # a snapshot: the worker reads it while the GUI thread goes on editing
        serial = self.readout.submit(self.state.project, copy_defects(self.state.draft))
        if new_project:
            self._readout_floor = serial - 1  # read-outs of the previous project, still in flight, are stale
        self.readout_box.hint.setText(ro.COMPUTING)

    def _show_readout(self) -> None:
        # queued from the worker thread; one older than the one on screen or than a project change is stale
        outcome = self.readout.take_latest()
        if outcome is None or outcome.serial <= max(self.shown_serial, self._readout_floor):
            return
        self.readout_outcome, self.shown_serial = outcome, outcome.serial
        self.readout_box.show_outcome(outcome)
        if self.readout.is_current(outcome.serial):
            self.readout_box.hint.setText("")
        self.readout_shown.emit(outcome.serial)

    def shutdown(self) -> None:
        """Stop the read-out's worker thread (it also ends by itself whenever nothing is pending)."""
        self.readout.close()

    def refresh(self) -> None:
        n = self.state.n_arrays
        self.array.setRange(1, max(1, n))
        self._rebuild_fields_if_units_changed()
        for w in (self.add_button, self.spec_button):
            w.setEnabled(n > 0)
        self.draft_list.clear()
        for d in self.state.draft:
            if d.pattern == "mask":
                where = f"array={d.array}" + ("" if d.tile is None else f", tile={d.tile}")
                self.draft_list.addItem(f"mask: {where}, stuck={d.stuck_label}, {int(d.mask.sum())} cells")
            else:
                self.draft_list.addItem(d.to_spec())
        for i in range(self.draft_list.count()):  # two lines tall at 1024x768: a cut line reads whole on hover
            item = self.draft_list.item(i)
            item.setToolTip(plain_tip(item.text()))
        if not self.name_edit.text():
            self.name_edit.setText(self.state.draft_name)
        current = self.scenario_box.currentData()
        self.scenario_box.clear()
        for name in sorted(self.state.project.scenarios):
            self.scenario_box.addItem(cut(name), name)  # names from the file: cut for display, kept whole
        fm = self.scenario_box.fontMetrics()
        shown = [self.scenario_box.itemText(i) for i in range(self.scenario_box.count())]
        self.scenario_box.view().setMinimumWidth(max((fm.horizontalAdvance(t) for t in shown), default=0) + 40)
        if current:
            self.scenario_box.setCurrentIndex(max(0, self.scenario_box.findData(current)))
        self.load_button.setEnabled(self.scenario_box.count() > 0)
        if n == 0:
            self.message.info("No mapped network: train or open a project to edit defects.")
        elif self.message.text().startswith("No mapped network"):
            self.message.clear_message()
