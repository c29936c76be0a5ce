"""A Qt-free undo stack: every user edit is a :class:`Command` with ``do``/``undo`` (glue's ``core/command.py``).

Front ends never change the edited document directly; they push commands, and menus only call
:meth:`CommandStack.undo` / :meth:`CommandStack.redo`. Listeners registered with
:meth:`CommandStack.on_change` hear of every change (push, undo, redo, clear, clean marker), e.g. to enable
the Undo/Redo menu items or to redraw a view.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Optional

log = logging.getLogger(__name__)


class Command:
    """One undoable edit. Subclasses implement :meth:`do` and :meth:`undo`; ``text`` names it for menus."""

    text: str = "edit"

    def do(self) -> None:
        raise NotImplementedError

    def undo(self) -> None:
        raise NotImplementedError


class FunctionCommand(Command):
    """A command made of two callables, for edits that need no class of their own."""

    def __init__(self, text: str, do: Callable[[], None], undo: Callable[[], None]):
        self.text = text
        self._do, self._undo = do, undo

    def do(self) -> None:
        self._do()

    def undo(self) -> None:
        self._undo()


class CommandStack:
    """Undo/redo history of :class:`Command` s.

    Parameters
    ----------
    max_depth
        Oldest commands are forgotten beyond this many (memory stays bounded while painting).
    """

    def __init__(self, max_depth: int = 500):
        if int(max_depth) < 1:
            raise ValueError("max_depth: must be >= 1")
        self._max = int(max_depth)
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        self._clean_index: Optional[int] = 0  # len(_undo) at the last save; None once unreachable
        self._listeners: list[Callable[[], None]] = []

    # ---- listeners -----------------------------------------------------------------------------------
    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Register ``callback()``; returns a function that unregisters it."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def _changed(self) -> None:
        for cb in list(self._listeners):
            try:
                cb()
            except Exception:
                log.exception("command stack listener failed")

    # ---- editing -------------------------------------------------------------------------------------
    def push(self, command: Command) -> None:
        """Run ``command.do()`` and record it; clears the redo history. If ``do`` raises, nothing is recorded."""
        command.do()
        self._undo.append(command)
        if self._clean_index is not None and self._clean_index > len(self._undo) - 1:
            self._clean_index = None  # the saved state was in the discarded redo branch
        self._redo.clear()
        if len(self._undo) > self._max:
            del self._undo[0]
            if self._clean_index is not None:
                self._clean_index = self._clean_index - 1 if self._clean_index > 0 else None
        self._changed()

    def undo(self) -> Optional[Command]:
        """Undo the last command and return it (None if there is nothing to undo)."""
        if not self._undo:
            return None
        cmd = self._undo.pop()
        try:
            cmd.undo()
        except Exception:
            self._undo.append(cmd)
            raise
        self._redo.append(cmd)
        self._changed()
        return cmd

    def redo(self) -> Optional[Command]:
        """Redo the last undone command and return it (None if there is nothing to redo)."""
        if not self._redo:
            return None
        cmd = self._redo.pop()
        try:
            cmd.do()
        except Exception:
            self._redo.append(cmd)
            raise
        self._undo.append(cmd)
        self._changed()
        return cmd

    def clear(self) -> None:
        """Forget the history (e.g. when another document is opened); the empty state is clean."""
        self._undo.clear()
        self._redo.clear()
        self._clean_index = 0
        self._changed()

    # ---- state ---------------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        return self._undo[-1].text if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1].text if self._redo else ""

    def __len__(self) -> int:
        return len(self._undo)

    def set_clean(self) -> None:
        """Mark the current state as saved."""
        self._clean_index = len(self._undo)
        self._changed()

    @property
    def is_clean(self) -> bool:
        """True if undo/redo has returned to the state marked by :meth:`set_clean`."""
        return self._clean_index == len(self._undo)
