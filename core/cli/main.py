"""The ``reram-workbench`` command line: a front end over the same core jobs the GUI drives.

Every command accepts ``--json`` and then prints exactly one JSON object on stdout. Bad input exits with code 2
and one line on stderr naming the field and what is allowed; never a traceback.

Commands live in small modules (:data:`COMMAND_MODULES`) that each expose ``register(subparsers, common)``; the
parser they add sets ``func=callable(args) -> CommandResult`` (:mod:`core.cli.common`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Optional

from core.cli import circuit_cmd, measured_cmd, project_cmds, recover_cmd, study_cmd, sweep_cmd
from core.cli.common import CliUsageError, CommandResult
from core.errors import WorkbenchError, describe_error
from core.jobs import Cancelled
from core.model.serialize import dumps


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage + exits 2; we want one line naming the problem
        raise CliUsageError(f"{self.prog}: {message}")


COMMAND_MODULES = (project_cmds, sweep_cmd, recover_cmd, circuit_cmd, study_cmd, measured_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reram-workbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    common.add_argument("--quiet", action="store_true", help="no progress on stderr")
    for module in COMMAND_MODULES:
        module.register(sub, common)
    return parser


# signals that end a command the way Ctrl-C does: the job's finally blocks run (ngspice children are killed, a
# sweep stores its finished points), then the exit status is 128 + the signal number
_STOP_SIGNALS = ("SIGTERM", "SIGHUP")
EXIT_BROKEN_PIPE = 128 + 13  # the status a shell reports for SIGPIPE


class _Stop:
    """Handlers for SIGTERM and SIGHUP that raise KeyboardInterrupt once (a second signal during the clean-up
    is ignored, so the clean-up finishes), installed for one :func:`main` call and restored after it."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self.saved: dict[int, object] = {}

    def _handle(self, signum, _frame) -> None:
        if self.signum is None:
            self.signum = signum
            raise KeyboardInterrupt

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            for name in _STOP_SIGNALS:
                num = getattr(signal, name, None)
                if num is not None:
                    self.saved[num] = signal.signal(num, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for num, handler in self.saved.items():
            signal.signal(num, handler)  # type: ignore[arg-type]

    def status(self) -> int:
        return 130 if self.signum is None else 128 + self.signum

    def reason(self, default: str) -> str:
        return default if self.signum is None else f"stopped by {signal.Signals(self.signum).name}"


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with _Stop() as stop:
        try:
            return _main(argv, stop)
        except BrokenPipeError:
            return _broken_pipe()


def _main(argv: list[str], stop: _Stop) -> int:
    try:
        args = build_parser().parse_args(argv)
        result: CommandResult = args.func(args)
    except Cancelled as c:
        _say(stop.reason(str(c)))
        return stop.status()
    except KeyboardInterrupt:
        _say(stop.reason("interrupted"))
        return stop.status()
    except WorkbenchError as e:
        _say(f"error: {describe_error(e, limit=4000)}")
        return 2
    except MemoryError:
        _say("error: out of memory")
        return 2
    if getattr(args, "json", False):
        print(dumps(result.data, strict=True))
    elif result.text:
        print(result.text)
    sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
    return result.exit_code


def _say(message: str) -> None:
    """One line on stderr; a terminal that is gone (SIGHUP, closed pipe) must not turn it into a traceback."""
    try:
        print(f"reram-workbench: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _broken_pipe() -> int:
    """The reader of stdout went away (``info --json | head -c 10``): exit quietly with the SIGPIPE status.

    As the Python docs advise, stdout is pointed at /dev/null so the interpreter's final flush cannot fail again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (captured in tests)
        pass
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
