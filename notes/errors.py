"""The one error family of the notes package (commit parsing, note collection, rendering)."""

from __future__ import annotations


class NotesError(Exception):
    """Release notes cannot be collected or rendered; the message says why."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
