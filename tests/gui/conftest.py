"""Fixtures of the workbench (app/) tests: the example project, a main window, waiting for queued jobs.

Cycles are collected on the GUI thread after each test, so a worker thread never runs the collector on Qt
wrappers (see :func:`app.jobs_qt.collect_garbage_on_gui_thread_only`).
"""

from __future__ import annotations

import copy
import gc

import pytest
from PySide6.QtCore import QSettings, QStandardPaths

from app.main_window import MainWindow
from app.presenters.document import DEFAULT_PROJECT, WorkbenchState
from core import project_io


@pytest.fixture(autouse=True)
def _collect_qt_garbage_here(qapp):
    """After each test (and after qtbot closed its widgets) collect cycles on this, the GUI, thread.

    Otherwise a later test's worker thread may run the collector on Qt wrappers of this test's windows and
    deadlock against the GUI thread (see app.jobs_qt.collect_garbage_on_gui_thread_only).
    """
    yield
    qapp.processEvents()
    gc.collect()


@pytest.fixture(autouse=True, scope="module")
def _automatic_gc_back_after_this_module(qapp):
    yield
    from app.jobs_qt import release_garbage_collection

    qapp.processEvents()
    release_garbage_collection()


@pytest.fixture(scope="module")
def _example():
    return project_io.load(DEFAULT_PROJECT)


@pytest.fixture
def example(_example):
    """A fresh copy of the bundled example project (paper preset, seed 0, trained, 8 scenarios)."""
    return copy.deepcopy(_example)


@pytest.fixture
def window(qtbot, example):
    w = MainWindow(WorkbenchState(example, DEFAULT_PROJECT), interactive=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.jobs.shutdown(timeout_s=20)


@pytest.fixture(scope="module")
def private_settings(tmp_path_factory):
    """Default QSettings locations point into a temporary folder while this module runs."""
    folder = str(tmp_path_factory.mktemp("qsettings"))
    QStandardPaths.setTestModeEnabled(True)
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, folder)
    yield
    QStandardPaths.setTestModeEnabled(False)
