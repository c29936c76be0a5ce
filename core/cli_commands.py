"""The list of CLI command modules; each exposes ``register(subparsers, common)``."""
from __future__ import annotations


def modules():
    from core import cli_project, cli_recover, cli_sweep

    return [cli_project, cli_sweep, cli_recover]
