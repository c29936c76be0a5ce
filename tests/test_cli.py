"""The CLI contract, exercised through the installed console script in real subprocesses."""

import json
import os
import shutil
import subprocess
import sys

import pytest

EXE = shutil.which("reram-workbench", path=os.path.dirname(sys.executable)) or "reram-workbench"


def cli(*args, check=True):
    p = subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}: {p.stderr}")
    return p


@pytest.fixture(scope="module")
def project_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "p.h5"
    out = json.loads(cli("new", path, "--preset", "paper", "--json").stdout)
    assert out["layer_sizes"] == [64, 8, 8, 8, 10]
    assert out["test_accuracy"] >= 0.90
    assert out["array_shapes"] == [[65, 16], [9, 16], [9, 16], [9, 20]]
    return path


def test_evaluate_clean_and_defective(project_file):
    clean = json.loads(cli("evaluate", project_file, "--json").stdout)
    assert set(clean) >= {"accuracy", "n_images", "fidelity", "defect_fraction", "seconds"}
    assert clean["accuracy"] >= 0.90 and clean["n_images"] == 180 and clean["fidelity"] == "behavioral"
    assert clean["defect_fraction"] == [0.0, 0.0, 0.0, 0.0]
    bad = json.loads(
        cli("evaluate", project_file, "--defect", "columns:array=1,start=0,count=4,stuck=off", "--json").stdout
    )
    assert bad["accuracy"] < clean["accuracy"] - 0.1
    assert bad["defect_fraction"] == [0.25, 0.0, 0.0, 0.0]
    ideal = json.loads(cli("evaluate", project_file, "--fidelity", "ideal", "--json").stdout)
    assert abs(ideal["accuracy"] - clean["accuracy"]) <= 1 / 180 + 1e-12
    info = json.loads(cli("info", project_file, "--json").stdout)
    # every evaluation was stored, with its own id, fidelity and accuracy
    assert info["n_results"] == 3
    assert [(r["id"], r["fidelity"]) for r in info["results"]] == [
        ("run-0001", "behavioral"),
        ("run-0002", "behavioral"),
        ("run-0003", "ideal"),
    ]
    assert [r["accuracy"] for r in info["results"]] == [clean["accuracy"], bad["accuracy"], ideal["accuracy"]]


def test_human_output_is_one_line(project_file):
    out = cli("evaluate", project_file, "--defect", "circle:array=2,r=0.3,stuck=on", "--no-save").stdout
    assert out.count("\n") == 1 and "accuracy" in out


@pytest.mark.parametrize(
    "args,needle",
    [
        (["evaluate", "{p}", "--defect", "blob:array=1,stuck=on"], "pattern: must be one of"),
        (["evaluate", "{p}", "--defect", "circle:array=1,r=7,stuck=on"], "r must be in [0, 2]"),
        (["evaluate", "{p}", "--defect", "circle:array=5,r=0.2,stuck=on"], "array: must be from 1 to 4"),
        (["evaluate", "{p}", "--fidelity", "quantum"], "fidelity: must be one of"),
        (["evaluate", "{p}", "--scenario", "nope"], "scenario: 'nope' is not in the project"),
        (["evaluate", "/nonexistent/p.h5"], "does not exist"),
        (["new", "{p}"], "already exists"),
        (["new", "{d}/x.h5", "--hidden", "8,8"], "exactly 3"),
        (["new", "{d}/x.h5", "--epochs", "0"], "epochs: must be in"),
        (["new", "{d}/x.h5", "--r-on", "1e6", "--r-off", "1e3"], "r_off_ohm: must be larger"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_field(project_file, args, needle):
    args = [a.format(p=project_file, d=project_file.parent) for a in args]
    p = cli(*args, check=False)
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert "Traceback" not in p.stderr and p.stdout == ""


def test_spice_evaluate_and_exported_netlist(project_file, ngspice_path, tmp_path):
    beh = json.loads(cli("evaluate", project_file, "--no-save", "--json").stdout)
    sp = json.loads(cli("evaluate", project_file, "--fidelity", "spice", "--json").stdout)
    assert sp["solver"].startswith("ngspice ")
    assert abs(sp["accuracy"] - beh["accuracy"]) <= 1 / 180 + 1e-12
    cir = tmp_path / "circuit.cir"
    out = json.loads(
        cli(
            "netlist", project_file, "--defect", "circle:array=1,r=0.3,stuck=on", "--images", "4", "-o", cir, "--json"
        ).stdout
    )
    assert out["n_images"] == 4 and cir.stat().st_size == out["bytes"]
    run = subprocess.run([ngspice_path, "-b", str(cir)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Transient Analysis" in run.stdout and "v(s3_0)" in run.stdout


def test_recover_generalization_trains_on_some_patterns_and_tests_on_others(tmp_path):
    example = os.path.join(os.path.dirname(__file__), "..", "projects", "digits-paper.h5")
    path = tmp_path / "ex.h5"
    shutil.copy(example, path)
    out = json.loads(
        cli(
            "recover",
            path,
            "--method",
            "correction",
            "--train-on",
            "circle-on-array1",
            "--train-on",
            "ring:array=1,r_in=0.1,r_out=0.3,stuck=on",
            "--defect",
            "circle:array=1,cx=0.3,cy=0.4,r=0.2,stuck=on",
            "--defect",
            "rows:array=1,start=10,count=5,stuck=on",
            "--json",
        ).stdout
    )
    assert out["trained_on"] == ["circle-on-array1", "ring:array=1,r_in=0.1,r_out=0.3,stuck=on"]
    held = out["held_out"]
    assert [h["name"] for h in held] == [
        "circle:array=1,stuck=on,cx=0.3,cy=0.4,r=0.2",
        "rows:array=1,stuck=on,start=10,count=5",
    ]
    assert out["before"] == sum(h["before"] for h in held) / 2
    assert out["after"]["correction"] == sum(h["after"] for h in held) / 2
    info = json.loads(cli("info", path, "--json").stdout)
    assert info["n_recoveries"] == 2  # the example's demonstration plus this study
    bad = cli("recover", path, "--method", "remap", "--train-on", "circle-on-array1", check=False)
    assert bad.returncode == 2 and "--train-on: only applies to --method correction" in bad.stderr
