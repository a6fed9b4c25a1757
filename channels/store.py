"""The channels package's ledger tables: organisations, contacts, the beta programme's evidence,
schedules, holds and gate overrides, with the small reads every other module shares.

Functions take an open connection inside the caller's transaction and the
ledger (for the clock, the actor and the audit entry), so a command's change
and its audit entry commit together or not at all. The writes of each concept
live beside it (directory.py, beta.py, scheduling.py); this module is the
shape of the data.

Nothing here is ever deleted that is evidence: sign-offs, problem reports,
schedules, holds and overrides are append-only or closed by a timestamp, and
a removed organisation keeps its row (and its name on old sign-offs) with
`removed_at` set.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    select,
)

from channels.errors import ChannelsError
from channels.gates import betaview
from releases.records.ledger import Ledger, Schema, UTCDateTime, inserted_id
from releases.records.reads import rows_of


def org_key(name: str) -> str:
    """One spelling per organisation for lookups: NFC, single spaces, case folded (in Python,
    because SQLite's lower() leaves "É" alone)."""
    return unicodedata.normalize("NFC", " ".join(name.split())).casefold()


def _default_from(column: str, convert: Any) -> Any:
    """A column default computed from another value of the same insert, so that rows inserted
    directly (other packages' test helpers) still get their lookup key."""
    def default(context: Any) -> Any:
        return convert(context.get_current_parameters()[column])
    return default


metadata = MetaData()

organisations = Table(
    "organisations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(300), nullable=False),
    Column("name_key", String(300), nullable=False, unique=True, default=_default_from("name", org_key)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("removed_at", UTCDateTime),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", Integer, ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(300), nullable=False),
    Column("email", String(320), nullable=False),
    Column("email_key", String(320), nullable=False, default=_default_from("email", str.lower)),
    Column("role", String(100), nullable=False),
    Column("time_zone", String(64)),
    Column("opted_out", Boolean, nullable=False, default=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("org_id", "email_key", name="uq_contacts_org_email"),
)

enrollments = Table(
    "enrollments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("enrolled_at", UTCDateTime, nullable=False),
    Column("enrolled_by", String(320), nullable=False),
    Column("left_at", UTCDateTime),
    Column("left_by", String(320)),
    Index("ix_enrollments_org", "org_id"),
)

signoffs = Table(
    "signoffs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("build_id", String(64), nullable=False),
    Column("org_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("signed_by", String(320), nullable=False),
    Column("note", Text),
    Column("signed_at", UTCDateTime, nullable=False),
    Column("recorded_by", String(320), nullable=False),
    UniqueConstraint("build_id", "org_id", name="uq_signoffs_build_org"),
)

problems = Table(
    "problems",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("build_id", String(64), nullable=False, index=True),
    Column("org_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("summary", Text, nullable=False),
    Column("details", Text),
    Column("status", String(16), nullable=False),  # open | resolved
    Column("reported_at", UTCDateTime, nullable=False),
    Column("reported_by", String(320), nullable=False),
    Column("resolved_at", UTCDateTime),
    Column("resolved_by", String(320)),
    Column("resolution", Text),
    Column("fixed_in", String(64)),
)

schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("build_id", String(64), nullable=False, index=True),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),  # scheduled | moved | cancelled
    Column("reason", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
)

holds = Table(
    "holds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("build_id", String(64), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("held_by", String(320), nullable=False),
    Column("held_at", UTCDateTime, nullable=False),
    Column("released_at", UTCDateTime),
    Column("released_by", String(320)),
    Column("release_reason", Text),
)

gate_overrides = Table(
    "gate_overrides",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("build_id", String(64), nullable=False, index=True),
    Column("tier", String(64), nullable=False),
    Column("gates", Text, nullable=False),  # JSON list of the failing gates overridden
    Column("reason", Text, nullable=False),
    Column("overridden_by", String(320), nullable=False),
    Column("overridden_at", UTCDateTime, nullable=False),
)

SCHEMA = Schema("channels", betaview.SCHEMA_VERSION, (metadata,))

SCHEDULED, MOVED, CANCELLED = "scheduled", "moved", "cancelled"


@dataclass(frozen=True)
class Organisation:
    id: int
    name: str
    created_at: datetime
    removed_at: datetime | None

    @property
    def active(self) -> bool:
        return self.removed_at is None


@dataclass(frozen=True)
class Schedule:
    """One row of a build's schedule history; the newest row is the schedule in force."""

    id: int
    build_id: str
    window_start: datetime
    window_end: datetime
    state: str
    reason: str | None
    created_at: datetime
    created_by: str = ""

    @property
    def active(self) -> bool:
        return self.state != CANCELLED


@dataclass(frozen=True)
class Hold:
    build_id: str
    reason: str
    held_by: str
    held_at: datetime


def _org(row: Any) -> Organisation:
    return Organisation(row.id, row.name, row.created_at, row.removed_at)


def find_org(conn: Connection, name: str) -> Organisation | None:
    """The organisation spelled `name` in any case, removed or not."""
    row = conn.execute(select(organisations).where(organisations.c.name_key == org_key(name))).first()
    return _org(row) if row else None


def org_id(conn: Connection, name: str) -> int | None:
    found = find_org(conn, name)
    return found.id if found and found.active else None


def require_org(conn: Connection, name: str) -> Organisation:
    """The active organisation `name`, or an error naming it and the closest known names."""
    found = find_org(conn, name)
    if found is not None and found.active:
        return found
    import difflib

    # Case aside, a suggestion must be a near-copy: names share words such as "Hospice", which
    # alone make an unrelated name look 60% alike.
    names = {r.name.casefold(): r.name for r in conn.execute(
        select(organisations.c.name).where(organisations.c.removed_at.is_(None)))}
    close = difflib.get_close_matches(name.strip().casefold(), list(names), n=1, cutoff=0.8)
    removed = " (it was removed)" if found is not None else ""
    hint = (f"did you mean {names[close[0]]!r}?" if close
            else "`quarterdeck orgs list` shows the organisations; `orgs add` or `orgs import` adds one")
    raise ChannelsError(f"there is no organisation {name.strip()!r}{removed}", hint=hint)


def active_orgs(conn: Connection) -> list[Organisation]:
    rows = conn.execute(select(organisations).where(organisations.c.removed_at.is_(None)))
    return sorted((_org(r) for r in rows), key=lambda o: o.name.casefold())


def ensure_org(ledger: Ledger, conn: Connection, name: str) -> int:
    """The organisation's id, adding it (or bringing back a removed one) with an audit entry."""
    clean = " ".join(name.split())
    found = find_org(conn, clean)
    if found is not None:
        if not found.active:
            conn.execute(organisations.update().where(organisations.c.id == found.id)
                         .values(removed_at=None))
            ledger.record(conn, "org.restore", f"org:{found.name}")
        return found.id
    result = conn.execute(organisations.insert().values(name=clean, name_key=org_key(clean),
                                                        created_at=ledger.clock()))
    ledger.record(conn, "org.add", f"org:{clean}")
    return inserted_id(result)


def enrolled_org_ids(conn: Connection) -> set[int]:
    rows = conn.execute(select(enrollments.c.org_id).where(enrollments.c.left_at.is_(None)))
    return {r[0] for r in rows}


def enrolled_org_names(conn: Connection) -> list[str]:
    return betaview.enrolled_org_names(rows_of(conn))


def _schedule(row: Any) -> Schedule:
    return Schedule(row.id, row.build_id, row.window_start, row.window_end, row.state, row.reason,
                    row.created_at, row.created_by)


def current_schedule(conn: Connection, build_id: str) -> Schedule | None:
    """The newest schedule of the build, whatever its state (a cancellation stays in force)."""
    row = conn.execute(select(schedules).where(schedules.c.build_id == build_id)
                       .order_by(schedules.c.id.desc()).limit(1)).first()
    return _schedule(row) if row else None


def schedules_in_force(conn: Connection) -> list[Schedule]:
    """Each build's newest schedule that is not cancelled: the pushes `tick` watches."""
    newest = select(func.max(schedules.c.id)).group_by(schedules.c.build_id).scalar_subquery()
    rows = conn.execute(select(schedules).where(schedules.c.id.in_(newest),
                                                schedules.c.state != "cancelled")
                        .order_by(schedules.c.window_start))
    return [_schedule(r) for r in rows]


def schedule_history(conn: Connection, build_id: str) -> list[Schedule]:
    rows = conn.execute(select(schedules).where(schedules.c.build_id == build_id)
                        .order_by(schedules.c.id))
    return [_schedule(r) for r in rows]


def active_hold(conn: Connection, build_id: str) -> Hold | None:
    row = conn.execute(select(holds).where(and_(holds.c.build_id == build_id,
                                                holds.c.released_at.is_(None)))
                       .order_by(holds.c.id.desc()).limit(1)).first()
    return Hold(row.build_id, row.reason, row.held_by, row.held_at) if row else None


def record_override(ledger: Ledger, conn: Connection, build_id: str, tier: str, gates: list[str],
                    reason: str) -> None:
    """Record that `--force` overrode these failing gates, by whom and why (in the caller's
    transaction, so the override and the promotion it allowed are recorded together)."""
    if not reason or not reason.strip():
        raise ChannelsError(f"overriding {', '.join(gates) or 'gates'} of {build_id} needs a reason",
                            hint="pass --force --reason TEXT")
    if not gates:
        raise ChannelsError(f"no failing gate of {build_id} to override on {tier}")
    conn.execute(gate_overrides.insert().values(
        build_id=build_id, tier=tier, gates=json.dumps(gates), reason=reason.strip(),
        overridden_by=ledger.actor.who, overridden_at=ledger.clock()))
    ledger.record(conn, "gates.override", f"{build_id}@{tier}", reason=reason.strip(),
                  detail={"gates": gates})
