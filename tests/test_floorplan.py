"""Arrays on a die and defects placed on the die: hand-placed cells and a brute-force die-coordinate check."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from core import project_io
from core.circuit.mapping import map_project
from core.errors import DefectSpecError, ParameterError
from core.model.floorplan import auto_floorplan, die_defects, die_size_um, parse_die_spec, place


def _placed(p, pitch=(0.5, 0.5)):
    for a in p.mapped.arrays:
        a.pitch_um = pitch
    place(p.mapped, auto_floorplan(p.mapped))
    return p


def test_auto_floorplan_is_left_to_right_with_the_gap(trained_project):
    p = _placed(trained_project)
    # arrays of 16, 16, 16 and 20 columns at 0.5 um are 8, 8, 8 and 10 um wide; 20 um apart
    assert [a.origin_um for a in p.mapped.arrays] == [(0.0, 0.0), (28.0, 0.0), (56.0, 0.0), (84.0, 0.0)]
    assert die_size_um(p.mapped) == (94.0, 65 * 0.5)
    trained_project.mapped.arrays[2].pitch_um = None
    with pytest.raises(ParameterError, match="array 3 has none"):
        auto_floorplan(trained_project.mapped)


def test_a_cluster_between_two_arrays_hits_both_at_the_cells_hand_arithmetic_gives(trained_project):
    p = _placed(trained_project)
    die = parse_die_spec("die:pattern=circle,cx_um=18,cy_um=2,r_um=12,stuck=on")
    out = die_defects(p.mapped, die)
    assert [d.array for d in out] == [1, 2]  # array 3 starts at 56 um: 38 um away
    m1 = out[0].cells(p.mapped.shapes[0], (0.5, 0.5))
    m2 = out[1].cells(p.mapped.shapes[1], (0.5, 0.5))
    # array 1 cell (3, 15) is centred at (7.75, 1.75): 10.25 um from (18, 2), inside; (3, 10) at 5.25: 12.75, out
    assert m1[3, 15] and not m1[3, 10]
    # array 2 cell (3, 0) is centred at (28.25, 1.75): 10.25 um away
    assert m2[3, 0] and not m2[3, 5]  # (30.75, 1.75): 12.75 um
    # brute force over every cell of every array in die coordinates
    for d, a in zip(out, p.mapped.arrays):
        rows, cols = a.shape
        want = np.array(
            [
                [
                    math.hypot(a.origin_um[0] + (c + 0.5) * 0.5 - 18, a.origin_um[1] + (r + 0.5) * 0.5 - 2) <= 12
                    for c in range(cols)
                ]
                for r in range(rows)
            ]
        )
        assert np.array_equal(d.cells(a.shape, a.pitch_um), want)


def test_die_specs_are_checked_and_placement_is_saved_and_kept(trained_project, tmp_path):
    for bad, msg in (
        ("die:pattern=square,cx_um=1,cy_um=1,r_um=1,stuck=on", "pattern must be one of"),
        ("die:pattern=circle,cx_um=1,r_um=1,stuck=on", "missing required key 'cy_um'"),
        ("die:pattern=ring,cx_um=1,cy_um=1,r_in_um=3,r_out_um=2,stuck=off", "r_out_um must be larger"),
        ("die:pattern=circle,cx_um=-1,cy_um=1,r_um=1,stuck=on", "cx_um must be in"),
        ("die:pattern=circle,cx_um=1,cy_um=1,r_um=1", "missing required key 'stuck'"),
    ):
        with pytest.raises(DefectSpecError, match=msg):
            parse_die_spec(bad)
    with pytest.raises(ParameterError, match="no array of this project is placed"):
        die_defects(trained_project.mapped, parse_die_spec("die:pattern=circle,cx_um=1,cy_um=1,r_um=1,stuck=on"))
    p = _placed(trained_project, (0.2, 0.4))
    path = str(tmp_path / "die.h5")
    project_io.save(p, path)
    q = project_io.load(path)
    assert [a.origin_um for a in q.mapped.arrays] == [a.origin_um for a in p.mapped.arrays]
    map_project(q)
    assert q.mapped.arrays[3].origin_um == p.mapped.arrays[3].origin_um


def test_cli_new_places_the_arrays_and_evaluate_takes_a_die_defect(tmp_path):
    path = str(tmp_path / "p.h5")
    cli = [sys.executable, "-m", "core.cli.main"]
    run = subprocess.run(
        [*cli, "new", path, "--epochs", "3", "--cell-pitch", "0.5", "--quiet"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    run = subprocess.run(
        [
            *cli,
            "evaluate",
            path,
            "--defect",
            "die:pattern=circle,cx_um=18,cy_um=2,r_um=12,stuck=on",
            "--no-save",
            "--json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    frac = json.loads(run.stdout)["defect_fraction"]
    assert frac[0] > 0 and frac[1] > 0 and frac[2] == frac[3] == 0


def test_the_die_map_layout_puts_the_arrays_side_by_side_without_gaps(trained_project):
    from core.model.floorplan import DiePiece, die_map_layout, die_map_shape, die_map_text

    p = _placed(trained_project)  # arrays 65x16, 9x16, 9x16, 9x20, 20 um apart on the die: gaps not in the map
    assert die_map_layout(p.mapped) == [
        DiePiece(1, None, 0, 0, 65, 16),
        DiePiece(2, None, 0, 16, 9, 16),
        DiePiece(3, None, 0, 32, 9, 16),
        DiePiece(4, None, 0, 48, 9, 20),
    ]
    assert die_map_shape(p.mapped) == (65, 68)
    assert die_map_text(p.mapped).startswith("65 rows x 68 columns (") and "65x16 + 9x16 + 9x16 + 9x20" in die_map_text(
        p.mapped
    )
