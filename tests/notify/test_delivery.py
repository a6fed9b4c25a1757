"""Delivering notices against the real aiosmtpd servers: every fault ends accounted for, nothing twice."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from notify.content.compose import NoticeKind, Recipient
from notify.content.planning import NoticeRefused, channel_audience, due_notices, parse_kind

# _locate and _create set up the state a crashed run leaves behind
from notify.content.preparing import prepare
from notify.errors import NotifyError
from notify.mail.wire import Letters
from notify.notices import _create, _locate, confirm, resend, send_notice, status
from notify.sending.delivery import NoticeBusy, RetryPolicy
from notify.sending.outbox import MaildirOutbox
from notify.sending.runs import start_run
from notify.store import notice_runs
from notify.store_records import rows_in
from notify.store_writes import claim
from notify.vocabulary import State
from tests.notify.factories import PASSWORD_ENV, outbox_settings, settings_for
from tests.notify.test_delivery_support import (
    RULE,
    WINDOW_START,
    BuildValue,
    Clock,
    Notes,
    Person,
    add_people,
    add_schedule,
    make_env,
    open_ledger,
    people,
)
from tests.support.smtp import SMTP_PASSWORD, Fault, SmtpServer, start_server

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
BUILD = BuildValue()
RECIPIENTS = 6


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(ledger_url: str, clock: Clock):  # type: ignore[no-untyped-def]
    ledger = open_ledger(ledger_url, clock)
    add_people(ledger, people(RECIPIENTS))
    add_schedule(ledger, BUILD.id)
    yield ledger
    ledger.close()


@pytest.fixture(autouse=True)
def smtp_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)


def received(server: SmtpServer) -> Counter[str]:
    """Accepted copies per recipient address, as the server counted them."""
    return Counter(address.lower() for r in server.handler.accepted for address in r.rcpt_tos)


def total(counts: dict[str, int]) -> int:
    return sum(counts[str(s)] for s in State)


def test_a_notice_goes_once_to_each_frozen_recipient(ledger, smtp_server: SmtpServer, clock: Clock) -> None:
    env = make_env(ledger, settings_for(smtp_server))
    report = send_notice(env, "advance", BUILD)
    assert report.created and report.planned == RECIPIENTS and report.stopped is None
    assert report.counts is not None and report.counts[State.SENT] == RECIPIENTS and report.counts.complete
    assert received(smtp_server) == Counter({f"user{i}@example.org": 1 for i in range(1, 7)})
    first = smtp_server.handler.received[0].message()
    assert first["Subject"] == "CareNotes will be updated to 2026.4.0 on Saturday 14 November 2026"
    assert first["Message-ID"].endswith("@carenotes.example.org>")

    add_people(ledger, [Person("Late Hospice", "Newcomer", "new@example.org")])
    clock.advance(hours=1)
    with pytest.raises(NoticeRefused, match="already sent: 6 of 6 delivered") as refused:
        send_notice(env, "advance", BUILD)
    assert "--again" in str(refused.value.hint)
    assert len(smtp_server.handler.received) == RECIPIENTS

    again = send_notice(env, "advance", BUILD, again=True, reason="typo in the first one")
    assert again.notice is not None and again.notice.generation == 2 and again.recipients == RECIPIENTS + 1
    assert received(smtp_server)["new@example.org"] == 1 and received(smtp_server)["user1@example.org"] == 2
    ids = {r.message()["Message-ID"] for r in smtp_server.handler.received}
    assert len(ids) == 2 * RECIPIENTS + 1, "a new notice has Message-IDs of its own"
    listed = status(env, BUILD)
    assert [(s.notice.generation, s.notice.superseded_by is not None) for s in listed] == [
        (1, True), (2, False)]


FAULTS = {
    "550 for one recipient": ("rcpt", "user2@example.org", "550 5.1.1 <user2@example.org>: no such user"),
    "451 for one recipient": ("rcpt", "user3@example.org", "451 4.7.1 greylisted, try again later"),
    "554 after the data": ("data", "user4@example.org", "554 5.7.1 rejected as spam"),
    "421 mid-batch": ("fault", Fault.REFUSE_421_AT_MAIL, 3),
    "421 after the data": ("fault", Fault.REFUSE_421_AFTER_CONTENT, 2),
    "dropped at RCPT": ("fault", Fault.DROP_AT_RCPT, 4),
    "closed after the 3rd message": ("fault", Fault.DROP_AFTER_CONTENT, 3),
    "cut inside the data": ("fault", Fault.DROP_IN_CONTENT, 5),
}


@pytest.mark.parametrize("behaviour", list(FAULTS))
def test_every_server_behaviour_is_accounted_for_and_a_rerun_adds_no_duplicate(
        ledger, smtp_server: SmtpServer, behaviour: str) -> None:
    where, what, value = FAULTS[behaviour]
    if where == "rcpt":
        smtp_server.handler.rcpt_replies[str(what)] = str(value)
    elif where == "data":
        smtp_server.handler.data_replies[str(what)] = str(value)
    else:
        smtp_server.handler.schedule(what, int(value))  # type: ignore[arg-type]
    env = make_env(ledger, settings_for(smtp_server))
    first = send_notice(env, "advance", BUILD)
    assert first.counts is not None and total(first.counts.as_dict()) == RECIPIENTS
    assert first.counts[State.PENDING] == first.counts[State.SENDING] == 0 and first.stopped is None
    expected = {
        "550 for one recipient": {State.FAILED: 1}, "451 for one recipient": {State.TEMP_FAILED: 1},
        "554 after the data": {State.FAILED: 1}, "closed after the 3rd message": {State.UNKNOWN: 1},
        # a notice is small enough to sit whole in the socket buffers: the final dot left before the cut
        "cut inside the data": {State.UNKNOWN: 1},
    }.get(behaviour, {})
    assert {s: first.counts[s] for s in expected} == expected
    assert first.counts[State.SENT] == RECIPIENTS - sum(expected.values())
    if behaviour == "550 for one recipient":
        problem = next(p for p in first.problems if p.state == State.FAILED)
        assert (problem.email, problem.code) == ("user2@example.org", 550)
        assert problem.reply == "550 5.1.1 <user2@example.org>: no such user"

    smtp_server.handler.rcpt_replies.clear()
    smtp_server.handler.data_replies.clear()
    before = len(smtp_server.handler.received)
    if first.counts.to_send:
        second = send_notice(env, "advance", BUILD)
        assert second.planned == first.counts.to_send
        assert second.counts is not None and second.counts[State.TEMP_FAILED] == 0
    else:
        with pytest.raises(NoticeRefused, match="already sent"):
            send_notice(env, "advance", BUILD)
    copies = received(smtp_server)
    assert max(copies.values()) == 1, f"a recipient got two copies: {copies}"
    assert len(smtp_server.handler.received) - before == first.counts.to_send
    final = status(env, BUILD)[0].counts
    assert total(final.as_dict()) == RECIPIENTS
    assert final[State.SENT] + final[State.FAILED] + final[State.UNKNOWN] == RECIPIENTS


def test_temp_failed_recipients_are_retried_with_backoff_within_the_wait(ledger, smtp_server: SmtpServer
                                                                           ) -> None:
    handler = smtp_server.handler
    handler.rcpt_replies["user2@example.org"] = "451 4.7.1 greylisted"
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the greylisting server lets the retry through after the wait
        slept.append(seconds)
        if len(slept) == 2:
            handler.rcpt_replies.clear()

    env = make_env(ledger, settings_for(smtp_server), sleep=sleep,
                   retry=RetryPolicy(first_delay=timedelta(minutes=5), factor=3))
    report = send_notice(env, "advance", BUILD, wait=timedelta(minutes=30))
    assert slept == [300.0, 900.0], "5 minutes, then 15: delays grow"
    assert report.counts is not None and report.counts.complete
    assert [a.state for a in report.attempts if a.email == "user2@example.org"] == [
        State.TEMP_FAILED, State.TEMP_FAILED, State.SENT]
    assert received(smtp_server)["user2@example.org"] == 1


def test_an_unreachable_server_stops_the_batch_and_leaves_the_rest_pending(ledger, tmp_path: Path,
                                                                           smtp_server: SmtpServer) -> None:
    server = start_server("smtp", pki=None)  # offers no STARTTLS: the client must refuse to send
    try:
        env = make_env(ledger, settings_for(server))
        report = send_notice(env, "advance", BUILD)
    finally:
        server.controller.stop()
    assert isinstance(report.stopped, NotifyError) and "STARTTLS" in str(report.stopped)
    assert report.counts is not None and report.counts[State.PENDING] == RECIPIENTS
    assert server.handler.received == []
    resumed = send_notice(make_env(ledger, settings_for(smtp_server)), "advance", BUILD)
    assert not resumed.created and resumed.counts is not None and resumed.counts.complete
    assert max(received(smtp_server).values()) == 1


def test_a_server_that_goes_away_mid_batch(ledger, smtp_pki, smtp_server: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    server = start_server("smtps", pki=smtp_pki, implicit_tls=True)
    env = make_env(ledger, settings_for(server, max_attempts=2))
    seen: list[str] = []

    def progress(attempt: object) -> None:
        seen.append(str(attempt))
        if len(seen) == 2:
            server.controller.stop()  # closes the connection and the listening socket

    report = send_notice(env, "advance", BUILD, progress=progress)
    assert report.stopped is not None
    c = report.counts
    assert c is not None and c[State.SENT] == 2 and c[State.PENDING] == RECIPIENTS - 2
    resumed = send_notice(make_env(ledger, settings_for(smtp_server)), "advance", BUILD)
    assert resumed.planned == RECIPIENTS - 2 and resumed.counts is not None and resumed.counts.complete
    assert sorted(received(smtp_server)) == [f"user{i}@example.org" for i in range(3, 7)]


def test_resend_failed_reaches_only_the_failed_ones(ledger, smtp_server: SmtpServer) -> None:
    smtp_server.handler.rcpt_replies["user5@example.org"] = "552 5.2.2 mailbox full"
    env = make_env(ledger, settings_for(smtp_server))
    first = send_notice(env, "advance", BUILD)
    assert first.counts is not None and first.counts[State.FAILED] == 1
    with pytest.raises(NoticeRefused, match="no unknown recipients"):
        resend(env, "advance", BUILD, unknown=True)
    smtp_server.handler.rcpt_replies.clear()
    before = len(smtp_server.handler.received)
    again = resend(env, "advance", BUILD, failed=True, reason="mailbox emptied")
    assert [a.email for a in again.attempts] == ["user5@example.org"]
    assert len(smtp_server.handler.received) - before == 1
    assert again.counts is not None and again.counts.complete
    assert max(received(smtp_server).values()) == 1


def test_unknown_is_confirmed_by_a_person_or_resent_with_the_same_message_id(ledger,
                                                                             smtp_server: SmtpServer) -> None:
    smtp_server.handler.schedule(Fault.DROP_AFTER_CONTENT, 2)
    smtp_server.handler.schedule(Fault.DROP_AFTER_CONTENT, 4)
    env = make_env(ledger, settings_for(smtp_server))
    first = send_notice(env, "advance", BUILD)
    unknown = sorted(p.email for p in first.problems if p.state == State.UNKNOWN)
    assert unknown == ["user2@example.org", "user4@example.org"]
    assert all("may or may not" in (p.reply or "") for p in first.problems)

    row = confirm(env, "advance", BUILD, "user2@example.org", delivered=True, reason="she replied")
    assert row.state == State.SENT and "confirmed delivered by rm@carenotes.example.org" in (row.reply or "")
    with pytest.raises(NoticeRefused, match="is sent, not unknown"):
        confirm(env, "advance", BUILD, "user2@example.org", delivered=False)
    first_id = next(r.message()["Message-ID"] for r in smtp_server.handler.received
                    if r.rcpt_tos == ("user4@example.org",))
    again = resend(env, "advance", BUILD, unknown=True)
    assert [a.email for a in again.attempts] == ["user4@example.org"]
    assert smtp_server.handler.received[-1].message()["Message-ID"] == first_id
    assert again.counts is not None and again.counts.complete


def test_not_delivered_goes_back_to_pending_for_the_next_send(ledger, smtp_server: SmtpServer) -> None:
    smtp_server.handler.schedule(Fault.DROP_AFTER_CONTENT, 1)
    env = make_env(ledger, settings_for(smtp_server))
    send_notice(env, "advance", BUILD)
    row = confirm(env, "advance", BUILD, "USER1@example.org", delivered=False)
    assert row.state == State.PENDING
    resumed = send_notice(env, "advance", BUILD)
    assert [a.email for a in resumed.attempts] == ["user1@example.org"]


def test_changed_or_unapproved_notes_are_refused_before_anything_is_sent(ledger, smtp_server: SmtpServer
                                                                         ) -> None:
    notes = Notes(approved=False)
    env = make_env(ledger, settings_for(smtp_server), notes)
    with pytest.raises(NoticeRefused, match="not approved"):
        send_notice(env, "advance", BUILD)
    assert status(env, BUILD) == [] and smtp_server.handler.received == []
    notes.approved = True
    smtp_server.handler.schedule(Fault.DROP_AT_RCPT, 3)
    smtp_server.handler.schedule(Fault.DROP_AT_RCPT, 4)  # the reconnect fails too: stays temp-failed
    first = send_notice(make_env(ledger, settings_for(smtp_server, max_attempts=2), notes), "advance", BUILD)
    assert first.counts is not None and first.counts[State.TEMP_FAILED] == 1
    notes.markdown += "* One more fix (#42)\n"
    with pytest.raises(NoticeRefused, match=r"release notes of 2026\.4\.0\+b3 changed"):
        send_notice(env, "advance", BUILD)
    again = send_notice(env, "advance", BUILD, again=True)
    assert again.counts is not None and again.counts.complete
    assert "One more fix" in smtp_server.handler.received[-1].message().get_body(("plain",)).get_content()


def test_a_dry_run_renders_everything_and_writes_nothing(ledger, smtp_server: SmtpServer) -> None:
    env = make_env(ledger, settings_for(smtp_server))
    plan = send_notice(env, "advance", BUILD, dry_run=True)
    assert plan.dry_run and plan.created and plan.planned == RECIPIENTS and plan.notice is None
    assert status(env, BUILD) == [] and smtp_server.handler.received == []
    add_people(ledger, [Person("Bad Zone Hospice", "Zed", "zed@example.org", time_zone="Mars/Olympus_Mons")])
    with pytest.raises(NotifyError, match="Mars/Olympus_Mons"):
        send_notice(env, "advance", BUILD, dry_run=True)


def test_a_recipient_that_cannot_be_composed_fails_alone(ledger, smtp_server: SmtpServer) -> None:
    add_people(ledger, [Person("Bad Zone Hospice", "Zed", "zed@example.org", time_zone="Mars/Olympus_Mons")])
    env = make_env(ledger, settings_for(smtp_server))
    report = send_notice(env, "advance", BUILD)
    assert report.counts is not None and report.counts[State.SENT] == RECIPIENTS
    failed = [p for p in report.problems if p.state == State.FAILED]
    assert [p.email for p in failed] == ["zed@example.org"] and "not sent" in (failed[0].reply or "")


def test_beta_notice_goes_to_staff_and_enrolled_organisations_only(ledger_url: str, clock: Clock,
                                                                  smtp_server: SmtpServer) -> None:
    ledger = open_ledger(ledger_url, clock)
    add_people(ledger, [Person("Vendor", "Sam Staff", "sam@vendor.example.org", role="staff"),
                        Person("Acadia Hospice", "Ann", "ann@acadia.example.org"),
                        Person("Bayou Palliative", "Bo", "bo@bayou.example.org")], enroll=["Acadia Hospice"])
    notes = Notes()
    report = send_notice(make_env(ledger, settings_for(smtp_server), notes), "beta-available", BUILD)
    assert sorted(received(smtp_server)) == ["ann@acadia.example.org", "sam@vendor.example.org"]
    assert report.target.event == "build" and report.target.channel == "beta"
    assert notes.calls == [(BUILD.id, "beta")]
    ledger.close()


def test_retries_stop_at_the_deadline_before_the_window(ledger, smtp_server: SmtpServer,
                                                        clock: Clock) -> None:
    smtp_server.handler.rcpt_replies["user1@example.org"] = "451 4.3.0 try later"
    env = make_env(ledger, settings_for(smtp_server), retry=RetryPolicy(deadline=timedelta(days=60)))
    report = send_notice(env, "advance", BUILD)
    assert report.notice is not None and report.notice.retry_deadline == WINDOW_START
    row = report.notice
    with ledger.read() as conn:
        assert due_notices(conn, clock.now + timedelta(minutes=1), RULE) == []
        due = due_notices(conn, clock.now + timedelta(minutes=6), RULE)
        assert [(d.kind, d.event) for d in due] == [("advance", row.event)]
        assert due_notices(conn, WINDOW_START + timedelta(minutes=1), RULE) == []


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_live_run_holds_the_notice_and_a_dead_one_is_cleared(ledger, smtp_server: SmtpServer) -> None:

    env = make_env(ledger, settings_for(smtp_server))
    smtp_server.handler.rcpt_replies["user1@example.org"] = "451 4.7.1 later"
    send_notice(env, "advance", BUILD)
    with ledger.write() as conn:
        _, notice = _locate(env, conn, parse_kind("advance"), BUILD, None, None, env.now())
        assert notice is not None
        live = start_run(conn, notice.id, env.host, os.getpid(), "smtp://x", env.now())
    with pytest.raises(NoticeBusy, match=f"being sent by pid {os.getpid()}"):
        send_notice(env, "advance", BUILD)
    with ledger.write() as conn:
        conn.execute(notice_runs.update().where(notice_runs.c.id == live).values(pid=_dead_pid()))
        row = rows_in(conn, notice.id, [State.TEMP_FAILED])[0]
        assert claim(conn, row.id, live, env.now())
    assert status(env, BUILD)[0].counts[State.UNKNOWN] == 1, "status already counts it as unknown"
    with pytest.raises(NoticeRefused, match="1 unknown to confirm"):
        send_notice(env, "advance", BUILD)
    assert status(env, BUILD)[0].counts.as_dict()["sending"] == 0, "the refusal kept the recovery"


def test_an_interrupted_outbox_run_files_each_message_once(ledger, tmp_path: Path) -> None:

    settings = outbox_settings(tmp_path / "outbox")
    env = make_env(ledger, settings)
    plan = send_notice(env, "advance", BUILD, dry_run=True)
    assert plan.created
    with ledger.write() as conn:  # what a run killed between filing user1's message and recording it leaves
        notes = env.notes(BUILD, "production")
        target, _ = _locate(env, conn, NoticeKind.ADVANCE, BUILD, None, None, env.now())
        audience = channel_audience(conn, "everyone", include_opted_out=True, default_zone="UTC")
        notice = _create(env, conn, target, notes, None, audience, env.now(), None)
        run = start_run(conn, notice.id, env.host, _dead_pid(), f"outbox:{settings.outbox}", env.now())
        row = rows_in(conn, notice.id, [State.PENDING])[0]
        assert claim(conn, row.id, run, env.now())
        prepared = prepare(env, conn, target, notes, env.now())
    recipient = Recipient(row.name, row.email, row.organisation, row.time_zone)
    filed = Letters(settings, notice.key, prepared).outgoing(recipient, env.now())
    MaildirOutbox(settings.outbox).send(filed, row.email)
    report = send_notice(env, "advance", BUILD)
    assert report.counts is not None and report.counts.complete and report.recovered == 1
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == RECIPIENTS
