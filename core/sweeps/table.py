"""The result table of a sweep: one row per grid point with its Monte-Carlo statistics, in bounded memory.

One row per grid point, keys ``pattern, size, stuck, array, offset_sigma_volt, fidelity, n, mean_accuracy, std,
ci95_low, ci95_high, failures, failure_reasons, status, defect_fraction`` and either ``accuracies`` or
``maps_row``. ``offset_sigma_volt`` is the point's op-amp offset sigma (V): the sweep's offset axis, or the
network's own sigma without one. ``n`` counts maps that evaluated; ``std`` is the sample standard deviation
(ddof=1); the 95 % interval is Student's t, ``mean +- t(0.975, n-1) std / sqrt(n)``, clipped to [0, 1]; it is NaN
(JSON null) for n < 2. ``defect_fraction`` is the mean fraction of the array's cells that were stuck.
``status`` is ``ok``, ``some failed`` or ``failed``.

Memory does not grow with the number of maps. Per point the table keeps running aggregates only (counts, the
failure reasons, and exact sums of the accuracies, of their squares and of the stuck fractions: :class:`_Moments`);
the statistics are computed from them in exact rational arithmetic and rounded once, so they are the same
whatever order chunks finish in (a Dask run equals a local one to the bit) and agree with numpy's
``mean``/``std(ddof=1)`` of the same accuracies to rounding (a few 1e-16 relative; numpy rounds at every
addition). Accuracies are ``correct / images`` and stuck fractions ``cells / array cells``, so the sums are
sums of integers; a value that is not such a ratio is summed exactly as a binary fraction instead.

The per-map accuracies (NaN for a failed map) stream out as chunks finish: a sweep of up to
:data:`~core.project_io.sweep_maps.KEEP_MAPS_IN_ROWS` maps keeps them in memory and each row carries them as
``accuracies`` (as always: small sweeps, the GUI's plots and the study's paired statistics see no change); a
larger one writes them into a temporary HDF5 file (:class:`~core.project_io.sweep_maps.SweepMaps`) that saving
the project copies into the sweep's group, and each row carries ``maps_row``, its row in that table (read it
with :func:`~core.project_io.sweep_maps.point_accuracies`). All per-map accuracies are kept, not a histogram
or quantiles: with their seeds they allow paired comparisons across sizes and stuck types (the placements are
common random numbers) and finding the placement behind a bad point, and they cost 8 bytes a map on disk.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Optional

import numpy as np

from core.model.results import SweepResult
from core.project_io.sweep_maps import KEEP_MAPS_IN_ROWS, SweepMaps
from core.sweeps.chunks import ChunkResult, ChunkTask
from core.sweeps.spec import SweepSpec

MAX_REASONS = 20  # distinct failure reasons kept per point (a message naming each map would grow with the seeds)
_FIXED_BITS = 1074  # 2**1074 times any float64 is an integer: exact sums of arbitrary values
_MAX_INT_DENOMINATOR = 1 << 20  # int64 sums of (value * denominator)**2 stay exact for 100,000 maps a chunk


class _Moments:
    """Exact running sums of values (and optionally their squares): order-independent, mergeable, O(1) memory."""

    __slots__ = ("n", "nonfinite", "by_denominator", "fixed", "fixed_sq", "squares")

    def __init__(self, squares: bool = True):
        self.n = 0
        self.nonfinite = False
        self.by_denominator: dict[int, list[int]] = {}  # D -> [sum of c, sum of c**2] for values c / D
        self.fixed = self.fixed_sq = 0  # values * 2**1074 (and squares * 2**2148) for other values
        self.squares = squares

    def add(self, values: np.ndarray, denominator: int) -> None:
        values = np.asarray(values, dtype=np.float64)
        if values.size == 0:
            return
        self.n += int(values.size)
        finite = np.isfinite(values)
        if not finite.all():
            self.nonfinite = True  # numpy's mean and std are NaN then
            values = values[finite]
        rest = values
        if 0 < denominator <= _MAX_INT_DENOMINATOR:
            c = np.rint(values * denominator)
            exact = c / denominator == values  # c / D rounds as np.mean of booleans and count / cells do
            ci = c[exact].astype(np.int64)
            sums = self.by_denominator.setdefault(denominator, [0, 0])
            sums[0] += int(ci.sum())
            if self.squares:
                sums[1] += int(np.dot(ci, ci))
            rest = values[~exact]
        for v in rest.tolist():  # rare: exact as binary fractions
            num, den = float(v).as_integer_ratio()
            x = num << (_FIXED_BITS - den.bit_length() + 1)
            self.fixed += x
            if self.squares:
                self.fixed_sq += x * x

    def _sums(self) -> tuple[Fraction, Fraction]:
        total = Fraction(self.fixed, 1 << _FIXED_BITS)
        sq = Fraction(self.fixed_sq, 1 << (2 * _FIXED_BITS))
        for d, (s, q) in self.by_denominator.items():
            total += Fraction(s, d)
            sq += Fraction(q, d * d)
        return total, sq

    def mean(self) -> float:
        if self.n == 0 or self.nonfinite:
            return math.nan
        return float(self._sums()[0] / self.n)

    def mean_std(self) -> tuple[float, float]:
        """Mean and sample standard deviation (ddof=1; 0.0 for one value), each rounded once from exact sums."""
        if self.n == 0 or self.nonfinite:
            return math.nan, math.nan
        total, sq = self._sums()
        mean = float(total / self.n)
        if self.n == 1:
            return mean, 0.0
        var = (sq - total * total / self.n) / (self.n - 1)
        return mean, math.sqrt(float(var))


def t_interval_of(m: _Moments) -> tuple[int, float, float, float, float]:
    """(n, mean, std, ci95_low, ci95_high) as :func:`core.model.stats.t_interval` gives for the same values."""
    n = m.n
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean, std = m.mean_std()
    if n == 1:
        return 1, mean, 0.0, math.nan, math.nan
    from scipy.special import stdtrit

    half = float(stdtrit(n - 1, 0.975)) * std / math.sqrt(n)
    return n, mean, std, max(0.0, mean - half), min(1.0, mean + half)


class SweepTable:
    """Collects chunk results per grid point and turns finished points into table rows.

    Parameters
    ----------
    spec
        The sweep (arrays resolved).
    default_offset_sigma
        The network's own op-amp offset sigma (V), shown for points without an offset axis.
    n_images
        Images per evaluation (accuracies are ``correct / n_images``); 0 if unknown (then summed as binary
        fractions, still exact).
    cells
        Cells per array, by array number (stuck fractions are ``stuck cells / cells``).
    keep_maps
        Keep per-map accuracies in the rows up to this many maps (default
        :data:`~core.project_io.sweep_maps.KEEP_MAPS_IN_ROWS`); above, stream them to :attr:`maps`.
    spill_dir
        Folder of the temporary file of streamed accuracies (default: the system's temporary folder).
    """

    def __init__(
        self,
        spec: SweepSpec,
        default_offset_sigma: float = 0.0,
        *,
        n_images: int = 0,
        cells: Optional[dict[int, int]] = None,
        keep_maps: Optional[int] = None,
        spill_dir: Optional[str] = None,
    ):
        self.spec = spec
        self.points = spec.grid()
        self.default_offset_sigma = float(default_offset_sigma)
        self.n_images = int(n_images)
        self.cells = dict(cells or {})
        n_points, n_seeds = len(self.points), spec.n_seeds
        self.acc_moments = [_Moments() for _ in self.points]
        self.frac_moments = [_Moments(squares=False) for _ in self.points]
        self.failures = [0] * n_points
        self.reasons: list[set[str]] = [set() for _ in self.points]
        self.pending = np.full(n_points, n_seeds)
        self.done_maps = 0
        self._rows: dict[int, dict] = {}  # a finished point's row is computed once
        limit = KEEP_MAPS_IN_ROWS if keep_maps is None else keep_maps
        # per-map accuracies: in memory, shown in the rows, for small sweeps; streamed to a file above the limit
        self.acc: Optional[np.ndarray] = np.full((n_points, n_seeds), np.nan) if self.total_maps <= limit else None
        self.maps: Optional[SweepMaps] = (
            None if self.acc is not None else SweepMaps.spill((n_points, n_seeds), spill_dir)
        )

    @property
    def total_maps(self) -> int:
        return len(self.points) * self.spec.n_seeds

    def add(self, task: ChunkTask, result: ChunkResult) -> None:
        items, m = task.items, len(task.items)
        acc = np.asarray(result.accuracy, dtype=np.float64)
        frac = np.asarray(result.defect_fraction, dtype=np.float64)
        good = np.fromiter((not e for e in result.errors), dtype=bool, count=m)
        cells = self.cells.get(task.array, 0)
        start = 0
        while start < m:  # runs of one grid point (a chunk holds consecutive seeds of consecutive points)
            i, k0 = items[start][0], items[start][4]
            stop = start + 1
            while stop < m and items[stop][0] == i and items[stop][4] == k0 + stop - start:
                stop += 1
            run = slice(start, stop)
            ok = good[run]
            self.acc_moments[i].add(acc[run][ok], self.n_images)
            f = frac[run]
            self.frac_moments[i].add(f[~np.isnan(f)], cells)
            n_bad = int(stop - start - ok.sum())
            if n_bad:
                self.failures[i] += n_bad
                reasons = self.reasons[i]
                for e in result.errors[start:stop]:
                    if e and len(reasons) < MAX_REASONS:
                        reasons.add(e)
            if self.acc is not None:
                self.acc[i, k0 : k0 + stop - start] = acc[run]
            elif self.maps is not None:
                self.maps.write(i, k0, acc[run])
            self.pending[i] -= stop - start
            if self.pending[i] == 0 and i not in self._rows:
                self._rows[i] = self.row(i)
            start = stop
        self.done_maps += m

    def rows(self) -> list[dict]:
        """Rows of the finished points, in table order."""
        return [self._rows[i] for i in sorted(self._rows)]

    def row(self, i: int) -> dict:
        pattern, size, stuck, array, sigma = self.points[i]
        n, mean, std, lo, hi = t_interval_of(self.acc_moments[i])
        failures = self.failures[i]
        row = {
            "pattern": pattern,
            "size": size,
            "stuck": stuck,
            "array": array,
            "offset_sigma_volt": self.default_offset_sigma if sigma is None else sigma,
            "fidelity": self.spec.fidelity,
            "n": n,
            "mean_accuracy": mean,
            "std": std,
            "ci95_low": lo,
            "ci95_high": hi,
            "failures": failures,
            "failure_reasons": sorted(self.reasons[i]),
            "status": "ok" if failures == 0 else ("failed" if n == 0 else "some failed"),
            "defect_fraction": self.frac_moments[i].mean(),
        }
        if self.acc is not None:
            row["accuracies"] = [float(v) for v in self.acc[i]]
        else:
            row["maps_row"] = i
        return row


def summary_text(result: SweepResult) -> str:
    """A plain-text table of a sweep result."""
    sig = any(r.get("offset_sigma_volt", 0.0) for r in result.rows) or bool(result.spec.get("offset_sigma_volt"))
    head = (
        f"{'pattern':<18} {'size':>6} {'stuck':>7} {'array':>5} "
        + (f"{'os_mV':>6} " if sig else "")
        + f"{'n':>4} {'mean':>7} {'std':>7} {'ci95':>15} {'fail':>4}"
    )
    lines = [
        f"sweep {result.id}{' (partial)' if result.partial else ''}: {len(result.rows)} points, {result.seconds:.2f} s",
        head,
    ]
    for r in result.rows:
        ci = "-" if math.isnan(r["ci95_low"]) else f"{r['ci95_low']:.3f}-{r['ci95_high']:.3f}"
        mean = "-" if math.isnan(r["mean_accuracy"]) else f"{r['mean_accuracy']:.3f}"
        os_mv = f"{1e3 * r.get('offset_sigma_volt', 0.0):>6.3g} " if sig else ""
        lines.append(
            f"{r['pattern']:<18} {r['size']:>6.3g} {r['stuck']:>7} {r['array']:>5} {os_mv}{r['n']:>4} "
            f"{mean:>7} {r['std']:>7.3f} {ci:>15} {r['failures']:>4}"
        )
        for reason in r["failure_reasons"]:
            lines.append(f"    failed: {reason}")
    return "\n".join(lines)
