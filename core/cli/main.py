"""The ``reram-workbench`` command line: a front end over the same core jobs the GUI drives.

Every command accepts ``--json`` and then prints exactly one JSON object on stdout. Bad input exits with code 2
and one line on stderr naming the field and what is allowed; never a traceback.

Commands live in small modules (:data:`COMMAND_MODULES`) that each expose ``register(subparsers, common)``; the
parser they add sets ``func=callable(args) -> CommandResult`` (:mod:`core.cli.common`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from core.cli import circuit_cmd, project_cmds, recover_cmd, study_cmd, sweep_cmd
from core.cli.common import CliUsageError, CommandResult
from core.errors import WorkbenchError, describe_error
from core.jobs import Cancelled
from core.model.serialize import dumps


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage + exits 2; we want one line naming the problem
        raise CliUsageError(f"{self.prog}: {message}")


COMMAND_MODULES = (project_cmds, sweep_cmd, recover_cmd, circuit_cmd, study_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reram-workbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    common.add_argument("--quiet", action="store_true", help="no progress on stderr")
    for module in COMMAND_MODULES:
        module.register(sub, common)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        result: CommandResult = args.func(args)
    except Cancelled as c:
        print(f"reram-workbench: {c}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("reram-workbench: interrupted", file=sys.stderr)
        return 130
    except WorkbenchError as e:
        print(f"reram-workbench: error: {describe_error(e, limit=4000)}", file=sys.stderr)
        return 2
    except MemoryError:
        print("reram-workbench: error: out of memory", file=sys.stderr)
        return 2
    if getattr(args, "json", False):
        print(dumps(result.data, strict=True))
    elif result.text:
        print(result.text)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
