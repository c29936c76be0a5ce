"""CLI command ``sweep``: a defect sweep over a project, locally on threads or on a Dask cluster.

``reram-workbench sweep P.h5 --patterns circle,columns --sizes 0.1,0.3 --stuck on,off --arrays 1 --seeds 5
--json`` prints ``{"rows": [...], "id": ..., "partial": false, "seconds": ..., "spec": {...}}`` and stores
the table in the project. Interrupting (Ctrl-C) stores the finished points, marked partial.
``--patterns none --offset-sigma 0,0.5m,1m,2m,5m`` is an op-amp offset sweep of the defect-free circuit;
``--program-sigma 0.05`` (and ``--read-noise``, ``--drift-nu``, ``--drift-time``) gives every Monte-Carlo seed
its own device-variability sample.
"""

from __future__ import annotations

import argparse
import dataclasses
import os

from core import jobs
from core.cli.common import (
    CommandResult,
    opamp_args,
    opamp_from_args,
    open_for_store,
    progress_printer,
    variability_args,
    variability_from_args,
)
from core.cli.wires import project_with_wires, wire_args
from core.errors import ParameterError, WorkbenchError
from core.model.defects import STUDY_PATTERNS
from core.model.devices import DEVICE_MODELS
from core.model.opamp import parse_quantity_list
from core.session.project_file import store_results
from core.session.store import partial_sweep
from core.sweeps.dask_backend import DaskLimits, TlsFiles, connect, quiet_logs
from core.sweeps.job import SweepFailed, sweep_job
from core.sweeps.spec import SWEEP_FIDELITIES, SWEEP_PATTERNS, SweepSpec, normalize_stuck, parse_list, sizes_from_text
from core.sweeps.table import summary_text

DEFAULT_PATTERNS = ",".join(STUDY_PATTERNS)
_SPEC = SweepSpec()  # the core's defaults


def register(sub, common) -> None:
    p = sub.add_parser(
        "sweep", parents=[common], help="defect sweep: accuracy vs defect size per pattern, stuck type and array"
    )
    p.add_argument("project", help="the .h5 project (the result is stored in it)")
    p.add_argument(
        "--patterns",
        default=DEFAULT_PATTERNS,
        help=f"comma-separated, from {', '.join(SWEEP_PATTERNS)} (default {DEFAULT_PATTERNS})",
    )
    p.add_argument(
        "--sizes",
        default=",".join(f"{s:g}" for s in _SPEC.sizes),
        help="fractions in (0, 1], comma-separated or START:STOP:COUNT; circle: radius, ring: width, "
        "circle_complement: kept radius, rows/columns: fraction of lines, checkerboard: period as a "
        "fraction of the shorter side, random: fraction of cells (default 0.1,0.2,0.3)",
    )
    p.add_argument(
        "--stuck", default="on,off", help="comma-separated: on, off or resistances such as 50k (default on,off)"
    )
    p.add_argument("--arrays", default="all", help="comma-separated 1-based crossbar indices, or all (default)")
    p.add_argument(
        "--seeds",
        type=str,
        default=str(_SPEC.n_seeds),
        help=f"Monte-Carlo placements per point (default {_SPEC.n_seeds})",
    )
    p.add_argument("--base-seed", type=str, default="0", help="offsets every placement (default 0)")
    p.add_argument("--fidelity", default="behavioral", help=f"{' | '.join(SWEEP_FIDELITIES)} (default behavioral)")
    p.add_argument("--split", default="test", help="test (default), cal or train")
    p.add_argument(
        "--timeout",
        type=str,
        default=None,
        help="seconds allowed per defect map; enforced while ngspice runs, checked before each nodal solve",
    )
    p.add_argument(
        "--workers",
        type=str,
        default=None,
        help="local worker threads (default: CPU count); for spice each runs one ngspice process at a time",
    )
    p.add_argument("--chunk", type=str, default=None, help="defect maps per task (default 256 behavioral, 1 otherwise)")
    p.add_argument(
        "--scheduler",
        default=None,
        help="Dask scheduler address, e.g. tcp://127.0.0.1:8786, or tls://HOST:PORT with the three --tls files "
        "(Dask runs code sent over the network: bind schedulers to localhost or use TLS, see docs/dask.md)",
    )
    p.add_argument("--tls-ca", default=None, help="tls:// scheduler: PEM file of the CA that signed the cluster")
    p.add_argument("--tls-cert", default=None, help="tls:// scheduler: this client's PEM certificate")
    p.add_argument("--tls-key", default=None, help="tls:// scheduler: this client's PEM private key")
    p.add_argument("--r-wire", type=float, default=None, help="wire segment resistance in ohm (nodal, spice)")
    wire_args(p)
    p.add_argument("--device", default=None, help=f"device model: {' or '.join(DEVICE_MODELS)}")
    opamp_args(p, sweep=True)
    variability_args(p, sweep=True)
    p.add_argument(
        "--allow-large",
        action="store_true",
        help="run even a sweep estimated above 1,000,000 maps or 6 hours (refused otherwise, with the estimate)",
    )
    p.add_argument("--no-save", action="store_true", help="do not store the result in the project")
    p.set_defaults(func=run)


def spec_from_args(args) -> SweepSpec:
    """The :class:`SweepSpec` the command-line options describe (raises ParameterError on bad input)."""
    arrays = () if str(args.arrays).strip().lower() == "all" else parse_list("arrays", args.arrays, int)
    return SweepSpec(
        patterns=parse_list("patterns", args.patterns),
        sizes=sizes_from_text(args.sizes),
        stuck=tuple(normalize_stuck(s) for s in parse_list("stuck", args.stuck)),
        arrays=arrays,
        n_seeds=_int("seeds", args.seeds),
        fidelity=str(args.fidelity).strip().lower(),
        base_seed=_int("base-seed", args.base_seed),
        split=args.split,
        timeout_s=None if args.timeout is None else _float("timeout", args.timeout),
        offset_sigma_volt=()
        if getattr(args, "offset_sigma", None) is None
        else parse_quantity_list(args.offset_sigma, "offset-sigma"),
    )


def _int(field: str, text):
    try:
        return int(str(text).strip())
    except ValueError:
        raise ParameterError(field, f"must be an integer; got {text!r}") from None


def _float(field: str, text):
    try:
        return float(str(text).strip())
    except ValueError:
        raise ParameterError(field, f"must be a number; got {text!r}") from None


def _opamp_without_sigma(args):
    """The scalar op-amp options (bias current, swing margin, R_o) on the network; the sigma is the sweep's axis."""
    opamp = opamp_from_args(argparse.Namespace(**{**vars(args), "offset_sigma": None}))
    return None if opamp is None else dataclasses.replace(opamp, offset_sigma_volt=0.0)


def run(args) -> CommandResult:
    spec = spec_from_args(args)
    workers = None if args.workers is None else _int("workers", args.workers)
    chunk = None if args.chunk is None else _int("chunk", args.chunk)
    save = not args.no_save
    if args.scheduler is not None:
        quiet_logs()  # a Dask fault is the one line below, not distributed's log records
    opened = open_for_store(args.project, save=save)
    project = opened.project
    client = None
    tls_given = any(v is not None for v in (args.tls_ca, args.tls_cert, args.tls_key))
    if tls_given and args.scheduler is None:
        raise ParameterError("scheduler", "--tls-ca/--tls-cert/--tls-key need a tls:// --scheduler")
    if args.scheduler is not None and (tls_given or str(args.scheduler).strip().lower().startswith("tls://")):
        tls = TlsFiles(args.tls_ca or "", args.tls_cert or "", args.tls_key or "") if tls_given else None
        client = connect(args.scheduler, DaskLimits().connect_s, tls)  # the job leaves a given client open
    try:
        return _run(args, spec, workers, chunk, save, opened, project, client)
    finally:
        if client is not None:
            client.close()


def _run(args, spec, workers, chunk, save, opened, project, client) -> CommandResult:
    job = sweep_job(
        project_with_wires(project, args),  # a view: the result is stored into the project itself
        spec,
        workers=workers,
        scheduler=client if client is not None else args.scheduler,
        chunk_maps=chunk,
        r_wire_ohm=args.r_wire,
        device_model=args.device,
        opamp=_opamp_without_sigma(args),
        variability=variability_from_args(args),
        allow_large=args.allow_large,
    )
    try:
        result = jobs.run(job, on_progress=progress_printer(not args.quiet), min_interval_s=0.2)
    except jobs.Cancelled as stop:  # Ctrl-C or a lost cluster: keep the finished points on disk, marked partial
        partial = partial_sweep(stop.partial)
        stored = save and partial is not None
        if save and partial is not None:
            store_results(opened, [partial])
        if isinstance(stop, SweepFailed):  # an error (exit 2), not an interrupt
            where = f"stored in {args.project}, marked partial" if stored else "not stored"
            raise WorkbenchError(f"{stop} ({where})") from None
        raise
    if save:
        store_results(opened, [result])  # merges results other writers stored meanwhile
    data = {
        "rows": result.rows,
        "id": result.id if save else None,
        "partial": result.partial,
        "seconds": result.seconds,
        "spec": result.spec,
        "project": os.path.abspath(args.project),
        "saved": save,
    }
    return CommandResult(data=data, text=summary_text(result))
