"""Sections 4 and 5 of the study: the recovery table, the published "before -> after" of the correction network
on random defect maps near the published "before" accuracy, the correction network's size and training-data
sweeps, and its generalization to defect types it never saw (leave one type out).

Everything goes through the recovery API as it is (:mod:`core.recovery`): :func:`compare_job` for the table,
:func:`recover_job` for one scenario, :func:`size_sweep_job` and :func:`data_sweep_job` for the sweeps (one
scenario each; the study averages them over several random maps), :func:`generalization_job` for
leave-one-type-out. The correction net never sees the test split; the data sweep adds training-split images
pushed through the defective circuit to the calibration split.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.circuit import behavioral
from core.circuit.fidelity import defective_conductances
from core.jobs import Progress, stage
from core.model.defects import STUDY_PATTERNS, Defect, parse_spec
from core.model.project import Project
from core.recovery.common import METHODS
from core.recovery.compare import compare_job, random_spec, standard_scenarios, table_rows
from core.recovery.correction import CorrectionConfig, generalization_job
from core.recovery.correction_sweeps import data_sweep_job, size_sweep_job
from core.recovery.recover import recover_job
from core.study.spec import StudyPlan
from core.study.stats import diff_ci, t_ci, wilson_ci
from core.sweeps.spec import make_defect

STUCK = ("on", "off")


# the correction net with three reads per image at lower input amplitudes (core.recovery.correction.PROBES): the
# strongest variant on output voltages, reported beside the study's one-read method (never counted as "best")
PROBED = "correction_3_reads"


def recovery_table_job(project: Project, plan: StudyPlan, fidelity: str, seed: int):
    """Job: every method on every standard scenario of the plan's arrays and patterns (a JSON-able dict), and the
    correction net with amplitude probes (``PROBED``: 3 reads per image) beside them."""
    arrays = [a for a in plan.recovery_arrays if a <= len(project.require_mapped().arrays)]
    n_methods = len(METHODS) + 1

    def table(methods: Sequence[str], options=None):
        return compare_job(
            project, arrays, methods, fidelity, patterns=plan.recovery_patterns, stuck=plan.recovery_stuck,
            seed=seed, options=options,
        )  # fmt: skip

    results = yield from stage(table(METHODS), 0.0, len(METHODS), n_methods)
    probed = yield from stage(
        table(("correction",), {"correction": {"probes": "amplitude"}}), len(METHODS), 1.0, n_methods, "3 reads"
    )
    rows = table_rows(results)
    for r, p in zip(rows, table_rows(probed)):
        assert r["scenario"] == p["scenario"]
        r[PROBED] = p["correction"]
    n = len(project.load_dataset().y_test)
    for r in rows:
        r["ci"] = {k: wilson_ci(r[k], n) for k in ("before", *METHODS, PROBED) if k in r}
        r["best"] = max(METHODS, key=lambda m: r.get(m, -1.0))
    hard = [r for r in rows if r["before"] <= 0.60]
    mean = {k: t_ci([r[k] for r in rows]) for k in ("before", *METHODS, PROBED)}
    wins = {m: sum(1 for r in rows if r[m] >= max(r[k] for k in METHODS)) for m in METHODS}

    def close(key: str) -> int:
        return sum(1 for r in hard if r[key] >= max(r[k] for k in METHODS) - 0.05)

    return {
        "rows": rows,
        "mean": mean,
        "wins": wins,
        "n_hard": len(hard),
        "correction_within_005_of_best_on_hard": close("correction"),
        "correction_at_least_085_on_hard": sum(1 for r in hard if r["correction"] >= 0.85),
        "correction_3_reads_within_005_of_best_on_hard": close(PROBED),
        "correction_3_reads_at_least_085_on_hard": sum(1 for r in hard if r[PROBED] >= 0.85),
        "arrays": arrays,
        "patterns": list(plan.recovery_patterns),
        "stuck": list(plan.recovery_stuck),
        "defaults": {"correction": CorrectionConfig().as_dict()},
    }


def candidate_maps(project: Project, n: int, seed: int) -> list[tuple[Defect, float]]:
    """``n`` random defect maps (pattern, array, stuck type, size in [0.1, 0.5] and placement all random) with
    their behavioural test accuracy."""
    mapped = project.require_mapped()
    ds = project.load_dataset()
    rng = np.random.default_rng([seed, 4242])
    out = []
    for k in range(n):
        pattern = STUDY_PATTERNS[int(rng.integers(len(STUDY_PATTERNS)))]
        array = int(rng.integers(1, len(mapped.arrays) + 1))
        stuck = STUCK[int(rng.integers(2))]
        size = round(float(rng.uniform(0.1, 0.5)), 3)
        d = make_defect(pattern, size, stuck, array, k, mapped.shapes[array - 1], base_seed=seed)
        g, _ = defective_conductances(mapped, [d])
        out.append((d, float(behavioral.accuracy(mapped, ds.X_test, ds.y_test, g))))
    return out


def pick_near(cands: Sequence[tuple[Defect, float]], target: float, count: int, width: float = 0.08) -> list:
    """Up to ``count`` candidates whose accuracy lies within ``width`` of ``target``, closest first."""
    near = [c for c in cands if abs(c[1] - target) <= width]
    return sorted(near, key=lambda c: abs(c[1] - target))[:count]


def pick_hard(cands: Sequence[tuple[Defect, float]], count: int, ceiling: float = 0.60, floor: float = 0.2) -> list:
    """Up to ``count`` candidates that drop accuracy to between ``floor`` and ``ceiling``, spread over that range."""
    hard = sorted((c for c in cands if floor <= c[1] <= ceiling), key=lambda c: c[1])
    if len(hard) <= count:
        return hard
    idx = np.linspace(0, len(hard) - 1, count).round().astype(int)
    return [hard[i] for i in idx]


def headline_job(project: Project, maps: Sequence[tuple[Defect, float]], target: float, fidelity: str, seed: int):
    """Job: the correction net on each map (one net per map), before and after with t intervals over the maps."""
    per = []
    for i, (d, _) in enumerate(maps):
        yield Progress(i, len(maps), f"correction on {d.to_spec()}")
        r = yield from recover_job(project, [d], "correction", fidelity, seed=seed, scenario=f"headline-{i + 1}")
        per.append({"spec": d.to_spec(), "before": r.before, "after": r.after})
    b, a = [p["before"] for p in per], [p["after"] for p in per]
    return {
        "target_before": target,
        "maps": per,
        "before": t_ci(b),
        "after": t_ci(a),
        "gain": diff_ci(a, b),
    }


def size_and_data_job(
    project: Project, maps: Sequence[tuple[Defect, float]], plan: StudyPlan, fidelity: str, seed: int
):
    """Job: test accuracy after correction against the net's size and against the number of training images
    (calibration split first, then the training split through the defective circuit), per map with the recovery
    API's sweeps (:mod:`core.recovery.correction_sweeps`), then t intervals over the maps."""
    base = CorrectionConfig(seed=seed)
    n = len(maps)
    sweeps: dict[str, list] = {"size": [], "data": []}
    for j, (d, _) in enumerate(maps):
        yield Progress(2 * j, 2 * n, f"size sweep, map {j + 1}/{n}")
        sweeps["size"].append((yield from size_sweep_job(project, [d], fidelity, plan.size_sweep, base)))
        yield Progress(2 * j + 1, 2 * n, f"data sweep, map {j + 1}/{n}")
        sweeps["data"].append((yield from data_sweep_job(project, [d], fidelity, plan.data_sweep_images, base)))
    before = [s.before for s in sweeps["size"]]
    ds = project.load_dataset()

    def summary(kind: str, key: str) -> list[dict]:
        per = sweeps[kind]
        out = []
        for i, pt in enumerate(per[0].points):
            after = [s.points[i].after for s in per]
            out.append(
                {
                    "hidden": pt.hidden,
                    "depth": pt.depth,
                    "parameters": pt.n_parameters,
                    "images": pt.n_images,
                    "from_train_split": max(0, pt.n_images - len(ds.y_cal)),
                    "after": t_ci(after),
                    "gain": diff_ci(after, before),
                    "training_accuracy": float(np.mean([s.points[i].training_accuracy for s in per])),
                    "per_map": after,
                }
            )
        return out

    return {
        "maps": [{"spec": d.to_spec(), "before": b} for (d, _), b in zip(maps, before)],
        "before": t_ci(before),
        "size": summary("size", "parameters"),
        "data": summary("data", "images"),
        "config": base.as_dict(),
        "calibration_images": int(len(ds.y_cal)),
        "train_images": int(len(ds.y_train)),
        "diagnostics": [s.diagnostic for s in sweeps["size"]],
    }


def leave_one_out_job(project: Project, plan: StudyPlan, fidelity: str, seed: int):
    """Job: per array of the plan and per defect type, a correction net trained on the other five types (standard
    geometry and random copies, stuck on and off, plus the defect-free circuit) and tested on the held-out type
    (standard geometry and random placements, stuck on and off)."""
    mapped = project.require_mapped()
    arrays = [a for a in plan.generalization_arrays if a <= len(mapped.arrays)]
    if plan.generalization_paper_config:
        config = CorrectionConfig.paper(seed=seed)
    else:
        config = CorrectionConfig(seed=seed)
    out: dict = {"arrays": arrays, "variants": plan.generalization_variants, "per": [], "config": config.as_dict()}
    total = len(arrays) * len(STUDY_PATTERNS)
    for ai, a in enumerate(arrays):
        shape = mapped.shapes[a - 1]
        for ti, held in enumerate(STUDY_PATTERNS):
            yield Progress(ai * len(STUDY_PATTERNS) + ti, total, f"generalization: array {a}, {held} held out")
            rng = np.random.default_rng([seed, a, ti])
            others = [p for p in STUDY_PATTERNS if p != held]
            train = standard_scenarios(project, a, others)
            for p in others:
                for s in STUCK:
                    for i in range(plan.generalization_variants):
                        train[f"{p}-{s}-v{i + 1}"] = [parse_spec(random_spec(p, a, s, shape, rng))]
            test = standard_scenarios(project, a, [held])
            for s in STUCK:
                for i in range(plan.generalization_tests):
                    test[f"{held}-{s}-t{i + 1}"] = [parse_spec(random_spec(held, a, s, shape, rng))]
            r = yield from generalization_job(project, train, test, fidelity, config)
            held_out = r.params["held_out"]
            trained = [t for t in r.params["trained_on"] if t["name"] != "healthy"]
            healthy = next((t for t in r.params["trained_on"] if t["name"] == "healthy"), None)
            hb, ha = [h["before"] for h in held_out], [h["after"] for h in held_out]
            out["per"].append(
                {
                    "array": a,
                    "held_out": held,
                    "before": t_ci(hb),
                    "after": t_ci(ha),
                    "gain": diff_ci(ha, hb),
                    "trained_gain": diff_ci([t["after"] for t in trained], [t["before"] for t in trained]),
                    "healthy_after": None if healthy is None else healthy["after"],
                    "scenarios": held_out,
                }
            )
    by_type = {}
    for held in STUDY_PATTERNS:
        items = [p for p in out["per"] if p["held_out"] == held]
        if items:
            gains = [h["after"] - h["before"] for p in items for h in p["scenarios"]]
            tg = [p["trained_gain"]["mean"] for p in items]
            by_type[held] = {"gain": t_ci(gains, clip=False), "trained_gain": float(np.mean(tg))}
    out["by_type"] = by_type
    return out
