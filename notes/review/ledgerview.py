"""What generating notes reads from the notes tables: the corrections and the approval in force.

Generating notes reads two things from the ledger: the stored corrections
and the newest production approval (it fixes the range). `notes show` must
start without SQLAlchemy (issue 8), so these queries are written once, as
plain SQL that SQLite and PostgreSQL both accept, and run by the `Rows` the
caller hands in: the application's ledger reader (`NotesApp.ledger_rows`,
stdlib sqlite3 on a SQLite ledger) or, inside a workflow transaction,
notes.store.rows_of. notes.store keeps the tables and every write.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ..model import Correction

SCHEMA_VERSION = 1  # notes.store's tables; a reader through sqlite3 reads only a ledger at it


class Rows(Protocol):
    """What notes needs to read the ledger: run one SELECT with named (:name) parameters, the rows
    back as mappings and the columns named in `times` as aware UTC datetimes.

    notes imports no other package, so it states the runner it takes here; the application's
    (releases.records.reads) and notes.store.rows_of both fit it.
    """

    def __call__(self, sql: str, params: Mapping[str, object] | None = None, *,
                 times: Collection[str] = ()) -> list[Mapping[str, Any]]: ...


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


def correction_of(r: Mapping[str, Any]) -> StoredCorrection:
    """A notes_corrections row, its `updated_at` read as a time."""
    return StoredCorrection(r["sha"], bool(r["skip"]), r["skip_reason"], r["text"], r["updated_by"],
                            r["updated_at"])


def approval_of(r: Mapping[str, Any]) -> Approval:
    """A notes_approvals row, its `approved_at` read as a time."""
    return Approval(r["id"], r["build_id"], r["audience"], r["markdown"], r["notes_sha256"],
                    r["generated_sha256"], r["since_commit"], r["until_commit"], bool(r["from_draft"]),
                    r["approved_by"], r["approved_at"])


def list_corrections(rows: Rows) -> list[StoredCorrection]:
    return [correction_of(r) for r in rows("SELECT * FROM notes_corrections ORDER BY updated_at, sha",
                                           times=("updated_at",))]


def correction_map(rows: Rows) -> dict[str, Correction]:
    """What `collect` applies: every stored correction by full commit id."""
    return {c.sha: c.correction() for c in list_corrections(rows)}


def latest_approval(rows: Rows, build_id: str, audience: str) -> Approval | None:
    """The approval in force: approvals are appended, so the newest row of a build and audience."""
    found = rows("SELECT * FROM notes_approvals WHERE build_id = :build AND audience = :audience "
                 "ORDER BY id DESC LIMIT 1", {"build": build_id, "audience": audience},
                 times=("approved_at",))
    return approval_of(found[0]) if found else None
