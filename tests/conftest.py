"""Shared fixtures: one real trained project per test session (training is real and takes a few seconds)."""

from __future__ import annotations

import copy
import os
import shutil

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def _trained_paper():
    from core import jobs
    from core.ml.new_project import create_project_job
    from core.model.data import DatasetSpec
    from core.model.network import NetworkConfig, TrainConfig

    return jobs.run(create_project_job(DatasetSpec(seed=0), NetworkConfig.preset("paper"), TrainConfig(seed=0)))


@pytest.fixture
def trained_project(_trained_paper):
    """A fresh deep copy of the `paper` preset project (seed 0), trained and mapped; safe to modify."""
    return copy.deepcopy(_trained_paper)


@pytest.fixture
def saved(trained_project, tmp_path):
    """Path of a saved copy of the trained project holding one of everything (project_builders.add_everything)."""
    from core import project_io
    from project_builders import add_everything

    path = str(tmp_path / "p.h5")
    project_io.save(add_everything(trained_project), path)
    return path


@pytest.fixture(scope="session")
def ngspice_path():
    """Path of the ngspice executable, or skip with the install command."""
    path = shutil.which("ngspice")
    if path is None:
        pytest.skip("ngspice not installed: run `make test` as root, or `apt-get install ngspice`")
    return path
