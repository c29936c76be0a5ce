"""Defaults and ranges are declared once, on the core's dataclasses, and every front end reads them there."""

from __future__ import annotations

import dataclasses

import pytest

from core.cli.main import build_parser
from core.errors import ParameterError
from core.model.devices import CircuitParams, DeviceParams
from core.model.network import TrainConfig
from core.model.params import ranged_fields, spec_of
from core.recovery.correction import CorrectionConfig
from core.recovery.retrain import RetrainConfig


@pytest.mark.parametrize("cls", [TrainConfig, DeviceParams, CircuitParams, CorrectionConfig, RetrainConfig])
def test_every_ranged_field_accepts_its_default_and_refuses_just_outside(cls):
    specs = ranged_fields(cls)
    assert specs, f"{cls.__name__} declares no ranged field"
    base = cls()
    for s in specs:
        assert getattr(base, s.name) == s.default
        for bad in ([s.hi * 1.5 + 1] if s.hi is not None else []) + ([s.lo - 1] if s.lo is not None else []):
            kwargs = {s.name: int(bad) if s.integer else bad}
            with pytest.raises(ParameterError) as e:
                cls(**kwargs)
            assert str(e.value).startswith(f"{s.name}: must be") and f"{s.hi:g}" in str(e.value)


def test_validation_converts_text_and_names_the_range():
    assert TrainConfig(epochs="12").epochs == 12  # text from a form field becomes an int
    with pytest.raises(ParameterError, match=r"epochs: must be an integer in \[1, 100000\], got '1.5'"):
        TrainConfig(epochs="1.5")
    assert spec_of(CircuitParams, "r_wire_ohm").describe() == "number in [0, 10000] (ohm)"
    assert spec_of(DeviceParams, "v_read_volt").describe() == "number in (0, 5] (V)"


def test_cli_defaults_are_the_dataclass_defaults():
    args = build_parser().parse_args(["new", "x.h5"])
    dev = DeviceParams()
    assert (args.r_on, args.r_off, args.levels, args.v_read) == (
        dev.r_on_ohm,
        dev.r_off_ohm,
        dev.levels,
        dev.v_read_volt,
    )
    assert args.seed == TrainConfig().seed
    # a changed default would show in the CLI at once: the parser reads the field, not a copy
    field = next(f for f in dataclasses.fields(DeviceParams) if f.name == "r_on_ohm")
    assert field.default == args.r_on


def test_wilson_interval_against_hand_arithmetic():
    from core.model.stats import wilson_interval

    # 150 of 180 (p = 0.8333): centre (p + z^2/360) / (1 + z^2/180) = 0.82638, half-width 0.05432
    lo, hi = wilson_interval(150, 180)
    assert lo == pytest.approx(0.77205, abs=1e-5) and hi == pytest.approx(0.88069, abs=1e-5)
    # 0 of 10: the upper end is z^2 / (n + z^2) = 3.8415 / 13.8415 = 0.27753
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.27753, abs=1e-5))
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
