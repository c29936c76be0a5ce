"""The ``reram-workbench`` command line: a front end over the same core jobs the GUI drives.

Every command accepts ``--json`` and then prints exactly one JSON object on stdout. Bad input exits with code 2
and one line on stderr naming the field and what is allowed; never a traceback.

Commands live in small modules that each expose ``register(subparsers, common)``; the parser they add sets
``func=callable(args) -> CommandResult``.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional

from core.errors import WorkbenchError
from core.jobs import Cancelled, Progress


@dataclass
class CommandResult:
    """What a command returns: the JSON object and the human-readable text."""

    data: dict
    text: str = ""
    exit_code: int = 0


class CliUsageError(WorkbenchError):
    """Bad command-line input."""


def progress_printer(enabled: bool) -> Optional[Callable[[Progress], None]]:
    """A progress callback that writes one updating line to stderr (only when stderr is a terminal)."""
    if not enabled or not sys.stderr.isatty():
        return None

    def show(p: Progress) -> None:
        sys.stderr.write(f"\r[{p.fraction * 100:5.1f}%] {p.message[:100]:<100}")
        sys.stderr.flush()
        if p.done >= p.total:
            sys.stderr.write("\n")

    return show


def _json_default(o: Any):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def _clean_nan(o: Any):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean_nan(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean_nan(v) for v in o]
    return o


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage + exits 2; we want one line naming the problem
        raise CliUsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    from core import cli_commands

    parser = _Parser(prog="reram-workbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    common.add_argument("--quiet", action="store_true", help="no progress on stderr")
    for module in cli_commands.modules():
        module.register(sub, common)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        result: CommandResult = args.func(args)
    except Cancelled:
        print("reram-workbench: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("reram-workbench: interrupted", file=sys.stderr)
        return 130
    except WorkbenchError as e:
        print(f"reram-workbench: error: {e}".replace("\n", " "), file=sys.stderr)
        return 2
    except MemoryError:
        print("reram-workbench: error: out of memory", file=sys.stderr)
        return 2
    if getattr(args, "json", False):
        print(json.dumps(_clean_nan(result.data), default=_json_default))
    elif result.text:
        print(result.text)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
