"""What the window asks before saving over a file that changed on disk or loaded with warnings, free of Qt.

:func:`core.session.project_file.save_document` refuses such a save with an error; :func:`conflict_question`
turns that error into a :class:`~app.presenters.window_flow.Question` (merge, reload, overwrite, cancel), and
:meth:`~app.presenters.document.WorkbenchState.apply_merge` puts what a merging save took from disk into the
open document. Unattended, nothing is ever written over the file (the answer is *cancel*).
"""

from __future__ import annotations

import ast
import os
import re
from typing import Optional

from app.presenters.window_flow import ACCEPT, CANCEL, DESTRUCTIVE, REJECT, Choice, Question
from core.errors import ProjectFormatError, describe_error
from core.session.project_file import ProjectChangedError, ProjectWarningsError

MERGE, RELOAD, OVERWRITE = "merge", "reload", "overwrite"
MAX_SHOWN_WARNINGS = 5
MAX_REASON_CHARS = 600

# how the reader names the file it could not open: "cannot open '/p/x.h5': no such file",
# "cannot open '/p/x.h5' as an HDF5 file (...)", "'/p/x.h5' kept changing on disk ..."
_QUOTED = r"(?P<q>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
_NAMED = [
    (re.compile(rf"^cannot open {_QUOTED}: (?P<rest>.*)$", re.S), "{rest}"),
    (re.compile(rf"^cannot open {_QUOTED} as an HDF5 file \((?P<rest>.*)\)$", re.S), "{rest}"),
    (re.compile(rf"^cannot open {_QUOTED} as an HDF5 file(?P<rest>.*)$", re.S), "not an HDF5 file{rest}"),
    (re.compile(rf"^{_QUOTED} (?P<rest>.*)$", re.S), "it {rest}"),
]


def conflict_question(error: BaseException) -> Optional[Question]:
    """The question for a refused save (None if ``error`` is not a conflict but a plain failure)."""
    if isinstance(error, ProjectChangedError):
        choices = [Choice(MERGE, "Merge and save", ACCEPT)] if error.same_network else []
        choices += [
            Choice(RELOAD, "Reload from disk", DESTRUCTIVE),
            Choice(OVERWRITE, "Save over it", DESTRUCTIVE),
            Choice(CANCEL, "Cancel", REJECT),
        ]
        text = (
            f"{error}.\n\nMerge adds the results and scenarios that are new on disk to this document, then saves. "
            "Reload discards this window's unsaved changes. Save over it loses what the other program stored."
        )
        return Question(
            "Project changed on disk",
            text,
            tuple(choices),
            default=MERGE if error.same_network else CANCEL,
            unattended=CANCEL,
        )
    if isinstance(error, ProjectWarningsError):
        return Question(
            "Project loaded with warnings",
            f"{error}.\n\nSave over it anyway, or cancel and use Save As to keep the original file.",
            (Choice(OVERWRITE, "Save over it", DESTRUCTIVE), Choice(CANCEL, "Cancel", REJECT)),
            default=CANCEL,
            unattended=CANCEL,
        )
    return None


def warnings_text(path: str, warnings: list[str]) -> str:
    """The message after opening a file whose stored values differ from their digests."""
    shown = "\n".join(f"- {w[:300]}" for w in warnings[:MAX_SHOWN_WARNINGS])
    more = f"\n(and {len(warnings) - MAX_SHOWN_WARNINGS} more)" if len(warnings) > MAX_SHOWN_WARNINGS else ""
    return (
        f"{os.path.basename(path)} opened, but some stored values are not what was saved (damaged, or edited "
        f"outside the workbench):\n{shown}{more}\n\nIt will not be saved over without asking; Save As keeps it."
    )


def open_error_text(error: BaseException, path: str = "") -> str:
    """'Cannot open /p/x.h5: <reason>' for a failed open of project ``path``.

    The reader's :class:`~core.errors.ProjectFormatError` starts with the HDF5 path of the problem (``/:`` for the
    file as a whole), which means nothing to someone opening a file; here the file comes first, the HDF5 path
    (if inside the file) last. The reader's own full path of the file wins over ``path``; without either,
    "the project file".
    """
    if not isinstance(error, ProjectFormatError):
        reason = describe_error(error, MAX_REASON_CHARS)
        return f"Cannot open {path or 'the project file'}: {reason}"
    reason, named = _unname(" ".join(str(error.reason).split()))
    where = error.hdf5_path if error.hdf5_path not in ("", "/") else ""
    reason = reason[:MAX_REASON_CHARS] + (f" (at {where} in the file)" if where else "")
    return f"Cannot open {named or path or 'the project file'}: {reason}"


def _unname(reason: str) -> tuple[str, str]:
    """``reason`` without the file name it starts with, and that name ('' if it names none)."""
    for pattern, text in _NAMED:
        m = pattern.match(reason)
        if m:
            try:
                named = str(ast.literal_eval(m.group("q")))
            except (ValueError, SyntaxError):
                continue
            return text.format(rest=m.group("rest")), named
    return reason, ""


def task_file(text: str) -> str:
    """The file name in a file task's status text ('opening p.h5 …' -> 'p.h5'; '' if none)."""
    parts = str(text).rstrip(" …").split(" ", 1)
    return parts[1] if len(parts) == 2 and parts[1].endswith((".h5", ".hdf5")) else ""
