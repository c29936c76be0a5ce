"""Device and circuit parameters shared by every fidelity (behavioural, nodal, ngspice).

All values in SI units. The same objects parameterise the behavioural model and the SPICE netlist, so the two
cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np

from core.errors import ParameterError
from core.model.params import ranged, validate

DEVICE_MODELS = ("linear", "gap", "va-gap")
# the device models with the gap I-V (``va-gap``: the same physics compiled from Verilog-A, resources/va/rram_gap.va)
GAP_IV_MODELS = ("gap", "va-gap")
# the gap range (m) of the Stanford-style RRAM compact model the gap devices follow; a mapping whose
# programmed window needs gaps outside it is rejected (:meth:`DeviceParams.check_gap_window`)
GAP_RANGE_M = (0.2e-9, 1.7e-9)
# mapping schemes; their physical layouts and programming rules: core.model.crossbar and core.circuit.mapping
SCHEMES = ("differential-columns", "differential-rows", "balanced", "reference")
# the CircuitParams fields that describe wires (see CircuitParams and Wires)
WIRE_FIELDS = ("r_wire_ohm", "r_word_line_ohm", "r_bit_line_ohm", "r_driver_ohm", "r_tia_in_ohm")


@dataclass
class DeviceParams:
    """ReRAM device parameters.

    Attributes
    ----------
    r_on_ohm, r_off_ohm
        Low (LRS, stuck-on) and high (HRS, stuck-off) resistance state.
    levels
        Number of programmable conductance levels between HRS and LRS; 0 means continuous.
    v_read_volt
        Input voltage for a feature value of 1 (inputs span [0, v_read]); also the bias-row voltage.
    model
        ``"linear"`` (ohmic resistor), ``"gap"``: I = I0 exp(-gap/g0) sinh(V/V0), the Stanford RRAM
        compact model's static I-V, with weights mapped to gaps, or ``"va-gap"``: the same I-V written in
        Verilog-A (``resources/va/rram_gap.va``), compiled with OpenVAF and loaded by ngspice as an OSDI device
        at SPICE fidelity (:mod:`core.circuit.spice.osdi`); the behavioural and nodal fidelities solve it
        exactly as ``gap`` (:attr:`uses_gap_iv`).
    i0_amp, g0_m, v0_volt
        Parameters of the gap I-V. A device of small-signal conductance g has the I-V g V0 sinh(V/V0) whatever
        I0: I0 only sets which gaps the window needs. The default 0.2 mA puts the default window (10 kOhm ..
        1 MOhm) at 0.52 .. 1.67 nm, inside :data:`GAP_RANGE_M`.
    """

    r_on_ohm: float = ranged(10e3, 1.0, 1e9, unit="ohm", label="LRS (stuck-on) resistance")
    r_off_ohm: float = ranged(1e6, 1.0, 1e12, unit="ohm", label="HRS (stuck-off) resistance")
    levels: int = ranged(0, 0, 65536, integer=True, label="Conductance levels", help="0 = continuous, else >= 2")
    v_read_volt: float = ranged(
        0.2, 0.0, 5.0, lo_open=True, unit="V", label="Read voltage", help="input voltage for a feature value of 1"
    )
    model: str = "linear"
    i0_amp: float = ranged(2e-4, 0, 1, lo_open=True, unit="A", label="Gap model I0")
    g0_m: float = ranged(0.25e-9, 0, 1e-6, lo_open=True, unit="m", label="Gap model g0")
    v0_volt: float = ranged(0.25, 0, 10, lo_open=True, unit="V", label="Gap model V0")

    def __post_init__(self) -> None:
        validate(self)
        if self.r_off_ohm <= self.r_on_ohm:
            raise ParameterError(
                "r_off_ohm", f"must be larger than r_on_ohm ({self.r_on_ohm:g}), got {self.r_off_ohm:g}"
            )
        if self.levels == 1:
            raise ParameterError("levels", "must be 0 (continuous) or >= 2, got 1")
        if self.model not in DEVICE_MODELS:
            raise ParameterError("device model", f"must be one of {', '.join(DEVICE_MODELS)}; got {self.model!r}")

    @property
    def uses_gap_iv(self) -> bool:
        """Whether the device follows the gap I-V (``gap`` and ``va-gap``); the gap range rules apply to both."""
        return self.model in GAP_IV_MODELS

    @property
    def g_on_siemens(self) -> float:
        return 1.0 / self.r_on_ohm

    @property
    def g_off_siemens(self) -> float:
        return 1.0 / self.r_off_ohm

    @property
    def g_mid_siemens(self) -> float:
        """Middle of the window, (g_on + g_off) / 2: where ``balanced`` and ``reference`` put a zero weight."""
        return 0.5 * (self.g_on_siemens + self.g_off_siemens)

    def quantize(self, g: np.ndarray) -> np.ndarray:
        """Snap conductances to ``levels`` evenly spaced levels between HRS and LRS (no-op if continuous)."""
        if self.levels == 0:
            return g
        lo, hi = self.g_off_siemens, self.g_on_siemens
        step = (hi - lo) / (self.levels - 1)
        return lo + np.round((g - lo) / step) * step

    # --- gap model: small-signal conductance at V -> 0 is I0 exp(-gap/g0) / V0 ---
    def check_gap_window(self) -> None:
        """Raise ParameterError unless the window's gaps (HRS: widest, LRS: narrowest) lie in GAP_RANGE_M."""
        lo, hi = GAP_RANGE_M
        g_hrs = -self.g0_m * math.log(self.g_off_siemens * self.v0_volt / self.i0_amp)
        g_lrs = -self.g0_m * math.log(self.g_on_siemens * self.v0_volt / self.i0_amp)
        where = f"the gap model's range [{lo * 1e9:g}, {hi * 1e9:g}] nm (with i0_amp {self.i0_amp:g} A)"
        if g_hrs > hi * (1 + 1e-12):
            raise ParameterError(
                "r_off_ohm",
                f"{self.r_off_ohm:g} ohm needs a {g_hrs * 1e9:.3g} nm gap, beyond {where}; lower r_off_ohm or "
                f"raise i0_amp to at least {self.g_off_siemens * self.v0_volt * math.exp(hi / self.g0_m):.3g}",
            )
        if g_lrs < lo * (1 - 1e-12):
            raise ParameterError(
                "r_on_ohm",
                f"{self.r_on_ohm:g} ohm needs a {g_lrs * 1e9:.3g} nm gap, below {where}; raise r_on_ohm "
                f"or lower i0_amp to at most {self.g_on_siemens * self.v0_volt * math.exp(lo / self.g0_m):.3g}",
            )

    def fitted_to_gap_range(self) -> DeviceParams:
        """This device, or (if its window needs gaps outside GAP_RANGE_M) a copy with ``i0_amp`` chosen so the
        HRS sits at the widest gap. I0 only relabels the gaps (module docstring): no current changes. The
        window itself must fit (r_off / r_on <= exp(1.5 nm / g0), 403 at g0 = 0.25 nm): checked after."""
        try:
            self.check_gap_window()
            return self
        except ParameterError:
            i0 = self.g_off_siemens * self.v0_volt * math.exp(GAP_RANGE_M[1] / self.g0_m)
            fitted = dataclasses.replace(self, i0_amp=min(1.0, i0))
            fitted.check_gap_window()
            return fitted

    def gap_from_conductance(self, g: np.ndarray) -> np.ndarray:
        """Gap (m) whose small-signal conductance equals ``g`` (S)."""
        return -self.g0_m * np.log(np.asarray(g) * self.v0_volt / self.i0_amp)


@dataclass
class CircuitParams:
    """Neuron and wiring parameters.

    Each neuron is a transimpedance amplifier (TIA) per crossbar column followed by a difference amplifier of
    gain ``k`` (of its G- and G+ TIAs; with ``reference``, of the array's reference-column TIA and its own; with
    ``differential-rows`` an inverting amplifier) and, on hidden layers, an analog ReLU. Op-amps
    are single-pole-free macro-models with open-loop gain ``opamp_gain`` and outputs limited to
    +-``v_rail_volt``; further non-idealities (offset, bias current, swing margin, output resistance, pole,
    slew) are :class:`core.model.opamp.OpAmpParams` on the mapped network, set per evaluation. Per-layer
    feedback resistances and gains are chosen at mapping time so that the largest activation seen on the
    training set uses ``headroom`` of the rail.

    Wires (nodal and SPICE fidelities; the behavioural fidelity ignores them): word line ``i`` runs row driver
    -``r_driver_ohm``- cell (i,0) -r_wl- cell (i,1) ... -r_wl- cell (i,cols-1), open at the far end; bit line
    ``j`` runs cell (0,j) -r_bl- cell (1,j) ... -r_bl- cell (rows-1,j) -r_bl- -``r_tia_in_ohm``- the TIA's
    inverting input. One rule gives the segment resistances: ``r_wl = r_word_line_ohm`` if it is >= 0, else
    ``r_wire_ohm`` (the default ``-1`` means "same as ``r_wire_ohm``"), likewise ``r_bl`` from
    ``r_bit_line_ohm``. So ``r_wire_ohm`` keeps meaning "both lines" for old project files and command lines,
    and a line given its own value ignores it. :attr:`wires` holds the four effective values; with all of them
    0 the wires are ideal.
    """

    v_rail_volt: float = ranged(5.0, 0.1, 100, unit="V", label="Op-amp rails (+-)")
    opamp_gain: float = ranged(1e5, 10, 1e9, label="Op-amp open-loop gain")
    headroom: float = ranged(0.8, 0.01, 1.0, label="Headroom", help="share of the rail the largest activation uses")
    r_wire_ohm: float = ranged(
        0.0,
        0.0,
        1e4,
        unit="ohm",
        label="Wire segment resistance",
        help="per cell on word and bit lines (unless a line has its own value); used by the nodal and spice fidelities",
    )
    r_word_line_ohm: float = ranged(
        -1.0,
        -1.0,
        1e4,
        unit="ohm",
        label="Word-line segment (-1: as wire)",
        help="per cell on each word line; -1 = the wire segment resistance",
        optional=True,
    )
    r_bit_line_ohm: float = ranged(
        -1.0,
        -1.0,
        1e4,
        unit="ohm",
        label="Bit-line segment (-1: as wire)",
        help="per cell on each bit line; -1 = the wire segment resistance",
        optional=True,
    )
    r_driver_ohm: float = ranged(
        0.0,
        0.0,
        1e4,
        unit="ohm",
        label="Row-driver output resistance",
        help="between each row source and its word line's first segment",
        optional=True,
    )
    r_tia_in_ohm: float = ranged(
        0.0,
        0.0,
        1e4,
        unit="ohm",
        label="TIA input resistance",
        help="between each bit line's last segment and its TIA's inverting input",
        optional=True,
    )
    r_stage2_ohm: float = ranged(10e3, 1.0, 1e9, unit="ohm", label="Stage-2 input resistance")

    def __post_init__(self) -> None:
        validate(self)
        for name in ("r_word_line_ohm", "r_bit_line_ohm"):
            value = getattr(self, name)
            if -1.0 < value < 0.0:
                raise ParameterError(name, f"must be -1 (same as r_wire_ohm) or in [0, 10000] (ohm), got {value:g}")

    @property
    def wires(self) -> Wires:
        """The effective wire resistances (the rule in the class docstring)."""
        return Wires(
            self.r_word_line_ohm if self.r_word_line_ohm >= 0 else self.r_wire_ohm,
            self.r_bit_line_ohm if self.r_bit_line_ohm >= 0 else self.r_wire_ohm,
            self.r_driver_ohm,
            self.r_tia_in_ohm,
        )

    def with_wires(self, **overrides: Optional[float]) -> CircuitParams:
        """A copy with the given wire fields (``r_wire_ohm``, ``r_word_line_ohm``, ...) replaced; None keeps one."""
        unknown = set(overrides) - set(WIRE_FIELDS)
        if unknown:
            raise ParameterError(sorted(unknown)[0], f"is not a wire field; one of {', '.join(WIRE_FIELDS)}")
        changes = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **changes) if changes else self

    def wire_changes(self) -> dict:
        """The wire fields beyond ``r_wire_ohm`` that differ from their defaults (recorded with results)."""
        fields = {f.name: f.default for f in dataclasses.fields(self)}
        return {k: getattr(self, k) for k in WIRE_FIELDS[1:] if getattr(self, k) != fields[k]}

    def tia_factor(self, r_f_ohm, g_sum_siemens):
        """v_out = -I * tia_factor for a TIA with finite gain A whose input node sees ``g_sum`` to ground.

        From KCL at the inverting input with v_out = -A v_n:
        v_out = -I / (1/R_f + (G_sum + 1/R_f) / A).
        """
        a = self.opamp_gain
        return 1.0 / (1.0 / r_f_ohm + (g_sum_siemens + 1.0 / r_f_ohm) / a)

    def stage2_factor(self, k: float) -> float:
        """Closed-loop gain of a difference/inverting amplifier of nominal gain k with finite open-loop gain."""
        a = self.opamp_gain
        return k * a / (a + 1.0 + k)

    def inverter_factor(self) -> float:
        """Gain magnitude of the unity-gain inverting amplifier that drives -V rows (differential-rows)."""
        return self.stage2_factor(1.0)


@dataclass(frozen=True)
class Wires:
    """Effective wire resistances of a crossbar (ohm; topology in :class:`CircuitParams`).

    Attributes
    ----------
    word_line_ohm, bit_line_ohm
        Resistance of one word-line (row) and one bit-line (column) segment per cell.
    driver_ohm
        Row-driver output resistance, in series with the first word-line segment.
    tia_in_ohm
        TIA input resistance, in series with the last bit-line segment.
    """

    word_line_ohm: float = 0.0
    bit_line_ohm: float = 0.0
    driver_ohm: float = 0.0
    tia_in_ohm: float = 0.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value) and value >= 0):
                raise ParameterError(f.name, f"must be a finite resistance >= 0 ohm, got {value!r}")

    @classmethod
    def of(cls, r: Union[float, Wires]) -> Wires:
        """``r`` itself, or a uniform wire resistance ``r`` on both lines (no driver or TIA input resistance)."""
        if isinstance(r, Wires):
            return r
        if isinstance(r, bool) or not isinstance(r, (int, float, np.floating)) or not (math.isfinite(r) and r >= 0):
            raise ParameterError("r_wire_ohm", f"must be a finite resistance >= 0 ohm, got {r!r}")
        return cls(float(r), float(r))

    @property
    def ideal(self) -> bool:
        """All four resistances are 0: every device joins its driver straight to its TIA input."""
        return self.word_line_ohm == 0 and self.bit_line_ohm == 0 and self.driver_ohm == 0 and self.tia_in_ohm == 0

    @property
    def uniform(self) -> bool:
        """Only ``r_wire_ohm`` in use: equal segments on both lines, no driver or TIA input resistance."""
        return self.word_line_ohm == self.bit_line_ohm and self.driver_ohm == 0 and self.tia_in_ohm == 0
