"""The one error family of the notify package (notices and their delivery)."""

from __future__ import annotations


class NotifyError(Exception):
    """A notice cannot be composed or delivered; the message says why."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
