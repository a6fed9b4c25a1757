"""What a person looks up in the mail server's log before `notice confirm`: each delivery's
Message-ID and the server's queue id, recorded by real sends (aiosmtpd, the Maildir outbox), shown
by `notice status`, and added to a ledger of notify's first schema in place."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from notify import store, store_records, store_writes
from notify.sending.transport import queue_id_in
from notify.vocabulary import State
from releases.records.ledger import Actor, Ledger, audit
from tests.conftest import Project
from tests.notify.test_cli import BUILD, outbox, use_smtp
from tests.notify.test_delivery_support import Clock
from tests.support.smtp import Fault, SmtpServer

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
DATA = Path(__file__).parents[1] / "data"


def _status(project: Project, *argv: str) -> dict[str, dict[str, object]]:
    """`notice status --json`: the listed deliveries of the one notice, by address."""
    [notice] = project.ok("notice", "status", BUILD, *argv, "--json").json()["notices"]  # type: ignore[index]
    return {p["email"]: p for p in notice["problems"]}


def test_smtp_deliveries_keep_their_message_id_and_the_servers_queue_id(
        scheduled: Project, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    use_smtp(scheduled, smtp_server, monkeypatch)
    handler = smtp_server.handler
    handler.data_replies["user1@example.org"] = "250 2.0.0 Ok: queued as 4F2A1"
    handler.data_replies["user3@example.org"] = "250 OK id=1tKx2B-0003Zq-0s"
    handler.data_replies["user4@example.org"] = "250 Message accepted for delivery"
    handler.schedule(Fault.DROP_AFTER_CONTENT, 2)  # user2's message is written, then the line is cut
    sent = scheduled.ok("notice", "send", "advance", BUILD, "--yes")
    assert "4 sent, 1 unknown" in sent.out
    headers = {r.rcpt_tos[0]: r.message()["Message-ID"] for r in handler.received}

    [unknown] = _status(scheduled).values()  # the listed problem: what `notice confirm` is about
    assert (unknown["email"], unknown["state"]) == ("user2@example.org", "unknown")
    assert unknown["message_id"] == headers["user2@example.org"] and unknown["queue_id"] is None
    shown = scheduled.ok("notice", "status", BUILD).out
    assert re.search(r"user2@example\.org +unknown +the message was sent but the connection broke", shown)
    assert f"Message-ID {headers['user2@example.org']}" in shown

    expected = {"user1@example.org": "4F2A1", "user3@example.org": "1tKx2B-0003Zq-0s",
                "user4@example.org": "Message accepted for delivery", "maria@bayou.example.org": "Q5"}
    for address, queue_id in expected.items():
        [row] = _status(scheduled, "--email", address.upper()).values()
        assert (row["state"], row["queue_id"], row["message_id"]) == ("sent", queue_id, headers[address])
    one = scheduled.ok("notice", "status", BUILD, "--email", "user1@example.org").out
    assert headers["user1@example.org"] in one and "queue id 4F2A1" in one
    assert re.search(r"user1@example\.org +sent +250 2\.0\.0 Ok: queued as 4F2A1", one)
    stranger = scheduled.ok("notice", "status", BUILD, "--email", "stranger@example.org").out
    assert "stranger@example.org is not a recipient of any notice of 2026.4.0+b1" in stranger

    confirmed = scheduled.ok("notice", "confirm", "advance", BUILD, "--email", "user2@example.org",
                             "--delivered", "--reason", "the server's log shows it queued")
    assert "user2@example.org: sent" in confirmed.out
    [row] = _status(scheduled, "--email", "user2@example.org").values()
    assert row["message_id"] == headers["user2@example.org"]  # a verdict keeps what it was checked by


def test_outbox_deliveries_keep_their_message_id_and_have_no_queue_id(scheduled: Project) -> None:
    scheduled.ok("notice", "send", "advance", BUILD, "--yes")
    filed = {m["To"].addresses[0].addr_spec: m["Message-ID"] for m in outbox(scheduled)}
    assert len(filed) == 5
    for address, message_id in filed.items():
        [row] = _status(scheduled, "--email", address).values()
        assert (row["state"], row["message_id"], row["queue_id"]) == ("sent", message_id, None)


@pytest.mark.parametrize(("reply", "queue_id"), [
    ("2.0.0 Ok: queued as 4F2A1", "4F2A1"),
    ("OK id=1tKx2B-0003Zq-0s", "1tKx2B-0003Zq-0s"),
    ("2.0.0 OK 1700000000 x12-20020a05 - gsmtp", "2.0.0 OK 1700000000 x12-20020a05 - gsmtp"),
    ("", None),
])
def test_the_queue_id_is_what_the_reply_names_else_the_whole_reply(reply: str, queue_id: str | None) -> None:
    assert queue_id_in(reply) == queue_id


def test_a_ledger_of_notifys_first_schema_gains_the_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript((DATA / "notify-v1.sql").read_text())
    ledger = Ledger(f"sqlite:///{path}", [store.SCHEMA], actor=Actor("rm@example.org", "pytest"),
                    clock=Clock())
    try:
        assert ledger.schema_version("notify") == store.SCHEMA_VERSION == 2
        with ledger.read() as conn:
            rows = store_records.rows_in(conn, 1, ["sent", "unknown"])
            last = conn.execute(select(audit.c.action, audit.c.detail).order_by(audit.c.id.desc())).first()
        assert [(r.email, r.state, r.reply, r.message_id, r.queue_id) for r in rows] == [
            ("it@acadia.example", "sent", "250 2.0.0 Ok: queued as 4F2A1", None, None),
            ("admin@birch.example", "unknown", rows[1].reply, None, None)]
        assert last is not None and last.action == "ledger.upgrade" and '"from": 1, "to": 2' in last.detail
        with ledger.write() as conn:  # the new columns take values: a resend claims the row again
            store_writes.set_state(conn, [1], State.PENDING, Clock()())
            assert store_writes.claim(conn, 1, 7, Clock()(), "<n.abc@localhost>")
    finally:
        ledger.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT message_id, state FROM deliveries WHERE id = 1").fetchone() == (
            "<n.abc@localhost>", "sending")
