"""The result table of a sweep: one row per grid point with its Monte-Carlo statistics.

One row per grid point, keys ``pattern, size, stuck, array, offset_sigma_volt, fidelity, n, mean_accuracy, std,
ci95_low, ci95_high, failures, failure_reasons, status, defect_fraction, accuracies``. ``offset_sigma_volt`` is
the point's op-amp offset sigma (V): the sweep's offset axis, or the network's own sigma without one. ``n``
counts maps that evaluated; ``std`` is the sample standard deviation (ddof=1); the 95 % interval is Student's t,
``mean +- t(0.975, n-1) std / sqrt(n)``, clipped to [0, 1]; it is NaN (JSON null) for n < 2.
``defect_fraction`` is the mean fraction of the array's cells that were stuck; ``accuracies`` holds the
per-seed accuracies (NaN for failed maps). ``status`` is ``ok``, ``some failed`` or ``failed``.
"""

from __future__ import annotations

import math

import numpy as np

from core.model.results import SweepResult
from core.model.stats import t_interval
from core.sweeps.chunks import ChunkResult, ChunkTask
from core.sweeps.spec import SweepSpec


class SweepTable:
    """Collects chunk results per grid point and turns finished points into table rows."""

    def __init__(self, spec: SweepSpec, default_offset_sigma: float = 0.0):
        self.spec = spec
        self.points = spec.grid()
        self.default_offset_sigma = float(default_offset_sigma)
        shape = (len(self.points), spec.n_seeds)
        self.acc = np.full(shape, np.nan)
        self.frac = np.full(shape, np.nan)
        self.errors = [[""] * spec.n_seeds for _ in self.points]
        self.pending = np.full(len(self.points), spec.n_seeds)
        self.done_maps = 0
        self._rows: dict[int, dict] = {}  # a finished point's row is computed once

    @property
    def total_maps(self) -> int:
        return len(self.points) * self.spec.n_seeds

    def add(self, task: ChunkTask, result: ChunkResult) -> None:
        for j, (i, _, _, _, k, _) in enumerate(task.items):
            self.acc[i, k] = result.accuracy[j]
            self.frac[i, k] = result.defect_fraction[j]
            self.errors[i][k] = result.errors[j]
            self.pending[i] -= 1
        self.done_maps += len(task.items)
        for i in {item[0] for item in task.items}:
            if self.pending[i] == 0 and i not in self._rows:
                self._rows[i] = self.row(i)

    def rows(self) -> list[dict]:
        """Rows of the finished points, in table order."""
        return [self._rows[i] for i in sorted(self._rows)]

    def row(self, i: int) -> dict:
        pattern, size, stuck, array, sigma = self.points[i]
        errs = self.errors[i]
        good = [k for k in range(self.spec.n_seeds) if not errs[k]]
        n, mean, std, lo, hi = t_interval(self.acc[i, good])
        failures = self.spec.n_seeds - len(good)
        frac = self.frac[i][~np.isnan(self.frac[i])]
        return {
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
            "failure_reasons": sorted({e for e in errs if e}),
            "status": "ok" if failures == 0 else ("failed" if n == 0 else "some failed"),
            "defect_fraction": float(frac.mean()) if frac.size else math.nan,
            "accuracies": [float(v) for v in self.acc[i]],
        }


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
