"""What a defect sweep varies, and how one Monte-Carlo defect map is drawn for each grid point.

A sweep is the grid ``patterns x sizes x stuck types x arrays``, each point evaluated on ``n_seeds`` random
placements (Monte-Carlo seeds) at one fidelity. All sizes are **fractions in (0, 1]** so one size list fits
every pattern and every array, whatever its shape (coordinates as in :mod:`core.model.defects`: the array spans the
unit square, so a radius of 0.5 reaches from the centre to the middle of an edge):

``circle``             radius ``r = size``; centre uniform in the unit square (the disc may reach past an edge).
``ring``               width ``r_out - r_in = size`` around a **fixed mean radius** :data:`RING_MEAN_RADIUS`
                       (``r_in = max(0, R - size/2)``, ``r_out = R + size/2``); centre uniform. Wider rings
                       with the same seed contain narrower ones.
``circle_complement``  radius ``r = size`` of the **kept (healthy) disc**, everything outside is stuck; so a
                       larger size means *fewer* defective cells. Centre uniform.
``rows``/``columns``   a contiguous band of ``count = max(1, round(size * n))`` rows (columns) of the array's
                       ``n``; its start is uniform over the ``n - count + 1`` possible positions.
``checkerboard``       period ``max(1, round(size * min(rows, cols)))`` cells; phase (0 or 1) random.
``random``             a fraction ``size`` of the cells, chosen by a random seed.
``none``               no defect: one point (size 0, stuck ``none``, array 0) whatever the sizes, stuck types
                       and arrays; with ``offset_sigma_volt`` it is an op-amp offset sweep of the clean circuit.

Op-amp offsets (``offset_sigma_volt``, optional): every grid point is evaluated at each listed sigma (V), and
Monte-Carlo map ``k`` draws every op-amp's offset from offset seed ``(base_seed + k) mod 2**32``
(:func:`core.model.opamp.sample_offsets`: ``sigma * z``, the same ``z`` for every sigma and every fidelity). So
each seed draws both a placement and a set of offsets, and ``reram-workbench evaluate --offset-sigma S
--offset-seed k`` reproduces map ``k`` of a sweep with base seed 0. Without ``offset_sigma_volt`` the network's
own op-amp settings are used.

Placements come from two uniform numbers ``u, v`` drawn with
``numpy.random.default_rng([base_seed, seed index, crc32(pattern), array])`` (centre ``(u, v)``; band start
``floor(u (n - count + 1))``; checkerboard phase ``u < 0.5``; random-pattern seed ``floor(u (2^31 - 1))``):
deterministic, the same in every process and on every Dask worker. The size and the stuck type are
deliberately *not* part of the key (common random numbers): for one seed, all sizes and stuck types of a
pattern use the same centre/placement, so accuracy-versus-size curves are paired comparisons and a larger
circle always contains the smaller one.
"""

from __future__ import annotations

import functools
import math
import zlib
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from core.errors import DefectSpecError, ParameterError, check_range
from core.model.defects import Defect, parse_resistance
from core.model.opamp import MAX_OFFSET_SIGMA_VOLT

SWEEP_PATTERNS = ("circle", "ring", "circle_complement", "rows", "columns", "checkerboard", "random", "none")
SWEEP_FIDELITIES = ("behavioral", "nodal", "spice")
RING_MEAN_RADIUS = 0.3
MAX_SEEDS = 100_000
MAX_MAPS = 10_000_000  # beyond this a typo in --seeds or --sizes is far more likely than intent


@dataclass(frozen=True)
class SweepSpec:
    """A defect sweep: the grid, the number of Monte-Carlo seeds and the fidelity.

    Attributes
    ----------
    patterns
        Names from :data:`SWEEP_PATTERNS`.
    sizes
        Fractions in (0, 1]; see the module docstring for their meaning per pattern.
    stuck
        ``on``, ``off`` or resistances such as ``50k`` (stored as given after normalisation).
    arrays
        1-based crossbar indices; ``()`` means every array of the network.
    n_seeds
        Random placements per grid point.
    fidelity
        ``behavioral``, ``nodal`` or ``spice``.
    base_seed
        Offsets every placement; two sweeps with the same spec and base seed give the same maps.
    split
        Data split evaluated: ``test`` (default), ``cal`` or ``train``.
    timeout_s
        Per-map time limit for nodal/SPICE evaluations (None: none); a map over it counts as failed.
    offset_sigma_volt
        Op-amp input offset sigmas (V) to sweep, each in [0, 0.1]; ``()`` (default): no offset axis.
    """

    patterns: tuple[str, ...] = ("circle",)
    sizes: tuple[float, ...] = (0.1, 0.2, 0.3)
    stuck: tuple[str, ...] = ("on", "off")
    arrays: tuple[int, ...] = ()
    n_seeds: int = 10
    fidelity: str = "behavioral"
    base_seed: int = 0
    split: str = "test"
    timeout_s: Optional[float] = None
    offset_sigma_volt: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        pats = tuple(str(p).strip().lower() for p in self.patterns)
        if not pats:
            raise ParameterError("patterns", f"must name at least one of {', '.join(SWEEP_PATTERNS)}")
        for p in pats:
            if p not in SWEEP_PATTERNS:
                raise ParameterError("patterns", f"must be among {', '.join(SWEEP_PATTERNS)}; got {p!r}")
        sizes = tuple(check_range("sizes", s, 0.0, 1.0, lo_open=True) for s in self.sizes)
        if not sizes:
            raise ParameterError("sizes", "must list at least one size in (0, 1]")
        stuck = tuple(normalize_stuck(s) for s in self.stuck)
        if not stuck:
            raise ParameterError("stuck", "must list at least one of on, off or a resistance such as 50k")
        arrays = tuple(check_range("arrays", a, 1, 64, integer=True) for a in self.arrays)
        n_seeds = check_range("seeds", self.n_seeds, 1, MAX_SEEDS, integer=True)
        if self.fidelity not in SWEEP_FIDELITIES:
            raise ParameterError("fidelity", f"must be one of {', '.join(SWEEP_FIDELITIES)}; got {self.fidelity!r}")
        if self.split not in ("test", "cal", "train"):
            raise ParameterError("split", f"must be one of test, cal, train; got {self.split!r}")
        timeout = None if self.timeout_s is None else check_range("timeout_s", self.timeout_s, 0.0, 1e6, lo_open=True)
        sigmas = tuple(check_range("offset-sigma", v, 0.0, MAX_OFFSET_SIGMA_VOLT) for v in self.offset_sigma_volt)
        for name, value in (
            ("patterns", pats),
            ("sizes", sizes),
            ("stuck", stuck),
            ("arrays", arrays),
            ("offset-sigma", sigmas),
        ):
            if len(set(value)) != len(value):
                raise ParameterError(name, f"lists a value twice: {', '.join(str(v) for v in value)}")
        n_defect = sum(p != "none" for p in pats) * len(sizes) * len(stuck) * max(1, len(arrays))
        n_maps = (n_defect + ("none" in pats)) * max(1, len(sigmas)) * n_seeds
        if n_maps > MAX_MAPS:
            raise ParameterError("seeds", f"the sweep would evaluate {n_maps} defect maps; at most {MAX_MAPS}")
        object.__setattr__(self, "patterns", pats)
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "stuck", stuck)
        object.__setattr__(self, "arrays", arrays)
        object.__setattr__(self, "n_seeds", n_seeds)
        object.__setattr__(self, "base_seed", check_range("base_seed", self.base_seed, 0, 2**32 - 1, integer=True))
        object.__setattr__(self, "timeout_s", timeout)
        object.__setattr__(self, "offset_sigma_volt", sigmas)

    def with_arrays(self, n_arrays: int) -> SweepSpec:
        """This spec with ``arrays`` resolved for a network of ``n_arrays`` crossbars (validated)."""
        if not self.arrays:
            return _replace(self, arrays=tuple(range(1, n_arrays + 1)))
        for a in self.arrays:
            if a > n_arrays:
                raise ParameterError("arrays", f"must be from 1 to {n_arrays} for this network; got {a}")
        return self

    def points(self) -> list[tuple[str, float, str, int]]:
        """The defect grid points ``(pattern, size, stuck, array)`` in table order (arrays must be resolved);
        pattern ``none`` is the single point ``("none", 0.0, "none", 0)``."""
        out: list[tuple[str, float, str, int]] = []
        for p in self.patterns:
            if p == "none":
                out.append(("none", 0.0, "none", 0))
            else:
                out += [(p, s, st, a) for s in self.sizes for st in self.stuck for a in self.arrays]
        return out

    def grid(self) -> list[tuple[str, float, str, int, Optional[float]]]:
        """Every table row's ``(pattern, size, stuck, array, offset sigma)``: :meth:`points` times the offset
        sigmas (sigma ``None`` when the spec has no offset axis)."""
        sigmas: tuple[Optional[float], ...] = self.offset_sigma_volt or (None,)
        return [pt + (sg,) for pt in self.points() for sg in sigmas]

    @property
    def n_maps(self) -> int:
        """Monte-Carlo maps the sweep evaluates (arrays must be resolved)."""
        return len(self.grid()) * self.n_seeds

    def to_dict(self) -> dict:
        """A JSON-able dict; :meth:`from_dict` gives the spec back."""
        d = asdict(self)
        for k in _TUPLES:
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SweepSpec:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        for k in _TUPLES:
            if k in known:
                known[k] = tuple(known[k])
        return cls(**known)


_TUPLES = ("patterns", "sizes", "stuck", "arrays", "offset_sigma_volt")


def offset_seed(base_seed: int, seed_index: int) -> int:
    """The op-amp offset seed of Monte-Carlo map ``seed_index``: ``(base_seed + seed_index) mod 2**32``."""
    return (int(base_seed) + int(seed_index)) % 2**32


def _replace(spec: SweepSpec, **changes) -> SweepSpec:
    d = spec.to_dict()
    d.update(changes)
    return SweepSpec.from_dict(d)


def normalize_stuck(text) -> str:
    """``on``/``off`` or a resistance label such as ``50000`` (ohms, ``%g``); raises ParameterError."""
    t = str(text).strip().lower()
    if t in ("on", "off"):
        return t
    try:
        return f"{parse_resistance(t):g}"
    except DefectSpecError as e:
        raise ParameterError("stuck", str(e).removeprefix("stuck: ")) from None


@functools.lru_cache(maxsize=1 << 16)
def placement_uniforms(base_seed: int, seed_index: int, pattern: str, array: int) -> tuple[float, float]:
    """Two uniform numbers in [0, 1) that place map ``seed_index`` of ``pattern`` on ``array``.

    Drawn from ``numpy.random.default_rng([base_seed, seed_index, crc32(pattern), array])`` (seeding is
    the slow part, hence the cache: every size and stuck type of a sweep reuses the same draw).
    """
    rng = np.random.default_rng([int(base_seed), int(seed_index), zlib.crc32(pattern.encode()), int(array)])
    u, v = rng.random(2)
    return float(u), float(v)


def make_defect(
    pattern: str, size: float, stuck: str, array: int, seed_index: int, shape: tuple[int, int], base_seed: int = 0
) -> Defect:
    """The defect of one Monte-Carlo map: ``pattern`` of ``size`` stuck ``stuck`` on ``array`` of ``shape``.

    Parameters
    ----------
    pattern, size, stuck, array
        One grid point of a :class:`SweepSpec` (``stuck`` normalised by :func:`normalize_stuck`).
    seed_index
        Which Monte-Carlo placement (0 .. n_seeds - 1).
    shape
        (rows, cols) of the array; row/column counts and checkerboard periods depend on it.
    base_seed
        The spec's base seed.
    """
    rows, cols = shape
    u, v = placement_uniforms(int(base_seed), int(seed_index), pattern, int(array))
    if stuck in ("on", "off"):
        kind, ohm = stuck, 0.0
    else:
        kind, ohm = "ohm", float(stuck)
    if pattern in ("circle", "ring", "circle_complement"):
        if pattern == "ring":
            r_in = max(0.0, RING_MEAN_RADIUS - size / 2)
            params = {"cx": u, "cy": v, "r_in": r_in, "r_out": RING_MEAN_RADIUS + size / 2}
        else:
            params = {"cx": u, "cy": v, "r": float(size)}
    elif pattern in ("rows", "columns"):
        n = rows if pattern == "rows" else cols
        count = min(n, max(1, int(round(size * n))))
        params = {"start": int(math.floor(u * (n - count + 1))), "count": count}
    elif pattern == "checkerboard":
        params = {"period": max(1, int(round(size * min(rows, cols)))), "phase": int(u < 0.5)}
    elif pattern == "random":
        params = {"fraction": float(size), "seed": int(u * (2**31 - 1))}
    else:
        raise ParameterError("patterns", f"must be among {', '.join(SWEEP_PATTERNS)}; got {pattern!r}")
    return Defect(pattern, int(array), kind, ohm, params)


def parse_list(field: str, text: str, convert=str) -> tuple:
    """Split a comma-separated CLI value, converting each item; raises ParameterError naming ``field``."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ParameterError(field, f"must be a comma-separated list; got {text!r}")
    out = []
    for t in items:
        try:
            out.append(convert(t))
        except (TypeError, ValueError):
            raise ParameterError(field, f"cannot read {t!r} in {text!r}") from None
    return tuple(out)


def sizes_from_text(text: str) -> tuple[float, ...]:
    """``0.1,0.3`` or a range ``0.05:0.5:10`` (start:stop:count, inclusive) into sizes."""
    t = str(text).strip()
    if ":" in t:
        parts = t.split(":")
        if len(parts) != 3:
            raise ParameterError("sizes", f"a range must be START:STOP:COUNT such as 0.05:0.5:10; got {text!r}")
        lo = check_range("sizes", parts[0], 0.0, 1.0, lo_open=True)
        hi = check_range("sizes", parts[1], 0.0, 1.0, lo_open=True)
        n = check_range("sizes", parts[2], 1, 1000, integer=True)
        return tuple(float(round(v, 12)) for v in np.linspace(lo, hi, n))
    return parse_list("sizes", t, float)
