"""Comparing the recovery methods across the six spatial defect patterns, and the generalization study.

Each pattern gets one standard geometry, sized relative to the array so it fits any network: about a quarter
of the cells for circle, ring, rows, columns and the complement of a disc, half of them for a checkerboard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np

from core.errors import ParameterError, check_range
from core.jobs import Progress
from core.model.defects import STUDY_PATTERNS, Defect, parse_spec
from core.model.project import Project
from core.model.results import RecoveryResult
from core.recovery.common import METHODS
from core.recovery.correction import CorrectionConfig, generalization_job
from core.recovery.recover import recover_job

STUCK = ("on", "off")


def standard_spec(pattern: str, array: int, stuck: str, shape: tuple[int, int]) -> str:
    """The spec string of a pattern's standard geometry on array ``array`` (1-based) of ``shape``."""
    rows, cols = shape
    head = f"{pattern}:array={array},stuck={stuck}"
    if pattern == "circle":
        return f"{head},cx=0.5,cy=0.5,r=0.3"
    if pattern == "ring":
        return f"{head},cx=0.5,cy=0.5,r_in=0.2,r_out=0.35"
    if pattern == "circle_complement":
        return f"{head},cx=0.5,cy=0.5,r=0.5"
    if pattern in ("rows", "columns"):
        n = rows if pattern == "rows" else cols
        count = max(1, round(n / 4))
        return f"{head},start={(n - count) // 2},count={count}"
    if pattern == "checkerboard":
        return f"{head},period=2,phase=0"
    raise ParameterError("pattern", f"must be one of {', '.join(STUDY_PATTERNS)}; got {pattern!r}")


def random_spec(pattern: str, array: int, stuck: str, shape: tuple[int, int], rng) -> str:
    """A randomly placed and sized variant of a pattern (``rng``: a numpy Generator), for training diversity."""
    rows, cols = shape
    head = f"{pattern}:array={array},stuck={stuck}"
    cx, cy = rng.uniform(0.2, 0.8, size=2)
    if pattern == "circle":
        return f"{head},cx={cx:.3f},cy={cy:.3f},r={rng.uniform(0.15, 0.35):.3f}"
    if pattern == "ring":
        r_in = rng.uniform(0.1, 0.3)
        return f"{head},cx={cx:.3f},cy={cy:.3f},r_in={r_in:.3f},r_out={r_in + rng.uniform(0.1, 0.2):.3f}"
    if pattern == "circle_complement":
        return f"{head},cx={cx:.3f},cy={cy:.3f},r={rng.uniform(0.4, 0.7):.3f}"
    if pattern in ("rows", "columns"):
        n = rows if pattern == "rows" else cols
        count = int(rng.integers(1, max(2, n // 3 + 1)))
        return f"{head},start={int(rng.integers(0, n - count + 1))},count={count}"
    if pattern == "checkerboard":
        return f"{head},period={int(rng.integers(1, 4))},phase={int(rng.integers(0, 2))}"
    raise ParameterError("pattern", f"must be one of {', '.join(STUDY_PATTERNS)}; got {pattern!r}")


def standard_scenarios(
    project: Project, array: int, patterns: Sequence[str] = STUDY_PATTERNS, stuck: Sequence[str] = STUCK
) -> dict[str, list[Defect]]:
    """Named scenarios ``PATTERN-STUCK`` (one defect each) on one array of the project's network."""
    shapes = project.require_mapped().shapes
    if not 1 <= array <= len(shapes):
        raise ParameterError("array", f"must be from 1 to {len(shapes)} for this network; got {array!r}")
    return {f"{p}-{s}": [parse_spec(standard_spec(p, array, s, shapes[array - 1]))] for p in patterns for s in stuck}


def compare_job(
    project: Project,
    arrays: Sequence[int] = (1,),
    methods: Sequence[str] = METHODS,
    fidelity: str = "behavioral",
    *,
    patterns: Sequence[str] = STUDY_PATTERNS,
    stuck: Sequence[str] = STUCK,
    seed: int = 0,
    options: Optional[dict] = None,
):
    """Job: every method on every standard scenario of the given arrays.

    Returns
    -------
    list of core.model.project.RecoveryResult
        One per (array, pattern, stuck, method), ``scenario`` named ``arrayA-PATTERN-STUCK``; turn them into a
        table with :func:`table_rows`.
    """
    options = options or {}
    work = [(a, name, defs) for a in arrays for name, defs in standard_scenarios(project, a, patterns, stuck).items()]
    total = len(work) * len(methods)
    out: list[RecoveryResult] = []
    for a, name, defs in work:
        for m in methods:
            yield Progress(len(out), total, f"array {a}, {name}: {m}")
            out.append(
                (
                    yield from recover_job(
                        project, defs, m, fidelity, seed=seed, scenario=f"array{a}-{name}", **options.get(m, {})
                    )
                )
            )
    yield Progress(total, total, "comparison done")
    return out


def table_rows(results: Sequence[RecoveryResult]) -> list[dict]:
    """One row per scenario: ``scenario``, ``spec``, ``fraction`` (defective cells), ``before``, one per method,
    and the correction result's ``diagnostic`` (dead and clipped hidden neurons) where it has one."""
    rows: dict[str, dict] = {}
    for r in results:
        row = rows.setdefault(
            r.scenario,
            {
                "scenario": r.scenario,
                "spec": "; ".join(r.defect_specs),
                "fraction": max(r.params.get("defect_fraction", [0.0])),
                "before": r.before,
            },
        )
        row[r.method] = r.after
        diagnostic = {k[len("diagnostic_") :]: v for k, v in r.params.items() if k.startswith("diagnostic_")}
        if r.method == "correction" and diagnostic:
            row["diagnostic"] = diagnostic  # where the correction net cannot work (core.recovery.diagnostics)
    return list(rows.values())


def generalization_study_job(
    project: Project,
    array: int,
    train_patterns: Sequence[str],
    test_patterns: Sequence[str],
    fidelity: str = "behavioral",
    *,
    seed: int = 0,
    variants: int = 0,
    **options,
):
    """Job: a correction net trained on ``train_patterns`` (stuck on and off) and tested on ``test_patterns``.

    The training set holds each training pattern's standard geometry plus ``variants`` randomly placed and
    sized copies per pattern and stuck value (seeded by ``seed``); the held-out scenarios are the test
    patterns' standard geometries.

    Returns the :class:`core.model.project.RecoveryResult` of :func:`core.recovery.correction.generalization_job`.
    """
    if set(train_patterns) & set(test_patterns):
        raise ParameterError("patterns", "a held-out pattern must not also be a training pattern")
    variants = check_range("variants", variants, 0, 1000, integer=True)
    train = standard_scenarios(project, array, train_patterns)
    shape = project.require_mapped().shapes[array - 1]
    rng = np.random.default_rng(seed)
    for p in train_patterns:
        for s in STUCK:
            for i in range(variants):
                train[f"{p}-{s}-v{i + 1}"] = [parse_spec(random_spec(p, array, s, shape, rng))]
    test = standard_scenarios(project, array, test_patterns)
    return (yield from generalization_job(project, train, test, fidelity, CorrectionConfig.paper(seed=seed, **options)))


def markdown_table(rows: Sequence[dict], methods: Sequence[str] = METHODS) -> str:
    """A Markdown table of :func:`table_rows` output (accuracies to 3 decimals, best method in bold)."""
    head = "| scenario | defective cells | before | " + " | ".join(methods) + " |"
    lines = [head, "|" + "---|" * (3 + len(methods))]
    for r in rows:
        vals = [r.get(m) for m in methods]
        best = max((v for v in vals if v is not None), default=None)
        cells = [(f"**{v:.3f}**" if v == best else f"{v:.3f}") if v is not None else "-" for v in vals]
        lines.append(
            f"| {r['scenario']} | {r['fraction'] * 100:.0f}% | {r['before']:.3f} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)
