"""Device variability (programming error, read noise, drift) and stuck values apart from the programmed window.

Every healthy (non-stuck) cell of conductance ``G0`` as programmed by the mapping is evaluated at::

    G = G0 * exp(s_p z_p) * (t / t0)^(-nu) * (1 + s_r z_r)

``s_p`` (``program_sigma``) is the programming error, **lognormal** (median ``G0``, not clipped to the window;
the relative standard deviation is ``sqrt(exp(s_p^2) - 1)``, about ``s_p`` for small ``s_p``). ``nu`` and ``t``
(``drift_nu``, ``drift_time_s``, reference time ``drift_t0_s``) are the power-law drift of every cell,
deterministic. ``s_r`` (``read_noise_sigma``) is read noise, normal and relative: one draw per cell per
evaluation (the same for every image of that evaluation, so every fidelity reads the same conductances); a
Monte-Carlo map of a sweep draws its own. ``G`` is floored at 1e-15 S (a read cannot turn a device negative).

The standard normals ``z`` of array ``a`` (1-based) come from
``numpy.random.default_rng([VARIABILITY_TAG, seed, a, crc32(kind)]).standard_normal(shape)`` with ``kind``
``program`` or ``read``: deterministic in every fidelity, process and Dask worker, and the same ``z`` for every
sigma (common random numbers, like :mod:`core.model.opamp`'s offsets). A sweep's map ``k`` uses seed
``(base_seed + k) mod 2**32`` (:func:`core.sweeps.spec.offset_seed`).

Stuck cells keep their stuck value and no variability: ``stuck=on`` is ``1 / r_stuck_on_ohm`` and
``stuck=off`` ``1 / r_stuck_off_ohm`` (0, the default, means the window's LRS and HRS), e.g. a short at
1 kOhm below the LRS or an unformed cell at 1 GOhm. With every field at its default, conductances are
returned unchanged (the same arrays), so results are bit-for-bit those without this module.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import ParameterError
from core.model.params import ranged, validate

VARIABILITY_TAG = zlib.crc32(b"device-variability")
G_FLOOR_SIEMENS = 1e-15


@dataclass(frozen=True)
class DeviceVariability:
    """Per-evaluation device non-idealities (module docstring); defaults: ideal devices, stuck at the window."""

    program_sigma: float = ranged(
        0.0, 0.0, 2.0, label="Programming error sigma", help="lognormal, relative (sigma of ln G)"
    )
    read_noise_sigma: float = ranged(0.0, 0.0, 0.5, label="Read noise sigma", help="normal, relative, per read")
    drift_nu: float = ranged(0.0, 0.0, 1.0, label="Drift exponent nu", help="G(t) = G0 (t / t0)^-nu")
    drift_time_s: float = ranged(1.0, 0.0, 1e12, lo_open=True, unit="s", label="Drift time t")
    drift_t0_s: float = ranged(1.0, 0.0, 1e12, lo_open=True, unit="s", label="Drift reference time t0")
    seed: int = ranged(0, 0, 2**32 - 1, integer=True, label="Variability seed")
    r_stuck_on_ohm: float = ranged(
        0.0, 0.0, 1e12, unit="ohm", label="Stuck-on resistance", help="0 = the LRS (r_on_ohm)"
    )
    r_stuck_off_ohm: float = ranged(
        0.0, 0.0, 1e12, unit="ohm", label="Stuck-off resistance", help="0 = the HRS (r_off_ohm)"
    )

    def __post_init__(self) -> None:
        validate(self)
        for name in ("r_stuck_on_ohm", "r_stuck_off_ohm"):
            v = getattr(self, name)
            if v != 0 and v < 1.0:
                raise ParameterError(name, f"must be 0 (the window's value) or in [1, 1e12] ohm, got {v:g}")

    @property
    def ideal(self) -> bool:
        """No programming error, read noise or drift (stuck values may still differ from the window)."""
        return self.program_sigma == 0 and self.read_noise_sigma == 0 and self.drift_factor == 1.0

    @property
    def drift_factor(self) -> float:
        """``(t / t0)^-nu`` (exactly 1 without drift)."""
        if self.drift_nu == 0:
            return 1.0
        return float((self.drift_time_s / self.drift_t0_s) ** (-self.drift_nu))

    def with_seed(self, seed: int) -> DeviceVariability:
        return dataclasses.replace(self, seed=int(seed) % 2**32)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def changes(self) -> dict:
        """The fields that differ from the defaults (what a result records); the seed only with variability."""
        base = DeviceVariability()
        out = {k: v for k, v in self.to_dict().items() if v != getattr(base, k)}
        if self.ideal:
            out.pop("seed", None)
        return out


def stuck_on_siemens(device, var: DeviceVariability) -> float:
    """Conductance of a ``stuck=on`` cell: ``1 / r_stuck_on_ohm``, or the LRS."""
    return 1.0 / var.r_stuck_on_ohm if var.r_stuck_on_ohm > 0 else device.g_on_siemens


def stuck_off_siemens(device, var: DeviceVariability) -> float:
    """Conductance of a ``stuck=off`` cell: ``1 / r_stuck_off_ohm``, or the HRS."""
    return 1.0 / var.r_stuck_off_ohm if var.r_stuck_off_ohm > 0 else device.g_off_siemens


@functools.lru_cache(maxsize=4096)
def _normals(seed: int, array: int, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng([VARIABILITY_TAG, int(seed), int(array), zlib.crc32(kind.encode())])
    z = rng.standard_normal(shape)
    z.flags.writeable = False
    return z


def cell_normals(seed: int, array: int, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    """The standard normals ``z`` of every cell of ``array`` (1-based) for ``kind`` (program, read) and seed."""
    return _normals(int(seed), int(array), str(kind), tuple(int(s) for s in shape))


def vary_array(g: np.ndarray, var: DeviceVariability, array: int) -> np.ndarray:
    """Conductances ``g`` (rows, cols) of ``array`` (1-based) with the variability of ``var`` applied."""
    g = np.asarray(g, dtype=np.float64)
    out = g
    if var.program_sigma > 0:
        out = out * np.exp(var.program_sigma * cell_normals(var.seed, array, "program", g.shape))
    if var.drift_factor != 1.0:
        out = out * var.drift_factor
    if var.read_noise_sigma > 0:
        out = out * (1.0 + var.read_noise_sigma * cell_normals(var.seed, array, "read", g.shape))
        out = np.maximum(out, G_FLOOR_SIEMENS)
    return out


def apply_variability(g_list: Sequence[np.ndarray], var: DeviceVariability) -> list[np.ndarray]:
    """Programmed conductances (one (rows, cols) per array) with variability applied; unchanged if ideal."""
    if var.ideal:
        return list(g_list)
    return [vary_array(g, var, a) for a, g in enumerate(g_list, 1)]
