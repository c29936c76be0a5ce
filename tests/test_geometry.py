"""Physical defect geometry: cell pitch per array, defects in micrometres, round on silicon.

References are hand arithmetic (cell centres at ((c + 0.5) px, (r + 0.5) py)) and the area of a disc.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import h5py
import numpy as np
import pytest

from core import jobs, project_io
from core.errors import DefectSpecError, ParameterError, ProjectFormatError
from core.evaluate import evaluate_job
from core.model.crossbar import check_pitch, parse_pitch
from core.model.defects import Defect, parse_spec, stuck_maps
from core.model.devices import DeviceParams


def test_circle_in_um_matches_hand_arithmetic():
    # 5 x 5 cells of pitch 1 um (x) by 2 um (y): centres at x = 0.5 .. 4.5, y = 1 .. 9; the default centre is
    # the array's, (2.5, 5). Radius 2 um covers the middle row (x distances 2, 1, 0, 1, 2) and the cells just
    # above and below the centre (y distance 2); (1, 1) is sqrt(1 + 4) = 2.24 away, outside.
    d = parse_spec("circle:array=1,r_um=2,stuck=on")
    want = np.zeros((5, 5), dtype=bool)
    want[2, :] = True
    want[1, 2] = want[3, 2] = True
    assert np.array_equal(d.cells((5, 5), (1.0, 2.0)), want)
    # an explicit centre at the top-left corner cell's centre
    d = parse_spec("circle:array=1,cx_um=0.5,cy_um=1,r_um=1.5,stuck=on")
    want = np.zeros((5, 5), dtype=bool)
    want[0, 0] = want[0, 1] = True  # (1.5, 1) is 1 um away; (0.5, 3) is 2 um away: outside
    assert np.array_equal(d.cells((5, 5), (1.0, 2.0)), want)


def test_a_circle_in_um_is_round_on_silicon_where_a_normalized_one_is_an_ellipse():
    shape, pitch = (65, 16), (0.5, 0.5)
    norm = parse_spec("circle:array=1,r=0.3,stuck=on").cells(shape)
    rows, cols = np.nonzero(norm)
    # normalized: 0.3 of each side on a 65 x 16 array, 39 x 10 cells (the figure)
    assert (np.ptp(rows) + 1, np.ptp(cols) + 1) == (39, 10)
    phys = parse_spec("circle:array=1,r_um=3,stuck=on").cells(shape, pitch)
    rows, cols = np.nonzero(phys)
    # 3 um at 0.5 um pitch: 6 cells each way from the centre, the same extent in x and y on silicon
    ext_y, ext_x = (np.ptp(rows) + 1) * pitch[1], (np.ptp(cols) + 1) * pitch[0]
    assert ext_x == pytest.approx(ext_y, abs=pitch[0])
    # and its area is the disc's within the cells its rim crosses (perimeter / pitch of them)
    area = phys.sum() * pitch[0] * pitch[1]
    assert area == pytest.approx(math.pi * 3**2, abs=2 * math.pi * 3 * pitch[0])


def test_anisotropic_pitch_ring_and_complement():
    pitch = (0.2, 0.4)  # cells twice as tall as wide
    ring = parse_spec("ring:array=1,r_in_um=1,r_out_um=2,stuck=off").cells((40, 40), pitch)
    comp = parse_spec("circle_complement:array=1,r_um=2,stuck=off").cells((40, 40), pitch)
    disc = parse_spec("circle:array=1,r_um=2,stuck=off").cells((40, 40), pitch)
    assert np.array_equal(comp, ~disc)
    rows, cols = np.nonzero(disc)
    # 2 um is 10 cells wide and 5 cells tall from the centre: 20 x 10 cells across
    assert (np.ptp(cols) + 1, np.ptp(rows) + 1) == (20, 10)
    assert not (ring & ~disc).any() and ring.sum() < disc.sum()


def test_physical_specs_round_trip_and_refuse_what_they_cannot_place():
    d = parse_spec("ring:array=2,cx_um=3,cy_um=4.5,r_in_um=1,r_out_um=2.5,stuck=50k")
    again = parse_spec(d.to_spec())
    assert again.params == d.params and again.physical
    assert np.array_equal(again.cells((30, 30), (0.3, 0.3)), d.cells((30, 30), (0.3, 0.3)))
    with pytest.raises(DefectSpecError, match="cell pitch of array 1"):
        parse_spec("circle:array=1,r_um=2,stuck=on").cells((10, 10))
    with pytest.raises(DefectSpecError, match="not both"):
        parse_spec("circle:array=1,r=0.2,cx_um=3,stuck=on")
    with pytest.raises(DefectSpecError, match="missing required key 'r_um'"):
        parse_spec("circle:array=1,cx_um=3,stuck=on")
    with pytest.raises(DefectSpecError, match="r_out_um must be larger"):
        parse_spec("ring:array=1,r_in_um=2,r_out_um=1,stuck=on")
    with pytest.raises(DefectSpecError, match=r"r_um must be in \[0, 1e\+06\]"):
        parse_spec("circle:array=1,r_um=-1,stuck=on")
    # stuck_maps places each defect with its own array's pitch
    maps = stuck_maps(
        [(10, 10), (10, 10)],
        [parse_spec("circle:array=2,r_um=1,stuck=on")],
        DeviceParams(),
        pitches_um=[None, (1.0, 1.0)],
    )
    assert np.isnan(maps[0]).all() and (~np.isnan(maps[1])).sum() == 4  # the 4 cells around the centre


def test_pitch_parsing_names_the_field_and_range():
    assert parse_pitch("0.2x0.4") == (0.2, 0.4)
    assert parse_pitch("0.3um") == (0.3, 0.3)
    for bad in ("x", "0.2x", "1x2x3", "abc", "0x1", "1e9"):
        with pytest.raises(ParameterError, match="cell-pitch"):
            parse_pitch(bad, "cell-pitch")
    with pytest.raises(ParameterError, match=r"y must be in \[0.001, 1000\] um"):
        check_pitch((1.0, float("nan")))


def test_pitch_is_saved_kept_on_remap_and_old_files_load_without_it(trained_project, tmp_path):
    from core.circuit.mapping import map_project

    p = trained_project
    for a, pitch in zip(p.mapped.arrays, [(0.2, 0.4), (0.2, 0.2), (1.0, 0.5), (0.3, 0.3)]):
        a.pitch_um = pitch
    path = str(tmp_path / "pitch.h5")
    project_io.save(p, path)
    q = project_io.load(path)
    assert q.mapped.pitches_um == [(0.2, 0.4), (0.2, 0.2), (1.0, 0.5), (0.3, 0.3)]
    map_project(q)  # re-mapping (e.g. another scheme) keeps the layout's pitch
    assert q.mapped.pitches_um[0] == (0.2, 0.4)
    # a file without the attributes (format v1) loads with the pitch unknown
    with h5py.File(path, "r+") as f:
        for i in range(1, 5):
            del f[f"mapping/array_{i}"].attrs["pitch_x_um"]
            del f[f"mapping/array_{i}"].attrs["pitch_y_um"]
        f["mapping/array_2"].attrs["pitch_x_um"] = 0.5  # one of the pair alone is damage
    with pytest.raises(ProjectFormatError, match="come together"):
        project_io.load(path)
    with h5py.File(path, "r+") as f:
        del f["mapping/array_2"].attrs["pitch_x_um"]
    assert project_io.load(path).mapped.pitches_um == [None] * 4


def test_a_physical_defect_changes_accuracy_like_the_same_cells_given_as_a_mask(trained_project):
    p = trained_project
    for a in p.mapped.arrays:
        a.pitch_um = (0.2, 0.2)
    d = parse_spec("circle:array=1,r_um=0.8,stuck=on")
    cells = d.cells(p.mapped.shapes[0], (0.2, 0.2))
    mask = Defect("mask", 1, "on", 0.0, {}, mask=cells)
    a = jobs.run(evaluate_job(p, [d], "behavioral"))
    b = jobs.run(evaluate_job(p, [mask], "behavioral"))
    assert a.accuracy == b.accuracy and a.defect_fraction == b.defect_fraction
    assert a.defect_fraction[0] == pytest.approx(cells.mean()) and 0 < cells.sum() < cells.size


def test_cli_new_with_cell_pitch_then_evaluate_in_um(tmp_path):
    path = str(tmp_path / "p.h5")
    run = [sys.executable, "-m", "core.cli.main"]
    r = subprocess.run(
        [*run, "new", path, "--epochs", "3", "--cell-pitch", "0.2x0.4", "--quiet"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert project_io.load(path).mapped.pitches_um == [(0.2, 0.4)] * 4
    r = subprocess.run(
        [*run, "evaluate", path, "--defect", "circle:array=1,r_um=1,stuck=on", "--no-save", "--json", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    frac = json.loads(r.stdout)["defect_fraction"][0]
    # 1 um radius at 0.2 x 0.4 um: the disc covers about pi / 0.08 = 39 cells of the 65 x 16 array
    assert frac * 65 * 16 == pytest.approx(math.pi / 0.08, rel=0.25)
    r = subprocess.run([*run, "new", str(tmp_path / "q.h5"), "--cell-pitch", "0x1"], capture_output=True, text=True)
    assert r.returncode == 2 and "cell-pitch" in r.stderr and "Traceback" not in r.stderr
