"""The sweep job: accuracy against defect size for every pattern, stuck type and array.

The grid of a :class:`~core.sweeps.spec.SweepSpec` is cut into chunks (:mod:`core.sweeps.chunks`) that run on
local threads (:mod:`core.sweeps.local`) or a Dask cluster (:mod:`core.sweeps.dask_backend`); finished
chunks fill the table (:mod:`core.sweeps.table`). Nothing grows with the number of maps: the plan makes chunks as
they are needed, a bounded number run at a time, and the table keeps per-point aggregates while the per-map
accuracies of a large sweep stream to a temporary file (its result is then a
:class:`~core.project_io.sweep_maps.StreamedSweepResult`; saving copies them into the project). A cancelled
sweep's last partial result holds the rows of the points whose maps had all finished, marked ``partial``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Optional

from core.circuit.fidelity import circuit_params, with_opamp, with_variability
from core.circuit.spice.runner import find_ngspice
from core.errors import ParameterError, check_range
from core.evaluate import project_view
from core.jobs import Cancelled, Progress
from core.model.opamp import OpAmpParams
from core.model.project import Project
from core.model.results import SweepResult
from core.model.variability import DeviceVariability
from core.project_io.sweep_maps import StreamedSweepResult
from core.sweeps.chunks import plan_chunks
from core.sweeps.dask_backend import DaskLimits, SweepAborted, dask_backend
from core.sweeps.local import local_backend
from core.sweeps.spec import SweepSpec
from core.sweeps.table import SweepTable

# defect maps per second per worker on the example network (measured: behavioural about 2,200/s on 2 busy cores;
# an ngspice run of 180 images about 1 s); bigger networks and more images are slower, so estimates are lower bounds
MAPS_PER_S = {"behavioral": 2000.0, "nodal": 20.0, "spice": 1.0}
MAX_MAPS_UNCONFIRMED = 1_000_000
MAX_SECONDS_UNCONFIRMED = 6 * 3600.0


def check_sweep_size(spec: SweepSpec, workers: Optional[int], allow_large: bool = False) -> float:
    """Estimated seconds of a sweep (arrays resolved); refuse one above :data:`MAX_MAPS_UNCONFIRMED` maps or
    :data:`MAX_SECONDS_UNCONFIRMED` unless ``allow_large``.

    Raises
    ------
    ParameterError
        Naming ``seeds`` with the map count, the estimate and how to go ahead anyway.
    """
    n_maps = spec.n_maps
    seconds = n_maps / (MAPS_PER_S[spec.fidelity] * max(1, workers or 1))
    if not allow_large and (n_maps > MAX_MAPS_UNCONFIRMED or seconds > MAX_SECONDS_UNCONFIRMED):
        hours = seconds / 3600
        raise ParameterError(
            "seeds",
            f"the sweep would evaluate {n_maps:,} defect maps, roughly {hours:.2g} h at {spec.fidelity} fidelity "
            f"on {max(1, workers or 1)} worker(s) (limits: {MAX_MAPS_UNCONFIRMED:,} maps, "
            f"{MAX_SECONDS_UNCONFIRMED / 3600:g} h); use fewer sizes or seeds, or go ahead with --allow-large",
        )
    return seconds


class SweepFailed(Cancelled):
    """A sweep the cluster ended early (scheduler lost, no workers): ``partial`` holds the points that had
    finished (marked partial), as a cancel would leave them; the message says why."""


def sweep_job(
    project: Project,
    spec: SweepSpec,
    *,
    workers: Optional[int] = None,
    scheduler=None,
    chunk_maps: Optional[int] = None,
    map_evaluator: Optional[Callable] = None,
    r_wire_ohm: Optional[float] = None,
    device_model: Optional[str] = None,
    opamp: Optional[OpAmpParams] = None,
    variability: Optional[DeviceVariability] = None,
    dask_limits: Optional[DaskLimits] = None,
    allow_large: bool = False,
    spill_dir: Optional[str] = None,
):
    """Job: run a defect sweep and return a :class:`~core.model.results.SweepResult`.

    Parameters
    ----------
    project
        A project with a mapped network (only read).
    spec
        The sweep; ``arrays=()`` means every array.
    workers
        Local worker threads (default: the number of CPUs). Ignored with ``scheduler``.
    scheduler
        A Dask scheduler address (``tcp://host:port``) or a ``distributed.Client``: run the chunks there.
    chunk_maps
        Defect maps per chunk (default 256 behavioural, 1 nodal/SPICE).
    map_evaluator
        Override of the per-map evaluation job (see :func:`core.sweeps.chunks.evaluate_chunk`); module-level
        for Dask.
    r_wire_ohm, device_model
        Circuit overrides for this sweep (default: the project's); recorded in the result's ``spec``.
    opamp
        Op-amp non-idealities for this sweep (:class:`~core.model.opamp.OpAmpParams`; default: the network's);
        the spec's ``offset_sigma_volt`` axis replaces its offset sigma. Recorded in the result's ``spec``.
    variability
        Device variability and stuck values (:class:`~core.model.variability.DeviceVariability`); Monte-Carlo
        map ``k`` draws its own sample from seed ``(base_seed + k) mod 2**32`` (its ``seed`` is ignored).
        Recorded in the result's ``spec``.
    allow_large
        Run even a sweep above the size limits of :func:`check_sweep_size` (refused before anything runs).
    spill_dir
        Folder for the temporary file a sweep of more than
        :data:`~core.project_io.sweep_maps.KEEP_MAPS_IN_ROWS` maps streams its per-map accuracies into until
        the result is saved (default: the system's temporary folder; a front end that knows the project's path
        may pass its folder).
    dask_limits
        With ``scheduler``: how long to wait to connect, for a lost scheduler and with no workers
        (:class:`~core.sweeps.dask_backend.DaskLimits`).

    Raises
    ------
    SweepFailed
        The cluster ended the sweep early; carries the finished points like :class:`core.jobs.Cancelled`.

    Yields
    ------
    Progress
        ``done``/``total`` in defect maps; ``partial`` is a SweepResult of the finished points (marked
        ``partial``), which a cancelled run leaves in :class:`core.jobs.Cancelled`.
    """
    project = project_view(project, r_wire_ohm, device_model)
    mapped = with_variability(with_opamp(project.require_mapped(), opamp), variability)
    spec = spec.with_arrays(len(mapped.arrays))
    if mapped.device.uses_gap_iv:
        mapped.device.check_gap_window()  # the behavioural chunks skip output_voltages_job
    n_local = None if scheduler is not None else (workers if workers is not None else (os.cpu_count() or 1))
    check_sweep_size(spec, n_local, allow_large)  # before anything runs: a typo in --seeds is likelier than intent
    X, y = project.load_dataset().split(spec.split)
    tasks = plan_chunks(spec, chunk_maps)
    if scheduler is not None:
        backend = dask_backend(scheduler, mapped, X, y, tasks, map_evaluator, limits=dask_limits or DaskLimits())
        where = "Dask"
    else:
        n = check_range("workers", workers if workers is not None else (os.cpu_count() or 1), 1, 256, integer=True)
        if spec.fidelity == "spice" and map_evaluator is None:
            find_ngspice()  # fail the whole sweep up front, not every point, when ngspice is missing
        backend = local_backend(mapped, X, y, tasks, n, map_evaluator)
        where = f"{n} local thread{'s' if n > 1 else ''}"
    cells = {a + 1: int(r) * int(c) for a, (r, c) in enumerate(mapped.shapes)}
    table = SweepTable(spec, mapped.opamp.offset_sigma_volt, n_images=len(y), cells=cells, spill_dir=spill_dir)
    params = {**spec.to_dict(), **circuit_params(mapped)}
    result: SweepResult
    if table.maps is None:
        result = SweepResult(id="", spec=params, rows=[], partial=True)
    else:
        result = StreamedSweepResult(id="", spec=params, rows=[], partial=True, maps=table.maps)
    t0 = time.perf_counter()
    try:
        yield Progress(0, table.total_maps, f"sweep: {table.total_maps} maps on {where}")
        for event in backend:
            if event is not None:
                table.add(*event)
                result.rows = table.rows()
                result.seconds = time.perf_counter() - t0
            msg = f"sweep: {table.done_maps}/{table.total_maps} maps, {len(result.rows)} points done"
            yield Progress(table.done_maps, table.total_maps, msg, partial=dataclasses.replace(result))
    except SweepAborted as e:
        result.rows = table.rows()
        result.seconds = time.perf_counter() - t0
        raise SweepFailed(dataclasses.replace(result), f"{e}; {len(result.rows)} points had finished") from None
    finally:
        backend.close()
    result.rows = table.rows()
    result.seconds = time.perf_counter() - t0
    result.partial = False
    return result
