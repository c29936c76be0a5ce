"""The correction network's options (training data, capacity, ensembling, normalization), sweeps and diagnostic.

Real training on the `paper` preset (seed 0) through the behavioural circuit; no mocks.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import jobs
from core.errors import ParameterError
from core.model.defects import parse_spec
from core.recovery.correction import CorrectionConfig, apply_correction, n_parameters
from core.recovery.recover import recover_job

# array-2 stuck-off columns: information survives in the outputs, but 300 images are too few to read it well
COLUMNS_SPEC = "columns:array=2,start=6,count=4,stuck=off"
# array-1 stuck-on disc: TIAs of hidden layer 1 sit at a rail, information never reaches the outputs
HARD_SPEC = "circle:array=1,cx=0.5,cy=0.5,r=0.3,stuck=on"


def _correction(project, spec, **options):
    return jobs.run(recover_job(project, [parse_spec(spec)], "correction", **options))


def test_training_split_improves_recovery(trained_project):
    paper = _correction(trained_project, COLUMNS_SPEC, **CorrectionConfig.paper().as_dict())
    cal_only_big = _correction(trained_project, COLUMNS_SPEC, train_split=False)
    default = _correction(trained_project, COLUMNS_SPEC)
    assert paper.params["n_images"] == 300 and default.params["n_images"] == 1617
    assert paper.arrays["w1"].shape == (10, 32) and "w3" not in paper.arrays  # the pre-issue-13 net
    # more images, not only more capacity, is what lifts it (measured: 0.744 / 0.78 / 0.81)
    assert default.after >= paper.after + 0.04
    assert default.after > cal_only_big.after
    assert default.before == paper.before <= 0.30


def test_max_images_takes_calibration_images_first(trained_project):
    few = _correction(trained_project, COLUMNS_SPEC, max_images=120, epochs=50)
    ds = trained_project.load_dataset()
    assert few.params["n_images"] == 120 and few.params["n_train_images"] == 0
    # the same net as one trained on the first 120 calibration images alone (standardized with their statistics)
    trained_project.load_dataset().y_cal = ds.y_cal[:120]
    trained_project.load_dataset().X_cal = ds.X_cal[:120]
    alone = _correction(trained_project, COLUMNS_SPEC, train_split=False, epochs=50)
    assert few.arrays.keys() == alone.arrays.keys()
    assert all(np.array_equal(few.arrays[k], alone.arrays[k]) for k in few.arrays)


def test_ensemble_averages_probabilities(trained_project):
    res = _correction(trained_project, COLUMNS_SPEC, ensemble=3, depth=1, hidden=16, epochs=100)
    assert {"w1", "m1_w1", "m2_w2", "m2_b2"} <= set(res.arrays) and "m3_w1" not in res.arrays
    ds = trained_project.load_dataset()
    from core.circuit import behavioral
    from core.circuit.fidelity import defective_conductances

    g, _ = defective_conductances(trained_project.mapped, [parse_spec(COLUMNS_SPEC)])
    v = behavioral.forward_voltages(trained_project.mapped, ds.X_test, g)
    p = apply_correction(res.arrays, v)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    # member 0 alone is the single net of the same seed
    single = _correction(trained_project, COLUMNS_SPEC, depth=1, hidden=16, epochs=100)
    assert np.array_equal(single.arrays["w1"], res.arrays["w1"])
    assert not np.array_equal(res.arrays["w1"], res.arrays["m1_w1"])  # members differ (seeds 0, 1, 2)
    assert res.after == pytest.approx(float(np.mean(np.argmax(p, 1) == ds.y_test)))
    assert res.params["n_parameters"] == 3 * n_parameters(10, 16, 1, 10)


def test_standardization_option_and_validation(trained_project):
    raw = _correction(trained_project, COLUMNS_SPEC, standardize=False, epochs=20)
    assert np.array_equal(raw.arrays["v_mean"], np.zeros(10)) and np.array_equal(raw.arrays["v_scale"], np.ones(10))
    std = _correction(trained_project, COLUMNS_SPEC, epochs=20)
    assert not np.array_equal(std.arrays["v_mean"], np.zeros(10))
    with pytest.raises(ParameterError):
        CorrectionConfig(depth=0)
    with pytest.raises(ParameterError):
        CorrectionConfig(train_split="yes")  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        jobs.run(recover_job(trained_project, [parse_spec(COLUMNS_SPEC)], "correction", width=3))


def test_diagnostic_names_the_hard_case(trained_project):
    from core.circuit.fidelity import defective_conductances
    from core.recovery.diagnostics import information_diagnostic

    mapped = trained_project.mapped
    ds = trained_project.load_dataset()
    healthy = information_diagnostic(mapped, mapped.conductances(), ds.X_cal)
    assert healthy.newly_dead_fraction == 0.0 and healthy.dead_per_layer == healthy.healthy_dead_per_layer
    # the paper network has dead ReLUs already: the count must match the software network's never-firing units
    from core.model.network import forward

    _, acts = forward(trained_project.weights.weights, trained_project.weights.biases, ds.X_cal, return_hidden=True)
    assert healthy.healthy_dead_per_layer[0] == int(np.sum(acts[0].max(axis=0) <= 0))
    hard = _correction(trained_project, HARD_SPEC, epochs=200)
    easy = _correction(trained_project, COLUMNS_SPEC, epochs=200)
    assert hard.params["diagnostic_newly_dead_fraction"] > 0 > -easy.params["diagnostic_newly_dead_fraction"] - 1
    assert hard.params["diagnostic_dead_per_layer"][0] > hard.params["diagnostic_healthy_dead_per_layer"][0]
    assert easy.params["diagnostic_newly_dead_fraction"] < hard.params["diagnostic_newly_dead_fraction"]
    # where information is lost the net cannot get it back: far below the healthy 0.917 despite 1,617 images
    assert hard.after < 0.6
    g, _ = defective_conductances(mapped, [parse_spec(HARD_SPEC)])
    assert information_diagnostic(mapped, g, ds.X_cal).as_dict() == {
        k[len("diagnostic_") :]: v for k, v in hard.params.items() if k.startswith("diagnostic_")
    }


def test_size_sweep_spans_50_to_5000_parameters(trained_project):
    from core.recovery.correction_sweeps import size_sweep_job

    sweep = jobs.run(size_sweep_job(trained_project, [parse_spec(COLUMNS_SPEC)], config=CorrectionConfig(epochs=150)))
    n = [p.n_parameters for p in sweep.points]
    assert n == sorted(n) and 45 <= n[0] <= 60 and 4000 <= n[-1] <= 5000
    assert [(p.hidden, p.depth) for p in sweep.points][0] == (2, 1)
    # the tiny net cannot separate ten classes from ten voltages; the larger ones do much better
    assert sweep.points[0].after < max(p.after for p in sweep.points) - 0.2
    assert sweep.before < 0.3 and all(p.n_images == 1617 for p in sweep.points)
    out = json.loads(json.dumps(sweep.as_dict()))
    assert out["kind"] == "size" and out["defect_specs"] == [parse_spec(COLUMNS_SPEC).to_spec()]
    assert out["config"]["epochs"] == 150 and "dead_fraction" in out["diagnostic"]


def test_data_sweep_nested_training_sets(trained_project):
    from core.recovery.correction_sweeps import data_sweep_job

    sweep = jobs.run(
        data_sweep_job(trained_project, [parse_spec(COLUMNS_SPEC)], n_images=(50, 300, None),
                       config=CorrectionConfig(epochs=300))
    )  # fmt: skip
    assert [p.n_images for p in sweep.points] == [50, 300, 1617]
    assert sweep.points[-1].after > sweep.points[0].after + 0.1
    # the point at 300 images is the calibration split alone: the same as train_split=False
    cal = _correction(trained_project, COLUMNS_SPEC, train_split=False, epochs=300)
    assert sweep.points[1].after == cal.after


def test_cli_correction_knobs(trained_project, tmp_path, capsys):
    from core import project_io
    from core.cli.main import main

    path = str(tmp_path / "p.h5")
    project_io.save(trained_project, path)
    args = ["recover", path, "--defect", COLUMNS_SPEC, "--method", "correction", "--json"]
    assert main([*args, "--hidden", "8", "--depth", "1", "--calibration-only", "--epochs", "50"]) == 0
    out = json.loads(capsys.readouterr().out)
    stored = project_io.load(path).recoveries[-1]
    assert stored.arrays["w1"].shape == (10, 8) and "w3" not in stored.arrays
    assert stored.params["n_images"] == 300 and stored.after == out["after"]["correction"]
    assert out["diagnostic"]["neurons_per_layer"] == [8, 8, 8]
    assert main([*args, "--ensemble", "2", "--train-images", "400", "--epochs", "30", "--no-save"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["saved"] is False
    assert main(["recover", path, "--defect", COLUMNS_SPEC, "--method", "remap", "--depth", "2"]) == 2
    assert "--depth" in capsys.readouterr().err
    assert main([*args, "--probes", "twice", "--no-save"]) == 2
    err = capsys.readouterr().err
    assert "--probes" in err and "amplitude" in err
    assert main(["recover", path, "--defect", COLUMNS_SPEC, "--method", "retrain", "--probes", "shift"]) == 2
    assert "--probes" in capsys.readouterr().err
    assert main([*args, "--probes", "shift", "--calibration-only", "--epochs", "30", "--no-save"]) == 0
    assert json.loads(capsys.readouterr().out)["before"] == out["before"]


def test_probe_inputs_amplitude_and_shift():
    from core.recovery.correction import PROBE_AMPLITUDES, probe_inputs

    X = np.arange(18, dtype=float).reshape(2, 9) / 17.0  # two 3x3 images
    (only,) = probe_inputs(X, "none")
    assert np.array_equal(only, X)
    amp = probe_inputs(X, "amplitude")
    assert len(amp) == len(PROBE_AMPLITUDES) and np.array_equal(amp[0], X)
    np.testing.assert_allclose(amp[1], 0.4 * X)
    shifts = probe_inputs(X, "shift")
    assert len(shifts) == 5 and np.array_equal(shifts[0], X)
    img, moved = X[0].reshape(3, 3), shifts[1][0].reshape(3, 3)  # (0, +1): one column to the right, zero fill
    assert np.array_equal(moved[:, 1:], img[:, :-1]) and np.all(moved[:, 0] == 0)
    down = shifts[3][0].reshape(3, 3)  # (+1, 0): one row down
    assert np.array_equal(down[1:], img[:-1]) and np.all(down[0] == 0)
    with pytest.raises(ParameterError, match="square"):
        probe_inputs(np.zeros((2, 10)), "shift")
    with pytest.raises(ParameterError, match="probes"):
        CorrectionConfig(probes="twice")


def test_amplitude_probes_read_railed_information(trained_project):
    """Reading each image again at 0.4 and 0.15 of its amplitude takes array 1's railed TIAs out of the rails."""
    from core.circuit import behavioral
    from core.circuit.fidelity import defective_conductances

    one = _correction(trained_project, HARD_SPEC, epochs=200)
    amp = _correction(trained_project, HARD_SPEC, epochs=200, probes="amplitude")
    # the plain read is the first probe: "before" is the uncorrected circuit's, as without probes
    assert amp.before == one.before and amp.params["n_reads"] == 3 and one.params["n_reads"] == 1
    assert amp.arrays["w1"].shape == (30, 64) and amp.params["n_images"] == one.params["n_images"] == 1617
    ds = trained_project.load_dataset()
    g, _ = defective_conductances(trained_project.mapped, [parse_spec(HARD_SPEC)])
    v = np.concatenate(
        [behavioral.forward_voltages(trained_project.mapped, a * ds.X_test, g) for a in (1, 0.4, 0.15)], 1
    )
    assert amp.after == pytest.approx(float(np.mean(np.argmax(apply_correction(amp.arrays, v), 1) == ds.y_test)))
    # measured (seed 0, 200 epochs): 0.456 -> 0.728 (+0.27); asserted +0.15 leaves 0.12 for platform rounding
    assert amp.after >= one.after + 0.15


def test_probes_in_generalization_and_sweeps(trained_project):
    """Every job that reads voltages honours ``probes``; "before" is always the plain read's accuracy."""
    from core.recovery.correction import generalization_job
    from core.recovery.correction_sweeps import data_sweep_job

    cfg = CorrectionConfig.paper(epochs=20, probes="amplitude")
    train = {"columns": [parse_spec(COLUMNS_SPEC)]}
    held = {"hard": [parse_spec(HARD_SPEC)]}
    one = jobs.run(generalization_job(trained_project, train, held, config=CorrectionConfig.paper(epochs=20)))
    amp = jobs.run(generalization_job(trained_project, train, held, config=cfg))
    assert amp.arrays["w1"].shape == (30, 32) and one.arrays["w1"].shape == (10, 32)
    assert amp.before == one.before and amp.params["held_out"][0]["before"] == one.params["held_out"][0]["before"]
    assert [t["before"] for t in amp.params["trained_on"]] == [t["before"] for t in one.params["trained_on"]]
    sweep = jobs.run(data_sweep_job(trained_project, [parse_spec(HARD_SPEC)], n_images=(100,), config=cfg))
    plain = _correction(trained_project, HARD_SPEC, epochs=20)
    assert sweep.before == plain.before and sweep.config["probes"] == "amplitude"
