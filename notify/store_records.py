"""A notice and its deliveries as values, and the queries that read them (notify.store's tables).

Each reader asks for what it shows: one notice or a build's, a notice's rows in some states,
the counts per state from the (notice_id, state) index, the rows a run holds `sending`, the
last `sent_at`. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, func, select

from notify.store import deliveries, notices
from notify.vocabulary import State


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
