"""Torch set-up shared by every job that trains: one thread, and seeded initialisation safe under concurrency.

Jobs run on the queue's worker threads, and torch's thread count and default random generator are process-wide.
Setting the thread count once (never restoring it) and drawing initial weights under a lock keeps every run
bit-reproducible for its seed even when two training jobs run at the same time; the training loops themselves
draw only from their own ``torch.Generator``.
"""

from __future__ import annotations

import contextlib
import threading

_init_lock = threading.Lock()
_configured = False


def torch_module():
    """Import torch, configured for this workbench's tiny networks (one intra-op thread)."""
    global _configured
    import torch

    if not _configured:
        torch.set_num_threads(1)  # tiny matrices: one thread is as fast, and results do not depend on cores
        _configured = True
    return torch


@contextlib.contextmanager
def seeded_init(seed: int):
    """Context in which the global torch generator is seeded with ``seed`` and no other job draws from it."""
    torch = torch_module()
    with _init_lock:
        torch.manual_seed(seed)
        yield torch
