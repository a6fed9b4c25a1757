"""The one error family of the notes package (commit parsing, note collection, rendering)."""

from __future__ import annotations


class NotesError(Exception):
    """Release notes cannot be collected or rendered; the message says why.

    The same shape as releases.errors.HintedError, which notes may not import (it stands alone).
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class SettingsError(NotesError):
    """A notes setting (section order, ticket URL, policy) has a value the notes cannot work with."""


class NonConventionalError(NotesError):
    """The policy is `fail` and commits in range do not follow Conventional Commits."""


class CorrectionError(NotesError):
    """A stored skip/reword correction is ambiguous or unusable for this range."""


class TemplateError(NotesError):
    """A notes template (shipped or overridden) cannot be loaded or rendered."""


class GitError(NotesError):
    """Reading history from, or writing a tag or CHANGELOG commit to, the application repository failed."""
