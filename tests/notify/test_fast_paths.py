"""Shortcuts taken for speed give exactly what the code they replace (stdlib, SQLAlchemy) gives."""

from __future__ import annotations

import itertools
import smtplib
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from channels.audience.contacts import Contact
from notify.sending.claims import Claims, Settlement
from notify.sending.runs import start_run
from notify.sending.smtp import _data_payload
from notify.store import deliveries, notices
from notify.store_records import rows_in
from notify.store_writes import CLAIM, SETTLE, _insert_positional, claim_params, insert_notice
from notify.vocabulary import State
from tests.notify.test_delivery_support import Clock, open_ledger


def _smtplib_data(data: bytes) -> bytes:
    """What smtplib.SMTP.data() sends for `data` (its dot-stuffing and terminator)."""
    quoted = smtplib._quote_periods(data)  # type: ignore[attr-defined]
    if quoted[-2:] != b"\r\n":
        quoted += b"\r\n"
    return quoted + b".\r\n"


def test_data_payload_stuffs_dots_as_smtplib_does() -> None:
    pieces = [b".", b"..", b"\r\n", b"\n", b"\r", b"a", b"\r\n.", b"x.y"]
    for count in range(5):
        for combination in itertools.product(pieces, repeat=count):
            data = b"".join(combination)
            assert _data_payload(data) == _smtplib_data(data), data
    message = b"Subject: x\r\n\r\n.starts\r\nmiddle\r\n..two\r\n.\r\nend=\r\n.soft"
    assert _data_payload(message) == _smtplib_data(message)


PEOPLE = (("A@example.org", "Zoë", "UTC"), ("b@example.org", "", "Asia/Kolkata"),
          ("c@example.org", "O'Hara", "America/Chicago"))


def _stored(conn: Any, notice_id: int) -> list[tuple[object, ...]]:
    """The rows as SQLite holds them (times as their text), without the ids."""
    return [tuple(r)[2:] for r in conn.exec_driver_sql(
        "SELECT * FROM deliveries WHERE notice_id = ? ORDER BY id", (notice_id,))]


def test_positional_insert_writes_the_rows_sqlalchemy_writes(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path / "ledger.db", Clock())  # its clock has no microseconds: the hard case
    try:
        now = ledger.clock()
        with ledger.write() as conn:
            ids = [conn.execute(notices.insert().values(
                kind="advance", build_id="b", event="e", generation=n, channel="everyone", recipients=3,
                retry_deadline=now, created_at=now, created_by="me")).inserted_primary_key[0] for n in (1, 2)]
            rows = [[{"notice_id": notice_id, "email": email, "email_key": email.lower(), "name": name,
                      "organisation": "Ærø Hospice", "time_zone": zone, "state": "pending", "attempts": 0,
                      "updated_at": now} for email, name, zone in PEOPLE] for notice_id in ids]
            assert _insert_positional(conn, rows[0])
            conn.execute(insert(deliveries), rows[1])
            positional, by_sqlalchemy = _stored(conn, ids[0]), _stored(conn, ids[1])
        assert len(positional) == 3 and positional == by_sqlalchemy
    finally:
        ledger.close()


def test_direct_commits_store_times_as_sqlalchemy_does(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path / "ledger.db", Clock())
    try:
        now = ledger.clock()
        contacts = [Contact("Acadia", name or "x", email, "nurse", zone) for email, name, zone in PEOPLE]
        with ledger.write() as conn:
            notice = insert_notice(conn, {"kind": "advance", "build_id": "b", "event": "e", "generation": 1,
                                          "channel": "everyone", "retry_deadline": now, "created_at": now,
                                          "created_by": "me"}, contacts, "UTC", now)
            run = start_run(conn, notice.id, "host", 1, "smtp", now)
            first, second = (r.id for r in rows_in(conn, notice.id, [State.PENDING])[:2])
        done = Settlement(first, State.SENT, 1, 250, "250 OK", "end-of-data", None)
        claims = Claims(ledger, run)
        try:
            assert claims._direct is not None
            assert claims.commit(None, first, now) and claims.commit(done, None, now)
        finally:
            claims.close()
        with ledger.write() as conn:  # the same two steps through SQLAlchemy, for the second row
            assert conn.execute(CLAIM, claim_params(second, run, now)).rowcount == 1
            conn.execute(SETTLE, replace(done, delivery_id=second).params(now))
            stored = list(conn.exec_driver_sql(
                "SELECT state, attempts, code, reply, phase, run_id, next_attempt_at, last_attempt_at, "
                "sent_at, updated_at FROM deliveries WHERE id IN (?, ?) ORDER BY id", (first, second)))
        assert stored[0] == stored[1] and stored[0][0] == "sent"
    finally:
        ledger.close()
