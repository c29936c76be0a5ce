"""The bundled example project: it loads, holds what README promises, and every stored result is recomputed.

Nothing here trusts a number read from the file: each stored accuracy and voltage is compared with a fresh
computation from the stored network (and, for SPICE results, a fresh ngspice run).
"""

import os

import numpy as np
import pytest

from core import jobs, project_io
from core.evaluate import evaluate_job
from core.model import network
from core.model.defects import PATTERNS
from core.recovery.correction import apply_correction
from tools.build_example import RECOVERY_SCENARIO

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "projects", "digits-paper.h5")
ONE_IMAGE = 1 / 180


@pytest.fixture(scope="module")
def example():
    return project_io.load(EXAMPLE)


def test_example_is_the_paper_network_trained_again(example, trained_project):
    """Its weights equal a fresh training of the paper preset with seed 0 (training is deterministic)."""
    assert example.network.layer_sizes == (64, 8, 8, 8, 10)
    for w_file, w_new in zip(example.weights.weights, trained_project.weights.weights):
        np.testing.assert_allclose(w_file, w_new, rtol=1e-6, atol=1e-7)
    ds = example.load_dataset()
    ideal = network.accuracy(network.forward(example.weights.weights, example.weights.biases, ds.X_test), ds.y_test)
    assert ideal == pytest.approx(float(example.weights.history["test_accuracy"][-1]))


def test_example_has_one_scenario_per_pattern(example):
    patterns = {d.pattern for sc in example.scenarios.values() for d in sc.defects}
    assert patterns == set(PATTERNS)


def test_every_stored_result_recomputes(example, ngspice_path):
    fidelities = {r.fidelity for r in example.results}
    assert fidelities == {"ideal", "behavioral", "spice"}
    for r in example.results:
        defects = example.scenarios[r.scenario].defects if r.scenario else []
        again = jobs.run(evaluate_job(example, defects, r.fidelity))
        if r.fidelity == "spice":  # ngspice's time stepping differs from run to run by far less than a millivolt
            assert abs(again.accuracy - r.accuracy) <= ONE_IMAGE + 1e-12, r.scenario
            np.testing.assert_allclose(again.output_voltages, r.output_voltages, atol=1e-3)
        else:
            assert again.accuracy == r.accuracy, r.scenario
            np.testing.assert_allclose(again.output_voltages, r.output_voltages, rtol=1e-5, atol=1e-6)


def test_recovery_demonstration_holds_on_a_fresh_spice_run(example, ngspice_path):
    """The stored correction net lifts a fresh ngspice run of the recovery scenario as README says."""
    ds = example.load_dataset()
    (rec,) = [r for r in example.recoveries if r.method == "correction" and r.scenario == RECOVERY_SCENARIO]
    assert rec.fidelity == "spice"
    fresh = jobs.run(evaluate_job(example, example.scenarios[RECOVERY_SCENARIO].defects, "spice"))
    corrected = network.accuracy(apply_correction(rec.arrays, fresh.output_voltages.astype(np.float64)), ds.y_test)
    assert abs(fresh.accuracy - rec.before) <= ONE_IMAGE + 1e-12
    assert abs(corrected - rec.after) <= ONE_IMAGE + 1e-12
    assert fresh.accuracy <= 0.60 and corrected >= 0.85  # README's claim, on the fresh numbers
