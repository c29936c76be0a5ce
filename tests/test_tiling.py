"""Tiled arrays (core.model.tiling): every fidelity against an independent reference, defects per tile and per die,
project files, the CLI.

Tolerances: tiled and untiled circuits with ideal wires differ only through the unused cells' conductance at the
virtual grounds, an effect of order 1/A (A the op-amp gain): checked by its scaling. Nodal with ideal wires against
behavioural within 1e-12 V (the same arithmetic in another order); nodal with wires against a dense hand-built
nodal matrix within 1e-12 relative, and against ngspice within 1e-9 relative of the output swing (ngspice's
reltol 1e-6 on a converged operating point gives ~1e-12 here).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os

import numpy as np
import pytest

from core import jobs, project_io
from core.circuit import behavioral, nodal
from core.circuit.fidelity import defective_conductances, with_overrides
from core.circuit.spice import simulate
from core.errors import DefectSpecError, ParameterError
from core.model import tiling
from core.model.defects import Defect, parse_spec, stuck_maps
from core.model.devices import Wires
from core.model.floorplan import auto_floorplan, die_defects, hit_summary, parse_die_spec, place


@pytest.fixture
def tiled(trained_project):
    """The paper network (65x16, 9x16, 9x16, 9x20 arrays) on 32x32 tiles: array 1 is 3x1 tiles."""
    p = copy.deepcopy(trained_project)
    p.mapped = tiling.tile_network(p.mapped, (32, 32))
    return p


def test_parse_tile_and_errors():
    assert tiling.parse_tile("64x128") == (64, 128)
    assert tiling.parse_tile(" 32 ") == (32, 32)
    for bad in ("0x4", "64x", "axb", "64x64x2", "1x64", "8192x8"):
        with pytest.raises(ParameterError, match="tile"):
            tiling.parse_tile(bad)
    with pytest.raises(ParameterError, match="unused"):
        tiling.check_unused_state("formed")


def test_mosaic_holds_the_layer_and_unused_cells(trained_project, tiled):
    a0, t0 = trained_project.mapped.arrays[0], tiled.mapped.arrays[0]
    assert t0.shape == (96, 32) and t0.logical_shape == (65, 16) and t0.tile_grid == (3, 1) and t0.n_tiles == 3
    np.testing.assert_array_equal(t0.logical(t0.g_siemens), a0.g_siemens)
    unused = t0.g_siemens[~tiling.used_mask(t0)]
    assert unused.size == 96 * 32 - 65 * 16
    np.testing.assert_array_equal(unused, tiled.mapped.device.g_off_siemens)
    unformed = tiling.tile_network(trained_project.mapped, (32, 32), "unformed").arrays[0]
    np.testing.assert_allclose(unformed.g_siemens[-1, -1], tiled.mapped.device.g_off_siemens / 10, rtol=1e-15)
    assert tiling.describe(t0) == "65x16 on 3x1 tiles of 32x32"


def test_ideal_wires_tiled_equals_untiled_up_to_finite_gain(trained_project):
    """Ideal wires: the only difference is the unused rows' cells at 0 V loading the virtual grounds, a 1/A effect."""
    X = trained_project.load_dataset().X_test
    diffs = []
    for gain in (1e5, 1e8):
        m = trained_project.mapped
        m = dataclasses.replace(m, circuit=dataclasses.replace(m.circuit, opamp_gain=gain))
        t = tiling.tile_network(m, (32, 32))
        diffs.append(np.max(np.abs(behavioral.forward_voltages(t, X) - behavioral.forward_voltages(m, X))))
    assert diffs[0] > 1e-6  # the unused cells are real devices: they do load the TIA inputs
    assert diffs[1] < diffs[0] * 3e-3  # and that load vanishes like 1/A (1e3 x smaller, a margin of 3)


def test_nodal_ideal_wires_equals_behavioural_tiled(tiled):
    X = tiled.load_dataset().X_test
    np.testing.assert_allclose(
        nodal.forward_voltages(tiled.mapped, X), behavioral.forward_voltages(tiled.mapped, X), rtol=0, atol=1e-12
    )


def _dense_two_tile_currents(g, v, r):
    """Hand-built nodal matrix of a 4x1 column on 2x1 tiles (bit-line segments r, ideal word lines).

    Tile rows 0-1 and 2-3: node b_i below each cell; b0 -r- b1 -r- end, b2 -r- b3 -r- end, end at 0 V. The
    column current is the sum of both tiles' currents into the end.
    """
    k = np.zeros((4, 4))
    rhs = np.zeros(4)
    for i in range(4):
        k[i, i] += g[i]
        rhs[i] += g[i] * v[i]
    for top, bottom in ((0, 1), (2, 3)):
        for p, q in ((top, bottom),):
            k[p, p] += 1 / r
            k[q, q] += 1 / r
            k[p, q] -= 1 / r
            k[q, p] -= 1 / r
        k[bottom, bottom] += 1 / r  # the last segment to the shared end at 0 V
    x = np.linalg.solve(k, rhs)
    return (x[1] + x[3]) / r


def test_wired_current_summing_against_hand_built_matrix():
    g = np.array([[1e-4, 2e-5], [5e-5, 1e-5], [2e-5, 1e-4], [1e-6, 3e-5]])
    v = np.array([0.2, 0.1, 0.15, 0.05])
    r = 50.0
    i = nodal.column_currents(g, v[None, :], Wires(word_line_ohm=0.0, bit_line_ohm=r), tile=(2, 2))
    for j in range(2):
        np.testing.assert_allclose(i[0, j], _dense_two_tile_currents(g[:, j], v, r), rtol=1e-12)
    # untiled, the same column is one line of four segments: a different (larger) IR drop
    i_one = nodal.column_currents(g, v[None, :], Wires(word_line_ohm=0.0, bit_line_ohm=r))
    assert np.all(np.abs(i_one - i) > 1e-3 * np.abs(i))
    # the unused columns end at ground: only used_cols come out
    assert nodal.column_currents(g, v[None, :], Wires(bit_line_ohm=r), tile=(2, 2), used_cols=1).shape == (1, 1)


@pytest.mark.spice
def test_nodal_with_wires_matches_ngspice_tiled(tiled, ngspice_path):
    m = with_overrides(tiled.mapped, r_wire_ohm=2.0)
    m = dataclasses.replace(m, circuit=dataclasses.replace(m.circuit, r_driver_ohm=100.0, r_tia_in_ohm=20.0))
    X = tiled.load_dataset().X_test[:6]
    g_list, frac = defective_conductances(m, [parse_spec("circle:array=1,tile=1,r=0.4,stuck=on")])
    assert frac[0] > 0.1
    v_nod = nodal.forward_voltages(m, X, g_list)
    v_sp, _ = jobs.run(simulate.output_voltages_job(m, X, g_list, workers=2))
    swing = float(np.ptp(v_nod))
    assert np.max(np.abs(v_sp - v_nod)) <= 1e-9 * swing
    # the wires matter and tiling changes them: the tiled circuit is not the untiled one
    m_flat = dataclasses.replace(m, arrays=[tiling.untile_array(a) for a in m.arrays])
    g_flat = [a.logical(g) for a, g in zip(m.arrays, g_list)]
    assert np.max(np.abs(nodal.forward_voltages(m_flat, X, g_flat) - v_nod)) > 1e3 * np.max(np.abs(v_sp - v_nod))


def test_defect_on_one_tile(tiled):
    m = tiled.mapped
    d = parse_spec("rows:array=1,tile=2,start=0,count=1,stuck=off")
    assert d.tile == 2 and parse_spec(d.to_spec()).tile == 2
    (s1, *_rest) = stuck_maps(m.shapes, [d], m.device, tiles=m.tiles)
    bad = ~np.isnan(s1)
    assert bad.sum() == 32 and bad[64].all()  # the first row of tile 2 (mosaic rows 64..95) only
    with pytest.raises(DefectSpecError, match="tiles 0 to 2"):
        stuck_maps(m.shapes, [parse_spec("rows:array=1,tile=3,start=0,count=1,stuck=off")], m.device, tiles=m.tiles)
    with pytest.raises(DefectSpecError, match="not tiled"):
        stuck_maps(m.shapes, [d], m.device)


def test_die_circle_across_two_tiles_changes_accuracy(trained_project):
    m = trained_project.mapped
    for a in m.arrays:
        a.pitch_um = (1.0, 1.0)
    m = tiling.tile_network(m, (32, 32), gap_um=10.0)
    place(m, auto_floorplan(m))
    trained_project.mapped = m
    a0 = m.arrays[0]
    assert tiling.tile_origin_um(a0, 1) == (0.0, 42.0)  # tile 1 of a 3x1 mosaic sits below tile 0, 10 um apart
    # centred in the gap between tiles 0 and 1 of array 1: reaches both, nothing else
    die = parse_die_spec("die:pattern=circle,cx_um=8,cy_um=37,r_um=12,stuck=on")
    defects = die_defects(m, die)
    assert [(d.array, d.tile) for d in defects] == [(1, 0), (1, 1)]
    hit = hit_summary(m, defects)
    assert [(h["array"], h["tiles"]) for h in hit] == [(1, [0, 1])]
    ds = trained_project.load_dataset()
    g, _ = defective_conductances(m, defects)
    clean = behavioral.accuracy(m, ds.X_test, ds.y_test)
    assert behavioral.accuracy(m, ds.X_test, ds.y_test, g) < clean - 0.02
    # a circle inside the gap alone hits no cell
    assert die_defects(m, parse_die_spec("die:pattern=circle,cx_um=8,cy_um=37,r_um=4,stuck=on")) == []


def test_tiled_project_round_trip(tiled, tmp_path):
    tiled.mapped = tiling.tile_network(tiled.mapped, (32, 16), "unformed", 5.0)
    from core.model.project import Scenario

    tiled.scenarios["t"] = Scenario("t", [parse_spec("circle:array=1,tile=4,r=0.3,stuck=on")])
    mask = np.zeros((32, 16), dtype=bool)
    mask[1, 2] = True
    tiled.scenarios["m"] = Scenario("m", [Defect("mask", 1, "off", 0.0, {}, mask=mask, tile=5)])
    path = str(tmp_path / "t.h5")
    project_io.save(tiled, path)
    back = project_io.load(path)
    for a, b in zip(tiled.mapped.arrays, back.mapped.arrays):
        assert (b.tile, b.used_shape, b.unused_state, b.tile_gap_um) == (a.tile, a.used_shape, "unformed", 5.0)
        np.testing.assert_array_equal(a.g_siemens, b.g_siemens)
    assert back.scenarios["t"].defects[0].tile == 4
    assert back.scenarios["m"].defects[0].tile == 5
    np.testing.assert_array_equal(back.scenarios["m"].defects[0].mask, mask)
    ds = tiled.load_dataset()
    assert behavioral.accuracy(back.mapped, ds.X_test, ds.y_test) == behavioral.accuracy(
        tiled.mapped, ds.X_test, ds.y_test
    )


def test_remap_and_retrain_keep_unused_cells(trained_project, tiled):
    from core.circuit.mapping import effective_weights
    from core.recovery.remap import permute_mapped
    from core.recovery.retrain import RetrainConfig, retrain_job

    m = tiled.mapped
    perms = [np.roll(np.arange(a.n_out), 1) for a in m.arrays[:-1]]
    pm = permute_mapped(m, perms)
    for a, b in zip(m.arrays, pm.arrays):
        unused = ~tiling.used_mask(a)
        np.testing.assert_array_equal(a.g_siemens[unused], b.g_siemens[unused])
    W, _ = effective_weights(m, m.conductances())
    assert [w.shape for w in W] == [(64, 8), (8, 8), (8, 8), (8, 10)]
    defects = [parse_spec("columns:array=2,start=2,count=2,stuck=on")]
    res = jobs.run(retrain_job(tiled, defects, config=RetrainConfig(epochs=3)))
    g1 = res.arrays["g_array1"]
    unused = ~tiling.used_mask(m.arrays[0])
    np.testing.assert_array_equal(g1[unused], m.arrays[0].g_siemens[unused])
    # the same retraining untiled (an independent path: no padding, no cropping) ends at the same accuracy
    flat = jobs.run(retrain_job(trained_project, defects, config=RetrainConfig(epochs=3)))
    assert (res.before, abs(res.after - flat.after) * 180 <= 1) == (flat.before, True)
    # the unused cells' 1/A load on the TIAs moves the gradients slightly: 5e-8 S is 0.05 % of the 1e-4 S window
    np.testing.assert_allclose(m.arrays[1].logical(res.arrays["g_array2"]), flat.arrays["g_array2"], rtol=0, atol=5e-8)


@pytest.mark.spice
def test_cli_new_tiled_followup_die_defect_and_import_map(tmp_path, capsys, ngspice_path):
    from core.cli.main import main

    p = str(tmp_path / "f.h5")
    assert (
        main(["new", p, "--preset", "followup", "--tile", "32x32", "--cell-pitch", "1", "--epochs", "40", "--quiet"])
        == 0
    )
    capsys.readouterr()
    assert main(["info", p, "--json"]) == 0
    arrays = json.loads(capsys.readouterr().out)["arrays"]
    assert [a["layout"] for a in arrays][:2] == ["65x100 on 3x4 tiles of 32x32", "51x40 on 2x2 tiles of 32x32"]
    # array 1's tiles 0 and 1 sit side by side, 10 um apart: a circle in the gap between them hits both
    assert (
        main(
            ["evaluate", p, "--no-save", "--json", "--defect", "die:pattern=circle,cx_um=37,cy_um=16,r_um=14,stuck=on"]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["hit"] == [
        {"array": 1, "cells": out["hit"][0]["cells"], "used_cells": out["hit"][0]["used_cells"], "tiles": [0, 1]}
    ]
    r = np.full((32, 32), 100e3)
    r[4:9, 4:9] = 5e3
    r[20, :] = 2e6
    csv = str(tmp_path / "map.csv")
    np.savetxt(csv, r, delimiter=",")
    assert (
        main(["import-map", p, csv, "--tile", "1", "--stuck-on-below", "20k", "--stuck-off-above", "500k", "--json"])
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert (d["tile"], d["stuck_on"], d["stuck_off"], d["saved"]) == (1, 25, 32, True)
    back = project_io.load(p)
    assert back.measured_maps["map"].tile == 1
    assert all(x.tile == 1 for x in back.scenarios["map"].defects)
    assert main(["evaluate", p, "--scenario", "map", "--no-save", "--json"]) == 0
    hit = json.loads(capsys.readouterr().out)["hit"]
    assert hit[0]["tiles"] == [1] and hit[0]["cells"] == 57
    # the follow-up network on tiles: ngspice agrees with behavioural within 1 image of 180
    assert main(["evaluate", p, "--no-save", "--json"]) == 0
    beh = json.loads(capsys.readouterr().out)
    assert main(["evaluate", p, "--no-save", "--json", "--fidelity", "spice", "--workers", "2"]) == 0
    spi = json.loads(capsys.readouterr().out)
    assert spi["solver"].startswith("ngspice") and abs(spi["accuracy"] - beh["accuracy"]) * 180 <= 1
    assert main(["import-map", p, csv, "--tile", "12", "--name", "x"]) == 2
    assert "tiles 0 to 11" in capsys.readouterr().err
    assert main(["new", str(tmp_path / "bad.h5"), "--tile", "1x64", "--quiet"]) == 2
    assert "tile" in capsys.readouterr().err
    assert not os.path.exists(str(tmp_path / "bad.h5"))
