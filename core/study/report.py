"""Writing a study: ``results.json`` (every number with the spec that produced it), the figures as PNG and SVG,
and ``report.html``, self-contained (figures inlined as SVG, no script, no link to fetch) with every piece of
user or file text HTML-escaped.
"""

from __future__ import annotations

import html
import json
import math
import os

from core.model.serialize import finite_or_none, json_default
from core.study.figures import all_figures, write_figure
from core.study.findings import AGREES, DIFFERS, NOT_TESTED, PARTLY
from core.study.stats import fmt

CSS = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .5em;
vertical-align:top}th{background:#f3f3f3}.agrees{background:#e3f6e3}.partly{background:#fff5d6}
.differs{background:#fde3e3}.not{background:#eee}.partial{background:#fde3e3;padding:.6em;border:1px solid #c00}
code{background:#f4f4f4;padding:0 .2em}figure{margin:1em 0}figcaption{font-size:.85em;color:#555}
svg{max-width:100%;height:auto}
"""
VERDICT_CLASS = {AGREES: "agrees", PARTLY: "partly", DIFFERS: "differs", NOT_TESTED: "not"}


def e(text) -> str:
    """HTML-escaped text of anything."""
    return html.escape(str(text), quote=True)


def clean_for_json(o):
    """``o`` without the live result objects kept for the GUI (keys ``sweep``), NaN as null."""
    if isinstance(o, dict):
        return {k: clean_for_json(v) for k, v in o.items() if k != "sweep"}
    if isinstance(o, (list, tuple)):
        return [clean_for_json(v) for v in o]
    return o


def _rounded(o):
    """Floats to 6 significant digits (accuracies of a few hundred images need no more); keeps the file small."""
    if isinstance(o, float):
        return float(f"{o:.6g}")
    if isinstance(o, dict):
        return {k: _rounded(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_rounded(v) for v in o]
    return o


def write_json(study: dict, path: str) -> None:
    tmp = path + ".tmp"
    data = _rounded(finite_or_none(clean_for_json(study)))
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, default=json_default, separators=(",", ":"))
    os.replace(tmp, path)


def write_study(study: dict, out_dir: str) -> dict:
    """Write results.json, figures/*.png|svg and report.html into ``out_dir``; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    fig_dir = os.path.join(out_dir, "figures")
    figures = {}
    for name, make in all_figures(study["sections"], study["project"]["scheme"]).items():
        written = write_figure(make, fig_dir, name)
        if written is not None:
            figures[name] = written
    paths: dict = {
        "report": os.path.join(out_dir, "report.html"),
        "results": os.path.join(out_dir, "results.json"),
        "figures": {n: {"png": p, "svg": s} for n, (p, s, _) in figures.items()},
    }
    study["files"] = {
        "report": "report.html",
        "results": "results.json",
        "figures": {n: {"png": f"figures/{n}.png", "svg": f"figures/{n}.svg"} for n in figures},
    }
    write_json(study, paths["results"])
    tmp = paths["report"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(render_html(study, {n: svg for n, (_, _, svg) in figures.items()}))
    os.replace(tmp, paths["report"])
    return paths


# ---- HTML ---------------------------------------------------------------------------------------------------
def _table(head, rows: list) -> str:
    out = ["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>")
    return "".join(out) + "</table>"


def _figure(svgs: dict, name: str, caption: str) -> str:
    if name not in svgs:
        return ""
    # the SVG is matplotlib's own output (numbers and our labels, escaped by matplotlib), inlined as it is
    return f"<figure>{svgs[name]}<figcaption>{e(caption)} (figures/{e(name)}.png, .svg)</figcaption></figure>"


def _error(section: dict) -> str:
    return f"<p><b>Not run:</b> {e(section['error'])}</p>" if isinstance(section, dict) and "error" in section else ""


def render_html(study: dict, svgs: dict) -> str:
    p, s = study["project"], study["sections"]
    where = p.get("path") or "(unsaved project)"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>ReRAM study: {e(p['name'])}</title><style>{CSS}</style></head><body>",
        f"<h1>Stuck-at fault study: {e(p['name'])}</h1>",
    ]
    if study["partial"]:
        done = ", ".join(study["sections_done"]) or "none"
        parts.append(
            f"<p class='partial'><b>Partial result</b> ({e(study.get('stopped', 'stopped'))}): only these sections "
            f"finished: {e(done)}. Everything below comes from them.</p>"
        )
    spec = study["spec"]
    parts.append(
        "<p>"
        + e(
            f"Network {p['network']} ({p['preset']}), mapping {p['scheme']}, {p['n_test']} test images; "
            f"{'quick' if spec['quick'] else 'full'} study at {spec['fidelity']} fidelity, base seed {spec['seed']}. "
            f"Wall time {study['seconds']:.1f} s, CPU time {study['cpu_seconds']:.1f} s "
            f"(expected {study['expected_seconds']:.0f} s), workbench {study['software_version']}, {study['created']}."
        )
        + "</p>"
    )
    parts.append(f"<p>Project file: <code>{e(where)}</code>. Command: <code>{e(study['command'])}</code></p>")
    if p.get("note"):
        parts.append(f"<p>{e(p['note'])}</p>")
    parts.append(
        "<p>Intervals: 95% Student's t over Monte-Carlo draws (defect placements, offset or device draws, defect "
        "maps), paired where two things share the draws (on - off, rows - columns, after - before); 95% Wilson "
        "over the test images for one accuracy. Every number is in <code>results.json</code> with its spec.</p>"
    )
    parts += _findings(study["findings"])
    parts += _clean(s.get("clean"))
    parts += _defects(s.get("defects"), svgs, p["scheme"])
    parts += _recovery(s.get("recovery"), svgs)
    parts += _circuit(s.get("circuit"), svgs)
    parts.append("</body></html>")
    return "\n".join(parts)


def _findings(findings) -> list[str]:
    out = ["<h2>Published findings against this run</h2><table>"]
    out.append("<tr><th>published</th><th>this run</th><th>verdict</th><th>why it differs</th></tr>")
    for f in findings:
        cls = VERDICT_CLASS.get(f["verdict"], "not")
        out.append(
            f"<tr class='{cls}'><td>{e(f['published'])} <i>({e(f['source'])})</i></td><td>{e(f['this_run'])}</td>"
            f"<td><b>{e(f['verdict'])}</b></td><td>{e(f['why'])}</td></tr>"
        )
    out.append("</table>")
    return out


def _clean(clean) -> list[str]:
    if clean is None:
        return []
    out = ["<h2>1. Defect-free accuracy at every fidelity</h2>"]
    rows = []
    for fid, r in clean.items():
        if "error" in r:
            rows.append((fid, "not run", r["error"]))
        else:
            rows.append((fid, fmt(r), f"{r['solver']}, {r['seconds']:.2f} s"))
    return out + [_table(("fidelity", "test accuracy [95% Wilson]", "solver, time"), rows)]


def _defects(d, svgs, own) -> list[str]:
    if d is None:
        return []
    out = ["<h2>2. Stuck on against stuck off, per pattern, size and mapping scheme</h2>", _error(d)]
    a = d.get("analysis", {})
    if not a:
        return out
    spec = d.get("spec", {})
    out.append(
        "<p>"
        + e(
            f"Each scheme maps the same trained weights; grid: {len(spec.get('patterns', []))} patterns x sizes "
            f"{spec.get('sizes')} x stuck on/off x every array x {spec.get('n_seeds')} random placements at "
            f"{spec.get('fidelity')} fidelity. Each placement's accuracy is averaged over the cells summarised."
        )
        + "</p>"
    )
    rows: list = [
        (
            s,
            ", ".join(f"{x}x{y}" for x, y in d["shapes"][s]),
            fmt(v["total"]["on"]),
            fmt(v["total"]["off"]),
            fmt(v["total"]["on_minus_off"], True),
        )
        for s, v in a.items()
    ]
    out.append(_table(("scheme", "arrays", "stuck on", "stuck off", "on - off (paired)"), rows))
    out.append(_figure(svgs, "on_off", "Mean accuracy over every pattern, size and array"))
    for s, v in a.items():
        prow = [(p, fmt(x["on"]), fmt(x["off"]), fmt(x["on_minus_off"], True)) for p, x in v["per_pattern"].items()]
        out.append(f"<h3>{e(s)}: per pattern</h3>")
        out.append(_table(("pattern", "stuck on", "stuck off", "on - off"), prow))
    out.append(_figure(svgs, "size_curves", f"{own}: accuracy against size per pattern"))
    out.append("<h2>3. Per-array sensitivity; rows against columns</h2>")
    arrays = sorted(next(iter(a.values()))["per_array"], key=int)
    rows = [
        (f"array {k}", *[f"{fmt(v['per_array'][k]['on'])} / {fmt(v['per_array'][k]['off'])}" for v in a.values()])
        for k in arrays
    ]
    out.append(_table(("array (stuck on / stuck off)", *a), rows))
    out.append(
        "<p>"
        + e("Most sensitive array (lowest mean of on and off): ")
        + e(", ".join(f"{s} array {v['most_sensitive_array']}" for s, v in a.items()))
        + "</p>"
    )
    out.append(_figure(svgs, "arrays", "Mean accuracy per array, all patterns"))
    rows = []
    for s, v in a.items():
        rc = v["rows_vs_columns_small"]
        rows.append((s, fmt(rc["rows"]), fmt(rc["columns"]), fmt(rc["rows_minus_columns"], True)))
    size = next(iter(a.values()))["rows_vs_columns_small"]["max_size"]
    out.append(f"<p>Line defects up to {e(size)} of the lines (mean of on and off, all arrays):</p>")
    out.append(_table(("scheme", "rows", "columns", "rows - columns (paired)"), rows))
    return out


def _lost_information(x: dict) -> str:
    """Why the correction net of row ``x`` stays below the best method, from its information diagnostic."""
    d = x.get("diagnostic")
    if not d:
        return "no diagnostic recorded"
    newly = sum(d["dead_per_layer"]) - sum(d["healthy_dead_per_layer"])
    if d["newly_dead_fraction"] > 0:
        return (
            f"{newly} hidden neuron(s) that vary in the defect-free circuit are constant "
            f"({100 * d['newly_dead_fraction']:.0f} % of the live ones): what they carried never reaches the outputs, "
            "so no function of the output voltages gets it back"
        )
    if d["clipped_fraction"] > d["healthy_clipped_fraction"] + 0.05:
        return (
            f"hidden neurons sit at 0 V or a rail on {100 * d['clipped_fraction']:.0f} % of the images "
            f"(defect-free {100 * d['healthy_clipped_fraction']:.0f} %): part of the information is clipped off "
            "before the outputs"
        )
    return (
        "no hidden neuron is lost or clipped more than in the defect-free circuit: the outputs still carry the "
        "information, but the correction net does not learn the damaged function from the images it has, "
        "while retraining or remapping restore the circuit itself"
    )


def _where_correction_fails(t: dict) -> list[str]:
    """A list of the scenarios where the one-read correction net is more than 0.05 below the best method, and
    why (core.recovery.diagnostics on the calibration split)."""
    behind = [x for x in t["rows"] if x["correction"] < max(x[m] for m in ("correction", "retrain", "remap")) - 0.05]
    if not behind:
        return []
    items = "".join(
        "<li>"
        + e(
            f"{x['scenario']}: correction {x['correction']:.3f} against {x['best']} "
            f"{x[x['best']]:.3f}; {_lost_information(x)}."
        )
        + "</li>"
        for x in behind
    )
    return [
        "<h3>Where the correction network cannot work</h3><p>"
        + e(
            "It reads only the output voltages. A hidden neuron that the defects hold constant (ReLU off for every "
            "image, or a TIA at a rail) passes nothing on; the diagnostic counts such neurons on the calibration "
            "split against the defect-free circuit."
        )
        + f"</p><ul>{items}</ul>"
    ]


def _recovery(r, svgs) -> list[str]:
    if r is None:
        return []
    out = ["<h2>4. Recovery: correction, retraining, remapping</h2>"]
    t = r.get("table")
    if t:
        out.append(_error(t))
    if t and "rows" in t:
        out.append(
            "<p>"
            + e(
                f"Standard geometry of patterns {', '.join(t['patterns'])} on arrays "
                f"{', '.join(map(str, t['arrays']))}, stuck {' and '.join(t['stuck'])} (core.recovery.compare). "
                "Correction defaults "
                f"{t['defaults']['correction']}. Test accuracy with 95% Wilson intervals."
            )
            + "</p>"
        )
        probed = "correction_3_reads" in t["mean"]  # results of older runs have no 3-read column
        cols = ("correction", *(("correction_3_reads",) if probed else ()), "retrain", "remap")
        rows: list = [
            (x["scenario"], f"{x['fraction'] * 100:.0f}%", fmt(x["ci"]["before"]))
            + tuple(fmt(x["ci"][m]) for m in cols)
            + (x["best"],)
            for x in t["rows"]
        ]
        head = ("scenario", "defective", "before", *(c.replace("_3_reads", ", 3 reads") for c in cols), "best")
        out.append(_table(head, rows))
        m = t["mean"]
        out.append(
            "<p>"
            + e(
                f"Mean over {len(t['rows'])} scenarios (t interval over scenarios): before {fmt(m['before'])}, "
                f"correction {fmt(m['correction'])}, retrain {fmt(m['retrain'])}, remap {fmt(m['remap'])}. Best "
                f"(ties count for each): {t['wins']}. Of the {t['n_hard']} scenarios at or below 0.60 before, the "
                f"correction net is within 0.05 of the best method on {t['correction_within_005_of_best_on_hard']} "
                f"and reaches 0.85 on {t['correction_at_least_085_on_hard']}."
            )
            + "</p>"
        )
        if probed:
            out.append(
                "<p>"
                + e(
                    "Correction, 3 reads: the same correction net reading every image three times through the "
                    "same defective circuit, at 1, 0.4 and 0.15 of its input amplitude (recover --probes "
                    "amplitude); the lower reads bring TIAs that stuck-on devices drive into the rails back into "
                    "their linear range. Mean "
                    f"{fmt(m['correction_3_reads'])}; within 0.05 of the best one-read method on "
                    f"{t['correction_3_reads_within_005_of_best_on_hard']} of the {t['n_hard']} hard scenarios, "
                    f"0.85 or more on {t['correction_3_reads_at_least_085_on_hard']}. It costs three inferences "
                    "per classification (retraining and remapping read once), so it is reported beside the "
                    "study's method and never counted as the best one."
                )
                + "</p>"
            )
        out.extend(_where_correction_fails(t))
        out.append(_figure(svgs, "recovery", "Before against after per scenario and method"))
    h = r.get("headline")
    if h:
        out.append("<h3>Correction on random defect maps near the published accuracy before correction</h3>")
        out.append(_error(h))
        if "maps" in h:
            rows = [(x["spec"], f"{x['before']:.3f}", f"{x['after']:.3f}") for x in h["maps"]]
            out.append(_table(("defect map", "before", "after correction"), rows))
            text = f"Mean before {fmt(h['before'])}, after {fmt(h['after'])}, gain {fmt(h['gain'], True)}."
            out.append(f"<p>{e(text)}</p>")
    sd = r.get("size_and_data")
    if sd:
        out.append("<h3>Correction net size and training data</h3>")
        out.append(_error(sd))
        if "size" in sd:
            cfg = sd["config"]
            out.append(
                "<p>"
                + e(
                    f"{sd['before']['n']} random defect map(s) that drop accuracy to 0.20-0.60 (before "
                    f"{fmt(sd['before'])}), one net per point (core.recovery.correction_sweeps). Other settings: "
                    f"{cfg}. Training images: the {sd['calibration_images']} calibration images first, then up to "
                    f"{sd['train_images']} training-split images pushed through the defective circuit (never the "
                    "test split)."
                )
                + "</p>"
            )
            rows = [
                (f"{x['hidden']} x {x['depth']}", x["parameters"], fmt(x["after"]), fmt(x["gain"], True))
                for x in sd["size"]
            ]
            out.append(_table(("hidden units x layers", "parameters", "after", "gain"), rows))
            rows = [(x["images"], x["from_train_split"], fmt(x["after"]), fmt(x["gain"], True)) for x in sd["data"]]
            out.append(_table(("training images", "of them from the train split", "after", "gain"), rows))
            out.append(_figure(svgs, "correction_sweeps", "After correction against net size and training images"))
    g = r.get("generalization")
    if g:
        out.append("<h2>5. Generalization to held-out defect types (leave one type out)</h2>")
        out.append(_error(g))
        if "per" in g:
            rows = [
                (
                    x["array"],
                    x["held_out"],
                    fmt(x["before"]),
                    fmt(x["after"]),
                    fmt(x["gain"], True),
                    fmt(x["trained_gain"], True),
                    "n/a" if x["healthy_after"] is None else f"{x['healthy_after']:.3f}",
                )
                for x in g["per"]
            ]
            head = ("array", "held out", "before", "after", "gain", "gain on trained types", "defect-free after")
            out.append(_table(head, rows))
            out.append(_figure(svgs, "generalization", "Gain on the held-out type against the trained-on types"))
    notes = r.get("notes")
    if notes:
        out.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    return out


def _circuit(c, svgs) -> list[str]:
    if c is None:
        return []
    out = ["<h2>6. Op-amp offsets and device variability (defect-free circuit)</h2>"]
    off = c.get("offsets")
    if off:
        out.append(_error(off))
        if "rows" in off:
            rows: list = [(f"{x['offset_sigma_volt'] * 1e3:g} mV", fmt(x)) for x in off["rows"]]
            out.append(_table(("offset sigma", "test accuracy [95% t over draws]"), rows))
    var = c.get("variability")
    if var:
        out.append(_error(var))
        if "rows" in var:
            rows = [(x["field"], f"{x['value']:g}", fmt(x)) for x in var["rows"]]
            out.append(_table(("setting", "value", "test accuracy [95% t over draws]"), rows))
    out.append(_figure(svgs, "circuit", "Defect-free circuit under offsets and device variability"))
    return out


def fmt_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"
