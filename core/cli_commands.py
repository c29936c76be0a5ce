"""The list of CLI command modules; each exposes ``register(subparsers, common)``."""
from __future__ import annotations

import importlib

# one module per command group; a module missing here is simply not offered
_MODULES = ("core.cli_project", "core.cli_sweep", "core.cli_recover")


def modules():
    out = []
    for name in _MODULES:
        try:
            out.append(importlib.import_module(name))
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
    return out
