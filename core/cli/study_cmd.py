"""Placeholder: filled in by the work on this command (registers nothing yet)."""

from __future__ import annotations


def register(sub, common) -> None:
    """Add this module's subcommand to ``sub`` (nothing yet)."""
