"""Running sweep chunks on a dask.distributed cluster.

The mapped network and the evaluation data are sent to the cluster once; each
:class:`~core.sweeps.chunks.ChunkTask` (plain data: pattern names, sizes, seeds) becomes one task calling the same
module-level :func:`core.sweeps.chunks.evaluate_chunk` the local thread pool calls, so results equal the local run's
for the same spec. Tasks carry ``retries=``: a task that raised is resubmitted; the scheduler itself
recomputes the tasks (and the input data) held by a worker that disappears, and a task the scheduler
cancels is resubmitted up to ``retries`` times. Workers need this package installed (and ngspice for
SPICE sweeps); see ``docs/dask.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from typing import Optional

import numpy as np

from core.errors import ParameterError, describe_error
from core.model.crossbar import MappedNetwork
from core.sweeps.chunks import ChunkResult, ChunkTask, evaluate_chunk

CONNECT_TIMEOUT_S = 10.0
DEFAULT_RETRIES = 2


def connect(scheduler, timeout_s: float = CONNECT_TIMEOUT_S):
    """A ``distributed.Client`` for a scheduler address such as ``tcp://10.0.0.5:8786``.

    Raises
    ------
    ParameterError
        Naming ``scheduler`` when the address is malformed or nobody answers there.
    """
    from distributed import Client

    address = str(scheduler).strip()
    if "://" not in address and ":" not in address:
        raise ParameterError("scheduler", f"must be an address such as tcp://HOST:8786; got {scheduler!r}")
    try:
        return Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise ParameterError(
            "scheduler", f"cannot connect to {address} within {timeout_s:g} s ({type(e).__name__}: {e})"
        ) from None


def _inputs(mapped: MappedNetwork, X: np.ndarray, y: np.ndarray) -> tuple:
    return mapped, X, y


def _evaluate(inputs: tuple, task: ChunkTask, map_evaluator: Optional[Callable]) -> ChunkResult:
    mapped, X, y = inputs
    return evaluate_chunk(mapped, X, y, task, None, map_evaluator)


def dask_backend(
    scheduler,
    mapped: MappedNetwork,
    X: np.ndarray,
    y: np.ndarray,
    tasks: Sequence[ChunkTask],
    map_evaluator: Optional[Callable] = None,
    retries: int = DEFAULT_RETRIES,
    poll_s: float = 0.05,
) -> Generator[Optional[tuple[ChunkTask, ChunkResult]], None, None]:
    """Run chunks on a Dask cluster; yields ``(task, result)`` as futures complete, ``None`` while waiting.

    Parameters
    ----------
    scheduler
        A scheduler address, or an existing ``distributed.Client`` (left open afterwards).
    mapped, X, y
        Sent to the cluster once (one task holds them; workers fetch them from each other).
    tasks
        The chunks (see :func:`core.sweeps.chunks.plan_chunks`).
    map_evaluator
        Passed to :func:`~core.sweeps.chunks.evaluate_chunk`; must be a module-level function.
    retries
        Resubmissions of a task that raised.

    Closing the generator cancels the futures still pending (``client.cancel``).
    """
    from distributed import Client

    own = not isinstance(scheduler, Client)
    client = connect(scheduler) if own else scheduler
    pending: dict = {}
    inputs = None
    try:
        # The inputs travel once, as a task holding them rather than as scattered data: scattered data
        # whose worker dies is gone for good ("lost dependencies"), a task result is simply recomputed.
        inputs = client.submit(_inputs, mapped, np.asarray(X), np.asarray(y), pure=False)
        attempts: dict[int, int] = {}

        def submit(i: int) -> None:
            f = client.submit(_evaluate, inputs, tasks[i], map_evaluator, retries=retries, pure=False)
            pending[f] = i

        for i in range(len(tasks)):
            submit(i)
        while pending:
            # "lost" (a worker died holding the result) goes back to pending: the scheduler recomputes it
            done = [f for f in pending if f.status in ("finished", "error", "cancelled")]
            if not done:
                # distributed.wait needs a default client; polling keeps this client private
                time.sleep(poll_s)
                yield None
                continue
            for f in done:
                i = pending.pop(f)
                t = tasks[i]
                if f.status == "finished":
                    res = f.result()
                elif f.status == "error":
                    res = ChunkResult.all_failed(t, "dask: " + describe_error(f.exception()))
                else:
                    # cancelled by the scheduler, not by us (we only cancel in finally): resubmit
                    attempts[i] = attempts.get(i, 0) + 1
                    f.release()
                    if attempts[i] <= retries:
                        submit(i)
                        continue
                    res = ChunkResult.all_failed(
                        t, "dask: task cancelled by the scheduler (its worker or input data was lost)"
                    )
                f.release()
                yield t, res
    finally:
        if pending:
            client.cancel(list(pending))
        if inputs is not None:
            inputs.release()
        if own:
            # closing while tasks are cancelled can time out; the scheduler forgets them either way
            try:
                client.close(timeout=5)
            except Exception:  # noqa: BLE001
                pass
