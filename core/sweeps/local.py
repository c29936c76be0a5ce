"""Running sweep chunks on a local thread pool."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Optional

from core.errors import describe_error
from core.jobs import CancelToken
from core.sweeps.chunks import ChunkResult, ChunkTask, evaluate_chunk


def local_backend(
    mapped, X, y, tasks: Iterable[ChunkTask], workers: int, map_evaluator: Optional[Callable] = None
) -> Generator[Optional[tuple[ChunkTask, ChunkResult]], None, None]:
    """Run chunks on a thread pool; yields ``(task, result)`` as they finish, ``None`` while waiting.

    Closing the generator cancels queued chunks, stops per-map chunks between maps (closing a running
    SPICE job, which kills its ngspice child) and waits for the running chunks to return.
    """
    cancel = CancelToken()
    ex = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sweep")
    pending: dict = {}
    todo = iter(tasks)

    def fill() -> None:
        # a bounded number in flight keeps memory flat and cancel prompt
        for t in todo:
            pending[ex.submit(evaluate_chunk, mapped, X, y, t, cancel, map_evaluator)] = t
            if len(pending) >= 2 * workers:
                break

    try:
        fill()
        while pending:
            done, _ = wait(list(pending), timeout=0.2, return_when=FIRST_COMPLETED)
            if not done:
                yield None
                continue
            for f in done:
                t = pending.pop(f)
                try:
                    res = f.result()
                except Exception as e:  # noqa: BLE001
                    res = ChunkResult.all_failed(t, describe_error(e))
                yield t, res
            fill()
    finally:
        cancel.cancel()
        for f in pending:
            f.cancel()
        ex.shutdown(wait=True, cancel_futures=True)
