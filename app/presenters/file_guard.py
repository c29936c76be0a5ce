"""What the window asks before saving over a file that changed on disk or loaded with warnings, free of Qt.

:func:`core.session.project_file.save_document` refuses such a save with an error; :func:`conflict_question`
turns that error into a :class:`~app.presenters.window_flow.Question` (merge, reload, overwrite, cancel), and
:meth:`~app.presenters.document.WorkbenchState.apply_merge` puts what a merging save took from disk into the
open document. Unattended, nothing is ever written over the file (the answer is *cancel*).
"""

from __future__ import annotations

import os
from typing import Optional

from app.presenters.window_flow import ACCEPT, CANCEL, DESTRUCTIVE, REJECT, Choice, Question
from core.session.project_file import ProjectChangedError, ProjectWarningsError

MERGE, RELOAD, OVERWRITE = "merge", "reload", "overwrite"
MAX_SHOWN_WARNINGS = 5


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
