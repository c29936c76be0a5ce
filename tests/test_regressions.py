"""Bugs found while restructuring the core, each pinned by a test that failed before its fix."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core import project_io
from core.cli.main import main
from core.errors import ProjectSaveError
from core.model.defects import parse_spec
from core.model.project import Scenario

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_trained_project_with_an_empty_history_is_refused_by_name(trained_project, tmp_path, capsys):
    """An empty training history used to load and then make `info` raise TypeError; now it is refused where it
    arises: saving says the file would not load back, naming the history, and the old file is kept."""
    p = trained_project
    path = str(tmp_path / "p.h5")
    project_io.save(p, path)
    before = open(path, "rb").read()
    p.weights.history = {}
    with pytest.raises(ProjectSaveError, match="would not load back.*history"):
        project_io.save(p, path)
    assert open(path, "rb").read() == before
    assert main(["info", path]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("network:"))
    assert line.startswith("network: 64-8-8-8-10, trained, test accuracy 0.9")  # the old file, intact


def test_generalization_records_wire_resistance_and_device_model(trained_project, tmp_path, capsys):
    """`recover --train-on ...` stores the circuit it ran on, as every other recovery does."""
    p = trained_project
    p.scenarios["rows-on"] = Scenario("rows-on", [parse_spec("rows:array=1,start=0,count=6,stuck=on")])
    path = str(tmp_path / "p.h5")
    project_io.save(p, path)
    argv = ["recover", path, "--method", "correction", "--train-on", "rows-on", "--epochs", "3",
            "--defect", "columns:array=1,start=2,count=3,stuck=on", "--fidelity", "nodal", "--r-wire", "1.5",
            "--json", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    (rec,) = project_io.load(path).recoveries
    assert rec.params["r_wire_ohm"] == 1.5
    assert rec.params["device_model"] == "linear" and rec.params["scheme"] == "differential-columns"
    assert [h["name"] for h in rec.params["held_out"]] == ["columns:array=1,stuck=on,start=2,count=3"]


def test_example_build_without_ngspice_fails_clearly(tmp_path):
    """`make example` used to fall back to behavioural results silently, writing a file the suite rejects."""
    target = tmp_path / "example.h5"
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # the venv only: no ngspice on PATH
    run = subprocess.run([sys.executable, "-m", "tools.build_example", str(target)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "ngspice" in run.stderr and "Traceback" not in run.stderr
    assert not target.exists()


def test_info_text_names_the_saved_draft(trained_project, tmp_path, capsys):
    """A project saved by the workbench carries its draft scenario; `info` says what it holds."""
    from core.model.project import Draft

    p = trained_project
    p.draft = Draft("my-draft", [parse_spec("rows:array=2,start=1,count=2,stuck=off")], array=2)
    path = str(tmp_path / "p.h5")
    project_io.save(p, path)
    assert main(["info", path]) == 0
    out = capsys.readouterr().out
    assert "draft (unsaved scenario of the workbench): my-draft: rows:array=2,stuck=off,start=1,count=2" in out


def test_resistance_options_refuse_the_ambiguous_m_suffix(trained_project, tmp_path, capsys):
    """`--r-out 1M` used to become 1 milliohm silently (SPICE's m); like stuck resistances it is now refused."""
    path = str(tmp_path / "p.h5")
    project_io.save(trained_project, path)
    assert main(["evaluate", path, "--r-out", "1M", "--no-save"]) == 2
    err = capsys.readouterr().err
    assert "r-out" in err and "write 'meg'" in err
    assert main(["evaluate", path, "--r-out", "50", "--no-save", "--json"]) == 0


@pytest.mark.spice
def test_spice_evaluation_progress_never_goes_back(trained_project, ngspice_path):
    """The accuracy run and the inference-cost transient share one bar: it must only move forward and end at 1."""
    from core import jobs
    from core.evaluate import evaluate_job

    seen = []
    jobs.run(evaluate_job(trained_project, fidelity="spice", workers=2), seen.append)
    fractions = [p.fraction for p in seen]
    assert len(fractions) >= 3 and fractions[-1] == 1.0
    assert all(b >= a for a, b in zip(fractions, fractions[1:])), fractions
    assert any("energy and latency" in p.message for p in seen)  # the transient's stage reported itself
