"""Where op-amp input offsets cost accuracy: the breakdown behind docs/findings.md, "Op-amp offset".

    .venv/bin/python -m bench.opamp_offsets [PROJECT.h5] [--seeds N]     (default: the bundled example, 200 seeds)

Behavioural fidelity, the clean network. Every Monte-Carlo seed ``k`` draws one set of offsets (offset seed ``k``,
:func:`core.model.opamp.sample_offsets`, as ``reram-workbench sweep --patterns none --offset-sigma ...`` does);
the breakdowns zero all offsets but one group (the TIAs, the stage-2 amplifiers, or one layer's op-amps) of the
same draw. Intervals are 95 % Student's t over the seeds. Then the first-order output offset per layer
(``k (NG+ V_os+ - NG- V_os-) + (1 + k) V_os2`` with the TIA noise gains ``NG = 1 + R_f G_sum``) in units of
the layer's activations (column-pair layouts), and the same sweep for every mapping scheme of the same weights.
"""

from __future__ import annotations

import argparse
import copy
import os

import numpy as np

from core import project_io
from core.circuit import behavioral
from core.circuit.mapping import map_project
from core.model.devices import SCHEMES
from core.model.network import forward
from core.model.opamp import OpAmpOffsets, sample_offsets, stack_offsets
from core.model.stats import t_interval

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "projects", "digits-paper.h5")
SIGMAS = (0.5e-3, 1e-3, 2e-3, 5e-3)


def accuracies(mapped, X, y, sigma, seeds, keep=lambda layer, kind: True):
    counts = mapped.opamp_counts()
    per = []
    for k in range(seeds):
        offs = sample_offsets(counts, sigma, k)
        per.append(
            [
                OpAmpOffsets(*(getattr(o, kind) * keep(l, kind) for kind in ("tia", "stage2", "inverter")))
                for l, o in enumerate(offs)
            ]
        )
    return behavioral.batch_accuracy(mapped, X, y, mapped.conductances(), offsets=stack_offsets(per, counts))


def cell(acc) -> str:
    _, mean, _, lo, hi = t_interval(acc)
    return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project", nargs="?", default=EXAMPLE)
    ap.add_argument("--seeds", type=int, default=200)
    args = ap.parse_args()
    p = project_io.load(args.project)
    m = p.mapped
    X, y = p.load_dataset().split("test")
    groups = [("all op-amps", lambda l, k: True), ("TIAs only", lambda l, k: k == "tia")]
    groups += [("stage 2 only", lambda l, k: k == "stage2")]
    groups += [(f"layer {L + 1} only", lambda l, k, L=L: l == L) for L in range(len(m.arrays))]
    print(f"{args.seeds} seeds; clean accuracy {behavioral.accuracy(m, X, y):.3f}\n")
    print("| offsets on | " + " | ".join(f"{s * 1e3:g} mV" for s in SIGMAS) + " |")
    print("|---|" + "---|" * len(SIGMAS))
    for name, keep in groups:
        print(f"| {name} | " + " | ".join(cell(accuracies(m, X, y, s, args.seeds, keep)) for s in SIGMAS) + " |")
    print("\n| layer | R_f | k | TIA noise gain (min-mean-max) | V/unit | rms output offset per mV | in activations |")
    print("|---|---|---|---|---|---|---|")
    _, acts = forward(p.weights.weights, p.weights.biases, X, return_hidden=True)
    for l, a in enumerate(m.arrays):
        ng = 1 + a.r_tia_ohm * a.g_siemens.sum(axis=0)
        k = a.k_stage2
        rms = np.sqrt(k**2 * (ng[0::2] ** 2 + ng[1::2] ** 2) + (1 + k) ** 2).mean()
        print(
            f"| {l + 1} | {a.r_tia_ohm / 1e3:.0f}k | {k:.3f} | {ng.min():.1f}-{ng.mean():.1f}-{ng.max():.1f} | "
            f"{a.sigma_out * 1e3:.1f} mV | {rms:.2f} mV | {rms * 1e-3 / a.sigma_out:.3f} "
            f"(activation std {acts[l].std():.2f}) |"
        )
    print("\n| scheme | clean | " + " | ".join(f"{s * 1e3:g} mV" for s in SIGMAS) + " |")
    print("|---|---|" + "---|" * len(SIGMAS))
    for scheme in SCHEMES:
        q = copy.deepcopy(p)
        q.scheme = scheme
        ms = map_project(q)
        row = [cell(accuracies(ms, X, y, s, args.seeds)) for s in SIGMAS]
        print(f"| {scheme} | {behavioral.accuracy(ms, X, y):.3f} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
