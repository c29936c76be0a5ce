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
from core.model.defect_stats import defect_statistics
from core.model.defects import Defect
from core.model.measured import MeasuredMap

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
    assert defect_statistics(np.ones((2, 5), dtype=bool)).verdict == "dense"
    # most cells defective at random: neither lines nor one cluster, and not "scattered" either
    dense = np.random.default_rng(1).random((40, 40)) < 0.7
    assert defect_statistics(dense).verdict == "dense"
    sparse = np.random.default_rng(1).random((40, 40)) < 0.05
    assert defect_statistics(sparse).verdict == "scattered"
    # a device mask: two cells of four counted, so half of the devices are defective (dense), and the empty
    # column is no line at all
    valid = np.array([[True, False], [True, False]])
    s = defect_statistics(np.array([[True, False], [False, False]]), valid=valid)
    assert (s.n_cells, s.fraction, s.full_columns, s.verdict) == (2, 0.5, 0, "dense")


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


# ---- the whole die ----------------------------------------------------------------------------------------------


def _tiled(p):
    """The paper network on 32x8 tiles, placed on a die at 1 um pitch (tile gap 10 um, array gap 20 um)."""
    from core.model import floorplan, tiling

    p.mapped = tiling.tile_network(p.mapped, (32, 8))
    for a in p.mapped.arrays:
        a.pitch_um = (1.0, 1.0)
    floorplan.place(p.mapped, floorplan.auto_floorplan(p.mapped))
    return p


def _die_map(p, fill=1e5):
    """A healthy die map of ``p``: mosaics 96x16, 32x16, 32x16, 32x24 side by side; no-device cells hold 0."""
    from core.model.floorplan import die_map_layout

    r = np.zeros((96, 72))
    for piece in die_map_layout(p.mapped):
        r[piece.slices] = fill
    return r


def test_a_die_map_splits_into_the_tiles_under_each_block(trained_project, tmp_path):
    from core.model import floorplan, tiling
    from core.model.defects import stuck_maps

    p = _tiled(trained_project)
    assert floorplan.die_map_shape(p.mapped) == (96, 72)
    r = _die_map(p)
    r[30:34, 6:10] = 50.0  # stuck on: the corner where array 1's tiles 0, 1, 2 and 3 meet
    r[2:4, 14:18] = 5e9  # stuck off: array 1's last two columns and array 2's first two
    r[60, 20] = 5e9  # under array 2 (32 rows): no device there, ignored
    path = tmp_path / "die.csv"
    np.savetxt(path, r, delimiter=",")
    window = (p.mapped.device.r_on_ohm, p.mapped.device.r_off_ohm)
    m = measured.measured_from_file("die", measured.DIE, str(path), "ohm", 5e3, 2e6, window, mapped=p.mapped)
    measured.check_fits(p.mapped, m)
    got = {(d.array, d.tile, d.stuck, tuple(map(tuple, np.argwhere(d.mask)))) for d in m.defects()}
    # by hand: array 1 is 3x2 tiles of 32x8; die rows 30-33 / columns 6-9 are rows 30, 31 of tile row 0 and rows
    # 0, 1 of tile row 1, columns 6, 7 of tile column 0 and 0, 1 of tile column 1; array 2 starts at column 16
    assert got == {
        (1, 0, "on", ((30, 6), (30, 7), (31, 6), (31, 7))),
        (1, 1, "on", ((30, 0), (30, 1), (31, 0), (31, 1))),
        (1, 2, "on", ((0, 6), (0, 7), (1, 6), (1, 7))),
        (1, 3, "on", ((0, 0), (0, 1), (1, 0), (1, 1))),
        (1, 1, "off", ((2, 6), (2, 7), (3, 6), (3, 7))),
        (2, 0, "off", ((2, 0), (2, 1), (3, 0), (3, 1))),
    }
    # on the die (um): tile 1 of array 1 starts one tile (8 um) and one gap (10 um) right of the array's origin,
    # so its stuck columns 0, 1 are centred at 18.5 and 19.5 um; array 2 starts at 16 + 10 + 20 = 46 um
    assert tiling.tile_origin_um(p.mapped.arrays[0], 1) == (18.0, 0.0)
    assert p.mapped.arrays[1].origin_um == (46.0, 0.0)
    hits = floorplan.hit_summary(p.mapped, m.defects())
    assert [(h["array"], h["tiles"], h["cells"]) for h in hits] == [(1, [0, 1, 2, 3], 20), (2, [0], 4)]
    # the mosaic of array 1 is stuck exactly where the die map says (the die map is the mosaics without gaps)
    s = stuck_maps(p.mapped.shapes, m.defects(), p.mapped.device, pitches_um=p.mapped.pitches_um, tiles=p.mapped.tiles)
    assert np.array_equal(~np.isnan(s[0]), (r[:, :16] < 100) | (r[:, :16] > 1e9))
    # statistics count devices only: 96x16 + 3 x 32x16 + 32x24 cells... of which 24 defective
    st = m.statistics()
    assert (st.n_cells, st.n_defective) == (96 * 16 + 32 * 16 * 2 + 32 * 24, 24)
    per = {(pc.array, pc.tile): s.n_defective for pc, s in m.piece_statistics()}
    assert per[(1, 0)] == 4 and per[(2, 0)] == 4 and per[(4, 2)] == 0 and len(per) == 6 + 2 + 2 + 3
    # a map that is not the die's shape says which shape it must be
    np.savetxt(tmp_path / "small.csv", r[:, :70], delimiter=",")
    with pytest.raises(ParameterError, match=r"has shape \(96, 70\), the whole die is 96 rows x 72 columns"):
        measured.measured_from_file(
            "x", measured.DIE, str(tmp_path / "small.csv"), "ohm", 5e3, 2e6, window, mapped=p.mapped
        )
    bad = r.copy()
    bad[40, 3] = -1.0  # a device cell of array 1
    np.savetxt(tmp_path / "bad.csv", bad, delimiter=",")
    with pytest.raises(ParameterError, match=r"cell \(40, 3\) holds -1"):
        measured.measured_from_file(
            "x", measured.DIE, str(tmp_path / "bad.csv"), "ohm", 5e3, 2e6, window, mapped=p.mapped
        )
    # stored once, with its layout, and back the same from the file
    p.measured_maps["die"] = m
    p.scenarios["die"] = __import__("core.model.project", fromlist=["Scenario"]).Scenario("die", m.defects())
    out = str(tmp_path / "p.h5")
    project_io.save(p, out)
    q = project_io.load(out)
    back = q.measured_maps["die"]
    assert back.is_die and back.layout == m.layout and back.source == "die.csv"
    assert np.array_equal(np.isnan(back.resistance_ohm), np.isnan(m.resistance_ohm))
    assert np.array_equal(np.nan_to_num(back.resistance_ohm), np.nan_to_num(m.resistance_ohm))
    assert [(d.array, d.tile, d.stuck, int(d.mask.sum())) for d in q.scenarios["die"].defects] == [
        (d.array, d.tile, d.stuck, int(d.mask.sum())) for d in m.defects()
    ]
    with h5py.File(out, "r+") as f:
        g = next(iter(f["measured_maps"].values()))
        del g["die_layout"]
    with pytest.raises(ProjectFormatError, match="die_layout"):
        project_io.load(out)


def test_cells_in_the_value_band_are_stuck_at_their_measured_value(trained_project):
    from core.model.defects import stuck_maps

    p = trained_project
    shape = p.mapped.shapes[0]
    r = np.full(shape, 1e4)  # programmed LRS
    r[0, :] = 1e6  # programmed HRS
    r[5, 2], r[6, 3], r[7, 4] = 1.6e5, 2.0e5, 2.01e5  # far from both states
    r[8, 8] = 50.0  # shorted
    m = MeasuredMap("b", 1, r, 5e3, 2e6, band_ohm=(1.5e5, 2.5e5))
    assert m.value_mask().sum() == 3
    ds = m.defects()
    assert [d.stuck for d in ds].count("on") == 1 and {d.stuck for d in ds} == {"on", "ohm"}
    g = stuck_maps(p.mapped.shapes, ds, p.mapped.device)[0]
    for cell in ((5, 2), (6, 3), (7, 4)):
        assert 1 / g[cell] == pytest.approx(r[cell], rel=0.0101)  # within half a 2 % step
    assert np.isnan(g[0, 0]) and np.isnan(g[1, 1])  # programmed cells stay healthy
    assert "stuck at the measured value in [150000, 250000] ohm (3 cells)" in m.description()
    with pytest.raises(ParameterError, match="must lie between the stuck-on threshold"):
        MeasuredMap("b", 1, r, 5e3, 2e6, band_ohm=(1e3, 2.5e5))
    with pytest.raises(ParameterError, match="low < high"):
        MeasuredMap("b", 1, r, 5e3, 2e6, band_ohm=(2.5e5, 1.5e5))


def test_cli_imports_a_die_map_and_shows_a_stored_maps_statistics(trained_project, tmp_path, capsys):
    from core.cli.main import main

    p = _tiled(trained_project)
    path = str(tmp_path / "t.h5")
    project_io.save(p, path)
    r = _die_map(p)
    r[:, 40] = 50.0  # a shorted column of array 3 (columns 32-47), 32 rows deep there
    r[10, 60] = 2e5  # array 4 (from column 48): its column 12, in tile 1; in the value band
    np.save(tmp_path / "die.npy", r)
    args = ["import-map", path, str(tmp_path / "die.npy"), "--die", "--stuck-on-below", "5k"]
    assert main([*args, "--stuck-off-above", "2meg", "--stuck-at-value", "150k", "250k", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["die"], d["stuck_on"], d["stuck_at_value"], d["saved"]) == (True, 32, 1, True)
    assert [(t["array"], t["tile"]) for t in d["tiles"] if t["n_defective"]] == [(3, 1), (4, 1)]
    assert main(["defect-stats", path, "--map", "die", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["statistics"]["n_defective"] == 33 and "the whole die (4 arrays, 13 tiles)" in s["description"]
    assert main(["import-map", path, str(tmp_path / "die.npy"), "--die", "--tile", "0", "--no-save"]) == 2
    assert "give no --array or --tile" in capsys.readouterr().err
    np.save(tmp_path / "die2.npy", r[:95])
    assert main(["import-map", path, str(tmp_path / "die2.npy"), "--die", "--no-save"]) == 2
    assert "the whole die is 96 rows x 72 columns" in capsys.readouterr().err


def test_programming_deviation_is_the_spread_around_the_nearest_state(trained_project):
    dev_params = trained_project.mapped.device
    assert (dev_params.r_on_ohm, dev_params.r_off_ohm) == (1e4, 1e6)
    z = np.random.default_rng(2).standard_normal((65, 16))
    r = np.where(np.arange(16) % 2 == 0, 1e4, 1e6) * np.exp(0.1 * z)  # G = G_state exp(-0.1 z): sigma 0.1
    r[0, 0] = 50.0  # stuck on: left out
    d = measured.programming_deviation(MeasuredMap("d", 1, r, 5e3, 2e6), dev_params)
    expect = -0.1 * z.ravel()[1:]
    assert d["n_cells"] == 65 * 16 - 1 and d["sigma_ln"] == pytest.approx(expect.std(), rel=1e-9)
    assert d["median_ln"] == pytest.approx(np.median(expect), rel=1e-9)
