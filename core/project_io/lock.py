"""An advisory lock per project file, so read-modify-write cycles of two processes never interleave.

The lock is ``flock(2)`` on a sidecar ``.NAME.h5.lock`` beside the project; the holder writes one JSON line
into it (pid, host, command, since), so a refused writer can name the other one. The kernel drops the lock
when its holder dies, even by SIGKILL: a stale sidecar never blocks anybody. The sidecar is removed on release
(a waiter that then finds a different file at the path simply tries again).

Holding is re-entrant within one thread (:func:`core.project_io.writer.save` takes the lock a caller may already
hold); another thread of the same process waits like another process does.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from core.errors import ProjectSaveError

LOCK_WAIT_S = 30.0  # a save takes about a second; wait this long for another writer before refusing
_POLL_S = 0.05
_held = threading.local()


class ProjectLockedError(ProjectSaveError):
    """Another process holds the project's lock longer than :data:`LOCK_WAIT_S`; names the other writer."""


def lock_path(path: str) -> str:
    """The sidecar lock file of project ``path``."""
    folder, base = os.path.split(os.path.realpath(os.fspath(path)))
    return os.path.join(folder, f".{base}.lock")


def holder_text(info: dict) -> str:
    """'pid 123 on host, since 12:00:01Z: reram-workbench sweep ...' from a sidecar's JSON."""
    if not info:
        return "an unknown process"
    command = " ".join(str(info.get("command", "")).split())[:160]
    # the sidecar may come from anywhere: keep control characters out of the one-line message
    command = re.sub(r"[\x00-\x1f\x7f-\x9f]", "?", command)
    host = re.sub(r"[^\w.\-]", "?", str(info.get("host", "?")))[:64]
    return f"pid {info.get('pid', '?')} on {host}, since {str(info.get('since', '?'))[:25]}: {command}"


def _read_holder(fd: int) -> dict:
    try:
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw.decode("utf-8", "replace") or "{}")
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


@contextmanager
def project_lock(path: str, wait_s: float = LOCK_WAIT_S, command: str = "") -> Iterator[None]:
    """Hold the lock of project ``path`` (waiting up to ``wait_s``), re-entrant within a thread.

    Raises
    ------
    ProjectLockedError
        Another writer holds it: "PROJECT.h5 is being written by another process (pid ...); try again".
    ProjectSaveError
        The sidecar cannot be created (folder missing or read-only).
    """
    key = lock_path(path)
    held: dict = _held.__dict__.setdefault("counts", {})
    if held.get(key):
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    fd = _acquire(key, path, wait_s, command)
    held[key] = 1
    try:
        yield
    finally:
        held.pop(key, None)
        try:
            os.unlink(key)
        except OSError:
            pass
        os.close(fd)  # closing drops the flock


def _acquire(key: str, path: str, wait_s: float, command: str) -> int:
    deadline = time.monotonic() + max(wait_s, 0.0)
    while True:
        try:
            fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise ProjectSaveError(f"cannot save project to {path!r}: {e.strerror or e} (its lock file)") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _read_holder(fd)
            os.close(fd)
            if time.monotonic() >= deadline:
                name = os.path.basename(path)
                raise ProjectLockedError(
                    f"{name} is being written by another process ({holder_text(other)}); try again"
                ) from None
            time.sleep(_POLL_S)
            continue
        # the previous holder may have removed the sidecar between our open and our flock: then ours is stale
        try:
            same = os.fstat(fd).st_ino == os.stat(key).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command or " ".join([os.path.basename(sys.argv[0] or "python"), *sys.argv[1:]]),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        return fd
