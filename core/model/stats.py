"""Confidence intervals for accuracies: Student's t over Monte-Carlo placements, Wilson for one test split.

Both are 95 % two-sided intervals clipped to [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054  # the 97.5 % quantile of the standard normal distribution


def t_interval(values: Sequence[float] | np.ndarray) -> tuple[int, float, float, float, float]:
    """(n, mean, sample std, ci95_low, ci95_high) with Student's t, clipped to [0, 1]; NaN where undefined.

    For the mean accuracy over ``n`` random defect placements: ``mean +- t(0.975, n-1) std / sqrt(n)``.
    """
    a = np.asarray(values, dtype=np.float64)
    n = int(a.size)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = float(a.mean())
    if n == 1:
        return 1, mean, 0.0, math.nan, math.nan
    from scipy.special import stdtrit

    std = float(a.std(ddof=1))
    half = float(stdtrit(n - 1, 0.975)) * std / math.sqrt(n)
    return n, mean, std, max(0.0, mean - half), min(1.0, mean + half)


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval of an accuracy of ``correct`` out of ``n`` test images.

    Unlike the normal approximation it stays inside [0, 1] and is sensible at 0 % and 100 %. For
    ``n == 0`` both ends are NaN.
    """
    if n <= 0:
        return math.nan, math.nan
    p = correct / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
