"""Turning the text of the panels' form fields into core objects, free of Qt (testable without a screen).

Every function raises a :class:`core.errors.WorkbenchError` whose message names the field and its allowed
range; the panels show that message and never a traceback.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Optional

import numpy as np

from core.errors import DefectSpecError, ParameterError, check_range
from core.model.defects import PATTERNS, Defect, parse_resistance
from core.model.devices import DEVICE_MODELS, CircuitParams
from core.model.network import PRESETS, parse_hidden
from core.model.params import spec_of
from core.sweeps.spec import MAX_SEEDS, SweepSpec, normalize_stuck, parse_list, sizes_from_text


def hidden_sizes(fields: dict) -> tuple[int, ...]:
    """Hidden-layer sizes from a form's ``preset`` (a name of :data:`PRESETS` or ``custom``) and ``hidden``."""
    preset = fields.get("preset", "paper")
    if preset in PRESETS:
        return PRESETS[preset]
    if preset == "custom":
        return parse_hidden(str(fields.get("hidden", "")).strip())
    raise ParameterError("preset", f"must be one of {', '.join(PRESETS)} or custom; got {preset!r}")


def pattern_fields(pattern: str, physical: bool = False) -> list[tuple[str, str, str]]:
    """(key, placeholder, tooltip) for each parameter of ``pattern`` from :data:`core.model.defects.PATTERNS`.

    ``physical`` (the array's cell pitch is known): the geometry in um (``cx_um``, ``r_um``, ...) instead of
    normalized to the array; the spec line takes either.
    """
    out = []
    allowed = PATTERNS[pattern]
    for key, (kind, lo, hi, default) in allowed.items():
        if (physical and key + "_um" in allowed) or (not physical and key.endswith("_um")):
            continue
        if key.endswith("_um"):
            ph = "required" if key.startswith("r") else "default: the array's centre"
            out.append((key, ph, f"{key}: um on silicon, in [{lo:g}, {hi:g}], at the array's cell pitch"))
        elif kind == "path":
            out.append((key, "path to .npy or .csv of 0/1", "a measured defect map, rows x columns"))
        elif kind == "indices":
            out.append(
                (key, "e.g. 0+3+5 (optional)", f"cell indices in [{lo}, {hi}] joined by '+'; overrides start/count")
            )
        else:
            what = "integer" if kind == "int" else "number"
            ph = "required" if default is None else f"default {default:g}"
            out.append((key, ph, f"{key}: {what} in [{lo:g}, {hi:g}]"))
    return out


def stuck_value(kind: str, resistance_text: str = "") -> tuple[str, float]:
    """('on'|'off'|'ohm', ohms) from the stuck combo and the resistance field (e.g. ``50k``)."""
    if kind in ("on", "off"):
        return kind, 0.0
    if kind in ("ohm", "resistance"):
        if not str(resistance_text).strip():
            raise DefectSpecError("stuck: resistance is empty; give a value such as 50k, 1.5meg or 2e5")
        return "ohm", parse_resistance(resistance_text)
    raise DefectSpecError(f"stuck: must be on, off or a resistance; got {kind!r}")


def build_defect(
    pattern: str,
    array: int,
    stuck: str,
    resistance_text: str,
    values: dict,
    shape: Optional[tuple[int, int]] = None,
    n_arrays: Optional[int] = None,
    pitch_um: Optional[tuple[float, float]] = None,
) -> Defect:
    """A :class:`Defect` from the editor's fields; empty fields take the pattern's defaults.

    With ``shape`` the defect's cells are computed once so errors such as a row index outside the array
    show up now rather than at evaluation time.
    """
    if pattern not in PATTERNS:
        raise DefectSpecError(f"pattern: must be one of {', '.join(PATTERNS)}; got {pattern!r}")
    if n_arrays is not None and not 1 <= int(array) <= n_arrays:
        raise DefectSpecError(f"array: must be from 1 to {n_arrays} for this network; got {array}")
    kind, ohm = stuck_value(stuck, resistance_text)
    params = {k: str(v).strip() for k, v in values.items() if str(v).strip() and k in PATTERNS[pattern]}
    d = Defect(pattern, int(array), kind, ohm, params)
    if shape is not None:
        d.cells(tuple(shape), pitch_um)
    return d


def overlay_codes(
    defects,
    array: int,
    shape: tuple[int, int],
    pitch_um: Optional[tuple[float, float]] = None,
    tile: Optional[tuple[int, int]] = None,
) -> np.ndarray:
    """Per cell of ``array``: 0 healthy, 1 stuck on, 2 stuck off, 3 stuck at a resistance (later wins).

    ``tile``: the array's tile size when tiled (``shape`` is then the whole mosaic), for defects on one tile.
    """
    codes = np.zeros(shape, dtype=np.uint8)
    for d in defects:
        if d.array == array:
            codes[d.cells_on(shape, pitch_um, tile)] = {"on": 1, "off": 2}.get(d.stuck, 3)
    return codes


def sweep_spec(
    patterns, sizes_text: str, stuck_text: str, arrays_text: str, seeds_text: str, fidelity: str
) -> SweepSpec:
    """A :class:`SweepSpec` from the queue panel's sweep fields (``arrays`` may be ``all``)."""
    if not patterns:
        raise ParameterError("patterns", "tick at least one pattern")
    arrays = () if arrays_text.strip().lower() in ("", "all") else parse_list("arrays", arrays_text, int)
    seeds = check_range("seeds", seeds_text.strip(), 1, MAX_SEEDS, integer=True)
    return SweepSpec(
        patterns=tuple(patterns),
        sizes=sizes_from_text(sizes_text),
        stuck=tuple(normalize_stuck(s) for s in parse_list("stuck", stuck_text)),
        arrays=arrays,
        n_seeds=seeds,
        fidelity=fidelity,
    )


def sweep_curves(rows: list[dict], array: Optional[int] = None) -> dict:
    """Accuracy-vs-size curves of a sweep table, one per (pattern, stuck, array).

    Returns ``{(pattern, stuck, array): (sizes, mean, ci_low, ci_high)}`` as float arrays sorted by size;
    ``array`` keeps only that array. Points with no evaluated map are left out.
    """
    groups = defaultdict(list)
    for r in rows:
        if array is not None and int(r["array"]) != array:
            continue
        if r.get("n", 0) == 0 or r["mean_accuracy"] is None or math.isnan(float(r["mean_accuracy"])):
            continue
        groups[(r["pattern"], str(r["stuck"]), int(r["array"]))].append(r)
    out = {}
    for key, rs in sorted(groups.items()):
        rs.sort(key=lambda r: float(r["size"]))
        out[key] = tuple(
            np.array([np.nan if r[k] is None else float(r[k]) for r in rs])
            for k in ("size", "mean_accuracy", "ci95_low", "ci95_high")
        )
    return out


R_WIRE = spec_of(CircuitParams, "r_wire_ohm")
R_WIRE_MAX_OHM = R_WIRE.hi


def circuit_overrides(r_wire_text: str, device_model: str) -> tuple[float, str]:
    """(wire resistance in ohm, device model) from the run controls' circuit fields."""
    text = str(r_wire_text).strip()
    if not text:
        raise ParameterError("wire resistance (ohm)", f"is empty; give a {R_WIRE.describe()}")
    r_wire = R_WIRE.check(text, "wire resistance (ohm)")
    if device_model not in DEVICE_MODELS:
        raise ParameterError("device model", f"must be one of {', '.join(DEVICE_MODELS)}; got {device_model!r}")
    return r_wire, device_model
