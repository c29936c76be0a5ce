"""Cross-checks of the physics: behavioural model, nodal solver and ngspice on the same `paper` network."""

from __future__ import annotations

import numpy as np
import pytest

from core import jobs
from core.circuit import behavioral, nodal
from core.circuit.fidelity import defective_conductances, with_overrides
from core.circuit.mapping import map_project
from core.circuit.spice import simulate
from core.evaluate import evaluate_job
from core.model.defects import parse_spec

pytestmark = pytest.mark.spice

DEFECTS = ["circle:array=1,cx=0.5,cy=0.5,r=0.3,stuck=on", "columns:array=2,start=2,count=2,stuck=off"]


def _agree(v_spice, v_ref):
    swing = float(np.ptp(v_ref))
    tol = max(1e-3, 0.005 * swing)
    same_class = int(np.sum(v_spice.argmax(1) == v_ref.argmax(1)))
    return same_class, float(np.max(np.abs(v_spice - v_ref))), tol


@pytest.mark.parametrize("defects", [[], DEFECTS], ids=["clean", "circle-on+columns-off"])
def test_spice_matches_behavioural_on_test_set(trained_project, ngspice_path, defects):
    mapped = trained_project.mapped
    X = trained_project.load_dataset().X_test
    assert len(X) == 180
    g_list, fractions = defective_conductances(mapped, [parse_spec(s) for s in defects])
    if defects:
        assert fractions[0] > 0.2 and fractions[1] > 0.1  # the defects really hit arrays 1 and 2
    v_ref = behavioral.forward_voltages(mapped, X, g_list)
    v_spice, solver = jobs.run(simulate.output_voltages_job(mapped, X, g_list, workers=2))
    same, err, tol = _agree(v_spice, v_ref)
    assert same >= 179
    assert err <= tol, f"max |V_spice - V_behavioural| = {err:.3g} V > {tol:.3g} V"
    assert solver.startswith("ngspice ")


def test_evaluate_spice_and_nodal_report_same_accuracy(trained_project, ngspice_path):
    beh = jobs.run(evaluate_job(trained_project, fidelity="behavioral"))
    spi = jobs.run(evaluate_job(trained_project, fidelity="spice", workers=2))
    nod = jobs.run(evaluate_job(trained_project, fidelity="nodal"))
    assert abs(spi.accuracy - beh.accuracy) * 180 <= 1
    assert abs(nod.accuracy - beh.accuracy) < 1e-12
    assert spi.solver.startswith("ngspice ") and spi.solver.split()[-1] in ("klu", "sparse")
    assert spi.output_voltages.shape == (180, 10)


def test_nodal_and_spice_agree_with_wire_resistance_and_saturated_tias(trained_project, ngspice_path):
    """Full network with 1 ohm segments and a big stuck-on circle that drives TIAs into the rail."""
    mapped = with_overrides(trained_project.mapped, r_wire_ohm=1.0)
    X = trained_project.load_dataset().X_test[:60]
    g_list, _ = defective_conductances(mapped, [parse_spec("circle:array=1,r=0.45,stuck=on")])
    _, v_tia = behavioral.layer_forward(mapped, 0, X * mapped.device.v_read_volt, g_list[0], return_tia=True)
    assert np.any(np.abs(v_tia) >= mapped.circuit.v_rail_volt)  # the saturated-TIA path is exercised
    v_nodal = nodal.forward_voltages(mapped, X, g_list)
    v_spice, _ = jobs.run(simulate.output_voltages_job(mapped, X, g_list, workers=2))
    assert np.max(np.abs(v_nodal - v_spice)) < 1e-5
    # the wires matter: the ideal-wire model differs measurably
    assert np.max(np.abs(behavioral.forward_voltages(mapped, X, g_list) - v_spice)) > 1e-3


@pytest.mark.parametrize(
    "scheme,model",
    [("differential-rows", "linear"), ("differential-columns", "gap"), ("balanced", "gap"), ("reference", "gap")],
)
def test_spice_matches_behavioural_other_scheme_and_gap_model(trained_project, ngspice_path, scheme, model):
    trained_project.scheme = scheme
    mapped = with_overrides(map_project(trained_project), device_model=model)
    X = trained_project.load_dataset().X_test[:40]
    v_ref = behavioral.forward_voltages(mapped, X)
    v_spice, _ = jobs.run(simulate.output_voltages_job(mapped, X, workers=2))
    same, err, tol = _agree(v_spice, v_ref)
    assert same >= 39 and err <= tol
