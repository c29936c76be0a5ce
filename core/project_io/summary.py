"""A JSON-able summary of a project, for ``reram-workbench info`` and the workbench's title bar."""

from __future__ import annotations

import dataclasses
from typing import Any

from core.model import tiling
from core.model.project import Project
from core.project_io.schema import FORMAT_NAME, FORMAT_VERSION
from core.version import __version__


def summary(project: Project) -> dict[str, Any]:
    """A JSON-able summary of a project (for ``reram-workbench info``)."""
    p = project
    hist = p.weights.history if p.weights is not None else {}
    test_acc = hist.get("test_accuracy")
    ds = p.dataset
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "app_version": __version__,
        "created": p.created,
        "modified": p.modified,
        "dataset": {
            "source": ds.source,
            "name": ds.name,
            "seed": int(ds.seed),
            "test_size": int(ds.test_size),
            "cal_size": int(ds.cal_size),
            "embedded_samples": None if ds.y is None else int(len(ds.y)),
        },
        "network": {
            "layer_sizes": [int(s) for s in p.network.layer_sizes],
            "trained": p.weights is not None,
            "n_parameters": None
            if p.weights is None
            else int(sum(w.size + b.size for w, b in zip(p.weights.weights, p.weights.biases))),
        },
        "training": dataclasses.asdict(p.training),
        "test_accuracy": None if test_acc is None or not len(test_acc) else float(test_acc[-1]),
        "device": dataclasses.asdict(p.device),
        "circuit": dataclasses.asdict(p.circuit),
        "scheme": p.scheme,
        "arrays": []
        if p.mapped is None
        else [
            {
                "array": i,
                "rows": int(a.logical_shape[0]),
                "columns": int(a.logical_shape[1]),
                "tile": None if a.tile is None else list(a.tile),
                "tiles": int(a.n_tiles),
                "unused_state": a.unused_state if a.tile is not None else None,
                "layout": tiling.describe(a),
            }
            for i, a in enumerate(p.mapped.arrays, 1)
        ],
        "scenarios": [{"name": s.name, "defects": [d.to_spec() for d in s.defects]} for s in p.scenarios.values()],
        "draft": None
        if p.draft is None
        else {"name": p.draft.name, "array": int(p.draft.array), "defects": [d.to_spec() for d in p.draft.defects]},
        "n_results": len(p.results),
        "n_sweeps": len(p.sweeps),
        "n_recoveries": len(p.recoveries),
        "results": [
            {"id": r.id, "fidelity": r.fidelity, "accuracy": float(r.accuracy), "scenario": r.scenario}
            for r in p.results
        ],
    }
