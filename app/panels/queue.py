"""Panel 4, simulation queue: every job of the queue with state, progress and message; launch controls."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
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
from app.presenters.document import WorkbenchState
from app.widgets import MessageLabel
from core.errors import WorkbenchError
from core.model.results import SweepResult
from core.session.job_queue import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobInfo

COLUMNS = ("Job", "State", "Progress", "Message")
PROGRESS_WIDTH = 64
JOB_MIN_WIDTH = 100
MESSAGE_MIN_WIDTH = 140


class QueuePanel(QWidget):
    """A table of jobs (one row per job id) with Cancel / Retry / Remove, beside :class:`RunControls`."""

    title = "Simulation queue"

    def __init__(self, state: WorkbenchState, jobs: QtJobQueue, parent=None):
        super().__init__(parent)
        self.state, self.jobs = state, jobs
        self.rows: dict[int, int] = {}  # job id -> table row

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        # one line per job: long names and messages are elided (full text in the tooltip); Job and State
        # fit their contents within limits, Progress is fixed, Message takes the rest
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
        self.table.setColumnWidth(2, PROGRESS_WIDTH)
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
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.table, 1)
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
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(scroll)
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
        jobs.job_updated.connect(self.update_job)
        jobs.job_removed.connect(self._removed)
        state.on_change(lambda topic: self._update_buttons() if topic == "project" else None)
        for info in jobs.jobs():
            self.update_job(info)
        self._update_buttons()

    # ---- table ---------------------------------------------------------------------------------------
    def update_job(self, info: JobInfo) -> None:
        row = self.rows.get(info.id)
        new = row is None
        if new:
            row = self.table.rowCount()
            self.table.insertRow(row)
            self.rows[info.id] = row
            item = QTableWidgetItem(info.name)
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setToolTip(info.name)
            self.table.setItem(row, 0, item)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            self.table.setCellWidget(row, 2, bar)
        self.table.setItem(row, 1, QTableWidgetItem(info.state))
        bar = self.table.cellWidget(row, 2)
        fraction = 1.0 if info.state == DONE else (info.progress.fraction if info.progress else 0.0)
        bar.setValue(int(round(1000 * fraction)))
        bar.setFormat(f"{100 * fraction:.0f} %")
        text = self.message_text(info)
        msg = QTableWidgetItem(text)
        # the full message (and a traceback, for whoever asks) is in the tooltip, not in the face
        msg.setToolTip(f"{text}\n\n{info.traceback}" if info.traceback else text)
        self.table.setItem(row, 3, msg)
        if new:
            self._fit_columns()
        self._update_buttons()

    def message_text(self, info: JobInfo) -> str:
        """One line saying what a job is doing or how it ended (shown from the moment it is queued)."""
        if info.state == QUEUED:
            return "queued: waiting for a free worker"
        if info.state == RUNNING:
            return info.progress.message if info.progress and info.progress.message else "starting …"
        if info.state == FAILED:
            return info.error
        if info.state == CANCELLED:
            text = info.error or "cancelled"
            sweep = info.partial
            if isinstance(sweep, SweepResult) and sweep.rows:
                target = self.jobs.target(info.id)
                if target is not None and target is not self.state.project:
                    return f"{text}; its project was closed, so its {len(sweep.rows)} finished points were dropped"
                total = _sweep_points(sweep.spec)
                return f"{text}; kept {len(sweep.rows)}{f' of {total}' if total else ''} points as a partial sweep"
            return text
        acc = getattr(info.result, "accuracy", None)
        text = (info.progress.message if info.progress else "done") + (
            "" if acc is None or (info.progress and "accuracy" in info.progress.message) else f" (accuracy {acc:.3f})"
        )
        return f"done in {info.seconds:.2f} s: {text}"

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
        wanted = max([fm.horizontalAdvance(n) for n in names] + [fm.horizontalAdvance("Job")]) + 16
        room = self.table.viewport().width() - hh.sectionSize(1) - hh.sectionSize(2)
        limit = max(JOB_MIN_WIDTH, min(room - MESSAGE_MIN_WIDTH, int(0.55 * room)))
        self._fitting = True
        try:
            self.table.setColumnWidth(0, max(JOB_MIN_WIDTH, min(wanted, limit)))
        finally:
            self._fitting = False

    def _removed(self, job_id: int) -> None:
        row = self.rows.pop(job_id, None)
        if row is None:
            return
        self.table.removeRow(row)
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
        self.cancel_button.setEnabled(state in ("queued", "running"))
        # a retried job would store its result in the project it was started for: only if that is still open
        target = self.jobs.target(job) if job is not None else None
        closed = target is not None and target is not self.state.project
        self.retry_button.setEnabled(state in (FAILED, CANCELLED) and not closed)
        self.retry_button.setToolTip(
            "its project is no longer open" if closed and state in (FAILED, CANCELLED) else "run the selected job again"
        )
        self.remove_button.setEnabled(job is not None)

    def _act(self, what: str) -> None:
        job = self.selected_job()
        if job is None:
            return
        try:
            getattr(self.jobs, what)(job)
            self.message.clear_message()
        except WorkbenchError as e:
            self.message.error(str(e))


def _sweep_points(spec: dict) -> int:
    """Grid points of a sweep spec dict (0 if unknown)."""
    try:
        return len(spec["patterns"]) * len(spec["sizes"]) * len(spec["stuck"]) * len(spec["arrays"])
    except (KeyError, TypeError):
        return 0
