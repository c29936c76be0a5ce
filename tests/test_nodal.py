"""The nodal solver: reduces to the behavioural model, matches hand values and ngspice column currents."""

from __future__ import annotations

import numpy as np
import pytest

from core.circuit import behavioral, nodal
from core.circuit.fidelity import defective_conductances, with_overrides
from core.circuit.mapping import map_project
from core.errors import ParameterError
from core.model.defects import parse_spec
from core.model.devices import SCHEMES, DeviceParams


@pytest.mark.parametrize("model", ["linear", "gap"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_ideal_wires_reduce_to_behavioural(trained_project, model, scheme):
    trained_project.scheme = scheme
    mapped = with_overrides(map_project(trained_project), r_wire_ohm=0.0, device_model=model)
    X = trained_project.load_dataset().X_test
    g_list, _ = defective_conductances(
        mapped, [parse_spec("circle:array=1,r=0.3,stuck=on"), parse_spec("columns:array=2,start=1,count=2,stuck=off")]
    )
    v_b = behavioral.forward_voltages(mapped, X, g_list)
    v_n = nodal.forward_voltages(mapped, X, g_list)
    # linear: the same closed form; gap: nodal solves the exact sinh at the column node, behavioural
    # linearises it at the virtual ground (differences of order (v_n / V0)^2 ~ 1e-9 relative)
    tol = 1e-12 if model == "linear" else 1e-5
    assert np.max(np.abs(v_n - v_b)) <= tol * max(1.0, np.max(np.abs(v_b)))


def test_wire_topology_against_paper():
    """1 row x 2 columns, r = 1k, devices 10k and 20k, 1 V drive.

    driver -r- a0 -r- a1;  a0 -10k- b0 -r- ground;  a1 -20k- b1 -r- ground
    from a0: column-0 branch 10k + 1k = 11k, column-1 branch 1k + 20k + 1k = 22k, parallel 7.333k
    total 1k + 7.333k = 8.333k -> 120 uA; V(a0) = 1 - 0.12 = 0.88 V; I0 = 0.88/11k = 80 uA, I1 = 0.88/22k = 40 uA
    """
    g = np.array([[1 / 10e3, 1 / 20e3]])
    i = nodal.column_currents(g, np.array([[1.0]]), 1e3)
    np.testing.assert_allclose(i, [[80e-6, 40e-6]], rtol=1e-12)
    np.testing.assert_allclose(nodal.column_currents(g, np.array([[1.0]]), 0.0), [[1e-4, 5e-5]], rtol=1e-15)


@pytest.mark.spice
@pytest.mark.parametrize("n_images", [10, 40], ids=["direct", "transfer-matrix"])
def test_column_currents_match_ngspice(ngspice_path, n_images):
    from core.circuit.spice import simulate

    rng = np.random.default_rng(1)
    dev = DeviceParams()
    g = rng.uniform(dev.g_off_siemens, dev.g_on_siemens, (16, 32))
    v = rng.uniform(0, dev.v_read_volt, (n_images, 16))
    i_nodal = nodal.column_currents(g, v, 1.0)
    i_spice = simulate.run_circuit(g, v, r_wire_ohm=1.0, workers=2)
    assert np.max(np.abs(i_nodal - i_spice) / np.abs(i_spice)) <= 1e-6
    # and the 1 ohm segments are not negligible at this tolerance
    assert np.max(np.abs(v @ g - i_spice) / np.abs(i_spice)) > 1e-4


@pytest.mark.spice
def test_gap_column_currents_match_ngspice(ngspice_path):
    from core.circuit.spice import simulate

    rng = np.random.default_rng(2)
    dev = DeviceParams(model="gap")
    g = rng.uniform(dev.g_off_siemens, dev.g_on_siemens, (8, 12))
    v = rng.uniform(0, dev.v_read_volt, (6, 8))
    i_nodal = nodal.column_currents(g, v, 2.0, dev)
    i_spice = simulate.run_circuit(g, v, r_wire_ohm=2.0, device=dev, workers=1)
    assert np.max(np.abs(i_nodal - i_spice) / np.abs(i_spice)) <= 1e-6


def test_bad_inputs_raise_parameter_errors(trained_project):
    with pytest.raises(ParameterError, match="v_rows"):
        nodal.column_currents(np.full((3, 4), 1e-5), np.zeros((2, 5)), 1.0)
    with pytest.raises(ParameterError, match="r_wire_ohm"):
        nodal.column_currents(np.full((3, 4), 1e-5), np.zeros((2, 3)), -1.0)
    with pytest.raises(ParameterError, match="g_list"):
        nodal.forward_voltages(trained_project.mapped, np.zeros((2, 64)), [np.ones((2, 2))] * 4)
