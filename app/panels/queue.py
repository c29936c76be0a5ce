"""Panel 4, simulation queue: every job of the queue with state, progress and message; launch controls."""
from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QProgressBar, QPushButton, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)
from PySide6.QtCore import Qt

from app.jobs_qt import QtJobQueue
from app.panels.run_controls import RunControls
from app.state import WorkbenchState
from app.widgets import MessageLabel
from core.errors import WorkbenchError
from core.queue import CANCELLED, DONE, FAILED, JobInfo

COLUMNS = ("Job", "State", "Progress", "Message")


class QueuePanel(QWidget):
    """A table of jobs (one row per job id) with Cancel / Retry / Remove, beside :class:`RunControls`."""

    title = "Simulation queue"

    def __init__(self, state: WorkbenchState, jobs: QtJobQueue, parent=None):
        super().__init__(parent)
        self.state, self.jobs = state, jobs
        self.rows: dict[int, int] = {}   # job id -> table row

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        hh.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 260)
        self.table.setWordWrap(True)
        self.table.setColumnWidth(1, 80)
        self.table.setColumnWidth(2, 110)
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
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.controls)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([600, 340])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self.setMinimumSize(640, 400)

        self.cancel_button.clicked.connect(lambda: self._act("cancel"))
        self.retry_button.clicked.connect(lambda: self._act("retry"))
        self.remove_button.clicked.connect(lambda: self._act("remove"))
        self.table.itemSelectionChanged.connect(self._update_buttons)
        jobs.job_updated.connect(self.update_job)
        jobs.job_removed.connect(self._removed)
        for info in jobs.jobs():
            self.update_job(info)
        self._update_buttons()

    # ---- table ---------------------------------------------------------------------------------------
    def update_job(self, info: JobInfo) -> None:
        row = self.rows.get(info.id)
        if row is None:
            row = self.table.rowCount()
            self.table.insertRow(row)
            self.rows[info.id] = row
            item = QTableWidgetItem(info.name)
            item.setData(Qt.ItemDataRole.UserRole, info.id)
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
        if info.state in (FAILED, CANCELLED):
            text = info.error
        elif info.state == DONE:
            acc = getattr(info.result, "accuracy", None)
            text = (info.progress.message if info.progress else "done") + (
                "" if acc is None or (info.progress and "accuracy" in info.progress.message)
                else f" (accuracy {acc:.3f})")
            text = f"done in {info.seconds:.2f} s: {text}"
        else:
            text = info.progress.message if info.progress else ""
        msg = QTableWidgetItem(text)
        msg.setToolTip(info.traceback or text)   # the traceback is there for whoever asks, not in the face
        self.table.setItem(row, 3, msg)
        self.table.resizeRowToContents(row)
        self._update_buttons()

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
        self.retry_button.setEnabled(state in (FAILED, CANCELLED))
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
