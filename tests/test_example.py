"""The bundled example project: it loads, holds what README promises, and its stored claims re-check."""

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


@pytest.fixture(scope="module")
def example():
    return project_io.load(EXAMPLE)


def test_example_has_the_paper_network_and_one_scenario_per_pattern(example):
    assert example.network.layer_sizes == (64, 8, 8, 8, 10)
    assert example.weights.history["test_accuracy"][-1] >= 0.90
    patterns = {d.pattern for sc in example.scenarios.values() for d in sc.defects}
    assert patterns == set(PATTERNS)


def test_stored_results_reproduce(example):
    ds = example.load_dataset()
    for r in example.results:
        if r.fidelity in ("behavioral", "ideal"):
            defects = example.scenarios[r.scenario].defects if r.scenario else []
            again = jobs.run(evaluate_job(example, defects, r.fidelity))
            assert again.accuracy == r.accuracy, r.scenario
            np.testing.assert_allclose(again.output_voltages, r.output_voltages, rtol=1e-5, atol=1e-6)
        assert network.accuracy(r.output_voltages, ds.y_test) == pytest.approx(r.accuracy)


def test_recovery_demonstration_holds_at_spice_fidelity(example):
    """The stored correction net, applied to the stored ngspice output voltages, gives the stored accuracy."""
    ds = example.load_dataset()
    rec = [r for r in example.recoveries if r.method == "correction" and r.scenario == RECOVERY_SCENARIO]
    assert rec and rec[0].fidelity == "spice"
    rec = rec[0]
    assert rec.before <= 0.60 and rec.after >= 0.85
    spice = [r for r in example.results if r.fidelity == "spice" and r.scenario == RECOVERY_SCENARIO]
    assert spice and spice[0].accuracy == pytest.approx(rec.before)
    logits = apply_correction(rec.arrays, spice[0].output_voltages.astype(np.float64))
    assert network.accuracy(logits, ds.y_test) == pytest.approx(rec.after, abs=1 / 180)
