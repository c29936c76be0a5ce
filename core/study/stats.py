"""The intervals of the study: 95 % Student's t over Monte-Carlo draws (accuracies and paired differences) and
Wilson over the images of one test split. Each is a plain dict ``{"mean", "low", "high", "n"}`` so it goes into
``results.json`` as it is and the report formats it one way (:func:`fmt`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from core.model.stats import wilson_interval


def t_ci(values: Sequence[float] | np.ndarray, *, clip: bool = True) -> dict:
    """Mean and 95 % Student's t interval of ``values`` (NaN skipped); clipped to [0, 1] unless ``clip`` is False
    (paired differences). One value: the interval is that value; none: NaN."""
    a = np.asarray(values, dtype=np.float64)
    a = a[np.isfinite(a)]
    n = int(a.size)
    if n == 0:
        return {"mean": math.nan, "low": math.nan, "high": math.nan, "n": 0}
    mean = float(a.mean())
    half = 0.0
    if n > 1:
        from scipy.special import stdtrit

        half = float(stdtrit(n - 1, 0.975)) * float(a.std(ddof=1)) / math.sqrt(n)
    lo, hi = mean - half, mean + half
    if clip:
        lo, hi = max(0.0, lo), min(1.0, hi)
    return {"mean": mean, "low": lo, "high": hi, "n": n}


def diff_ci(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> dict:
    """The paired difference ``a - b`` per draw, with its (unclipped) 95 % t interval."""
    return t_ci(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64), clip=False)


def wilson_ci(accuracy: float, n_images: int) -> dict:
    """An accuracy over ``n_images`` test images with its 95 % Wilson interval."""
    lo, hi = wilson_interval(int(round(accuracy * n_images)), int(n_images))
    return {"mean": float(accuracy), "low": lo, "high": hi, "n": int(n_images)}


def excludes_zero(ci: dict) -> bool:
    return bool(ci["low"] > 0 or ci["high"] < 0)


def fmt(ci: dict, signed: bool = False) -> str:
    """``0.457 [0.447, 0.466]`` (``+0.012 [...]`` when ``signed``); ``n/a`` for NaN."""
    if ci is None or not math.isfinite(ci.get("mean", math.nan)):
        return "n/a"
    f = "{:+.3f}" if signed else "{:.3f}"
    if not (math.isfinite(ci["low"]) and math.isfinite(ci["high"])) or ci["n"] <= 1:
        return f.format(ci["mean"])
    return f"{f.format(ci['mean'])} [{f.format(ci['low'])}, {f.format(ci['high'])}]"


def placement_means(rows: Iterable[dict], **match) -> np.ndarray:
    """Per Monte-Carlo placement: the mean accuracy over the sweep rows whose fields equal ``match``."""
    acc = [r["accuracies"] for r in rows if all(_eq(r.get(k), v) for k, v in match.items())]
    if not acc:
        return np.zeros(0)
    a = np.array(acc, dtype=np.float64)
    with np.errstate(all="ignore"):
        return np.nanmean(a, axis=0) if np.isfinite(a).any() else np.full(a.shape[1], np.nan)


def _eq(value, wanted) -> bool:
    if callable(wanted):
        return bool(wanted(value))
    return value == wanted
