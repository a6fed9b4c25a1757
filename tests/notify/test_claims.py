"""The run's commits: the direct SQLite path writes what Ledger.write() writes, and each claim is
committed before the server gets any of its message."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from notify.notices import send_notice
from notify.sending.claims import Claims, Settlement
from notify.sending.runs import start_run
from notify.store import deliveries, notice_runs
from notify.store_records import rows_in
from notify.store_writes import insert_notice, set_state
from notify.vocabulary import State
from tests.notify.factories import PASSWORD_ENV, settings_for
from tests.notify.test_delivery_support import (
    START,
    BuildValue,
    Clock,
    add_people,
    add_schedule,
    make_env,
    open_ledger,
    people,
)
from tests.support.smtp import SMTP_PASSWORD, RecordingHandler, SmtpServer

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")


class _WriteOnly:
    """A ledger seen only through write(): Claims must then use it for every commit."""

    def __init__(self, ledger: Any) -> None:
        self._ledger = ledger

    def write(self) -> Any:
        return self._ledger.write()


def _rows_after(tmp_path: Path, name: str, wrap: bool) -> list[tuple[object, ...]]:
    clock = Clock()
    ledger = open_ledger(tmp_path / f"{name}.db", clock)
    try:
        from channels.audience.contacts import Contact

        now = clock()
        contacts = [Contact("Acadia", f"User {i}", f"user{i}@example.org", "nurse", "") for i in range(6)]
        with ledger.write() as conn:
            notice = insert_notice(conn, {"kind": "advance", "build_id": "b", "event": "e", "generation": 1,
                                          "channel": "everyone", "retry_deadline": now, "created_at": now,
                                          "created_by": "me"}, contacts, "UTC", now)
            run = start_run(conn, notice.id, "host", 1, "smtp", now)
            ids = [r.id for r in rows_in(conn, notice.id, [State.PENDING])]
            set_state(conn, [ids[3]], State.SENT, now, reply="confirmed by a person")
        claims = Claims(_WriteOnly(ledger) if wrap else ledger, run)
        assert (claims._direct is None) == wrap
        outcomes = [Settlement(ids[0], State.SENT, 1, 250, "250 OK", "end-of-data", None),
                    Settlement(ids[1], State.TEMP_FAILED, 2, 451, "451 later", "rcpt",
                               now + timedelta(minutes=5)),
                    Settlement(ids[2], State.FAILED, 1, 550, "550 no", "rcpt", None)]
        taken = []
        for step, row_id in enumerate(ids):
            clock.advance(seconds=1)
            done = outcomes[step - 1] if 0 < step <= len(outcomes) else None
            taken.append(claims.commit(done, row_id, clock(), beat=step == 2))
        claims.commit(Settlement(ids[4], State.UNKNOWN, 1, None, "cut", "end-of-data", None), None, clock())
        claims.close()
        assert taken == [True, True, True, False, True, True]  # the row a person settled is refused
        with ledger.read() as conn:
            rows = [tuple(r) for r in conn.execute(select(deliveries).order_by(deliveries.c.id))]
            beat = conn.execute(select(notice_runs.c.heartbeat_at)).scalar()
        assert beat == START + timedelta(seconds=3)
        return rows
    finally:
        ledger.close()


def test_direct_commits_write_exactly_what_ledger_write_does(tmp_path: Path) -> None:
    direct, through_ledger = _rows_after(tmp_path, "direct", False), _rows_after(tmp_path, "ledger", True)
    assert direct == through_ledger
    states = [row[7] for row in direct]
    assert states == ["sent", "temp-failed", "failed", "sent", "unknown", "sending"]


def test_a_commit_sqlite_refuses_is_retried_through_the_ledger(tmp_path: Path) -> None:
    clock = Clock()
    ledger = open_ledger(tmp_path / "l.db", clock)
    try:
        from channels.audience.contacts import Contact

        now = clock()
        with ledger.write() as conn:
            notice = insert_notice(conn, {"kind": "advance", "build_id": "b", "event": "e", "generation": 1,
                                          "channel": "everyone", "retry_deadline": now, "created_at": now,
                                          "created_by": "me"}, [Contact("A", "U", "u@example.org", "n", "")],
                                   "UTC", now)
            run = start_run(conn, notice.id, "host", 1, "smtp", now)
            [row] = rows_in(conn, notice.id, [State.PENDING])
        claims = Claims(ledger, run)
        assert claims._direct is not None
        claims._direct._held.dbapi.execute("PRAGMA query_only=ON")  # every direct write now fails
        assert claims.commit(None, row.id, now)
        claims.close()
        with ledger.read() as conn:
            assert conn.execute(select(deliveries.c.state)).scalar() == "sending"
    finally:
        ledger.close()


class _CheckingHandler(RecordingHandler):
    """Looks into the ledger when a message's data arrives: its row must already be claimed."""

    ledger_path: Path
    seen: list[tuple[str, str, int | None]]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with sqlite3.connect(self.ledger_path) as db:
            state, run = db.execute("SELECT state, run_id FROM deliveries WHERE email_key = ?",
                                    (envelope.rcpt_tos[0].lower(),)).fetchone()
        self.seen.append((envelope.rcpt_tos[0], state, run))
        return await super().handle_DATA(server, session, envelope)


def test_each_row_is_claimed_and_committed_before_its_data_reaches_the_server(
        tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    ledger = open_ledger(tmp_path / "ledger.db", Clock())
    try:
        add_people(ledger, people(5))
        add_schedule(ledger, BuildValue().id)
        handler = smtp_server.handler
        handler.__class__ = _CheckingHandler
        handler.ledger_path, handler.seen = tmp_path / "ledger.db", []  # type: ignore[attr-defined]
        report = send_notice(make_env(ledger, settings_for(smtp_server)), "advance", BuildValue())
        seen = handler.seen  # type: ignore[attr-defined]
        assert [email for email, _, _ in seen] == [f"user{i}@example.org" for i in range(1, 6)]
        assert all(state == "sending" and run is not None for _, state, run in seen), seen
        assert report.counts is not None and report.counts[State.SENT] == 5
    finally:
        handler.__class__ = RecordingHandler
        ledger.close()


def test_a_row_settled_during_the_run_gets_no_data(tmp_path: Path, smtp_server: SmtpServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A person confirms user3 while the run is on user2: the run leaves user3 alone, mid-envelope."""
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    ledger = open_ledger(tmp_path / "ledger.db", Clock())
    try:
        add_people(ledger, people(4))
        add_schedule(ledger, BuildValue().id)

        class Confirming(RecordingHandler):
            async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
                if envelope.rcpt_tos == ["user2@example.org"]:
                    with sqlite3.connect(tmp_path / "ledger.db") as db:
                        db.execute("UPDATE deliveries SET state = 'sent', reply = 'confirmed' "
                                   "WHERE email_key = 'user3@example.org'")
                return await super().handle_DATA(server, session, envelope)

        smtp_server.handler.__class__ = Confirming
        report = send_notice(make_env(ledger, settings_for(smtp_server)), "advance", BuildValue())
        got = [r.rcpt_tos[0] for r in smtp_server.handler.received]
        assert got == ["user1@example.org", "user2@example.org", "user4@example.org"]
        assert [a.email for a in report.attempts] == got
        assert report.counts is not None and report.counts[State.SENT] == 4 and report.counts.complete
        with ledger.read() as conn:
            assert conn.execute(select(deliveries.c.reply).where(
                deliveries.c.email_key == "user3@example.org")).scalar() == "confirmed"
    finally:
        smtp_server.handler.__class__ = RecordingHandler
        ledger.close()
