"""Stuck-at defects in spatial patterns on the physical grid of one crossbar.

Geometry uses normalized coordinates by default so one spec fits any array size: the cell in row r, column c of
a ``rows x cols`` array has its centre at ``x = (c + 0.5) / cols``, ``y = (r + 0.5) / rows``; a circle of radius
``r`` therefore covers about ``pi r^2 rows cols`` cells, and on a non-square array it is an ellipse in cells (a
circle of ``r = 0.3`` on a 65 x 16 array spans 39 x 10 cells). Row and column patterns and the checkerboard period
count cells.

Physical coordinates: the circle, ring and circle-complement also take their centre and radii in micrometres on
the array's silicon (``cx_um, cy_um, r_um, r_in_um, r_out_um``; ``cx_um``/``cy_um`` default to the array's
centre). The cell in row r, column c then has its centre at ``((c + 0.5) px, (r + 0.5) py)`` for the array's cell
pitch ``(px, py)`` in um (:attr:`core.model.crossbar.ArrayMap.pitch_um`), so a cluster of radius 5 um is round on
silicon whatever the array's shape. A spec uses one system or the other, never both; a physical spec on an array
whose pitch is unknown is refused with that reason.

A defect spec string is ``PATTERN:key=value,...``, for example ``circle:array=1,cx=0.5,cy=0.5,r=0.3,stuck=on``.
``stuck`` is ``on`` (LRS), ``off`` (HRS) or a resistance such as ``50k``, ``1.5meg``, ``2e5``. Several defects
combine; later ones override earlier ones on the cells they share.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from core.errors import DefectSpecError
from core.model.devices import DeviceParams
from core.model.variability import DeviceVariability, stuck_off_siemens, stuck_on_siemens

# pattern -> {key: (kind, lo, hi, default)}; default None means required, UNSET optional and then not stored
UNSET: Any = type("Unset", (), {"__repr__": lambda self: "UNSET"})()
MAX_UM = 1e6  # 1 m: bounds a physical coordinate or radius (um)
_GEOM = {
    "cx": ("float", 0.0, 1.0, 0.5),
    "cy": ("float", 0.0, 1.0, 0.5),
}
# a centre may lie off the array (a cluster on the die whose edge reaches this array: core.model.floorplan)
_GEOM_UM = {
    "cx_um": ("float", -MAX_UM, MAX_UM, UNSET),
    "cy_um": ("float", -MAX_UM, MAX_UM, UNSET),
}
PATTERNS: dict[str, dict[str, tuple]] = {
    "circle": {**_GEOM, "r": ("float", 0.0, 2.0, None), **_GEOM_UM, "r_um": ("float", 0.0, MAX_UM, UNSET)},
    "ring": {
        **_GEOM,
        "r_in": ("float", 0.0, 2.0, None),
        "r_out": ("float", 0.0, 2.0, None),
        **_GEOM_UM,
        "r_in_um": ("float", 0.0, MAX_UM, UNSET),
        "r_out_um": ("float", 0.0, MAX_UM, UNSET),
    },
    "circle_complement": {
        **_GEOM,
        "r": ("float", 0.0, 2.0, None),
        **_GEOM_UM,
        "r_um": ("float", 0.0, MAX_UM, UNSET),
    },
    "rows": {"start": ("int", 0, 100_000, 0), "count": ("int", 1, 100_000, 1), "indices": ("indices", 0, 100_000, "")},
    "columns": {
        "start": ("int", 0, 100_000, 0),
        "count": ("int", 1, 100_000, 1),
        "indices": ("indices", 0, 100_000, ""),
    },
    "checkerboard": {"period": ("int", 1, 100_000, 1), "phase": ("int", 0, 1, 0)},
    "random": {"fraction": ("float", 0.0, 1.0, None), "seed": ("int", 0, 2**31 - 1, 0)},
    "mask": {"file": ("path", 0, 0, "")},
}
# the six spatial patterns of the study and its follow-up (random and mask are extras of the workbench)
STUDY_PATTERNS = ("circle", "ring", "rows", "columns", "circle_complement", "checkerboard")
COMMON_KEYS = ("array", "stuck", "tile")
MAX_TILE_INDEX = 1 << 20
MAX_ARRAYS = 64
_R_MIN, _R_MAX = 1.0, 1e12
_SUFFIX = {"": 1.0, "k": 1e3, "meg": 1e6, "g": 1e9, "t": 1e12}


def parse_resistance(text: str) -> float:
    """Parse ``50k``, ``1.5meg``, ``2e5``, ``10kohm`` into ohms; raises DefectSpecError outside 1 Ohm..1 TOhm."""
    t = str(text).strip().lower()
    t = t[:-3] if t.endswith("ohm") else t
    m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)(meg|k|g|t|m)?", t)
    if not m:
        raise DefectSpecError(f"stuck: must be on, off or a resistance such as 50k, 1.5meg, 2e5; got {text!r}")
    suffix = m.group(2) or ""
    if suffix == "m":  # SPICE reads 'm' as milli; a milliohm stuck device is never meant, so refuse the ambiguity
        raise DefectSpecError(f"stuck: suffix 'm' is ambiguous (milli in SPICE); write 'meg' for megaohm; got {text!r}")
    value = float(m.group(1)) * _SUFFIX[suffix]
    if not (_R_MIN <= value <= _R_MAX):
        raise DefectSpecError(f"stuck: resistance must be in [1, 1e12] ohm, got {text!r}")
    return value


@dataclass
class Defect:
    """One stuck-at defect: a pattern on array ``array`` (1-based) stuck ``on``, ``off`` or at ``stuck_ohm``."""

    pattern: str
    array: int
    stuck: str = "on"  # "on", "off" or "ohm"
    stuck_ohm: float = 0.0
    params: dict = field(default_factory=dict)
    mask: Optional[np.ndarray] = field(default=None, repr=False)
    # on a tiled array (core.model.tiling): the pattern on tile ``tile`` only (row-major), in that tile's own
    # coordinates; None: on the whole array (every tile of the layer)
    tile: Optional[int] = None

    def __post_init__(self) -> None:
        if self.tile is not None:
            if isinstance(self.tile, bool) or not isinstance(self.tile, (int, np.integer)):
                raise DefectSpecError(f"tile: must be an integer tile index from 0; got {self.tile!r}")
            if not 0 <= int(self.tile) < MAX_TILE_INDEX:
                raise DefectSpecError(f"tile: must be from 0 to the array's number of tiles - 1; got {self.tile}")
            self.tile = int(self.tile)
        if "tile" in self.params:
            raise DefectSpecError("tile: give it as the defect's tile, not as a pattern parameter")
        if self.pattern not in PATTERNS:
            raise DefectSpecError(f"pattern: must be one of {', '.join(PATTERNS)}; got {self.pattern!r}")
        if not isinstance(self.array, (int, np.integer)) or not 1 <= self.array <= MAX_ARRAYS:
            raise DefectSpecError(f"array: must be an integer from 1 to the number of arrays; got {self.array!r}")
        self.array = int(self.array)
        if self.stuck not in ("on", "off", "ohm"):
            raise DefectSpecError(f"stuck: must be on, off or a resistance; got {self.stuck!r}")
        if self.stuck == "ohm" and not (_R_MIN <= float(self.stuck_ohm) <= _R_MAX):
            raise DefectSpecError(f"stuck: resistance must be in [1, 1e12] ohm, got {self.stuck_ohm!r}")
        self.params = _validate_params(self.pattern, self.params)
        if self.pattern == "ring":
            sfx = "_um" if self.physical else ""
            r_in, r_out = self.params["r_in" + sfx], self.params["r_out" + sfx]
            if r_out <= r_in:
                raise DefectSpecError(f"ring: r_out{sfx} must be larger than r_in{sfx} ({r_in:g}), got {r_out:g}")
        if self.pattern == "mask":
            if self.mask is None and self.params.get("file"):
                self.mask = load_mask_file(self.params["file"])
            if self.mask is None:
                raise DefectSpecError("mask: needs a boolean mask array (or file=PATH to a .npy or .csv of 0/1)")
            self.mask = np.asarray(self.mask).astype(bool)
            if self.mask.ndim != 2:
                raise DefectSpecError(f"mask: must be 2-D (rows x columns), got shape {self.mask.shape}")

    @property
    def physical(self) -> bool:
        """Whether the geometry is in micrometres on silicon (needs the array's cell pitch)."""
        return any(k.endswith("_um") for k in self.params)

    @property
    def stuck_label(self) -> str:
        return self.stuck if self.stuck != "ohm" else f"{self.stuck_ohm:g}"

    def stuck_conductance(self, device: DeviceParams, variability: Optional[DeviceVariability] = None) -> float:
        """``on``/``off``: the window's LRS/HRS, or the stuck values of ``variability``; else ``1 / stuck_ohm``."""
        var = variability or DeviceVariability()
        if self.stuck == "on":
            return stuck_on_siemens(device, var)
        if self.stuck == "off":
            return stuck_off_siemens(device, var)
        return 1.0 / self.stuck_ohm

    def to_spec(self) -> str:
        """The spec string; parsing it gives this defect back (a mask's cells are stored separately)."""
        parts = [f"array={self.array}"] + ([f"tile={self.tile}"] if self.tile is not None else [])
        parts.append(f"stuck={self.stuck_label}")
        for k, v in self.params.items():
            if self.pattern == "mask" and k == "file":
                continue
            if isinstance(v, tuple):
                if v:
                    parts.append(f"{k}={'+'.join(str(i) for i in v)}")
            else:
                parts.append(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}")
        return f"{self.pattern}:{','.join(parts)}"

    def cells(self, shape: tuple[int, int], pitch_um: Optional[tuple[float, float]] = None) -> np.ndarray:
        """Boolean mask (rows, cols) of the cells this defect covers on an array of ``shape``.

        ``pitch_um`` is the array's cell pitch ``(x, y)`` in um; only physical specs (module docstring) use it,
        and they need it.
        """
        rows, cols = shape
        p = self.params
        if self.pattern in ("circle", "ring", "circle_complement"):
            yy, xx = np.mgrid[0:rows, 0:cols]
            if self.physical:
                if pitch_um is None:
                    raise DefectSpecError(
                        f"{self.pattern}: a spec in um needs the cell pitch of array {self.array}, which this "
                        "project does not set (reram-workbench new --cell-pitch XxY, in um); or use cx, cy, r "
                        "(normalized to the array)"
                    )
                px, py = pitch_um
                cx = p.get("cx_um", cols * px / 2)
                cy = p.get("cy_um", rows * py / 2)
                d2 = ((xx + 0.5) * px - cx) ** 2 + ((yy + 0.5) * py - cy) ** 2
                sfx = "_um"
            else:
                d2 = ((xx + 0.5) / cols - p["cx"]) ** 2 + ((yy + 0.5) / rows - p["cy"]) ** 2
                sfx = ""
            if self.pattern == "circle":
                return d2 <= p["r" + sfx] ** 2
            if self.pattern == "circle_complement":
                return d2 > p["r" + sfx] ** 2
            return (d2 > p["r_in" + sfx] ** 2) & (d2 <= p["r_out" + sfx] ** 2)
        if self.pattern in ("rows", "columns"):
            n = rows if self.pattern == "rows" else cols
            idx = np.array(p["indices"], dtype=int) if p["indices"] else np.arange(p["start"], p["start"] + p["count"])
            if p["indices"] and idx.max() >= n:
                # explicit indices name cells: one outside the array is a mistake, not something to clip
                raise DefectSpecError(
                    f"{self.pattern}: index {int(idx.max())} is outside array {self.array} ({n} {self.pattern})"
                )
            if idx.size and idx.min() >= n:
                raise DefectSpecError(
                    f"{self.pattern}: start {int(idx.min())} is outside array {self.array} ({n} {self.pattern})"
                )
            idx = idx[idx < n]  # a start + count band running past the edge is clipped
            m = np.zeros(shape, dtype=bool)
            if self.pattern == "rows":
                m[idx, :] = True
            else:
                m[:, idx] = True
            return m
        if self.pattern == "checkerboard":
            yy, xx = np.mgrid[0:rows, 0:cols]
            return ((yy // p["period"] + xx // p["period"]) % 2) == p["phase"]
        if self.pattern == "random":
            rng = np.random.default_rng(p["seed"])
            n_bad = int(round(p["fraction"] * rows * cols))
            flat = np.zeros(rows * cols, dtype=bool)
            flat[rng.permutation(rows * cols)[:n_bad]] = True
            return flat.reshape(shape)
        # mask
        mask = self.mask
        if mask is None:  # __post_init__ refuses a mask defect without one; only a later reassignment gets here
            raise DefectSpecError("mask: needs a boolean mask array (or file=PATH to a .npy or .csv of 0/1)")
        if mask.shape != tuple(shape):
            raise DefectSpecError(f"mask: shape {mask.shape} does not match array {self.array} {tuple(shape)}")
        return mask.copy()

    def cells_on(
        self,
        shape: tuple[int, int],
        pitch_um: Optional[tuple[float, float]] = None,
        tile: Optional[tuple[int, int]] = None,
    ) -> np.ndarray:
        """Boolean mask of an array of ``shape`` (its whole mosaic when tiled with ``tile``-sized tiles).

        Without a ``tile`` key the pattern covers the whole array (:meth:`cells`); with one, only that tile, in
        the tile's own coordinates.
        """
        if self.tile is None:
            return self.cells(shape, pitch_um)
        if tile is None:
            raise DefectSpecError(
                f"tile: array {self.array} is not tiled (create the project with --tile RxC), so it has no tile "
                f"{self.tile}; drop tile="
            )
        tr, tc = tile
        n_r, n_c = shape[0] // tr, shape[1] // tc
        if self.tile >= n_r * n_c:
            raise DefectSpecError(f"tile: array {self.array} has tiles 0 to {n_r * n_c - 1}; got {self.tile}")
        m = np.zeros(shape, dtype=bool)
        r0, c0 = (self.tile // n_c) * tr, (self.tile % n_c) * tc
        m[r0 : r0 + tr, c0 : c0 + tc] = self.cells((tr, tc), pitch_um)
        return m


def _validate_params(pattern: str, given: dict) -> dict:
    allowed = PATTERNS[pattern]
    out = {}
    for k in given:
        if k not in allowed:
            raise DefectSpecError(f"{pattern}: unknown key {k!r}; allowed: {', '.join((*COMMON_KEYS, *allowed))}")
    physical = [k for k in given if k.endswith("_um")]
    if physical:
        # one coordinate system per spec: um keys replace their normalized twins, which must then be absent
        mixed = [k for k in given if k + "_um" in allowed]
        if mixed:
            raise DefectSpecError(
                f"{pattern}: give the geometry in um ({', '.join(physical)}) or normalized "
                f"({', '.join(mixed)}), not both"
            )
    for k, (kind, lo, hi, default) in allowed.items():
        if physical and k + "_um" in allowed:
            continue
        if k not in given:
            if default is None or (physical and default is UNSET and k.startswith("r")):
                raise DefectSpecError(f"{pattern}: missing required key {k!r}")
            if default is UNSET:
                continue
            out[k] = tuple() if kind == "indices" else default
            continue
        v = given[k]
        if kind == "path":
            out[k] = str(v)
            continue
        if kind == "indices":
            if isinstance(v, str) and not v.strip():
                raise DefectSpecError(
                    f"{pattern}: indices must be non-negative integers joined by '+', e.g. 0+3+5; got an empty value"
                )
            try:
                idx = tuple(int(i) for i in (v.split("+") if isinstance(v, str) else v) if str(i) != "")
            except (TypeError, ValueError):
                raise DefectSpecError(
                    f"{pattern}: indices must be non-negative integers joined by '+', e.g. 0+3+5; got {v!r}"
                ) from None
            if any(i < lo or i > hi for i in idx):
                raise DefectSpecError(f"{pattern}: indices must be in [{lo}, {hi}]; got {v!r}")
            out[k] = idx
            continue
        try:
            num = float(v)
            if kind == "int":
                if not num.is_integer():
                    raise ValueError
                num = int(num)
        except (TypeError, ValueError):
            what = "an integer" if kind == "int" else "a number"
            raise DefectSpecError(f"{pattern}: {k} must be {what} in [{lo:g}, {hi:g}]; got {v!r}") from None
        if not (math.isfinite(num) and lo <= num <= hi):
            raise DefectSpecError(f"{pattern}: {k} must be in [{lo:g}, {hi:g}]; got {v!r}")
        out[k] = num
    return out


def parse_spec(text: str) -> Defect:
    """Parse ``PATTERN:key=value,...`` into a :class:`Defect`.

    Raises
    ------
    DefectSpecError
        Naming the pattern, the key and what is allowed.
    """
    if not isinstance(text, str) or ":" not in text:
        raise DefectSpecError(
            f"defect: must look like PATTERN:key=value,... (e.g. circle:array=1,r=0.3,stuck=on); got {text!r}"
        )
    pattern, _, rest = text.strip().partition(":")
    pattern = pattern.strip().lower()
    if pattern not in PATTERNS:
        raise DefectSpecError(f"pattern: must be one of {', '.join(PATTERNS)}; got {pattern!r}")
    kv = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            raise DefectSpecError(f"{pattern}: expected key=value, got {item!r}")
        k = k.strip().lower()
        if k in kv:
            raise DefectSpecError(f"{pattern}: key {k!r} given twice")
        kv[k] = v.strip()
    unknown = [k for k in kv if k not in COMMON_KEYS and k not in PATTERNS[pattern]]
    if unknown:  # a misspelt key explains a "missing" one, so name it first
        raise DefectSpecError(
            f"{pattern}: unknown key {unknown[0]!r}; allowed: {', '.join((*COMMON_KEYS, *PATTERNS[pattern]))}"
        )
    if "array" not in kv:
        raise DefectSpecError(f"{pattern}: missing required key 'array' (1 to the number of arrays)")
    array_text = kv.pop("array")
    try:
        array = int(array_text)
    except ValueError:
        raise DefectSpecError(f"array: must be an integer from 1 to the number of arrays; got {array_text!r}") from None
    if "stuck" not in kv:
        raise DefectSpecError(f"{pattern}: missing required key 'stuck' (on, off or a resistance such as 50k)")
    stuck_text = kv.pop("stuck").lower()
    if stuck_text in ("on", "off"):
        stuck, ohm = stuck_text, 0.0
    else:
        stuck, ohm = "ohm", parse_resistance(stuck_text)
    tile = None
    if "tile" in kv:
        tile_text = kv.pop("tile")
        try:
            tile = int(tile_text)
        except ValueError:
            raise DefectSpecError(f"tile: must be an integer tile index from 0; got {tile_text!r}") from None
    return Defect(pattern, array, stuck, ohm, kv, tile=tile)


def load_mask_file(path: str) -> np.ndarray:
    """Load a measured defect map: ``.npy`` (no pickles) or ``.csv``/``.txt`` of 0/1, one row per line."""
    if not os.path.isfile(path):
        raise DefectSpecError(f"mask: file {path!r} does not exist")
    try:
        if path.endswith(".npy"):
            m = np.load(path, allow_pickle=False)
        else:
            m = np.loadtxt(path, delimiter="," if path.endswith(".csv") else None, ndmin=2)
    except Exception as e:  # noqa: BLE001 - numpy raises many types for a malformed matrix file
        raise DefectSpecError(f"mask: cannot read {path!r} as a 0/1 matrix ({e})") from None
    if m.ndim != 2 or not np.isin(m, (0, 1)).all():
        raise DefectSpecError(f"mask: {path!r} must be a 2-D matrix of 0 and 1")
    return m.astype(bool)


def stuck_maps(
    shapes: Sequence[tuple[int, int]],
    defects: Sequence[Defect],
    device: DeviceParams,
    variability: Optional[DeviceVariability] = None,
    pitches_um: Optional[Sequence[Optional[tuple[float, float]]]] = None,
    tiles: Optional[Sequence[Optional[tuple[int, int]]]] = None,
) -> list[np.ndarray]:
    """Per array, the stuck conductance of every cell (NaN where healthy); later defects override earlier.

    ``tiles`` gives each array's tile size (:attr:`core.model.crossbar.MappedNetwork.tiles`) for defects on one
    tile (``tile=K``).

    ``variability`` may set stuck-on/stuck-off values apart from the window (:mod:`core.model.variability`);
    ``pitches_um`` gives each array's cell pitch for physical specs
    (:attr:`core.model.crossbar.MappedNetwork.pitches_um`).
    """
    out = [np.full(s, np.nan) for s in shapes]
    for d in defects:
        if d.array > len(shapes):
            raise DefectSpecError(f"array: must be from 1 to {len(shapes)} for this network; got {d.array}")
        pitch = None if pitches_um is None else pitches_um[d.array - 1]
        tile = None if tiles is None else tiles[d.array - 1]
        out[d.array - 1][d.cells_on(shapes[d.array - 1], pitch, tile)] = d.stuck_conductance(device, variability)
    return out


def apply_stuck(g_list: Sequence[np.ndarray], stuck: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Conductances with stuck cells replaced; works with a leading batch dimension on ``stuck``."""
    return [np.where(np.isnan(s), g, s) for g, s in zip(g_list, stuck)]


def defect_fractions(stuck: Sequence[np.ndarray]) -> list[float]:
    """Fraction of defective cells per array (averaged over a batch)."""
    return [float(np.mean(~np.isnan(s))) for s in stuck]


def stack_scenarios(shapes, scenarios: Sequence[Sequence[Defect]], device: DeviceParams) -> list[np.ndarray]:
    """Stuck maps for M scenarios as per-array stacks (M, rows, cols)."""
    per = [stuck_maps(shapes, sc, device) for sc in scenarios]
    return [np.stack([p[a] for p in per]) for a in range(len(shapes))]
