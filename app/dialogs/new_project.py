"""The New-project dialog: data set (with a preview), network, mapping, device and circuit on one page.

Fields, defaults, ranges and validation come from :mod:`app.presenters.new_project` (which reads them from the
core's dataclasses). User files are read by a job on a private queue, so a big MNIST file never freezes the
window; the newest read wins. Pressing Train validates everything and returns a
:class:`~app.presenters.new_project.NewProjectRequest`; the training itself runs in the window's job queue
(:meth:`app.panels.training.TrainingPanel.start_training`).
"""

from __future__ import annotations

import os
from typing import Optional

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.dialogs.preview_drawing import draw_preview
from app.jobs_qt import QtJobQueue
from app.presenters import new_project as form
from app.presenters.document import WorkbenchState
from app.presenters.new_project import DataSource, DataState, FieldError, NewProjectRequest
from app.widgets import FitScrollArea, MessageLabel, color, plot_widget, text_width
from core.model import tiling
from core.model.devices import DEVICE_MODELS, SCHEMES
from core.model.network import PRESETS
from core.session.job_queue import DONE, JobInfo

ERROR_STYLE = "border: 1px solid #b00020;"
NUMBER_SAMPLE = "1.25e-10"  # a field shows at least this much of a number (more if its default is longer)
PATH_CHARS = 24  # characters of a path a path field shows (the whole path is in its tooltip)
STATUS_LINES = 4  # the data set's summary: name and sizes (wrapped), split, class sizes


class NewProjectDialog(QDialog):
    """One form with five sections; :attr:`request` holds the validated set-up after Train."""

    def __init__(self, state: Optional[WorkbenchState] = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.state = state
        self.request: Optional[NewProjectRequest] = None
        self.data = DataState()
        self.reader = QtJobQueue(max_workers=1, interval_s=0.1, parent=self)
        self._reads: dict[int, int] = {}  # read job id -> its DataState ticket
        self.widgets: dict[str, QWidget] = {}  # form key -> its input widget
        self._tips: dict[str, str] = {}
        self.bad: set[str] = set()  # keys of the fields marked invalid
        self.sample_items: list[pg.ImageItem] = []
        self.sample_labels: list[int] = []

        columns = QGridLayout()
        columns.addWidget(self._dataset_box(), 0, 0, 3, 1)
        columns.addWidget(self._network_box(), 0, 1)
        columns.addWidget(self._scheme_box(), 1, 1)
        columns.addWidget(self._device_box(), 0, 2)
        columns.addWidget(self._circuit_box(), 1, 2)
        columns.setRowStretch(2, 1)  # sections keep their natural height; spare room goes below them
        for c, stretch in enumerate((5, 4, 4)):
            columns.setColumnStretch(c, stretch)
        content = QWidget()
        content.setLayout(columns)
        # fills the window when it fits (a plain resizable scroll area would scroll to show preferred heights)
        self.scroll = FitScrollArea(content, horizontal=True)
        self.scroll.setFrameShape(QFrame.Shape.StyledPanel)

        self.message = MessageLabel()
        self.copy_button = QPushButton("Use the open project's settings")
        self.copy_button.setToolTip("network, training, mapping, device and circuit of the open project (not its data)")
        self.copy_button.setEnabled(state is not None)
        self.cancel_button = QPushButton("Cancel")
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("check every field, then train the network as a job in the queue")
        for b in (self.copy_button, self.cancel_button, self.train_button):
            b.setAutoDefault(False)  # Enter in a field reads a file or checks the field; it never starts a training
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.train_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

        self.copy_button.clicked.connect(self.use_project_settings)
        self.cancel_button.clicked.connect(self.reject)
        self.train_button.clicked.connect(self.train)
        self.reader.job_finished.connect(self._read_finished)
        self.set_values(form.default_values())
        self._fit_screen()
        self._data_changed()

    # ---- sections ------------------------------------------------------------------------------------
    def _line(self, key: str, tip: str = "") -> QLineEdit:
        w = QLineEdit()
        f = form.NUMBER_FIELDS.get(key)
        self._tips[key] = tip or (f.tooltip if f else "")
        w.setToolTip(self._tips[key])
        if f is not None:
            w.setPlaceholderText(f.spec.describe())
            w.editingFinished.connect(lambda k=key: self.check(k))
            w.setMinimumWidth(text_width(w, max(f.default_text, NUMBER_SAMPLE, key=len)))
        self.widgets[key] = w
        return w

    def _combo(self, key: str, items) -> QComboBox:
        w = QComboBox()
        w.addItems(list(items))
        self.widgets[key] = w
        return w

    def _number_rows(self, fl: QFormLayout, prefix: str) -> None:
        for key, f in form.NUMBER_FIELDS.items():
            if key.startswith(prefix + "."):
                fl.addRow(f.label, self._line(key))

    def _dataset_box(self) -> QGroupBox:
        box = QGroupBox(form.SECTIONS["dataset"])
        v = QVBoxLayout(box)
        self.source_buttons = QButtonGroup(self)
        self.source_radios: dict[str, QRadioButton] = {}
        self.browse_buttons: dict[str, QToolButton] = {}
        # each source's file fields sit under its radio button: no label column, so the section stays narrow
        files = {"npz": ["dataset.npz"], "idx": ["dataset.idx_images", "dataset.idx_labels"]}
        for i, (kind, text) in enumerate(form.SOURCES.items()):
            rb = QRadioButton(text)
            rb.setToolTip(text)
            self.source_buttons.addButton(rb, i)
            self.source_radios[kind] = rb
            v.addWidget(rb)
            if kind in files:
                grid = QGridLayout()
                grid.setContentsMargins(rb.iconSize().width() + 8, 0, 0, 0)  # indented to the radio's text
                for r, key in enumerate(files[kind]):
                    self._path_row(grid, r, key, short=len(files[kind]) > 1)
                v.addLayout(grid)
        fl = QFormLayout()
        fl.addRow(form.NUMBER_FIELDS["dataset.downsample"].label, self._line("dataset.downsample"))
        self.widgets["dataset.downsample"].editingFinished.connect(self._data_changed)
        v.addLayout(fl)
        self.data_status = MessageLabel()
        # its height for its width does not reach the dialog through the grid's row span: keep room for the summary
        self.data_status.setMinimumHeight(STATUS_LINES * self.data_status.fontMetrics().lineSpacing())
        v.addWidget(self.data_status)
        self.samples_view = pg.GraphicsLayoutWidget()
        self.samples_view.setMinimumWidth(240)
        self.samples_view.setFixedHeight(136)
        self.samples_view.setToolTip("a few samples, one class after another (labels above)")
        v.addWidget(self.samples_view)
        self.balance_plot = plot_widget("Class balance", "class", "samples")
        self.balance_plot.setMinimumSize(240, 130)
        self.balance_plot.setMaximumHeight(180)
        self.balance_plot.setMouseEnabled(False, False)
        self.balance_bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=color(0))
        self.balance_plot.addItem(self.balance_bars)
        v.addWidget(self.balance_plot, 1)
        v.addStretch(0)  # spare height goes below the plots, not between the rows
        self.source_buttons.idToggled.connect(lambda _i, on: self._data_changed() if on else None)
        return box

    def _path_row(self, grid: QGridLayout, row: int, key: str, short: bool) -> None:
        """A path field with its Browse button (and, for a pair of files, a short label: Images, Labels)."""
        label = form.PATH_FIELDS[key]
        edit = self._line(key, f"{label}: type a path and press Enter, or Browse")
        edit.setPlaceholderText(label)
        edit.setMinimumWidth(text_width(edit, "x" * PATH_CHARS))
        edit.textChanged.connect(lambda _t, k=key: self._path_tip(k))
        edit.editingFinished.connect(self._data_changed)
        b = QToolButton()
        b.setText("…")
        b.setToolTip(f"Browse for the {label[0].lower() + label[1:]}")
        b.setAutoRaise(False)
        b.clicked.connect(lambda _c=False, k=key: self.browse(k))
        self.browse_buttons[key] = b
        if short:
            grid.addWidget(QLabel(label.split()[1].capitalize()), row, 0)  # "IDX images file" -> "Images"
        grid.addWidget(edit, row, 1)
        grid.addWidget(b, row, 2)
        grid.setColumnStretch(1, 1)

    def _network_box(self) -> QGroupBox:
        box = QGroupBox(form.SECTIONS["network"])
        fl = QFormLayout(box)
        preset = self._combo("network.preset", [*PRESETS, form.CUSTOM])
        for i, name in enumerate(PRESETS):
            preset.setItemData(i, "-".join(map(str, PRESETS[name])), Qt.ItemDataRole.ToolTipRole)
        fl.addRow("Preset", preset)
        fl.addRow(form.HIDDEN_LABEL, self._line("network.hidden", "three hidden-layer sizes, e.g. 8,8,8 (custom)"))
        self._number_rows(fl, "train")
        preset.currentTextChanged.connect(self._preset_changed)
        self.widgets["network.hidden"].editingFinished.connect(lambda: self.check("network.hidden"))
        self.widgets["network.hidden"].editingFinished.connect(self._update_mapping)
        return box

    def _scheme_box(self) -> QGroupBox:
        box = QGroupBox(form.SECTIONS["scheme"])
        fl = QFormLayout(box)
        scheme = self._combo("scheme", SCHEMES)
        fl.addRow("Scheme", scheme)
        self.scheme_help = QLabel()
        self.scheme_help.setWordWrap(True)
        self.scheme_help.setStyleSheet("color: #444;")
        fl.addRow(self.scheme_help)
        scheme.currentTextChanged.connect(lambda _t: self._update_mapping())
        pitch = self._line(form.PITCH_KEY, form.PITCH_TIP)
        pitch.setPlaceholderText("unknown; e.g. 0.2x0.4")
        pitch.editingFinished.connect(lambda: self.check(form.PITCH_KEY))
        fl.addRow(form.PITCH_LABEL, pitch)
        tile = self._line(form.TILE_KEY, form.TILE_TIP)
        tile.setPlaceholderText("none; e.g. 64x64")
        tile.editingFinished.connect(lambda: self.check(form.TILE_KEY))
        tile.textChanged.connect(lambda _t: self._update_mapping())
        fl.addRow(form.field_label(form.TILE_KEY), tile)
        unused = self._combo(form.UNUSED_KEY, tiling.UNUSED_STATES)
        unused.setToolTip(form.UNUSED_TIP)
        fl.addRow(form.field_label(form.UNUSED_KEY), unused)
        return box

    def _device_box(self) -> QGroupBox:
        box = QGroupBox(form.SECTIONS["device"])
        fl = QFormLayout(box)
        model = self._combo("device.model", DEVICE_MODELS)
        model.setToolTip("linear: an ohmic resistor; gap: the Stanford RRAM gap model's static I-V")
        fl.addRow("Device model", model)
        self._number_rows(fl, "device")
        return box

    def _circuit_box(self) -> QGroupBox:
        box = QGroupBox(form.SECTIONS["circuit"])
        fl = QFormLayout(box)
        self._number_rows(fl, "circuit")
        return box

    def _path_tip(self, key: str) -> None:
        """A path field's tooltip starts with the whole path (the field may show only its end)."""
        text = self.widgets[key].text().strip()
        self._tips[key] = f"{text}\n\n{form.PATH_FIELDS[key]}: type a path and press Enter, or Browse".strip()
        if key not in self.bad:
            self.widgets[key].setToolTip(self._tips[key])

    def _fit_screen(self) -> None:
        """As large as the form wants, but never larger than the screen (the scroll area takes the rest)."""
        screen = (self.parent().screen() if self.parent() is not None else None) or self.screen()
        avail = screen.availableGeometry()
        self.resize(min(1000, avail.width() - 24), min(720, avail.height() - 48))

    # ---- values --------------------------------------------------------------------------------------
    def values(self) -> dict[str, str]:
        """Every field's text, keyed as in :func:`app.presenters.new_project.default_values`."""
        out = {}
        for key, w in self.widgets.items():
            out[key] = w.currentText() if isinstance(w, QComboBox) else w.text().strip()
        kinds = list(form.SOURCES)
        out["dataset.source"] = kinds[max(0, self.source_buttons.checkedId())]
        return out

    def set_values(self, values: dict) -> None:
        """Fill fields from ``values`` (unknown keys are ignored; the data set is read again if it changed)."""
        for key, text in values.items():
            w = self.widgets.get(key)
            if isinstance(w, QComboBox):
                w.setCurrentText(text)
            elif isinstance(w, QLineEdit):
                w.setText(text)
            elif key == "dataset.source" and text in self.source_radios:
                self.source_radios[text].setChecked(True)
        self._preset_changed(self.widgets["network.preset"].currentText())
        self._update_mapping()
        for key in list(self.bad):
            self.mark(key, None)

    def use_project_settings(self) -> None:
        if self.state is not None:
            self.set_values(form.values_from_project(self.state.project))
            self.message.info("network, training, mapping, device and circuit copied from the open project")

    def _preset_changed(self, preset: str) -> None:
        hidden = self.widgets["network.hidden"]
        if preset in PRESETS:
            hidden.setText(",".join(map(str, PRESETS[preset])))
            self.mark("network.hidden", None)
        hidden.setEnabled(preset == form.CUSTOM)
        self._update_mapping()

    def _update_mapping(self) -> None:
        if hasattr(self, "scheme_help"):  # not while the sections are being built
            self.scheme_help.setText(form.mapping_text(self.values(), self.data))

    # ---- validation ----------------------------------------------------------------------------------
    def mark(self, key: str, error: Optional[str]) -> None:
        """Show ``error`` at field ``key`` (a red frame and its tooltip), or clear it."""
        w = self.widgets.get(key)
        if w is None:
            return
        w.setStyleSheet(ERROR_STYLE if error else "")
        w.setToolTip(f"{error}\n\n{self._tips.get(key, '')}".strip() if error else self._tips.get(key, ""))
        (self.bad.add if error else self.bad.discard)(key)

    def check(self, key: str) -> bool:
        """Validate one field as the user leaves it; the message names the field and its range."""
        try:
            form.check_text(key, self.values().get(key, ""))
        except FieldError as e:
            self.mark(key, str(e))
            self.message.error(str(e))
            return False
        if key in self.bad:
            self.mark(key, None)
            self.message.clear_message()
        return True

    def train(self) -> Optional[NewProjectRequest]:
        """Validate the whole form; accept the dialog with :attr:`request`, or show every error and stay."""
        request, errors = form.form_errors(self.values(), self.data)
        for key in list(self.bad):
            self.mark(key, None)
        for e in errors:
            self.mark(e.key, str(e))
        if errors:
            more = f"\n… and {len(errors) - 3} more (marked in red)" if len(errors) > 3 else ""
            self.message.error("\n".join(str(e) for e in errors[:3]) + more)
            first = self.widgets.get(errors[0].key)
            if first is not None:
                self.scroll.ensureWidgetVisible(first)
                first.setFocus()
            return None
        self.request = request
        self.accept()
        return request

    # ---- the data set: read off the GUI thread, newest read wins ---------------------------------------
    def _data_changed(self) -> None:
        values = self.values()
        kind = values["dataset.source"]
        for key, b in self.browse_buttons.items():
            on = (kind == "npz") == (key == "dataset.npz") and kind != "digits"
            self.widgets[key].setEnabled(on)
            b.setEnabled(on)
        self.widgets["dataset.downsample"].setEnabled(kind != "digits")
        for key in ("dataset.source", "dataset.downsample", *form.PATH_FIELDS):
            self.mark(key, None)
        try:
            source = form.data_source(values)
        except FieldError as e:
            if isinstance(e, form.MissingPath):
                self.data_status.info(f"{e.field}: choose a file (Browse…) or type its path and press Enter")
            else:
                self.mark(e.key, str(e))
                self.data_status.error(str(e))
            self._draw_samples(None)  # the preview of the previous source would mislead
            self._update_mapping()
            return
        ticket = self.data.want(source)
        if ticket:
            self.read(source, ticket)
        self._show_data()

    def read(self, source: DataSource, ticket: int) -> int:
        """Start reading ``source`` (earlier unfinished reads are cancelled); returns the read job's id."""
        for job_id in self._reads:
            self.reader.cancel(job_id)
        job_id = self.reader.submit(lambda: form.preview_job(source), name=f"read {source.describe()}")
        self._reads[job_id] = ticket
        return job_id

    def reading(self) -> bool:
        """A data file is being read (the preview and Train wait for it)."""
        return self.data.reading

    def _read_finished(self, info: JobInfo) -> None:
        ticket = self._reads.pop(info.id, None)
        done = info.state == DONE
        if ticket is not None and self.data.finished(ticket, info.result if done else None, "" if done else info.error):
            self._show_data()

    def _show_data(self) -> None:
        kind, text = self.data.status()
        if kind == "error":
            self.data_status.error(text)
            self.mark(self.data.error_key, text)
        else:
            self.data_status.info(text)
        pv = self.data.preview if self.data.preview and self.data.preview.source == self.data.wanted else None
        self._draw_samples(pv)
        self._update_mapping()

    def _draw_samples(self, pv) -> None:
        self.sample_items, self.sample_labels = draw_preview(
            self.samples_view, self.balance_plot, self.balance_bars, pv
        )

    def class_counts(self) -> list[int]:
        """The class balance drawn (samples per class label)."""
        h = self.balance_bars.opts.get("height")
        return [] if h is None else [int(v) for v in h]

    def browse(self, key: str) -> None:
        start = os.path.dirname(self.widgets[key].text()) or os.getcwd()
        filt = (
            "NumPy archives (*.npz);;All files (*)" if key == "dataset.npz" else "IDX files (*idx* *.gz);;All files (*)"
        )
        path, _ = QFileDialog.getOpenFileName(self, form.PATH_FIELDS[key], start, filt)
        if path:
            self.widgets[key].setText(path)
            self._data_changed()

    def done(self, result: int) -> None:
        """Closing (Train or Cancel) stops a read still running; its result is not needed any more."""
        self.reader.shutdown(timeout_s=0.0)
        super().done(result)


def ask_new_project(parent, state: Optional[WorkbenchState] = None) -> Optional[NewProjectRequest]:
    """Show the New-project dialog (modal); the validated request after Train, None after Cancel."""
    dlg = NewProjectDialog(state, parent)
    try:
        return dlg.request if dlg.exec() == QDialog.DialogCode.Accepted else None
    finally:
        dlg.deleteLater()
