"""The runs of a notice send: which process is sending, since when, and whether it finished.

A run's heartbeat tells a later `notice send` whether the recipients an earlier process
claimed are still being sent or were left by a process that died (see notify.sending.claims).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from notify.store import notice_runs
from notify.store_writes import HEARTBEAT
from releases.records.ledger import inserted_id


@dataclass(frozen=True)
class RunRecord:
    id: int
    notice_id: int
    host: str
    pid: int
    transport: str
    started_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None
    result: str | None


def open_runs(conn: Connection, notice_id: int | None = None,
              run_ids: Iterable[int] | None = None) -> list[RunRecord]:
    query = select(notice_runs).where(notice_runs.c.finished_at.is_(None))
    if notice_id is not None:
        query = query.where(notice_runs.c.notice_id == notice_id)
    if run_ids is not None:
        query = query.where(notice_runs.c.id.in_(list(run_ids)))
    return [RunRecord(**{c.name: getattr(r, c.name) for c in notice_runs.columns})
            for r in conn.execute(query.order_by(notice_runs.c.id))]


def start_run(conn: Connection, notice_id: int, host: str, pid: int, transport: str, now: datetime) -> int:
    result = conn.execute(notice_runs.insert().values(notice_id=notice_id, host=host, pid=pid,
                                                      transport=transport, started_at=now,
                                                      heartbeat_at=now))
    return inserted_id(result)


def heartbeat(conn: Connection, run_id: int, now: datetime) -> None:
    conn.execute(HEARTBEAT, {"run": run_id, "now": now})


def finish_run(conn: Connection, run_id: int, result: str, now: datetime) -> None:
    conn.execute(update(notice_runs).where(notice_runs.c.id == run_id)
                 .values(finished_at=now, heartbeat_at=now, result=result))
