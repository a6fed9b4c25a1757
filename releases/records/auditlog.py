"""Reading and verifying the audit trail.

Each entry stores the hash of the one before it, so an edited entry no longer
matches its own hash, and a deleted or reordered one breaks the link to the
next. Removing entries from the very end cannot be seen from the chain alone;
`head` gives the newest hash so that it can be kept elsewhere (backups record
it in their manifest).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, select

from releases.records.ledger import GENESIS, AuditEntry, Ledger, audit, entry_hash


@dataclass(frozen=True)
class ChainReport:
    entries: int
    first_bad: int | None
    problem: str | None
    head: str

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def _entries(conn: Connection, query: Select[Any] | None = None) -> Iterator[AuditEntry]:
    rows = conn.execute(query if query is not None else select(audit).order_by(audit.c.id))
    for r in rows:
        yield AuditEntry(r.id, r.at, r.actor, r.command, r.action, r.subject, r.reason,
                         json.loads(r.detail) if r.detail else None, r.prev_hash, r.hash)


def verify_chain(conn: Connection) -> ChainReport:
    """Walk the whole chain in id order and name the first entry that does not fit."""
    previous = GENESIS
    count = 0
    rows = conn.execute(select(audit).order_by(audit.c.id))
    for r in rows:
        count += 1
        if r.prev_hash != previous:
            return ChainReport(count, r.id, f"entry #{r.id} does not follow the entry before it "
                               "(an entry was deleted, inserted or reordered)", previous)
        expected = entry_hash(r.prev_hash, r.at, r.actor, r.command, r.action, r.subject, r.reason,
                              r.detail)
        if expected != r.hash:
            return ChainReport(count, r.id, f"entry #{r.id} was changed after it was written "
                               f"({r.action} {r.subject})", previous)
        previous = r.hash
    return ChainReport(count, None, None, previous)


def read_log(conn: Connection, *, since: datetime | None = None, subject: str | None = None,
             limit: int | None = None) -> list[AuditEntry]:
    query = select(audit).order_by(audit.c.id)
    if since is not None:
        query = query.where(audit.c.at >= since)
    if subject:
        escaped = subject.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(audit.c.subject.like(f"%{escaped}%", escape="\\"))
    if limit:
        query = query.order_by(None).order_by(audit.c.id.desc()).limit(limit)
        return sorted(_entries(conn, query), key=lambda e: e.id)
    return list(_entries(conn, query))


def record_once(ledger: Ledger, action: str, subject: str, reason: str) -> bool:
    """Record a finding the first time it is made, so that `tick` run from cron every few
    minutes says "the window was missed" once, not every five minutes; True if it is new."""
    with ledger.write() as conn:
        seen = conn.execute(select(audit.c.id).where(audit.c.action == action,
                                                     audit.c.subject == subject).limit(1)).first()
        if seen is None:
            ledger.record(conn, action, subject, reason=reason)
        return seen is None
