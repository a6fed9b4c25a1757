"""The values release notes are made of: entries grouped in sections, for one audience."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .settings import TRAINING


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    url: str | None  # None when no ticket URL pattern is configured


@dataclass(frozen=True)
class Correction:
    """A human's fix for one commit's entry, stored in the ledger and applied on every run.

    `skip` leaves the commit out of every audience's notes; otherwise `text`
    replaces what readers see. A `text` that is itself a conventional header
    (`fix(api): …`) also moves the entry to that type's section.
    """

    skip: bool = False
    reason: str = ""
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    section: str  # section key, see notes.settings
    type: str | None  # conventional type, None for a non-conventional message
    scope: str | None
    text: str  # one line, for readers
    action: str | None  # what readers must do (the breaking-change note), when it says more than text
    breaking: bool
    training: str | None  # None: no training; "": training needed, no details given
    tickets: tuple[Ticket, ...]
    short_sha: str
    shas: tuple[str, ...]  # every commit this entry stands for, the listed one first
    pull_request: str | None = None
    conventional: bool = True
    internal: bool = False
    reworded: bool = False
    # What readers see as the area: the scope as written in internal notes; in customer notes its
    # name in [notes.areas], or the scope or nothing as [notes].unmapped_scopes says.
    area: str | None = None
    flaw: str | None = None  # what in the commit's message breaks the spec (internal notes only)
    dependency: bool = False  # a dependency update (one entry, never split into another project's changes)

    @property
    def sha(self) -> str:
        return self.shas[0]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Skipped:
    sha: str
    reason: str


@dataclass(frozen=True)
class Flagged:
    """A commit whose message breaks Conventional Commits: to reword (or skip) before approval."""

    sha: str
    text: str  # what readers would see of it
    reason: str


@dataclass(frozen=True)
class ReleaseNotes:
    """Notes for one audience over one range; what templates receive (see render.notes_context)."""

    audience: str
    sections: tuple[Section, ...]  # only sections with entries, in configured order
    version: str | None = None
    project: str | None = None
    since: str | None = None
    until: str | None = None
    date: date | None = None
    commit_count: int = 0
    skipped: tuple[Skipped, ...] = ()
    flagged: tuple[Flagged, ...] = ()

    @property
    def entries(self) -> tuple[Entry, ...]:
        """Every entry once: the Training section lists again entries that stay in their own section."""
        return tuple(entry for section in self.sections if section.key != TRAINING
                     for entry in section.entries)

    def section(self, key: str) -> Section | None:
        for section in self.sections:
            if section.key == key:
                return section
        return None
