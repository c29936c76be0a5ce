"""Statistics of a defect mask: defective fraction, clusters, alignment with rows and columns, a verdict.

Used for measured maps (:mod:`core.model.measured`) and shared by the CLI (``defect-stats``) and the workbench, so
both word a map alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.errors import ParameterError

MOSTLY = 0.8  # a line whose cells are at least this share defective counts as a "mostly defective" line
DENSE = 0.5  # a map with at least this share of its cells defective is "dense", whatever its shape


@dataclass
class DefectStatistics:
    """What a defect mask looks like (see :func:`defect_statistics`)."""

    shape: tuple[int, int]
    n_defective: int
    fraction: float
    n_clusters: int
    cluster_sizes: list[int]  # largest first
    full_rows: int
    full_columns: int
    on_mostly_defective_rows: float  # share of defects on rows >= MOSTLY defective
    on_mostly_defective_columns: float
    largest_cluster_share: float  # share of defects in the largest cluster
    verdict: str
    n_cells: int = 0  # device cells counted (all of ``shape`` but a die map's empty corners)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["shape"] = list(self.shape)
        d["cluster_sizes"] = self.cluster_sizes[:20]
        return d


def defect_statistics(mask: np.ndarray, mostly: float = MOSTLY, valid: Optional[np.ndarray] = None) -> DefectStatistics:
    """Defective fraction, 4-connected clusters, alignment with rows and columns, and a one-line verdict.

    The verdict is ``"none"`` without defects; ``"dense"`` when at least :data:`DENSE` of the cells are defective
    (most of the array is lost: its shape no longer tells a line from a cluster); else ``"column fault"`` /
    ``"row fault"`` when at least half the defects lie on mostly defective columns / rows (the larger share wins),
    else ``"cluster"`` when the largest cluster holds at least half of them, else ``"scattered"``.
    ``valid`` (optional) marks the cells that are devices: fractions and line shares count only those.
    """
    from scipy import ndimage

    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2 or m.size == 0:
        raise ParameterError("mask", f"must be a 2-D boolean matrix, got shape {m.shape}")
    v = np.ones(m.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    m = m & v
    n, n_cells = int(m.sum()), int(v.sum())
    labels, n_clusters = ndimage.label(m)  # 4-connectivity: the default structuring element
    sizes = sorted(np.bincount(labels.ravel())[1:].tolist(), reverse=True)
    with np.errstate(invalid="ignore"):  # a line without devices: share 0
        row_share = np.nan_to_num(m.sum(axis=1) / v.sum(axis=1))
        col_share = np.nan_to_num(m.sum(axis=0) / v.sum(axis=0))
    on_rows = int(m[row_share >= mostly, :].sum())
    on_cols = int(m[:, col_share >= mostly].sum())
    f_rows = on_rows / n if n else 0.0
    f_cols = on_cols / n if n else 0.0
    largest = sizes[0] / n if n else 0.0
    fraction = n / n_cells if n_cells else 0.0
    if n == 0:
        verdict = "none"
    elif fraction >= DENSE:
        verdict = "dense"
    elif max(f_rows, f_cols) >= 0.5:
        verdict = "column fault" if f_cols >= f_rows else "row fault"
    elif largest >= 0.5:
        verdict = "cluster"
    else:
        verdict = "scattered"
    return DefectStatistics(
        shape=tuple(m.shape),
        n_defective=n,
        fraction=fraction,
        n_clusters=int(n_clusters),
        cluster_sizes=[int(s) for s in sizes],
        full_rows=int(((row_share == 1.0) & v.any(axis=1)).sum()),
        full_columns=int(((col_share == 1.0) & v.any(axis=0)).sum()),
        on_mostly_defective_rows=f_rows,
        on_mostly_defective_columns=f_cols,
        largest_cluster_share=largest,
        verdict=verdict,
        n_cells=n_cells,
    )


def statistics_text(s: DefectStatistics) -> str:
    """One paragraph of a map's statistics (the CLI prints it; the dialog shows it)."""
    sizes = ", ".join(map(str, s.cluster_sizes[:8])) + (" ..." if len(s.cluster_sizes) > 8 else "")
    return (
        f"defective {s.n_defective} of {s.n_cells} cells ({100 * s.fraction:.1f} %); "
        f"{s.n_clusters} clusters (largest first: {sizes or 'none'}); full rows {s.full_rows}, full columns "
        f"{s.full_columns}; on mostly defective rows {100 * s.on_mostly_defective_rows:.0f} %, columns "
        f"{100 * s.on_mostly_defective_columns:.0f} %; looks like: {s.verdict}"
    )
