"""What the notes package needs of the application that runs it, stated once.

notes imports no other package (releases' Ledger and Build included), so it
states here, as Protocols, the few things it uses of them; pipeline's App and
the objects it hands out satisfy them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Connection

    from .review.ledgerview import Rows
    from .settings import NotesSettings


class Project(Protocol):
    """The configuration values notes reads: the application repository and its branch."""

    @property
    def repo(self) -> Path: ...
    @property
    def project_name(self) -> str: ...
    @property
    def branch(self) -> str: ...


class Actor(Protocol):
    """Who is acting: recorded as the author of drafts, corrections and approvals."""

    @property
    def who(self) -> str: ...


class Ledger(Protocol):
    """The ledger as the notes workflow writes to it: a transaction, and an audit entry inside it."""

    @property
    def actor(self) -> Actor: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    def write(self) -> AbstractContextManager[Connection]: ...

    def read(self) -> AbstractContextManager[Connection]: ...

    def record(self, conn: Connection, action: str, subject: str, *,
               reason: str | None = None, detail: Mapping[str, Any] | None = None) -> None: ...


class Build(Protocol):
    """A build as notes names it (releases' Build is one)."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def commit(self) -> str: ...


class NotesApp(Protocol):
    """What the notes commands and workflow use of pipeline's App."""

    @property
    def config(self) -> Project: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def out(self) -> Console: ...
    @property
    def err(self) -> Console: ...
    @property
    def json(self) -> bool: ...

    def emit_json(self, payload: Any) -> None: ...

    def confirm(self, question: str, yes: bool) -> bool: ...

    def resolve_build(self, spec: str) -> Build: ...

    def notes_settings(self) -> NotesSettings: ...

    def tier_commit(self, channel: str) -> str | None:
        """The commit of the build running on the tier that serves `channel`, if one runs there."""
        ...

    def tier_commit_before(self, channel: str, build_id: str) -> str | None:
        """The commit of the build that ran on the channel's tier before `build_id` arrived there."""
        ...

    def ledger_rows(self, others: Mapping[str, int] | None = None) -> AbstractContextManager[Rows]:
        """One read of the ledger with the schemas named in `others` ({component: version}) current;
        on a SQLite ledger it needs no SQLAlchemy."""
        ...
