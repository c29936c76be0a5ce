"""Running sweep chunks on a dask.distributed cluster.

The mapped network and the evaluation data are sent to the cluster once; each
:class:`~core.sweeps.chunks.ChunkTask` (plain data: pattern names, sizes, seeds) becomes one task calling the same
module-level :func:`core.sweeps.chunks.evaluate_chunk` the local thread pool calls, so results equal the local run's
for the same spec. The chunks are drawn from the (lazy) plan as others finish, so the client holds a bounded
number of futures (:data:`IN_FLIGHT_PER_THREAD` per worker thread, at least :data:`MIN_IN_FLIGHT`: enough that a
worker never waits for the client's next poll) whatever the number of maps. Tasks carry ``retries=``: a task
that raised is resubmitted; the scheduler itself recomputes the tasks (and the input data) held by a worker
that disappears, and a task the scheduler cancels is resubmitted up to ``retries`` times. Workers need this
package installed (and ngspice for SPICE sweeps); see ``docs/dask.md``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterable, Sized
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.errors import ParameterError, WorkbenchError, describe_error
from core.model.crossbar import MappedNetwork
from core.sweeps.chunks import ChunkResult, ChunkTask, evaluate_chunk

CONNECT_TIMEOUT_S = 10.0
DEFAULT_RETRIES = 2
LOST_SCHEDULER_S = 15.0
NO_WORKERS_S = 60.0
RESULT_WAIT_S = 2.0
MIN_IN_FLIGHT = 64  # futures cost the client ~1 kB each plus their chunk; a small cluster still gets a deep queue
IN_FLIGHT_PER_THREAD = 8  # a behavioural chunk takes ~10 ms, the client polls every 50 ms when nothing is done
THREADS_REFRESH_S = 5.0
SCHEMES = ("tcp", "tls")  # tls needs certificate files (TlsFiles); ucx/ws need extra packages


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a ``tls://`` scheduler: the CA that signed the cluster's certificates, and this client's
    certificate and key (``distributed.security.Security`` with encryption required)."""

    ca_file: str
    cert_file: str
    key_file: str

    def security(self):
        import os

        from distributed.security import Security

        for name, path in (("tls-ca", self.ca_file), ("tls-cert", self.cert_file), ("tls-key", self.key_file)):
            if not path or not os.path.isfile(path):
                raise ParameterError(name, f"must name an existing PEM file, got {path!r}")
        return Security(
            tls_ca_file=self.ca_file,
            tls_client_cert=self.cert_file,
            tls_client_key=self.key_file,
            require_encryption=True,
        )


@dataclass(frozen=True)
class DaskLimits:
    """How long a Dask sweep waits before it gives up, in seconds.

    ``connect_s``: to reach the scheduler at all; ``lost_scheduler_s``: for a scheduler that went away to come
    back; ``no_workers_s``: with unfinished tasks and no worker connected.
    """

    connect_s: float = CONNECT_TIMEOUT_S
    lost_scheduler_s: float = LOST_SCHEDULER_S
    no_workers_s: float = NO_WORKERS_S


class SweepAborted(WorkbenchError):
    """The cluster failed the sweep as a whole (scheduler lost, no workers); the finished chunks stay valid."""


def parse_address(scheduler) -> str:
    """The ``tcp://HOST:PORT`` address of a scheduler, checked without touching the network.

    Raises
    ------
    ParameterError
        Naming ``scheduler``: a scheme other than tcp, a missing or empty host, a port outside 1-65535.
    """
    text = str(scheduler).strip()
    shown = text if len(text) <= 80 else text[:80] + "..."
    hint = "an address such as tcp://HOST:8786"
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    scheme = scheme.lower()
    if scheme not in SCHEMES:
        raise ParameterError("scheduler", f"scheme {scheme}:// unsupported; give {hint} (or tls://); got {shown!r}")
    host, colon, port_text = rest.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not port_text:
        raise ParameterError("scheduler", f"needs a port: {hint}; got {shown!r}")
    if not host or len(host) > 253 or any(c.isspace() or c in "/[]@?#" for c in host):
        raise ParameterError("scheduler", f"needs a host name or IP address: {hint}; got {shown!r}")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ParameterError("scheduler", f"port must be an integer from 1 to 65535; got {shown!r}")
    return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{int(port_text)}"


def connect(scheduler, timeout_s: float = CONNECT_TIMEOUT_S, tls: Optional[TlsFiles] = None):
    """A ``distributed.Client`` for a scheduler address such as ``tcp://10.0.0.5:8786``, within ``timeout_s``.

    The client is made on a helper thread so that nothing (name resolution, a scheduler that accepts but
    never answers) holds the caller longer than ``timeout_s`` plus a second.

    Raises
    ------
    ParameterError
        Naming ``scheduler`` when the address is malformed or nobody answers there in time.
    """
    from distributed import Client

    address = parse_address(scheduler)
    security = None
    if address.startswith("tls://"):
        if tls is None:
            raise ParameterError(
                "scheduler", f"{address} needs --tls-ca, --tls-cert and --tls-key (PEM files of the cluster's CA)"
            )
        security = tls.security()
    elif tls is not None:
        raise ParameterError("scheduler", f"TLS files were given but {address} is not a tls:// address")
    box: dict = {}

    def make() -> None:
        try:
            box["client"] = Client(address, timeout=timeout_s, set_as_default=False, security=security)
        except Exception as e:  # noqa: BLE001 - any failure to connect is the same one-line error
            box["error"] = e

    thread = threading.Thread(target=make, name="dask-connect", daemon=True)
    thread.start()
    thread.join(timeout_s + 1.0)
    if "client" in box:
        return box["client"]
    if thread.is_alive():  # a client made after all is closed again by its own thread
        threading.Thread(target=_close_late, args=(thread, box), daemon=True).start()
        raise ParameterError("scheduler", f"cannot connect to {address} within {timeout_s:g} s (no answer)")
    e = box.get("error")
    reason = f"{type(e).__name__}: {' '.join(str(e).split())[:200]}" if e is not None else "no client"
    raise ParameterError("scheduler", f"cannot connect to {address} within {timeout_s:g} s ({reason})")


def quiet_logs() -> None:
    """Keep distributed's own log records (reconnect attempts, tracebacks of a lost comm) off stderr.

    For front ends that report a Dask fault as one line (the CLI); the reason is in the sweep's error.
    """
    import logging

    import distributed  # noqa: F401 - its import configures the loggers this then quiets

    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in ("distributed", "tornado")]
    for name in {"distributed", "tornado", *names}:  # children carry their own levels from dask's config
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def _close_late(thread: threading.Thread, box: dict) -> None:
    thread.join()
    client = box.get("client")
    if client is not None:
        _close(client)


def _close(client) -> None:
    # closing while tasks are cancelled, or with the scheduler gone, can time out; it is forgotten either way
    try:
        client.close(timeout=5)
    except Exception:  # noqa: BLE001
        pass


def _cluster_size(client, timeout_s: float = 2.0) -> Optional[tuple[int, int]]:
    """(workers, threads) the scheduler knows of (None if it cannot be asked within ``timeout_s``: a scheduler
    that just died would otherwise hold the call for the whole comm timeout)."""
    try:
        info = client.sync(client.scheduler.identity, n_workers=0, callback_timeout=timeout_s)
        return int(info["n_workers"]), int(info.get("total_threads", info["n_workers"]))
    except Exception:  # noqa: BLE001
        return None


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
    tasks: Iterable[ChunkTask],
    map_evaluator: Optional[Callable] = None,
    retries: int = DEFAULT_RETRIES,
    poll_s: float = 0.05,
    limits: DaskLimits = DaskLimits(),
) -> Generator[Optional[tuple[ChunkTask, ChunkResult]], None, None]:
    """Run chunks on a Dask cluster; yields ``(task, result)`` as futures complete, ``None`` while waiting.

    Parameters
    ----------
    scheduler
        A scheduler address, or an existing ``distributed.Client`` (left open afterwards).
    mapped, X, y
        Sent to the cluster once (one task holds them; workers fetch them from each other).
    tasks
        The chunks (see :func:`core.sweeps.chunks.plan_chunks`), drawn as earlier ones finish.
    map_evaluator
        Passed to :func:`~core.sweeps.chunks.evaluate_chunk`; must be a module-level function.
    retries
        Resubmissions of a task that raised.
    limits
        How long to wait for the scheduler and for workers (:class:`DaskLimits`).

    Raises
    ------
    ParameterError
        The scheduler cannot be reached (before anything ran).
    SweepAborted
        The scheduler went away for ``limits.lost_scheduler_s`` or no worker was connected for
        ``limits.no_workers_s`` while tasks were unfinished; what was yielded before stays valid.

    Closing the generator cancels the futures still pending (``client.cancel``).
    """
    from distributed import Client

    own = not isinstance(scheduler, Client)
    client = connect(scheduler, limits.connect_s) if own else scheduler
    pending: dict = {}
    inputs = None
    lost = False
    try:
        # The inputs travel once, as a task holding them rather than as scattered data: scattered data
        # whose worker dies is gone for good ("lost dependencies"), a task result is simply recomputed.
        inputs = client.submit(_inputs, mapped, np.asarray(X), np.asarray(y), pure=False)
        attempts: dict[int, int] = {}
        task_of: dict[int, ChunkTask] = {}  # the chunks submitted or stranded and not yet yielded
        todo = enumerate(tasks)
        n_tasks = len(tasks) if isinstance(tasks, Sized) else None
        n_yielded = 0
        exhausted = False
        watch = _Watch(client, limits)

        def submit(i: int) -> None:
            f = client.submit(_evaluate, inputs, task_of[i], map_evaluator, retries=retries, pure=False)
            pending[f] = i

        def fill() -> None:
            nonlocal exhausted
            # more chunks as earlier ones finish: a bounded number of futures, enough to keep every worker busy
            if client.status != "running":
                return
            limit = max(MIN_IN_FLIGHT, IN_FLIGHT_PER_THREAD * watch.threads_now())
            while len(pending) < limit:
                nxt = next(todo, None)
                if nxt is None:
                    exhausted = True
                    return
                task_of[nxt[0]] = nxt[1]
                submit(nxt[0])

        def done_with(i: int) -> ChunkTask:
            nonlocal n_yielded
            n_yielded += 1
            attempts.pop(i, None)
            return task_of.pop(i)

        try:
            fill()
        except Exception as e:  # noqa: BLE001 - ClosedClientError, CommClosedError, OSError: the scheduler went away
            lost = True
            raise SweepAborted(f"dask: lost the scheduler while submitting ({describe_error(e, 160)})") from None
        # Chunks whose futures the client cancelled while it had lost the scheduler (it cancels them all):
        # resubmitted once it is connected again; the watch ends the sweep if it never is. They are not the
        # maps' failure, so they are never recorded as failed maps (finished points stay whole).
        stranded: list[int] = []
        while pending or stranded or not exhausted:
            if stranded and client.status == "running":
                try:
                    for i in stranded:
                        submit(i)
                except Exception as e:  # noqa: BLE001
                    lost = True
                    raise SweepAborted(f"dask: lost the scheduler ({describe_error(e, 160)})") from None
                stranded.clear()
            try:
                fill()
            except Exception as e:  # noqa: BLE001
                lost = True
                raise SweepAborted(f"dask: lost the scheduler ({describe_error(e, 160)})") from None
            # "lost" (a worker died holding the result) goes back to pending: the scheduler recomputes it
            done = [f for f in pending if f.status in ("finished", "error", "cancelled")]
            if not done:
                reason = watch.failure(len(pending) + len(stranded) if n_tasks is None else n_tasks - n_yielded)
                if reason is not None:
                    lost = reason.startswith("dask: lost")
                    raise SweepAborted(reason)
                # distributed.wait needs a default client; polling keeps this client private
                time.sleep(poll_s)
                yield None
                continue
            for f in done:
                i = pending.pop(f)
                t = task_of[i]
                if f.status == "finished":
                    try:
                        # a result whose worker just died is recomputed before it arrives: do not wait for it
                        # here (the watch must keep running), look again at the next poll
                        res = f.result(timeout=RESULT_WAIT_S)
                    except TimeoutError:
                        pending[f] = i
                        continue
                    except Exception:  # noqa: BLE001 - cancelled under us, or its data went away: not the maps'
                        res = None
                    if res is not None:
                        watch.progress()
                        f.release()
                        done_with(i)
                        yield t, res
                        continue
                if client.status != "running":
                    f.release()
                    stranded.append(i)
                    continue
                watch.progress()
                if f.status == "error":
                    res = ChunkResult.all_failed(t, "dask: " + describe_error(f.exception()))
                else:
                    # cancelled by the scheduler, not by us (we only cancel in finally): resubmit
                    attempts[i] = attempts.get(i, 0) + 1
                    f.release()
                    if attempts[i] <= retries:
                        try:
                            submit(i)
                        except Exception as e:  # noqa: BLE001
                            lost = True
                            raise SweepAborted(f"dask: lost the scheduler ({describe_error(e, 160)})") from None
                        continue
                    res = ChunkResult.all_failed(
                        t, "dask: task cancelled by the scheduler (its worker or input data was lost)"
                    )
                f.release()
                done_with(i)
                yield t, res
    finally:
        if not lost and client.status == "running":
            try:
                if pending:
                    client.cancel(list(pending))
                if inputs is not None:
                    inputs.release()
            except Exception:  # noqa: BLE001 - a failing cluster must not hide the sweep's own outcome
                pass
        if own:
            if lost:  # the client gives up reconnecting after its connect timeout; closing before that hangs
                deadline = time.monotonic() + limits.connect_s + 2.0
                while client.status not in ("closed", "failed") and time.monotonic() < deadline:
                    time.sleep(0.1)
            _close(client)


class _Watch:
    """Tells when a Dask sweep should give up: the scheduler cannot be reached (the client's own status stays
    ``running`` while it tries to reconnect), or no worker is connected."""

    def __init__(self, client, limits: DaskLimits):
        self.client, self.limits = client, limits
        self.disconnected_since: Optional[float] = None
        self.no_workers_since: Optional[float] = None
        self.next_check = 0.0
        self.threads = 0
        self.next_threads = 0.0

    def threads_now(self) -> int:
        """Worker threads of the cluster, asked at most every :data:`THREADS_REFRESH_S` (0 until known)."""
        now = time.monotonic()
        if now >= self.next_threads and self.client.status == "running":
            self.next_threads = now + THREADS_REFRESH_S
            size = _cluster_size(self.client)
            if size is not None:
                self.threads = size[1]
        return self.threads

    def progress(self) -> None:
        self.disconnected_since = self.no_workers_since = None

    def failure(self, n_pending: int) -> Optional[str]:
        now = time.monotonic()
        if now < self.next_check:
            return None
        self.next_check = now + 1.0
        size = _cluster_size(self.client) if self.client.status == "running" else None
        now = time.monotonic()
        if size is None:
            self.disconnected_since = self.disconnected_since or now
            if now - self.disconnected_since > self.limits.lost_scheduler_s:
                return (
                    f"dask: lost the scheduler (no answer for {self.limits.lost_scheduler_s:g} s); "
                    f"{n_pending} chunks unfinished"
                )
            return None
        self.disconnected_since = None
        n, self.threads = size
        if n == 0:
            self.no_workers_since = self.no_workers_since or now
            if now - self.no_workers_since > self.limits.no_workers_s:
                return f"dask: no worker connected for {self.limits.no_workers_s:g} s; {n_pending} chunks unfinished"
        else:
            self.no_workers_since = None
        return None
