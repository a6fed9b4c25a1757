"""The writes of the delivery ledger: a notice created with its frozen recipients, and each
attempt's claim and settlement (notify.store's tables; the state machine is notify.sending.delivery's).

The claim and settle statements are built once and run thousands of times in a row, by
notify.sending.claims on a held SQLite connection or through a ledger transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, update

from channels.audience.contacts import Contact
from notify.store import TO_SEND, deliveries, notice_runs, notices
from notify.store_records import NoticeRecord, get_notice
from notify.vocabulary import State
from releases.records.ledger import Compiled, inserted_id


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
