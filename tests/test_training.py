"""Real training with torch: targets, determinism, progress and cancel."""

import numpy as np
import pytest

from core import jobs
from core.jobs import Cancelled, CancelToken
from core.ml.training import train_job
from core.model import data, network


@pytest.fixture(scope="module")
def digits():
    return data.load(data.DatasetSpec(seed=0))


def test_paper_preset_reaches_target(trained_project):
    hist = trained_project.weights.history
    assert trained_project.network.layer_sizes == (64, 8, 8, 8, 10)
    assert hist["test_accuracy"][-1] >= 0.90
    assert len(hist["loss"]) == trained_project.training.epochs
    assert hist["loss"][-1] < hist["loss"][0] / 5


def test_wide_preset_reaches_target(digits):
    w = jobs.run(train_job(digits, network.NetworkConfig.preset("wide"), network.TrainConfig(seed=0)))
    assert [x.shape for x in w.weights] == [(64, 32), (32, 32), (32, 16), (16, 10)]
    assert w.history["test_accuracy"][-1] >= 0.95


def test_training_is_deterministic_and_reports_every_epoch(digits):
    cfg, tc = network.NetworkConfig.preset("paper"), network.TrainConfig(seed=5, epochs=4)
    seen = []
    a = jobs.run(train_job(digits, cfg, tc), on_progress=seen.append)
    b = jobs.run(train_job(digits, cfg, tc))
    c = jobs.run(train_job(digits, cfg, network.TrainConfig(seed=6, epochs=4)))
    assert [p.done for p in seen] == [1, 2, 3, 4] and all(p.total == 4 for p in seen)
    assert "loss" in seen[-1].partial and len(seen[-1].partial["loss"]) == 4
    for x, y in zip(a.weights, b.weights):
        assert np.array_equal(x, y)
    assert not np.array_equal(a.weights[0], c.weights[0])


def test_cancel_stops_training_and_keeps_partial_history(digits):
    token = CancelToken()

    def on_progress(p):
        if p.done == 2:
            token.cancel()

    with pytest.raises(Cancelled) as e:
        jobs.run(
            train_job(digits, network.NetworkConfig.preset("paper"), network.TrainConfig(epochs=50)),
            on_progress=on_progress,
            cancel=token,
        )
    assert len(e.value.partial["loss"]) == 2


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"epochs": 0}, r"epochs: must be in \[1, 100000\]"),
        ({"learning_rate": -1}, "learning_rate"),
        ({"batch_size": 2.5}, "batch_size: must be an integer"),
    ],
)
def test_bad_training_parameters(kwargs, message):
    from core.errors import ParameterError

    with pytest.raises(ParameterError, match=message):
        network.TrainConfig(**kwargs)


def test_hidden_layer_parsing():
    from core.errors import ParameterError

    assert network.parse_hidden("16,8,4") == (16, 8, 4)
    with pytest.raises(ParameterError, match="exactly 3"):
        network.parse_hidden("8,8")
    with pytest.raises(ParameterError, match="three comma-separated integers"):
        network.parse_hidden("8,x,8")


def test_followup_preset_is_the_2025_networks_shape_and_maps_to_four_arrays(tmp_path):
    """`--preset followup` is the follow-up study's 64-50-20-8-10 network, trained and mapped like the others."""
    from core import jobs
    from core.ml.new_project import create_project_job
    from core.model.data import DatasetSpec
    from core.model.network import NetworkConfig, TrainConfig

    net = NetworkConfig.preset("followup")
    assert net.layer_sizes == (64, 50, 20, 8, 10)
    p = jobs.run(create_project_job(DatasetSpec(seed=0), net, TrainConfig(epochs=30, seed=0)))
    assert p.mapped.shapes == [(65, 100), (51, 40), (21, 16), (9, 20)]
    assert p.weights.history["test_accuracy"][-1] >= 0.85
