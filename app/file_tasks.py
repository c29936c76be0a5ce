"""Reading and writing project files on a worker thread while the window keeps running.

:meth:`FileTasks.run` starts the work on a thread and waits in a local event loop (as a modal dialog does), so the
window keeps painting, job updates keep arriving and the caller still gets the outcome as a return value. A busy
indicator (a label and an endless progress bar for the status bar) shows when the work takes longer than
:data:`BUSY_AFTER_MS`: h5py reports no progress within one file. One task runs at a time (:attr:`FileTasks.busy`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Optional

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QProgressBar

from app.presenters.file_guard import open_error_text, task_file
from core.errors import ProjectFormatError, WorkbenchError

BUSY_AFTER_MS = 200  # show the busy indicator only for reads and writes that take this long


class _Worker(QObject):
    """Runs one callable on a thread; :attr:`done` is delivered on the GUI thread (queued connection)."""

    done = Signal()

    def __init__(self, work: Callable[[], Any], path: str = ""):
        super().__init__()
        self.work, self.path, self.ok, self.value = work, path, False, None
        self.error: Optional[BaseException] = None

    def start(self) -> None:
        threading.Thread(target=self._run, name="project-file", daemon=True).start()

    def _run(self) -> None:
        try:
            self.value, self.ok = self.work(), True
        except ProjectFormatError as e:  # its message starts with an HDF5 path ("/: ..."): name the file instead
            self.value, self.error = open_error_text(e, self.path), e
        except WorkbenchError as e:
            self.value, self.error = str(e), e
        except Exception as e:  # noqa: BLE001 - anything else is reported in the window, never as a traceback
            self.value, self.error = f"unexpected {type(e).__name__}: {e}", e
        self.done.emit()


class FileTasks(QObject):
    """One project read or write at a time, off the GUI thread, with a busy indicator.

    Signals
    -------
    busy_changed(str)
        What is being read or written now ('' when nothing is).
    """

    busy_changed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.busy = ""  # what is being read or written ('' if nothing)
        self.last_seconds = 0.0  # duration of the last task
        self.label, self.bar = QLabel(), QProgressBar()
        self.bar.setRange(0, 0)  # an endless busy bar
        self.bar.setMaximumWidth(120)
        self.label.hide()
        self.bar.hide()
        self._serial = 0
        self.last_error: Optional[BaseException] = None  # the exception of the last failed task (None if it worked)

    def run(self, work: Callable[[], Any], text: str, path: str = "") -> tuple[bool, Any]:
        """Run ``work`` on a thread until done; (True, its result) or (False, the error message).

        A file that cannot be read fails with "Cannot open <path>: <reason>" (see
        :func:`app.presenters.file_guard.open_error_text`); ``path`` names the file when the reason does not
        (without it, the file name in ``text``).
        """
        worker, loop = _Worker(work, path or task_file(text)), QEventLoop()
        worker.done.connect(loop.quit, Qt.ConnectionType.QueuedConnection)
        self._serial += 1
        serial, t0 = self._serial, time.monotonic()
        self._set_busy(text)
        self.label.setText(text)
        QTimer.singleShot(BUSY_AFTER_MS, lambda: self._show(serial))
        worker.start()
        loop.exec()
        self.last_seconds = time.monotonic() - t0
        self.last_error = worker.error
        self.label.hide()
        self.bar.hide()
        self._set_busy("")
        return worker.ok, worker.value

    def _set_busy(self, text: str) -> None:
        self.busy = text
        self.busy_changed.emit(text)

    def _show(self, serial: int) -> None:
        if self.busy and serial == self._serial:
            self.label.show()
            self.bar.show()
