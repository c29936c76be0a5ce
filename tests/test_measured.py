"""Measured defect maps: units, thresholds, statistics (hand-counted), provenance in the project, the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from core import jobs, project_io
from core.errors import DefectSpecError, ParameterError, ProjectFormatError
from core.evaluate import evaluate_job
from core.model import measured
from core.model.defects import Defect
from core.model.measured import MeasuredMap, defect_statistics

CLI = [sys.executable, "-m", "core.cli.main"]


def test_units_convert_to_ohm_and_bad_values_name_the_cell(tmp_path):
    assert measured.to_ohm([[2.0]], "kohm")[0, 0] == 2e3
    assert measured.to_ohm([[10.0]], "uS")[0, 0] == pytest.approx(1e5)
    with pytest.raises(ParameterError, match="unit: must be one of"):
        measured.to_ohm([[1.0]], "volt")
    bad = np.ones((3, 4))
    bad[1, 2] = -5
    with pytest.raises(ParameterError, match=r"cell \(1, 2\) holds -5"):
        measured.check_map(bad)
    with pytest.raises(ParameterError, match="wrong --unit"):
        measured.check_map(np.full((2, 2), 1e-9))  # siemens read as ohm
    path = tmp_path / "m.txt"
    path.write_text("1 2 x\n")
    with pytest.raises(DefectSpecError, match="cannot read"):
        measured.load_map_file(str(path))
    with pytest.raises(ParameterError, match="thresholds: the stuck-off threshold .* must be above"):
        measured.check_thresholds(1e6, 1e3)


def test_statistics_match_hand_counts():
    m = np.zeros((10, 8), dtype=bool)
    m[:, 2] = True  # a whole column: 10 cells
    m[4, 5:8] = True  # a 3-cell bar, not touching the column
    m[8, 6] = True  # a single cell
    s = defect_statistics(m)
    assert (s.n_defective, s.n_clusters, s.cluster_sizes) == (14, 3, [10, 3, 1])
    assert (s.full_rows, s.full_columns) == (0, 1)
    assert s.on_mostly_defective_columns == pytest.approx(10 / 14) and s.on_mostly_defective_rows == 0
    assert s.verdict == "column fault" and s.fraction == pytest.approx(14 / 80)
    blob = np.zeros((10, 10), dtype=bool)
    blob[3:6, 3:7] = True
    blob[0, 9] = True
    s = defect_statistics(blob)
    assert s.verdict == "cluster" and s.largest_cluster_share == pytest.approx(12 / 13)
    assert defect_statistics(np.eye(6, dtype=bool)).verdict == "scattered"  # diagonal: 6 clusters of 1
    assert defect_statistics(np.zeros((3, 3), dtype=bool)).verdict == "none"
    assert defect_statistics(np.ones((2, 5), dtype=bool)).verdict in ("row fault", "column fault")


def test_a_measured_map_is_its_masks_and_is_kept_in_the_project(trained_project, tmp_path):
    p = trained_project
    shape = p.mapped.shapes[0]
    r = np.full(shape, 1e5)
    r[:, 3] = 50.0  # a shorted bit line
    r[20:23, 5:8] = 5e9  # an unformed patch
    m = MeasuredMap("wafer 3/die 7", 1, r, 5e3, 2e6, "ohm", "w3.csv")
    on, off = m.masks()
    assert on.sum() == shape[0] and off.sum() == 9
    # evaluating the map's defects equals evaluating the same cells as hand-made masks
    a = jobs.run(evaluate_job(p, m.defects(), "behavioral"))
    b = jobs.run(
        evaluate_job(
            p,
            [Defect("mask", 1, "on", 0.0, {}, mask=r < 100), Defect("mask", 1, "off", 0.0, {}, mask=r > 1e9)],
            "behavioral",
        )
    )
    assert a.accuracy == b.accuracy and a.defect_fraction[0] == pytest.approx((shape[0] + 9) / r.size)
    p.measured_maps[m.name] = m
    path = str(tmp_path / "p.h5")
    project_io.save(p, path)
    q = project_io.load(path).measured_maps[m.name]
    assert (q.array, q.on_below_ohm, q.off_above_ohm, q.unit, q.source) == (1, 5e3, 2e6, "ohm", "w3.csv")
    assert np.array_equal(q.resistance_ohm, r)
    with h5py.File(path, "r+") as f:
        g = next(iter(f["measured_maps"].values()))
        g.attrs["off_above_ohm"] = 1.0  # below on_below: a damaged or hostile file
    with pytest.raises(ProjectFormatError, match="must be above the stuck-on threshold"):
        project_io.load(path)


def test_cli_import_map_then_defect_stats_and_evaluate(tmp_path):
    path = str(tmp_path / "p.h5")
    shutil.copy("projects/digits-paper.h5", path)
    rng = np.random.default_rng(0)
    r = 10 ** rng.uniform(4, 6, (65, 16))  # a programmed window, 10 kohm .. 1 Mohm
    r[:, 3] = 50.0
    r[40, :] = 80.0
    r[10:15, 8:13] = 3e9
    np.save(tmp_path / "map.npy", 1 / r)  # in siemens
    run = subprocess.run(
        [*CLI, "import-map", path, "--map", str(tmp_path / "map.npy"), "--unit", "S", "--array", "1", "--json"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    d = json.loads(run.stdout)
    # hand count: column 3 (65) and row 40 (16) share one cell: 80 stuck on; the 5 x 5 patch: 25 stuck off
    assert (d["stuck_on"], d["stuck_off"], d["name"], d["saved"]) == (80, 25, "map", True)
    assert d["statistics"]["verdict"] == "column fault" and sum(d["histogram"]["counts"]) == 65 * 16
    p = project_io.load(path)
    assert "map" in p.scenarios and p.measured_maps["map"].source == "map.npy"
    run = subprocess.run([*CLI, "defect-stats", path, "--scenario", "map", "--json"], capture_output=True, text=True)
    stats = json.loads(run.stdout)["arrays"]
    assert stats[0]["n_defective"] == 105 and stats[0]["cluster_sizes"] == [80, 25] and stats[1]["verdict"] == "none"
    run = subprocess.run(
        [*CLI, "evaluate", path, "--scenario", "map", "--no-save", "--json"], capture_output=True, text=True
    )
    assert json.loads(run.stdout)["defect_fraction"][0] == pytest.approx(105 / 1040)
    for bad, field in (
        (["--array", "2", "--unit", "S"], "map: has shape (65, 16), array 2 is 9 rows"),
        (["--array", "1", "--unit", "S", "--on-below", "5x"], "on-below: must be a resistance"),
        (["--array", "1", "--unit", "S"], "already in the project"),
        (["--array", "1", "--unit", "ohm"], "wrong --unit"),
    ):
        run = subprocess.run(
            [*CLI, "import-map", path, "--map", str(tmp_path / "map.npy"), *bad], capture_output=True, text=True
        )
        assert run.returncode == 2 and field in run.stderr and "Traceback" not in run.stderr, run.stderr
