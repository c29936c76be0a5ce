"""The study job: every section in turn, progress in expected seconds, the report written at the end or when it stops.

One core job like the others (:mod:`core.jobs`): it yields :class:`Progress` whose ``partial`` is the study so far
(a JSON-able dict), and a cancel closes it. Whatever way it ends (done, cancelled, Ctrl-C, a failure) its
``finally`` writes ``report.html``, ``results.json`` and the figures from the sections that finished, marked
partial unless all did. A section that cannot run (e.g. no ngspice for a SPICE study) records its error and the
study goes on.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Callable
from typing import Optional

import numpy as np

from core.circuit import behavioral
from core.errors import WorkbenchError
from core.jobs import Progress
from core.ml.new_project import create_project_job
from core.model.network import NetworkConfig, preset_name
from core.model.project import Project
from core.study import circuit_study, defect_study, recovery_study
from core.study.findings import all_findings
from core.study.report import fmt_seconds, write_study
from core.study.spec import StudyPlan, StudySpec, study_plan
from core.version import __version__

# seconds on the development machine (2 cores, the paper network) per unit of work; scaled by a pilot timing
EVAL_S = {"behavioral": 0.002, "nodal": 0.004, "spice": 0.6}  # one circuit evaluation of a data split
MAP_S = {"behavioral": 0.0004, "nodal": 0.0008, "spice": 0.35}  # one defect map of a sweep (test split)
CORRECTION_S = 2.0  # one correction net with the recovery API's defaults
SIZE_POINT_S = 0.8  # one point of a size sweep (on average over its grid)
DATA_POINT_S = 0.8
GENERALIZATION_FIT_S = {True: 1.3, False: 5.0}  # one leave-one-out net, paper config or the defaults
RETRAIN_S = 2.0
TRAIN_NETWORK_S = 12.0
PILOT_REFERENCE_S = 0.0006  # one behavioural forward pass of the paper network over the test split


def _speed_factor(project: Project) -> float:
    """How much slower this machine and network are than the reference (median of a few forward passes), times
    the share of a core other work leaves us (load average over cores, when above 1); at least 1."""
    ds = project.load_dataset()
    mapped = project.require_mapped()
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        behavioral.forward_voltages(mapped, ds.X_test)
        times.append(time.perf_counter() - t0)
    try:
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:  # not on every platform
        load = 1.0
    return float(np.clip(np.median(times) / PILOT_REFERENCE_S, 1.0, 50.0) * max(1.0, load))


def estimate_seconds(project: Project, spec: StudySpec, plan: StudyPlan) -> dict[str, float]:
    """Expected seconds of every section (a rough cost model, scaled by a pilot timing on this machine)."""
    f = spec.fidelity
    speed = _speed_factor(project)
    n_arrays = len(project.require_mapped().arrays)
    ev, mp = EVAL_S[f] * (speed if f != "spice" else 1.0), MAP_S[f] * (speed if f != "spice" else 1.0)
    from core.model.devices import SCHEMES

    sweep_maps = 6 * len(plan.sizes) * 2 * n_arrays * plan.seeds
    n_table = len(plan.recovery_arrays) * len(plan.recovery_patterns) * len(plan.recovery_stuck)
    n_scen = 5 * 2 * (1 + plan.generalization_variants) + 1 + 2 * (1 + plan.generalization_tests)
    gen_fit = GENERALIZATION_FIT_S[plan.generalization_paper_config] * (1 + plan.generalization_variants) / 2
    return {
        "clean": 3 * EVAL_S["behavioral"] * speed + EVAL_S["spice"] + 1.0,
        "defects": len(SCHEMES) * (sweep_maps * mp + 0.3),
        "recovery_table": n_table * (2 * CORRECTION_S * speed + RETRAIN_S * speed + 6 * ev + 0.1),
        "headline": 0.5 + plan.headline_scenarios * (CORRECTION_S * speed + 3 * ev),
        "size_and_data": plan.sweep_scenarios
        * speed
        * (6 * ev + len(plan.size_sweep) * SIZE_POINT_S + len(plan.data_sweep_images) * DATA_POINT_S),
        "generalization": len(plan.generalization_arrays) * 6 * (gen_fit * speed + n_scen * 2 * ev),
        "circuit": (len(plan.offset_sigmas_volt) + len(plan.program_sigmas) + len(plan.read_noise_sigmas))
        * plan.circuit_seeds
        * mp
        + 1.0,
    }


def _scaled(job, base: float, weight: float, total: float, label: str, partial):
    """Run ``job``, reporting its progress as the share ``weight`` of the study after ``base`` (in seconds)."""
    try:
        while True:
            try:
                p = next(job)
            except StopIteration as stop:
                return stop.value
            yield Progress(min(total, base + weight * p.fraction), total, f"{label}: {p.message}", partial=partial)
    finally:
        job.close()


def _project_info(project: Project, path: str, network: str, note: str) -> dict:
    ds = project.load_dataset()
    return {
        "name": os.path.basename(path) if path else "(unsaved project)",
        "path": path,
        "network": "-".join(map(str, project.network.layer_sizes)),
        "preset": network,
        "scheme": project.scheme,
        "shapes": [list(s) for s in project.require_mapped().shapes],
        "n_test": int(len(ds.y_test)),
        "n_calibration": int(len(ds.y_cal)),
        "n_train": int(len(ds.y_train)),
        "dataset": f"{project.dataset.source}: {project.dataset.name}",
        "note": note,
    }


def study_job(
    project: Project,
    spec: StudySpec,
    out_dir: str,
    *,
    project_path: str = "",
    command: str = "",
    plan: Optional[StudyPlan] = None,
):
    """Job: the whole study of ``project`` into ``out_dir``; returns the study dict (what ``results.json`` holds,
    plus ``paths`` of the written files and, under ``sections.defects.sweeps.*.sweep``, the sweep results).

    Parameters
    ----------
    project
        A trained and mapped project (only read; with a ``preset`` other than its network, a copy is trained).
    spec
        What to run (:class:`core.study.spec.StudySpec`).
    out_dir
        Where ``report.html``, ``results.json`` and ``figures/`` go (created).
    project_path, command
        Recorded in the report.
    plan
        Grids overriding those of ``spec`` (:func:`core.study.spec.study_plan`), e.g. tiny ones in tests.

    Yields
    ------
    Progress
        ``done``/``total`` in expected seconds; the first message gives the expected duration; ``partial`` is
        the study dict so far.
    """
    wall0, cpu0 = time.perf_counter(), time.process_time()
    network = preset_name(project.network.hidden)
    note = ""
    if spec.preset is not None and network != spec.preset:
        yield Progress(0, 1, f"training the {spec.preset} network (about {TRAIN_NETWORK_S:.0f} s)")
        cfg = NetworkConfig.preset(spec.preset, project.network.n_inputs, project.network.n_outputs)
        project = yield from create_project_job(
            project.dataset, cfg, project.training, project.device, project.circuit, project.scheme
        )
        note = (
            f"The project's network ({network}) is not the {spec.preset} preset: the {spec.preset} network was "
            "trained afresh with the project's dataset, training settings, devices, circuit and mapping."
        )
        network = spec.preset
    mapped = project.require_mapped()
    plan = plan or study_plan(spec, len(mapped.arrays))
    estimate = estimate_seconds(project, spec, plan)
    total = float(sum(estimate.values()))
    sections: dict = {}
    study: dict = {
        "kind": "study",
        "software_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "spec": spec.to_dict(),
        "plan": plan.to_dict(),
        "project": _project_info(project, project_path, network, note),
        "expected_seconds": total,
        "expected_by_section": estimate,
        "sections": sections,
        "sections_done": [],
        "section_seconds": {},
        "partial": True,
        "seconds": 0.0,
        "cpu_seconds": 0.0,
        "findings": [],
    }
    done = [0.0]

    def run(label: str, key: str, make: Callable, store: Callable[[object], None], weight: float):
        """Run one section job; on a WorkbenchError record it and go on."""
        t0 = time.perf_counter()
        try:
            value = yield from _scaled(make(), done[0], weight, total, label, study)
        except WorkbenchError as err:
            store({"error": str(err)})
        else:
            store(value)
            study["sections_done"].append(key)
        finally:
            study["section_seconds"][key] = time.perf_counter() - t0
        done[0] += weight

    completed = False
    stopped = "stopped"
    f, seed = spec.fidelity, spec.seed
    try:
        yield Progress(0, total, f"study: expected duration about {fmt_seconds(total)}", partial=study)
        yield from run("clean accuracy", "clean", lambda: circuit_study.clean_job(project), _put(sections, "clean"),
                       estimate["clean"])  # fmt: skip
        d = sections["defects"] = {"analysis": {}, "ranks": {}, "shapes": {}, "sweeps": {}}
        sweep_spec = defect_study.defect_sweep_spec(plan, f, seed)
        d["spec"] = sweep_spec.to_dict()
        schemes = defect_study.scheme_order(project)
        for scheme in schemes:

            def keep(value, scheme=scheme):
                if "error" in value:
                    d.setdefault("errors", {})[scheme] = value["error"]
                    return
                d["shapes"][scheme] = value["shapes"]
                d["sweeps"][scheme] = {k: value[k] for k in ("rows", "seconds", "n_maps", "spec", "sweep")}
                a = defect_study.analyse_scheme(value["rows"], len(value["shapes"]), plan.small_line_size)
                d["analysis"][scheme] = a
                d["ranks"][scheme] = defect_study.rank_patterns(a)

            yield from run(
                f"defect sweep, {scheme}",
                f"defects:{scheme}",
                lambda scheme=scheme: defect_study.scheme_sweep_job(project, scheme, sweep_spec, spec.scheduler),
                keep,
                estimate["defects"] / len(schemes),
            )
        rec = sections["recovery"] = {}
        yield from run("recovery table", "recovery:table",
                       lambda: recovery_study.recovery_table_job(project, plan, f, seed), _put(rec, "table"),
                       estimate["recovery_table"])  # fmt: skip
        cands = recovery_study.candidate_maps(project, 400 if spec.quick else 1200, seed)
        target = 0.55 if network == "followup" else 0.48
        near = recovery_study.pick_near(cands, target, plan.headline_scenarios)
        rec["notes"] = [
            f"Candidate maps: {len(cands)} random defect maps (pattern, array, stuck type, size in [0.1, 0.5] and "
            f"placement drawn from seed {seed}); {len(near)} fell within 0.08 of {target:.2f} at behavioural "
            "fidelity and were corrected one by one (the recovery API's default correction net).",
            "Size and training-data sweeps: core.recovery.correction_sweeps on random maps that drop accuracy to "
            "0.20-0.60; training images are the calibration split first, then training-split images pushed through "
            "the defective circuit (never the test split).",
        ]
        if plan.generalization_paper_config:
            rec["notes"].append(
                "Quick study: the leave-one-type-out nets use the pre-issue-13 correction configuration (one hidden "
                "layer of 32, 300 epochs, calibration images only), about five times cheaper than the defaults."
            )

        def keep_headline(value):
            if isinstance(value, dict) and "maps" in value:
                by: dict = {}
                for m, (dd, _) in zip(value["maps"], near):
                    by.setdefault(str(dd.array), []).append(m["after"])
                value["after_by_array"] = {k: float(np.mean(v)) for k, v in by.items()}
                value["n_calibration"] = study["project"]["n_calibration"]
            rec["headline"] = value

        yield from run("correction near the published accuracy", "recovery:headline",
                       lambda: recovery_study.headline_job(project, near, target, f, seed), keep_headline,
                       estimate["headline"])  # fmt: skip
        hard = recovery_study.pick_hard(cands, plan.sweep_scenarios)
        yield from run("correction size and data sweeps", "recovery:size_and_data",
                       lambda: recovery_study.size_and_data_job(project, hard, plan, f, seed),
                       _put(rec, "size_and_data"), estimate["size_and_data"])  # fmt: skip
        yield from run("generalization", "recovery:generalization",
                       lambda: recovery_study.leave_one_out_job(project, plan, f, seed), _put(rec, "generalization"),
                       estimate["generalization"])  # fmt: skip
        c = sections["circuit"] = {}
        yield from run("op-amp offsets", "circuit:offsets", lambda: circuit_study.offsets_job(project, plan, f, seed),
                       _put(c, "offsets"), estimate["circuit"] / 2)  # fmt: skip
        yield from run("device variability", "circuit:variability",
                       lambda: circuit_study.variability_job(project, plan, f, seed), _put(c, "variability"),
                       estimate["circuit"] / 2)  # fmt: skip
        completed = True
        yield Progress(total, total, "study: writing the report", partial=study)
    except GeneratorExit:
        stopped = "cancelled"
        raise
    except KeyboardInterrupt:
        stopped = "interrupted"
        raise
    except BaseException as err:
        stopped = f"failed: {type(err).__name__}: {err}"
        raise
    finally:
        study["partial"] = not completed
        if not completed:
            study["stopped"] = stopped
        study["seconds"] = time.perf_counter() - wall0
        study["cpu_seconds"] = time.process_time() - cpu0
        study["findings"] = all_findings(sections, project.scheme, network)
        study["paths"] = write_study(study, out_dir)
    return study


def _put(target: dict, key: str) -> Callable[[object], None]:
    def put(value) -> None:
        target[key] = value

    return put
