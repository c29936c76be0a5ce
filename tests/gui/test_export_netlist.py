"""File > Export netlist… in the window: the draft's whole circuit written by the job queue, identical to what the
command line's ``netlist`` writes for the same defects, and runnable by ngspice."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.model.defects import parse_spec
from gui_helpers import wait_job

SPEC = "columns:array=2,start=2,count=2,stuck=off"


def test_file_menu_exports_the_draft_netlist_like_the_cli(window, qtbot, tmp_path):
    assert window.export_netlist_action in window.file_menu.actions()
    assert window.export_netlist() is None  # no file and nobody to ask: nothing is queued
    window.state.add_defect(parse_spec(SPEC))
    out = tmp_path / "draft.cir"
    info = wait_job(qtbot, window.jobs, lambda: window.export_netlist(str(out)), timeout_ms=120_000)
    assert info.state == "done", info.error
    assert info.result["n_images"] == 20 and os.path.isfile(out) and not os.path.exists(str(out) + ".tmp")
    cli = tmp_path / "cli.cir"
    run = subprocess.run(
        [sys.executable, "-m", "core.cli.main", "netlist", window.state.path, "-o", str(cli), "--images", "20",
         "--defect", SPEC],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert out.read_text() == cli.read_text()  # the same builder, the same defects, the same images


@pytest.mark.spice
def test_exported_netlist_runs_in_ngspice(window, qtbot, tmp_path, ngspice_path):
    out = tmp_path / "clean.cir"
    info = wait_job(qtbot, window.jobs, lambda: window.export_netlist(str(out)), timeout_ms=120_000)
    assert info.state == "done", info.error
    run = subprocess.run([ngspice_path, "-b", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "error" not in run.stdout.lower(), run.stdout[-2000:]


def test_export_of_an_unplaceable_draft_names_the_problem(window, tmp_path):
    window.state.add_defect(parse_spec("rows:array=1,tile=3,start=0,count=1,stuck=off"))  # the example is not tiled
    assert window.export_netlist(str(tmp_path / "x.cir")) is None
    assert "not tiled" in window.last_error and not os.path.exists(tmp_path / "x.cir")
