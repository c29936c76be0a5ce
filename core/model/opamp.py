"""Non-ideal op-amp macro-model parameters, shared by every fidelity, and seeded per-op-amp input offsets.

Every op-amp of the circuit (each column's TIA, each neuron's stage-2 amplifier and, with
``differential-rows``, each -V row inverter) is the same DC macro-model::

    v+ ---[V_os]---+
                   |  e = clamp(A (v+ + V_os - v-), -V_sat, +V_sat)     V_sat = v_rail - swing_margin
    v- ---+--------+  output = e behind R_o (a series output resistance)
          |
         I_b (drawn out of the inverting input)

``A`` is :attr:`core.model.devices.CircuitParams.opamp_gain` and ``v_rail`` its ``v_rail_volt``; the rest is
:class:`OpAmpParams`. With every field at its default (no offset, no bias current, no margin, ``R_o = 0``) this
is exactly the ideal-DC macro-model used before these parameters existed, and every fidelity takes its old code
path, so results are bit-for-bit unchanged. The -V row inverters of ``differential-rows`` get offset, bias
current, finite gain and swing, but no ``R_o`` (they are the row drivers; a driver output resistance belongs to
the wiring model). ``gbw_hz`` and ``slew_volt_per_s`` (a dominant pole and a slew limit) exist only at SPICE
fidelity and change no DC result.

Offsets (:func:`sample_offsets`): op-amp ``pos`` of kind ``kind`` (``tia``, ``stage2``, ``inverter``) on array
``array`` (1-based) gets ``sigma * z`` with ``z`` a standard normal drawn from
``numpy.random.default_rng([OFFSET_TAG, seed, array, crc32(kind), pos])``: deterministic, the same in every
fidelity, process and Dask worker, and the same ``z`` for every sigma (common random numbers, so accuracy
against sigma is a paired comparison). Offsets may instead be given explicitly as :class:`OpAmpOffsets` arrays
(:attr:`core.model.crossbar.MappedNetwork.offsets`).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.errors import ParameterError
from core.model.params import ranged, validate

OFFSET_TAG = zlib.crc32(b"opamp-offset")
OFFSET_KINDS = ("tia", "stage2", "inverter")
MAX_OFFSET_SIGMA_VOLT = 0.1


@dataclass(frozen=True)
class OpAmpParams:
    """Op-amp non-idealities beyond finite gain and rails (module docstring); defaults are the ideal DC model.

    Attributes
    ----------
    offset_sigma_volt, offset_seed
        Input offset voltage of every op-amp: normal with this sigma, drawn per op-amp from the seed.
    bias_current_amp
        Input bias current drawn out of every inverting input (signed).
    swing_margin_volt
        The output swings to ``+-(v_rail - margin)`` instead of the rails.
    r_out_ohm
        Series output resistance of every TIA and stage-2 amplifier.
    gbw_hz, slew_volt_per_s
        SPICE only: gain-bandwidth product (a dominant pole at ``gbw / A``) and slew rate; 0 = none.
    """

    offset_sigma_volt: float = ranged(
        0.0, 0.0, MAX_OFFSET_SIGMA_VOLT, unit="V", label="Op-amp offset sigma", help="input offset, per op-amp"
    )
    offset_seed: int = ranged(0, 0, 2**32 - 1, integer=True, label="Offset seed")
    bias_current_amp: float = ranged(0.0, -1e-3, 1e-3, unit="A", label="Input bias current", help="into v-")
    swing_margin_volt: float = ranged(0.0, 0.0, 100.0, unit="V", label="Swing margin", help="below each rail")
    r_out_ohm: float = ranged(0.0, 0.0, 1e6, unit="ohm", label="Output resistance")
    gbw_hz: float = ranged(0.0, 0.0, 1e12, unit="Hz", label="Gain-bandwidth", help="SPICE only; 0 = no pole")
    slew_volt_per_s: float = ranged(0.0, 0.0, 1e15, unit="V/s", label="Slew rate", help="SPICE only; 0 = none")

    def __post_init__(self) -> None:
        validate(self)

    @property
    def dc_ideal(self) -> bool:
        """No offset sigma, bias current, swing margin or output resistance (GBW and slew change no DC value)."""
        return (
            self.offset_sigma_volt == 0
            and self.bias_current_amp == 0
            and self.swing_margin_volt == 0
            and self.r_out_ohm == 0
        )

    @property
    def dynamic(self) -> bool:
        """A dominant pole or a slew limit is set (SPICE only)."""
        return self.gbw_hz > 0 or self.slew_volt_per_s > 0

    def v_sat(self, v_rail_volt: float) -> float:
        """The output limit ``v_rail - swing_margin`` (ParameterError if the margin leaves no swing)."""
        if self.swing_margin_volt >= v_rail_volt:
            raise ParameterError(
                "swing_margin_volt", f"must be below the rail ({v_rail_volt:g} V), got {self.swing_margin_volt:g}"
            )
        return v_rail_volt - self.swing_margin_volt

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def changes(self) -> dict:
        """The fields that differ from the defaults (what a result records)."""
        ideal = OpAmpParams()
        return {k: v for k, v in self.to_dict().items() if v != getattr(ideal, k)}


@dataclass
class OpAmpOffsets:
    """Input offsets (V) of one crossbar's op-amps; each array may carry leading batch dimensions.

    ``tia`` (..., cols): one per column TIA; ``stage2`` (..., n_out): one per neuron's stage-2 amplifier;
    ``inverter`` (..., n_in): one per -V row inverter (``differential-rows``; size 0 otherwise).
    """

    tia: np.ndarray
    stage2: np.ndarray
    inverter: np.ndarray

    def check(self, counts: tuple[int, int, int], array: int) -> OpAmpOffsets:
        """Validated float copies for an array with ``counts`` = (cols, n_out, n_inverters) op-amps."""
        out = []
        for name, n in zip(OFFSET_KINDS, counts):
            a = np.asarray(getattr(self, name), dtype=np.float64)
            if a.ndim == 0 or a.shape[-1] != n or not np.all(np.isfinite(a)):
                raise ParameterError(
                    "offsets", f"array {array}: {name} offsets must be finite, last axis {n}; got shape {a.shape}"
                )
            out.append(a)
        return OpAmpOffsets(*out)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(np.broadcast_shapes(*(np.shape(getattr(self, k))[:-1] for k in OFFSET_KINDS)))


@functools.lru_cache(maxsize=1 << 16)
def offset_normal(seed: int, array: int, kind: str, pos: int) -> float:
    """The standard normal ``z`` of op-amp ``pos`` of ``kind`` on ``array`` (1-based) for ``seed``."""
    rng = np.random.default_rng([OFFSET_TAG, int(seed), int(array), zlib.crc32(kind.encode()), int(pos)])
    return float(rng.standard_normal())


def sample_offsets(counts: Sequence[tuple[int, int, int]], sigma: float, seed: int) -> list[OpAmpOffsets]:
    """Offsets ``sigma * z`` of every op-amp of a network whose arrays have ``counts`` (cols, n_out, inverters)."""
    out = []
    for a, n in enumerate(counts, 1):
        z = [np.array([offset_normal(seed, a, kind, p) for p in range(k)]) for kind, k in zip(OFFSET_KINDS, n)]
        out.append(OpAmpOffsets(*(sigma * v for v in z)))
    return out


def stack_offsets(per_map: Sequence[Optional[Sequence[OpAmpOffsets]]], counts) -> list[OpAmpOffsets]:
    """One batched :class:`OpAmpOffsets` per array from per-map offsets (None: all zero), batch axis first."""
    out = []
    for a, n in enumerate(counts):
        fields = []
        for kind, k in zip(OFFSET_KINDS, n):
            rows = [np.zeros(k) if m is None else np.asarray(getattr(m[a], kind), dtype=np.float64) for m in per_map]
            fields.append(np.stack(rows))
        out.append(OpAmpOffsets(*fields))
    return out


_SI = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "meg": 1e6, "g": 1e9}


def parse_quantity(text, field: str, unit: str = "v") -> float:
    """``0.5m``, ``500u``, ``2mV``, ``1e-3`` (SPICE-style suffixes f p n u m k meg g; ``m`` is milli) to a float."""
    t = str(text).strip().lower().replace(" ", "")
    if unit and t.endswith(unit):
        t = t[: -len(unit)]
    m = re.fullmatch(r"([+-]?[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)(meg|[fpnuµmkg])?", t)
    if not m:
        raise ParameterError(field, f"must be a number with an optional suffix such as 0.5m or 500u; got {text!r}")
    if unit == "ohm" and m.group(2) == "m":  # as for stuck resistances: a milliohm is never meant, 1M is a typo
        raise ParameterError(field, f"suffix 'm' is milli (as in SPICE); write 'meg' for megaohm; got {text!r}")
    return float(m.group(1)) * _SI[m.group(2) or ""]


def parse_quantity_list(text, field: str, unit: str = "v") -> tuple[float, ...]:
    """A comma-separated list of :func:`parse_quantity` values."""
    items = [t for t in str(text).split(",") if t.strip()]
    if not items:
        raise ParameterError(field, f"must be a comma-separated list; got {text!r}")
    return tuple(parse_quantity(t, field, unit) for t in items)
