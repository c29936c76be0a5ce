"""The study's figures, drawn with matplotlib's object-oriented API (no pyplot, no GUI backend, safe on a worker
thread) and written as PNG and SVG. Each figure function takes the JSON-able section dict and returns a
matplotlib Figure, or None when its section did not run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from core.model.defects import STUDY_PATTERNS

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
RC = {"svg.fonttype": "none", "font.size": 9, "axes.grid": True, "grid.alpha": 0.3}


def _figure(w: float = 6.4, h: float = 3.4):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _err(cis) -> tuple[np.ndarray, np.ndarray]:
    m = np.array([c["mean"] for c in cis], dtype=float)
    lo = np.array([c["low"] for c in cis], dtype=float)
    hi = np.array([c["high"] for c in cis], dtype=float)
    lo = np.where(np.isfinite(lo), lo, m)
    hi = np.where(np.isfinite(hi), hi, m)
    return m, np.vstack([np.maximum(m - lo, 0), np.maximum(hi - m, 0)])


def on_off_figure(defects: dict):
    analysis = defects.get("analysis") or {}
    if not analysis:
        return None
    fig = _figure(6.4, 3.0)
    ax = fig.add_subplot()
    schemes = list(analysis)
    x = np.arange(len(schemes))
    for k, (st, c) in enumerate((("on", COLORS[1]), ("off", COLORS[0]))):
        m, e = _err([analysis[s]["total"][st] for s in schemes])
        ax.bar(x + (k - 0.5) * 0.38, m, 0.38, yerr=e, color=c, capsize=3, label=f"stuck {st}")
    ax.set_xticks(x, schemes)
    ax.set_ylabel("mean test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("Stuck on against stuck off per mapping scheme (95% t intervals)")
    ax.legend(loc="upper right")
    return fig


def size_curves_figure(defects: dict, scheme: str):
    a = (defects.get("analysis") or {}).get(scheme)
    if not a:
        return None
    fig = _figure(6.4, 3.6)
    ax = fig.add_subplot()
    sizes = np.array(a["sizes"], dtype=float)
    for i, p in enumerate(p for p in STUDY_PATTERNS if p in a["per_size"]):
        for st, ls in (("on", "-"), ("off", "--")):
            m, e = _err(a["per_size"][p][st])
            ax.plot(sizes, m, ls, color=COLORS[i % len(COLORS)], marker="o", ms=3, label=f"{p} {st}")
            ax.fill_between(sizes, m - e[0], m + e[1], color=COLORS[i % len(COLORS)], alpha=0.08, lw=0)
    ax.set_xlabel("defect size (fraction; see the sweep docs per pattern)")
    ax.set_ylabel("mean test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(f"{scheme}: accuracy against size (solid: stuck on, dashed: off)")
    ax.legend(ncol=3, fontsize=7, loc="upper right")
    return fig


def arrays_figure(defects: dict):
    analysis = defects.get("analysis") or {}
    if not analysis:
        return None
    fig = _figure(6.4, 3.0)
    ax = fig.add_subplot()
    schemes = list(analysis)
    arrays = sorted(analysis[schemes[0]]["per_array"], key=int)
    width = 0.8 / len(schemes)
    for k, s in enumerate(schemes):
        m, e = _err([analysis[s]["per_array"][a]["both"] for a in arrays])
        x = np.arange(len(arrays)) + (k - (len(schemes) - 1) / 2) * width
        ax.bar(x, m, width, yerr=e, color=COLORS[k % len(COLORS)], capsize=2, label=s)
    ax.set_xticks(np.arange(len(arrays)), [f"array {a}" for a in arrays])
    ax.set_ylabel("mean accuracy (on and off)")
    ax.set_ylim(0, 1)
    ax.set_title("Per-array sensitivity (all patterns and sizes)")
    ax.legend(fontsize=7, ncol=2)
    return fig


def recovery_figure(recovery: dict):
    table = recovery.get("table")
    if not table or not table.get("rows"):
        return None
    rows = table["rows"]
    fig = _figure(6.4, 3.4)
    ax = fig.add_subplot()
    for k, m in enumerate(("correction", "retrain", "remap")):
        ax.scatter([r["before"] for r in rows], [r[m] for r in rows], s=18, color=COLORS[k], label=m, alpha=0.8)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
    ax.set_xlabel("accuracy before recovery")
    ax.set_ylabel("accuracy after")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("Recovery per standard scenario (diagonal: no change)")
    ax.legend()
    return fig


def correction_sweeps_figure(recovery: dict):
    sd = recovery.get("size_and_data")
    if not sd:
        return None
    fig = _figure(6.4, 3.0)
    ax1, ax2 = fig.subplots(1, 2)
    before = sd["before"]["mean"]
    for ax, key, xk, label in ((ax1, "size", "parameters", "parameters (log)"), (ax2, "data", "images", "images")):
        pts = sd[key]
        x = np.array([p[xk] for p in pts], dtype=float)
        m, e = _err([p["after"] for p in pts])
        ax.errorbar(x, m, yerr=e, marker="o", ms=3, capsize=3, color=COLORS[0], label="after correction")
        if math.isfinite(before):
            ax.axhline(before, color=COLORS[1], ls="--", lw=1, label="before")
        ax.set_xlabel(label)
        ax.set_ylim(0, 1)
    ax1.set_xscale("log")
    ax1.axvline(200, color="grey", ls=":", lw=1)
    ax1.set_ylabel("mean test accuracy")
    ax1.set_title("Correction net size", fontsize=9)
    ax2.set_title("Training images (cal, then train split)", fontsize=9)
    ax2.legend(fontsize=7, loc="lower right")
    return fig


def generalization_figure(recovery: dict):
    loo = recovery.get("generalization")
    if not loo or not loo.get("by_type"):
        return None
    by = loo["by_type"]
    types = [t for t in STUDY_PATTERNS if t in by]
    fig = _figure(6.4, 3.0)
    ax = fig.add_subplot()
    m, e = _err([by[t]["gain"] for t in types])
    x = np.arange(len(types))
    ax.bar(x - 0.2, m, 0.4, yerr=e, capsize=3, color=COLORS[0], label="held-out type")
    ax.bar(x + 0.2, [by[t]["trained_gain"] for t in types], 0.4, color=COLORS[2], label="trained-on types")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x, [t.replace("_", "\n") for t in types], fontsize=8)
    ax.set_ylabel("gain in test accuracy")
    ax.set_title("Leave one defect type out: gain on the unseen type")
    ax.legend(fontsize=7)
    return fig


def circuit_figure(circuit: dict):
    off, var = circuit.get("offsets"), circuit.get("variability")
    if not off and not var:
        return None
    fig = _figure(6.4, 3.0)
    ax1, ax2 = fig.subplots(1, 2)
    if off:
        x = np.array([r["offset_sigma_volt"] * 1e3 for r in off["rows"]])
        m, e = _err(off["rows"])
        ax1.errorbar(x, m, yerr=e, marker="o", ms=3, capsize=3, color=COLORS[0])
    ax1.set_xlabel("op-amp offset sigma (mV)")
    ax1.set_ylabel("mean test accuracy")
    ax1.set_ylim(0, 1)
    ax1.set_title("Op-amp input offsets", fontsize=9)
    if var:
        for k, field in enumerate(("program_sigma", "read_noise_sigma")):
            rows = [r for r in var["rows"] if r["field"] == field]
            if rows:
                m, e = _err(rows)
                ax2.errorbar(
                    [r["value"] for r in rows], m, yerr=e, marker="o", ms=3, capsize=3, color=COLORS[k], label=field
                )
        ax2.legend(fontsize=7)
    ax2.set_xlabel("relative sigma")
    ax2.set_ylim(0, 1)
    ax2.set_title("Device variability", fontsize=9)
    return fig


def all_figures(sections: dict, scheme: str) -> dict[str, Callable]:
    """Figure name -> a zero-argument function drawing it (None when its section is missing)."""
    d, r, c = sections.get("defects", {}), sections.get("recovery", {}), sections.get("circuit", {})
    return {
        "on_off": lambda: on_off_figure(d),
        "size_curves": lambda: size_curves_figure(d, scheme),
        "arrays": lambda: arrays_figure(d),
        "recovery": lambda: recovery_figure(r),
        "correction_sweeps": lambda: correction_sweeps_figure(r),
        "generalization": lambda: generalization_figure(r),
        "circuit": lambda: circuit_figure(c),
    }


def write_figure(make: Callable, directory: str, name: str) -> tuple[str, str, str] | None:
    """Draw ``make()`` and write it as NAME.png and NAME.svg into ``directory``; returns (png path, svg path,
    the SVG text to inline), or None when ``make`` has nothing to draw."""
    import matplotlib

    png, svg = os.path.join(directory, f"{name}.png"), os.path.join(directory, f"{name}.svg")
    rc: dict = {**RC, "svg.hashsalt": name}
    with matplotlib.rc_context(rc):
        fig = make()
        if fig is None:
            return None
        os.makedirs(directory, exist_ok=True)
        fig.savefig(png, dpi=90, metadata={"Software": None})
        fig.savefig(svg, metadata={"Date": None, "Creator": None})
    with open(svg, encoding="utf-8") as f:
        text = f.read()
    return png, svg, text[text.index("<svg") :]
