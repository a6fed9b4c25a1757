"""The notify package's ledger tables: notices, one delivery row per recipient, sending runs, trainings.

A notice is (kind, build, event, generation): "the advance notice for
schedule 7's window", "the 7-day reminder for it", "the completion notice for
that push". Its recipients are frozen as delivery rows when it is created, so
a resume sends to the same list whatever the contacts became since. A row is
written before its attempt and moved, one short transaction at a time, along

    pending -> sending -> sent | temp-failed | failed | unknown

`sending` is the claim taken just before the attempt; a row still `sending`
when its run has died is the one message whose fate nobody knows, and the
next run turns it into `unknown` for a person to confirm. So that a person can
look it up in the mail server's log, the claim records the message's
Message-ID, and an accepted message keeps the server's queue id (schema
version 2; `upgrades` adds both columns to a version-1 ledger).

The indexes serve the two readers that must stay fast on a ledger with
millions of rows: `notice status` (counts per notice and state, failed rows)
and the notice gates (the last `sent_at` of a notice), both answered from the
(notice_id, state, sent_at) index without touching other notices' rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
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
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)

from channels.audience.contacts import Contact
from notify.vocabulary import State
from releases.records.ledger import Compiled, Schema, UTCDateTime, inserted_id

SCHEMA_VERSION = 2  # 2: deliveries.message_id and queue_id


metadata = MetaData()



TO_SEND = (State.PENDING, State.TEMP_FAILED)

notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("build_id", String(64), nullable=False),
    Column("event", String(200), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("notes_sha256", String(64)),        # None: the kind carries no notes (cancelled)
    Column("window_start", UTCDateTime),       # the window the notice announced
    Column("window_end", UTCDateTime),
    Column("previous_start", UTCDateTime),     # rescheduled: the window it replaced
    Column("previous_end", UTCDateTime),
    Column("reason", Text),
    Column("recipients", Integer, nullable=False),
    Column("retry_deadline", UTCDateTime, nullable=False),
    Column("superseded_by", Integer),          # a newer generation (--again) replaced this one
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
    UniqueConstraint("kind", "build_id", "event", "generation", name="uq_notices_event"),
    Index("ix_notices_build", "build_id", "kind"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notice_id", Integer, ForeignKey("notices.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("email_key", String(320), nullable=False),
    Column("name", String(300), nullable=False),
    Column("organisation", String(300), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("code", Integer),                   # the server's last reply code
    Column("reply", Text),                     # the server's last reply text, or what happened
    Column("phase", String(16)),
    Column("run_id", Integer),                 # the run that holds (or last held) the row
    Column("next_attempt_at", UTCDateTime),    # temp-failed: when a retry is due
    Column("last_attempt_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("message_id", String(300)),         # the Message-ID of the message claimed for (v2)
    Column("queue_id", Text),                  # the server's id for the accepted message (v2)
    UniqueConstraint("notice_id", "email_key", name="uq_deliveries_recipient"),
    Index("ix_deliveries_notice_state", "notice_id", "state", "sent_at"),
    Index("ix_deliveries_due", "state", "next_attempt_at"),   # `tick`: what is due, across notices
)

notice_runs = Table(
    "notice_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notice_id", Integer, ForeignKey("notices.id", ondelete="CASCADE"), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("transport", String(400), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("result", String(32)),              # finished | stopped | interrupted
    Index("ix_notice_runs_open", "notice_id", "finished_at"),
)

trainings = Table(
    "trainings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("build_id", String(64), nullable=False, index=True),
    Column("title", String(300), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("link", String(2000), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
)


@dataclass(frozen=True)
class NoticeRecord:
    id: int
    kind: str
    build_id: str
    event: str
    generation: int
    channel: str
    notes_sha256: str | None
    window_start: datetime | None
    window_end: datetime | None
    previous_start: datetime | None
    previous_end: datetime | None
    reason: str | None
    recipients: int
    retry_deadline: datetime
    superseded_by: int | None
    created_at: datetime
    created_by: str

    @property
    def key(self) -> str:
        """The notice's identity across ledgers and restores (Message-IDs are derived from it)."""
        return f"{self.build_id}/{self.kind}/{self.event}/{self.generation}"

    @property
    def label(self) -> str:
        again = f", generation {self.generation}" if self.generation > 1 else ""
        return f"{self.kind} notice ({self.event}{again})"


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    notice_id: int
    email: str
    name: str
    organisation: str
    time_zone: str
    state: str
    attempts: int
    code: int | None
    reply: str | None
    run_id: int | None
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    sent_at: datetime | None
    message_id: str | None
    queue_id: str | None


@dataclass(frozen=True)
class Counts:
    """Delivery rows of one notice by state; `recipients` is the frozen list's length."""

    recipients: int
    by_state: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, state: str) -> int:
        return self.by_state.get(str(state), 0)

    @property
    def to_send(self) -> int:
        return self[State.PENDING] + self[State.TEMP_FAILED]

    @property
    def complete(self) -> bool:
        return self[State.SENT] == self.recipients

    def as_dict(self) -> dict[str, int]:
        return {"recipients": self.recipients, **{str(s): self[s] for s in State}}


def _notice(row: object) -> NoticeRecord:
    return NoticeRecord(**{c.name: getattr(row, c.name) for c in notices.columns})


_DELIVERY_COLUMNS = [deliveries.c[name] for name in DeliveryRecord.__dataclass_fields__]


def _delivery(row: Sequence[object]) -> DeliveryRecord:
    return DeliveryRecord(*row)  # type: ignore[arg-type]  # select(*_DELIVERY_COLUMNS): fields in order


def get_notice(conn: Connection, notice_id: int) -> NoticeRecord | None:
    row = conn.execute(select(notices).where(notices.c.id == notice_id)).first()
    return _notice(row) if row else None


def latest_notice(conn: Connection, kind: str, build_id: str,
                  event: str | None = None) -> NoticeRecord | None:
    """The newest generation of a notice (for one event, or the build's newest of that kind)."""
    query = select(notices).where(notices.c.kind == str(kind), notices.c.build_id == build_id)
    if event is not None:
        query = query.where(notices.c.event == event)
    row = conn.execute(query.order_by(notices.c.id.desc()).limit(1)).first()
    return _notice(row) if row else None


def build_notices(conn: Connection, build_id: str, kinds: Iterable[str] | None = None) -> list[NoticeRecord]:
    query = select(notices).where(notices.c.build_id == build_id)
    if kinds is not None:
        query = query.where(notices.c.kind.in_([str(k) for k in kinds]))
    return [_notice(r) for r in conn.execute(query.order_by(notices.c.id))]


def insert_notice(conn: Connection, values: dict[str, object], recipients: Sequence[Contact],
                  default_zone: str, now: datetime) -> NoticeRecord:
    """The notice and all its pending delivery rows in the caller's transaction (one batch insert)."""
    result = conn.execute(notices.insert().values(**values, recipients=len(recipients)))
    notice_id = inserted_id(result)
    if recipients:
        rows = [{"notice_id": notice_id, "email": c.email, "email_key": c.email.lower(), "name": c.name,
                 "organisation": c.organisation, "time_zone": c.time_zone,
                 "state": State.PENDING.value, "attempts": 0, "updated_at": now}
                for c in recipients]
        if not _insert_positional(conn, rows):
            conn.execute(insert(deliveries), rows)
    found = get_notice(conn, notice_id)
    assert found is not None
    return found


_PENDING_COLUMNS = ("notice_id", "email", "email_key", "name", "organisation", "time_zone", "state",
                    "attempts", "updated_at")


def _insert_positional(conn: Connection, rows: Sequence[dict[str, object]]) -> bool:
    """Insert delivery rows as positional tuples straight to the driver's executemany; False (nothing
    written) where the dialect does not take positional parameters.

    The same INSERT and the same values (`releases.records.ledger.Compiled`), but each repeated value (the
    notice, state, count and time) converted once instead of once a row, and no per-row parameter
    handling by SQLAlchemy: a notice to ten thousand recipients starts sending sooner.
    """
    statement = insert(deliveries).values({name: bindparam(name) for name in _PENDING_COLUMNS})
    try:
        compiled = Compiled(statement, conn.dialect)
    except ValueError:
        return False
    if sorted(compiled.names) != sorted(_PENDING_COLUMNS):
        return False
    conn.exec_driver_sql(compiled.sql, compiled.many(rows))
    return True


def supersede(conn: Connection, old_id: int, new_id: int) -> None:
    conn.execute(update(notices).where(notices.c.id == old_id).values(superseded_by=new_id))


def counts(conn: Connection, notice_list: Sequence[NoticeRecord]) -> dict[int, Counts]:
    """State counts for several notices with one aggregate over the (notice_id, state) index."""
    found: dict[int, dict[str, int]] = {n.id: {} for n in notice_list}
    if not found:
        return {}
    rows = conn.execute(select(deliveries.c.notice_id, deliveries.c.state, func.count())
                        .where(deliveries.c.notice_id.in_(list(found)))
                        .group_by(deliveries.c.notice_id, deliveries.c.state))
    for notice_id, state, number in rows:
        found[notice_id][state] = number
    return {n.id: Counts(n.recipients, found[n.id]) for n in notice_list}


def rows_in(conn: Connection, notice_id: int, states: Iterable[str], *,
            emails: Iterable[str] | None = None, limit: int | None = None) -> list[DeliveryRecord]:
    """A notice's rows in the given states, in recipient order (the order they were frozen in)."""
    query = select(*_DELIVERY_COLUMNS).where(deliveries.c.notice_id == notice_id,
                                             deliveries.c.state.in_([str(s) for s in states]))
    if emails is not None:
        query = query.where(deliveries.c.email_key.in_([e.strip().lower() for e in emails]))
    query = query.order_by(deliveries.c.id)
    if limit is not None:
        query = query.limit(limit)
    return [_delivery(r) for r in conn.execute(query)]


def get_delivery(conn: Connection, delivery_id: int) -> DeliveryRecord | None:
    row = conn.execute(select(*_DELIVERY_COLUMNS).where(deliveries.c.id == delivery_id)).first()
    return _delivery(row) if row else None


def find_recipient(conn: Connection, notice_id: int, email: str) -> DeliveryRecord | None:
    key = email.strip().lower()
    row = conn.execute(select(*_DELIVERY_COLUMNS).where(deliveries.c.notice_id == notice_id,
                                                        deliveries.c.email_key == key)).first()
    return _delivery(row) if row else None


# The statements of every attempt, built once (building them per message cost more than running them).
CLAIM = (update(deliveries)
         .where(deliveries.c.id == bindparam("did"),
                # one bind per state, not an expanding IN: the statement then compiles once for good
                deliveries.c.state.in_([bindparam(f"to_send_{i}", s.value) for i, s in enumerate(TO_SEND)]))
         .values(state=State.SENDING.value, run_id=bindparam("run"), updated_at=bindparam("now"),
                 message_id=bindparam("mid")))
SETTLE = (update(deliveries).where(deliveries.c.id == bindparam("did"))
          .values(state=bindparam("new_state"), attempts=deliveries.c.attempts + bindparam("tries"),
                  code=bindparam("reply_code"), reply=bindparam("reply_text"), phase=bindparam("at_phase"),
                  next_attempt_at=bindparam("retry_at"), last_attempt_at=bindparam("now"),
                  sent_at=bindparam("sent"), updated_at=bindparam("now"), queue_id=bindparam("queue")))
HEARTBEAT = update(notice_runs).where(notice_runs.c.id == bindparam("run")).values(
    heartbeat_at=bindparam("now"))


def claim_params(delivery_id: int, run_id: int, now: datetime, message_id: str | None = None
                 ) -> dict[str, object]:
    """The values of CLAIM: the row, the run taking it, and the Message-ID of the message it is for."""
    return {"did": delivery_id, "run": run_id, "now": now, "mid": message_id}


def claim(conn: Connection, delivery_id: int, run_id: int, now: datetime,
          message_id: str | None = None) -> bool:
    """Take a row for an attempt; False if another run took or settled it meanwhile."""
    return conn.execute(CLAIM, claim_params(delivery_id, run_id, now, message_id)).rowcount == 1


def set_state(conn: Connection, delivery_ids: Sequence[int], state: State, now: datetime, *,
              reply: str | None = None, sent_at: datetime | None = None) -> None:
    """Move rows without an attempt: back to pending, or to unknown after a dead run, or confirmed."""
    values: dict[str, object] = {"state": state.value, "updated_at": now, "next_attempt_at": None}
    if reply is not None:
        values["reply"] = reply
    if state is State.SENT:
        values["sent_at"] = sent_at or now
    for start in range(0, len(delivery_ids), 500):
        conn.execute(update(deliveries).where(deliveries.c.id.in_(delivery_ids[start:start + 500]))
                     .values(**values))


def sending_by_run(conn: Connection, notice_ids: Sequence[int]) -> dict[int | None, list[int]]:
    """Rows held in `sending`, grouped by the run that holds them (few: at most one per live run)."""
    held: dict[int | None, list[int]] = {}
    if not notice_ids:
        return held
    rows = conn.execute(select(deliveries.c.run_id, deliveries.c.id)
                        .where(deliveries.c.notice_id.in_(list(notice_ids)),
                               deliveries.c.state == State.SENDING.value))
    for run_id, delivery_id in rows:
        held.setdefault(run_id, []).append(delivery_id)
    return held


def last_sent_at(conn: Connection, notice_id: int) -> datetime | None:
    """When the last recipient got the notice (the notice gates' "delivered at")."""
    return conn.execute(select(func.max(deliveries.c.sent_at))
                        .where(deliveries.c.notice_id == notice_id,
                               deliveries.c.state == State.SENT.value)).scalar()


def add_delivery_ids(conn: Connection) -> None:
    """Version 2: a delivery keeps its Message-ID and the server's queue id, so that a person can
    find an unknown one in the mail server's log before confirming it."""
    conn.execute(text("ALTER TABLE deliveries ADD COLUMN message_id VARCHAR(300)"))
    conn.execute(text("ALTER TABLE deliveries ADD COLUMN queue_id TEXT"))


SCHEMA = Schema("notify", SCHEMA_VERSION, (metadata,), {2: add_delivery_ids})
