"""The notes package's tables in the ledger: corrections, drafts and approvals (I/O).

notes cannot import the releases package, so the tables live on a MetaData of
their own; pipeline wraps `metadata` and `SCHEMA_VERSION` as the ledger's
"notes" schema. The functions take a Connection inside the caller's
transaction and never write the audit entry themselves: the workflow does,
in the same transaction.

Approvals are appended, never updated: the newest row of a build and
audience is the one in force, and the older ones are the history of what
was approved when.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    select,
    text,
)
from sqlalchemy.types import TypeDecorator

from ..errors import NotesError
from ..model import Correction
from . import ledgerview
from .ledgerview import SCHEMA_VERSION as SCHEMA_VERSION
from .ledgerview import Approval, Rows, StoredCorrection


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite would hand back naive ones).

    The ledger's own column type (releases.records.ledger.UTCDateTime) does the same; notes imports no
    other package, so its tables carry this one, used by no other package's tables, and
    tests/foundation/test_reads.py fails if the two ever store, read or refuse a time differently.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise NotesError(f"refusing to store naive datetime {value!r}: times in the ledger are UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = MetaData()

corrections = Table(
    "notes_corrections",
    metadata,
    Column("sha", String(64), primary_key=True),  # full commit id
    Column("skip", Boolean, nullable=False, default=False),
    Column("skip_reason", Text),
    Column("text", Text),  # the reworded entry text; None = not reworded
    Column("updated_by", String(320), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

drafts = Table(
    "notes_drafts",
    metadata,
    Column("build_id", String(64), primary_key=True),
    Column("audience", String(16), primary_key=True),
    Column("markdown", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("base_sha256", String(64), nullable=False),  # the generated notes it was edited from
    Column("saved_by", String(320), nullable=False),
    Column("saved_at", UTCDateTime, nullable=False),
)

approvals = Table(
    "notes_approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("build_id", String(64), nullable=False),
    Column("audience", String(16), nullable=False),
    Column("markdown", Text, nullable=False),
    Column("notes_sha256", String(64), nullable=False),
    Column("generated_sha256", String(64), nullable=False),  # generated notes at approval time
    Column("since_commit", String(64)),  # the range approved; None = from the first commit
    Column("until_commit", String(64), nullable=False),
    Column("from_draft", Boolean, nullable=False),
    Column("approved_by", String(320), nullable=False),
    Column("approved_at", UTCDateTime, nullable=False),
    Index("ix_notes_approvals_build", "build_id", "audience", "id"),
)


@dataclass(frozen=True)
class Draft:
    build_id: str
    audience: str
    markdown: str
    sha256: str
    base_sha256: str
    saved_by: str
    saved_at: datetime


# ---------------------------------------------------------------- corrections

def rows_of(conn: Connection) -> Rows:
    """notes.ledgerview's queries inside a workflow's own transaction on the ledger's connection."""

    def rows(sql: str, params: Mapping[str, object] | None = None, *,
             times: Collection[str] = ()) -> list[Mapping[str, Any]]:
        query = text(sql).columns(**{name: UTCDateTime for name in times}) if times else text(sql)
        return [dict(row) for row in conn.execute(query, dict(params or {})).mappings()]

    return rows


def list_corrections(conn: Connection) -> list[StoredCorrection]:
    return ledgerview.list_corrections(rows_of(conn))


def correction_map(conn: Connection) -> dict[str, Correction]:
    """What `collect` applies: every stored correction by full commit id."""
    return ledgerview.correction_map(rows_of(conn))


def get_correction(conn: Connection, sha: str) -> StoredCorrection | None:
    r = conn.execute(select(corrections).where(corrections.c.sha == sha)).first()
    return ledgerview.correction_of(dict(r._mapping)) if r is not None else None


def put_correction(conn: Connection, sha: str, *, skip: bool, skip_reason: str | None, text: str | None,
                   who: str, at: datetime) -> None:
    """Store the correction of `sha`; one with neither skip nor text is deleted."""
    if not skip and text is None:
        conn.execute(corrections.delete().where(corrections.c.sha == sha))
        return
    values = {"skip": skip, "skip_reason": skip_reason if skip else None, "text": text,
              "updated_by": who, "updated_at": at}
    if get_correction(conn, sha) is not None:
        conn.execute(corrections.update().where(corrections.c.sha == sha).values(**values))
    else:
        conn.execute(corrections.insert().values(sha=sha, **values))


# ---------------------------------------------------------------- drafts

def get_draft(conn: Connection, build_id: str, audience: str) -> Draft | None:
    r = conn.execute(select(drafts).where(and_(drafts.c.build_id == build_id,
                                               drafts.c.audience == audience))).first()
    if r is None:
        return None
    return Draft(r.build_id, r.audience, r.markdown, r.sha256, r.base_sha256, r.saved_by, r.saved_at)


def put_draft(conn: Connection, draft: Draft) -> None:
    where = and_(drafts.c.build_id == draft.build_id, drafts.c.audience == draft.audience)
    conn.execute(drafts.delete().where(where))
    conn.execute(drafts.insert().values(**draft.__dict__))


def delete_draft(conn: Connection, build_id: str, audience: str) -> bool:
    result = conn.execute(drafts.delete().where(and_(drafts.c.build_id == build_id,
                                                     drafts.c.audience == audience)))
    return bool(result.rowcount)


# ---------------------------------------------------------------- approvals

def latest_approval(conn: Connection, build_id: str, audience: str) -> Approval | None:
    return ledgerview.latest_approval(rows_of(conn), build_id, audience)


def add_approval(conn: Connection, *, build_id: str, audience: str, markdown: str, notes_sha256: str,
                 generated_sha256: str, since_commit: str | None, until_commit: str, from_draft: bool,
                 who: str, at: datetime) -> Approval:
    result = conn.execute(approvals.insert().values(
        build_id=build_id, audience=audience, markdown=markdown, notes_sha256=notes_sha256,
        generated_sha256=generated_sha256, since_commit=since_commit, until_commit=until_commit,
        from_draft=from_draft, approved_by=who, approved_at=at))
    key = result.inserted_primary_key
    if key is None:
        raise NotesError("the ledger did not report the id of the approval it just wrote")
    return Approval(int(key[0]), build_id, audience, markdown, notes_sha256,
                    generated_sha256, since_commit, until_commit, from_draft, who, at)
