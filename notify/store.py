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
    text,
)

from notify.vocabulary import State
from releases.records.ledger import Schema, UTCDateTime

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


def add_delivery_ids(conn: Connection) -> None:
    """Version 2: a delivery keeps its Message-ID and the server's queue id, so that a person can
    find an unknown one in the mail server's log before confirming it."""
    conn.execute(text("ALTER TABLE deliveries ADD COLUMN message_id VARCHAR(300)"))
    conn.execute(text("ALTER TABLE deliveries ADD COLUMN queue_id TEXT"))


SCHEMA = Schema("notify", SCHEMA_VERSION, (metadata,), {2: add_delivery_ids})
