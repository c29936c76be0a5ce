"""Device and circuit parameters shared by every fidelity (behavioural, nodal, ngspice).

All values in SI units. The same objects parameterise the behavioural model and the SPICE netlist, so the two
cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from core.errors import ParameterError
from core.model.params import ranged, validate

DEVICE_MODELS = ("linear", "gap")
# the gap range (m) of the Stanford-style RRAM compact model the ``gap`` device follows; a mapping whose
# programmed window needs gaps outside it is rejected (:meth:`DeviceParams.check_gap_window`)
GAP_RANGE_M = (0.2e-9, 1.7e-9)
# mapping schemes; their physical layouts and programming rules: core.model.crossbar and core.circuit.mapping
SCHEMES = ("differential-columns", "differential-rows", "balanced", "reference")


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
        ``"linear"`` (ohmic resistor) or ``"gap"``: I = I0 exp(-gap/g0) sinh(V/V0), the Stanford RRAM
        compact model's static I-V, with weights mapped to gaps.
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
        help="per cell on word and bit lines; used by the nodal and spice fidelities",
    )
    r_stage2_ohm: float = ranged(10e3, 1.0, 1e9, unit="ohm", label="Stage-2 input resistance")

    def __post_init__(self) -> None:
        validate(self)

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
