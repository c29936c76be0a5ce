"""The published findings, each set against what this run measured: the numbers with intervals, whether they agree
and, where they do not, why (from the same run's other numbers where possible).

The published studies: Sawal & Wong 2024 (paper network 64-8-8-8-10, correction 48% -> 85%) and the 2025
follow-up (64-50-20-8-10, six defect types with checkerboard, correction 55% -> 90%, models under about 200
parameters do not help, generalization to unseen types poor for circle-complement and checkerboard).
"""

from __future__ import annotations

import math

from core.study.stats import excludes_zero, fmt

AGREES, PARTLY, DIFFERS, NOT_TESTED = "agrees", "partly agrees", "differs", "not tested"

PUBLISHED = {
    "on_off": ("2024, 2025", "Stuck-on and stuck-off defects are about equally harmful."),
    "columns": ("2024", "Defects varying across columns hurt most (column defects are the worst)."),
    "correction_2024": ("2024", "The correction network recovers accuracy from 48% to 85% (paper network)."),
    "correction_2025": ("2025", "The correction network recovers accuracy from 55% to 90% (follow-up network)."),
    "small_models": ("2025", "Correction models under about 200 parameters do not help."),
    "generalization": (
        "2025",
        "A correction network generalizes poorly to unseen defect types, worst for circle-complement and checkerboard.",
    ),
}
TARGETS = {"correction_2024": (0.48, 0.85, "paper"), "correction_2025": (0.55, 0.90, "followup")}

WHY_ON_OFF = (
    "The mapping decides it. With the idle device of a pair at HRS (differential-columns, differential-rows) a "
    "device stuck off deletes at most its own weight, one stuck on sets it to full scale; with both devices around "
    "mid-window (balanced) a stuck device moves its weight by about half the window whether on or off, and the two "
    "are equally harmful, as published. The published circuit's mapping is the one that matches."
)
WHY_COLUMNS = (
    "In a column-pair array a stuck column corrupts one side of a neuron for every input, a stuck row one input "
    "of every neuron; in differential-rows (G+ and G- on rows) a whole stuck column sets both devices of each "
    "pair alike and deletes the neuron's weights symmetrically instead, so rows and columns swap roles."
)


def _finding(key: str, this_run: str, verdict: str, why: str, numbers: dict) -> dict:
    source, claim = PUBLISHED[key]
    return {
        "id": key,
        "source": source,
        "published": claim,
        "this_run": this_run,
        "verdict": verdict,
        "why": why,
        "numbers": numbers,
    }


def on_off_finding(schemes: dict, own: str) -> dict:
    if not schemes:
        return _finding("on_off", "The defect sweeps did not run.", NOT_TESTED, "", {})
    parts, verdicts = [], {}
    for s, a in schemes.items():
        d = a["total"]["on_minus_off"]
        equal = not excludes_zero(d) or abs(d["mean"]) < 0.02
        verdicts[s] = equal
        parts.append(
            f"{s}: stuck on {fmt(a['total']['on'])}, stuck off {fmt(a['total']['off'])}, on - off {fmt(d, True)}"
            + (" (about equal)" if equal else (" (stuck on worse)" if d["mean"] < 0 else " (stuck off worse)"))
        )
    own_equal = verdicts.get(own, False)
    any_equal = any(verdicts.values())
    verdict = AGREES if own_equal else (PARTLY if any_equal else DIFFERS)
    why = "" if own_equal and all(verdicts.values()) else WHY_ON_OFF
    text = f"Project mapping {own}. " + "; ".join(parts) + "."
    return _finding("on_off", text, verdict, why, {"per_scheme": {s: a["total"] for s, a in schemes.items()}})


def columns_finding(schemes: dict, own: str, ranks: dict) -> dict:
    if not schemes:
        return _finding("columns", "The defect sweeps did not run.", NOT_TESTED, "", {})
    parts, worse = [], {}
    for s, a in schemes.items():
        rc = a["rows_vs_columns_small"]
        d = rc["rows_minus_columns"]
        worse[s] = d["low"] > 0
        parts.append(
            f"{s}: rows {fmt(rc['rows'])}, columns {fmt(rc['columns'])}, rows - columns {fmt(d, True)}"
            + (" (columns worse)" if worse[s] else (" (rows worse)" if d["high"] < 0 else " (no clear difference)"))
        )
    own_rank = ranks.get(own, [])
    pos = next((i + 1 for i, (p, _) in enumerate(own_rank) if p == "columns"), None)
    size = schemes[next(iter(schemes))]["rows_vs_columns_small"]["max_size"]
    text = (
        f"Line defects of up to {size:g} of the lines, mean of stuck on and off over all arrays. "
        + "; ".join(parts)
        + "."
    )
    if pos:
        text += (
            f" Among all six patterns (all sizes) columns rank {pos} of {len(own_rank)} by harm in {own} (most "
            f"harmful first: {', '.join(p for p, _ in own_rank)})."
        )
    own_ci = schemes.get(own, {}).get("rows_vs_columns_small", {}).get("rows_minus_columns")
    note = ""
    if own_ci is not None and not worse.get(own) and own_ci["mean"] > 0 and own_ci["low"] <= 0:
        note = (
            f"In {own} columns are worse on average, but the interval over {own_ci['n']} placements still includes "
            "zero; more placements (the full study) narrow it."
        )
    n_worse = sum(worse.values())
    verdict = AGREES if worse.get(own) and n_worse == len(worse) else (PARTLY if worse.get(own) or n_worse else DIFFERS)
    why = "" if verdict == AGREES else WHY_COLUMNS
    if pos and pos > 1:
        why = (why + " " if why else "") + (
            "Area defects that cover whole blocks (circle-complement, checkerboard at these sizes) stuck more cells "
            "than a band of columns, so they rank above columns by harm; the published comparison was between line "
            "defects."
        )
    why = f"{note} {why}".strip()
    return _finding(
        "columns", text, verdict, why, {"per_scheme": {s: a["rows_vs_columns_small"] for s, a in schemes.items()}}
    )


def correction_finding(key: str, headline: dict | None, network: str) -> dict:
    before_pub, after_pub, net = TARGETS[key]
    if headline is None or network != net:
        why = f"This run's network is {network}; run the study with --preset {net} for this finding."
        return _finding(key, "Not measured on this network.", NOT_TESTED, why, {})
    b, a = headline["before"], headline["after"]
    n = a["n"]
    if n == 0:
        return _finding(key, f"No random defect map dropped accuracy near {before_pub:.2f}.", NOT_TESTED, "", {})
    text = (
        f"{n} random defect maps whose accuracy fell to within 0.08 of {before_pub:.2f} (before {fmt(b)}), one "
        f"correction net each: after {fmt(a)}, gain {fmt(headline['gain'], True)}."
    )
    if a["mean"] >= after_pub - 0.05 or a["high"] >= after_pub:
        verdict, why = AGREES, ""
    elif headline["gain"]["low"] > 0:
        verdict = PARTLY
        per_array = headline.get("after_by_array", {})
        worst = min(per_array, key=lambda k: per_array[k]) if per_array else None
        why = (
            f"The net helps but stays below {after_pub:.2f}: defects that rail the TIAs (stuck-on clusters in "
            "array 1, 65 rows into each column) or silence hidden neurons leave outputs that carry no information "
            "to correct."
            + (
                " By array hit: " + ", ".join(f"array {k} {v:.3f}" for k, v in sorted(per_array.items())) + "."
                if per_array
                else ""
            )
            + (f" Worst: array {worst}." if worst else "")
        )
    else:
        verdict, why = DIFFERS, "The correction net does not raise accuracy on these maps."
    return _finding(key, text, verdict, why, {"before": b, "after": a, "gain": headline["gain"]})


def small_models_finding(sweep: dict | None) -> dict:
    if not sweep or not sweep.get("size"):
        return _finding("small_models", "The size sweep did not run.", NOT_TESTED, "", {})
    pts = [(s["parameters"], s["after"]["mean"], s) for s in sweep["size"] if math.isfinite(s["after"]["mean"])]
    if not pts:
        return _finding("small_models", "The size sweep has no finished point.", NOT_TESTED, "", {})
    best = max(p[1] for p in pts)
    enough = min((p for p in pts if p[1] >= best - 0.05), key=lambda p: p[0])
    small = [p for p in pts if p[0] < 200]  # the published threshold
    big = [p for p in pts if p[0] >= 200]
    listing = ", ".join(f"{p[0]} params {fmt(p[2]['after'])}" for p in pts)
    text = (
        f"Mean test accuracy after correction over {sweep['before']['n']} defect maps (before {fmt(sweep['before'])}): "
        f"{listing}. The smallest net within 0.05 of the best ({best:.3f}) has {enough[0]} parameters."
    )
    short = [p for p in pts if p[1] < best - 0.05]
    tiny = [p for p in pts if p[0] < 100]
    if not small or not big:
        verdict, why = NOT_TESTED, "The sweep did not cover both sides of 200 parameters."
    elif tiny and all(p[1] < best - 0.05 for p in tiny) and enough[0] <= 400:
        verdict = AGREES
        why = (
            f"Nets under {enough[0]} parameters fall short here and nets from about {enough[0]} on do as well as the "
            "largest, so the published threshold of about 200 is reproduced to within a factor of two."
            if enough[0] < 200
            else ""
        )
    elif short:
        verdict = PARTLY
        why = (
            f"Small nets do fall short, but the knee lies at about {enough[0]} parameters rather than 200: the "
            "correction net here reads only the output voltages of the last array, so its width alone sets the size."
        )
    else:
        verdict = DIFFERS
        why = (
            "Even the smallest nets reach within 0.05 of the best: with the output voltages as input a few hidden "
            "units already separate the classes when the defect leaves the outputs informative."
        )
    return _finding("small_models", text, verdict, why, {"knee_parameters": enough[0], "best": best})


def generalization_finding(loo: dict | None) -> dict:
    if not loo or not loo.get("by_type"):
        return _finding("generalization", "The leave-one-type-out study did not run.", NOT_TESTED, "", {})
    by = loo["by_type"]
    order = sorted(by, key=lambda t: by[t]["gain"]["mean"] if math.isfinite(by[t]["gain"]["mean"]) else 0.0)
    listing = "; ".join(
        f"{t}: gain {fmt(by[t]['gain'], True)} (trained-on types {by[t]['trained_gain']:+.3f})" for t in order
    )
    arrays = ", ".join(str(a) for a in loo["arrays"])
    text = (
        f"Correction net trained on the other five types (array {arrays}), tested on the held-out type; gain in "
        f"test accuracy per held-out type, worst first: {listing}."
    )
    worst2 = set(order[:2])
    target = {"circle_complement", "checkerboard"}
    if worst2 == target:
        verdict, why = AGREES, ""
    elif worst2 & target:
        verdict = PARTLY
        why = (
            f"The two worst held-out types here are {', '.join(order[:2])}. A held-out type generalizes badly when "
            "its stuck cells cover most of a column's devices in a way no other type does (checkerboard: every "
            "other device; circle-complement: the whole rim), so its output voltages fall outside what the net saw."
        )
    else:
        verdict = DIFFERS
        why = (
            f"The two worst held-out types here are {', '.join(order[:2])}; with "
            f"{loo.get('variants', 0)} random copies per training type and arrays {arrays} only, which types "
            "transfer depends on the array the defects hit."
        )
    return _finding("generalization", text, verdict, why, {"by_type": by, "order": order})


def all_findings(sections: dict, own_scheme: str, network: str) -> list[dict]:
    """Every published finding against this run's sections (missing sections: ``not tested``)."""
    schemes = sections.get("defects", {}).get("analysis", {})
    ranks = sections.get("defects", {}).get("ranks", {})
    rec = sections.get("recovery", {})
    key = "correction_2024" if network == "paper" else "correction_2025"
    other = "correction_2025" if key == "correction_2024" else "correction_2024"
    out = [
        on_off_finding(schemes, own_scheme),
        columns_finding(schemes, own_scheme, ranks),
        correction_finding(key, rec.get("headline"), network),
        correction_finding(other, None, network),
        small_models_finding(rec.get("size_and_data")),
        generalization_finding(rec.get("generalization")),
    ]
    order = list(PUBLISHED)
    return sorted(out, key=lambda f: order.index(f["id"]))
