"""What `notes show` reads from the notes tables, without SQLAlchemy.

Generating notes reads two things from the ledger: the stored corrections
and the newest production approval (it fixes the range). Importing
SQLAlchemy to read them cost `notes show` about 0.3 s, most of its fixed
cost against raw `git log` (issue 8), so the reads are plain SQL that SQLite
and PostgreSQL both accept, run through whatever `Rows` the caller has:
stdlib sqlite3 on a SQLite ledger at the current schema, otherwise the
ledger's own connection (notes.store.rows_of). notes.store keeps the tables
and every write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ..model import Correction

SCHEMA_VERSION = 1  # notes.store's tables; a reader through sqlite3 reads only a ledger at it


class Rows(Protocol):
    """Run one SELECT with named (:name) parameters; rows come back as mappings."""

    def __call__(self, sql: str, params: Mapping[str, object] | None = None) -> list[Mapping[str, Any]]: ...


@dataclass(frozen=True)
class StoredCorrection:
    sha: str
    skip: bool
    skip_reason: str | None
    text: str | None
    updated_by: str
    updated_at: datetime

    def correction(self) -> Correction:
        return Correction(skip=self.skip, reason=self.skip_reason or "", text=self.text)


@dataclass(frozen=True)
class Approval:
    id: int
    build_id: str
    audience: str
    markdown: str
    notes_sha256: str
    generated_sha256: str
    since_commit: str | None
    until_commit: str
    from_draft: bool
    approved_by: str
    approved_at: datetime


def utc(value: Any) -> datetime:
    """A stored time as an aware UTC datetime: SQLite hands back text, PostgreSQL a naive datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def correction_of(r: Mapping[str, Any]) -> StoredCorrection:
    return StoredCorrection(r["sha"], bool(r["skip"]), r["skip_reason"], r["text"], r["updated_by"],
                            utc(r["updated_at"]))


def approval_of(r: Mapping[str, Any]) -> Approval:
    return Approval(r["id"], r["build_id"], r["audience"], r["markdown"], r["notes_sha256"],
                    r["generated_sha256"], r["since_commit"], r["until_commit"], bool(r["from_draft"]),
                    r["approved_by"], utc(r["approved_at"]))


def list_corrections(rows: Rows) -> list[StoredCorrection]:
    return [correction_of(r) for r in rows("SELECT * FROM notes_corrections ORDER BY updated_at, sha")]


def correction_map(rows: Rows) -> dict[str, Correction]:
    """What `collect` applies: every stored correction by full commit id."""
    return {c.sha: c.correction() for c in list_corrections(rows)}


def latest_approval(rows: Rows, build_id: str, audience: str) -> Approval | None:
    """The approval in force: approvals are appended, so the newest row of a build and audience."""
    found = rows("SELECT * FROM notes_approvals WHERE build_id = :build AND audience = :audience "
                 "ORDER BY id DESC LIMIT 1", {"build": build_id, "audience": audience})
    return approval_of(found[0]) if found else None
