"""Panel 4, simulation queue: every job with state, progress, message and time left; details of the selected
job; launch controls. The texts come from :mod:`app.presenters.queue_text`."""

from __future__ import annotations

import time
from typing import Optional

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.jobs_qt import QtJobQueue
from app.panels.run_controls import RunControls
from app.presenters import queue_text
from app.presenters.document import WorkbenchState
from app.widgets import MessageLabel, cut, plain_tip
from core.errors import WorkbenchError
from core.session.job_queue import RUNNING, JobInfo

COLUMNS = queue_text.COLUMNS
CELL_PAD_PX = 16  # a cell's text margins and grid line
JOB_MIN_WIDTH = 100
NARROW_JOB_WIDTH = 64  # when even that leaves Message too little, Job and Message share the room
MESSAGE_MIN_WIDTH = 140
TICK_MS = 1000  # time-left cells count down between progress reports


def _header_width(hh: QHeaderView, section: int) -> int:
    """The width the header needs to show the title of ``section`` whole (no sort indicator: not sortable)."""
    return hh.fontMetrics().horizontalAdvance(COLUMNS[section]) + CELL_PAD_PX


class QueuePanel(QWidget):
    """A table of jobs (one row per job id) with Cancel / Retry / Remove, beside :class:`RunControls`."""

    title = "Simulation queue"

    def __init__(self, state: WorkbenchState, jobs: QtJobQueue, parent=None):
        super().__init__(parent)
        self.state, self.jobs = state, jobs
        self.rows: dict[int, int] = {}  # job id -> table row
        self.infos: dict[int, JobInfo] = {}  # job id -> latest snapshot
        self.eta = queue_text.EtaTracker()

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        # one line per job: long names and messages are elided (full text in the tooltip and the details pane);
        # Job and State fit their contents within limits, Progress and Time left are fixed, Message takes the rest
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(24)
        hh = self.table.horizontalHeader()
        hh.setMinimumSectionSize(48)
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        hh.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(4, QHeaderView.ResizeMode.Fixed)
        # Progress and Time left as wide as their widest text or title, by the font's metrics
        fm = self.table.fontMetrics()
        progress = fm.horizontalAdvance(queue_text.PROGRESS_SAMPLE) + 2 * CELL_PAD_PX  # the bar's frame
        left = max(fm.horizontalAdvance(t) for t in queue_text.TIME_LEFT_SAMPLES) + CELL_PAD_PX
        self.table.setColumnWidth(2, max(progress, _header_width(hh, 2)))
        self.table.setColumnWidth(4, max(left, _header_width(hh, 4)))
        self._job_width_by_user = False
        self._fitting = False
        hh.sectionResized.connect(self._section_resized)
        self.table.installEventFilter(self)
        self.cancel_button = QPushButton("Cancel")
        self.retry_button = QPushButton("Retry")
        self.remove_button = QPushButton("Remove")
        buttons = QHBoxLayout()
        for b in (self.cancel_button, self.retry_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.message = MessageLabel()
        # the whole message and error of the selected job, wrapped and selectable
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Select a job to see its full message.")
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.details.setFixedHeight(6 * self.details.fontMetrics().lineSpacing() + 12)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.table, 1)
        lv.addWidget(self.details)
        lv.addLayout(buttons)
        lv.addWidget(self.message)
        self.controls = RunControls(state, jobs)
        # the controls scroll vertically in short windows instead of squeezing the table
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(self.controls.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        scroll.setMaximumWidth(420)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(scroll, 1)
        rv.addWidget(self.controls.message)  # outside the scroll area: an error is seen without scrolling
        right.setMaximumWidth(420)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        split.setSizes([700, 280])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self.setMinimumSize(640, 400)

        self.cancel_button.clicked.connect(lambda: self._act("cancel"))
        self.retry_button.clicked.connect(lambda: self._act("retry"))
        self.remove_button.clicked.connect(lambda: self._act("remove"))
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemSelectionChanged.connect(self._show_details)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        jobs.job_updated.connect(self.update_job)
        jobs.job_removed.connect(self._removed)
        state.on_change(lambda topic: self._update_buttons() if topic == "project" else None)
        for info in jobs.jobs():
            self.update_job(info)
        self._update_buttons()

    # ---- table ---------------------------------------------------------------------------------------
    def update_job(self, info: JobInfo) -> None:
        now = time.monotonic()
        self.infos[info.id] = info
        self.eta.observe(info, now)
        row = self.rows.get(info.id)
        new = row is None
        if new:
            row = self.table.rowCount()
            self.table.insertRow(row)
            self.rows[info.id] = row
            item = QTableWidgetItem(cut(info.name))  # job names hold scenario names from the file
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setToolTip(plain_tip(info.name))
            self.table.setItem(row, 0, item)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            self.table.setCellWidget(row, 2, bar)
        self.table.setItem(row, 1, QTableWidgetItem(info.state))
        bar = self.table.cellWidget(row, 2)
        bar.setValue(int(round(1000 * queue_text.progress_fraction(info))))
        bar.setFormat(queue_text.progress_text(info))
        text = self.message_text(info)
        msg = QTableWidgetItem(cut(text))
        # the full message (and a traceback, for whoever asks) is in the tooltip and the details pane
        msg.setToolTip(plain_tip(f"{text}\n\n{info.traceback}" if info.traceback else text, 20_000))
        self.table.setItem(row, 3, msg)
        self._set_time_left(info, now)
        if new:
            self._fit_columns()
        if info.state == RUNNING and not self.timer.isActive():
            self.timer.start()
        if self.selected_job() == info.id:
            self._show_details()
        self._update_buttons()

    def _closed(self, job_id: int) -> bool:
        """The project ``job_id`` was started for is no longer the open one."""
        target = self.jobs.target(job_id)
        return target is not None and target is not self.state.project

    def message_text(self, info: JobInfo) -> str:
        """One line saying what a job is doing or how it ended (see :func:`queue_text.message_text`)."""
        return queue_text.message_text(info, self._closed(info.id))

    def _set_time_left(self, info: JobInfo, now: float) -> None:
        row = self.rows.get(info.id)
        if row is None:
            return
        text = self.eta.text(info, now)
        item = self.table.item(row, 4)
        if item is None or item.text() != text:
            item = QTableWidgetItem(text)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, 4, item)

    def _tick(self) -> None:
        now = time.monotonic()
        running = [info for info in self.infos.values() if info.state == RUNNING]
        for info in running:
            self._set_time_left(info, now)
        job = self.selected_job()
        if job is not None and job in self.infos and self.infos[job].state == RUNNING:
            self._show_details()
        if not running:
            self.timer.stop()

    def _show_details(self) -> None:
        job = self.selected_job()
        info = self.infos.get(job) if job is not None else None
        if info is None:
            self.details.setPlainText("")
            return
        text = queue_text.details_text(info, self._closed(job), self.eta.text(info, time.monotonic(), short=False))
        if self.details.toPlainText() != text:
            self.details.setPlainText(text)

    def row_time_left(self, job_id: int) -> str:
        """The time-left text shown for ``job_id`` ('' if none)."""
        row = self.rows.get(job_id)
        item = None if row is None else self.table.item(row, 4)
        return item.text() if item is not None else ""

    def eventFilter(self, obj, event) -> bool:
        if obj is self.table and event.type() == QEvent.Type.Resize:
            self._fit_columns()
        return super().eventFilter(obj, event)

    def _section_resized(self, index: int, _old: int, _new: int) -> None:
        if index == 0 and not self._fitting:
            self._job_width_by_user = True  # the user dragged the Job column: leave it alone

    def _fit_columns(self) -> None:
        """Job as wide as its longest name, but leaving Message at least MESSAGE_MIN_WIDTH (or 45 % of the rest)."""
        if self._job_width_by_user:
            return
        hh = self.table.horizontalHeader()
        fm = self.table.fontMetrics()
        names = [self.table.item(r, 0).text() for r in range(self.table.rowCount()) if self.table.item(r, 0)]
        wanted = max([fm.horizontalAdvance(n) for n in names] + [fm.horizontalAdvance("Job")]) + CELL_PAD_PX
        room = self.table.viewport().width() - hh.sectionSize(1) - hh.sectionSize(2) - hh.sectionSize(4)
        if room >= JOB_MIN_WIDTH + MESSAGE_MIN_WIDTH:
            width = max(JOB_MIN_WIDTH, min(wanted, room - MESSAGE_MIN_WIDTH, int(0.55 * room)))
        else:  # a narrow window: both are elided (full texts in the tooltips and the details pane)
            width = max(NARROW_JOB_WIDTH, min(wanted, int(0.45 * room)))
        self._fitting = True
        try:
            self.table.setColumnWidth(0, width)
        finally:
            self._fitting = False

    def _removed(self, job_id: int) -> None:
        row = self.rows.pop(job_id, None)
        if row is None:
            return
        self.table.removeRow(row)
        self.infos.pop(job_id, None)
        self.eta.forget(job_id)
        self.rows = {j: (r - 1 if r > row else r) for j, r in self.rows.items()}
        self._update_buttons()

    def row_state(self, job_id: int) -> str:
        """The state text shown for ``job_id`` ('' if absent)."""
        row = self.rows.get(job_id)
        item = None if row is None else self.table.item(row, 1)
        return item.text() if item is not None else ""

    def row_message(self, job_id: int) -> str:
        row = self.rows.get(job_id)
        item = None if row is None else self.table.item(row, 3)
        return item.text() if item is not None else ""

    def selected_job(self) -> Optional[int]:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        return self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)

    def select_job(self, job_id: int) -> None:
        if job_id in self.rows:
            self.table.selectRow(self.rows[job_id])

    # ---- buttons -------------------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        job = self.selected_job()
        state = self.row_state(job) if job is not None else ""
        acts = queue_text.actions(state, job is not None, job is not None and self._closed(job))
        self.cancel_button.setEnabled(acts.cancel)
        self.retry_button.setEnabled(acts.retry)
        self.retry_button.setToolTip(acts.retry_tip)
        self.remove_button.setEnabled(acts.remove)

    def _act(self, what: str) -> None:
        job = self.selected_job()
        if job is None:
            return
        try:
            getattr(self.jobs, what)(job)
            self.message.clear_message()
        except WorkbenchError as e:
            self.message.error(str(e))
