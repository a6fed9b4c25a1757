"""Which notice a send means, and which notices `tick` owes: schedules, moves, cancellations, reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from notify.content.compose import NoticeKind
from notify.content.planning import NoticeRefused, due_notices, offset_label, parse_offset
from notify.content.preview import preview
from notify.content.training import add_training, check_training
from notify.notices import send_due, send_notice, status
from tests.notify.factories import outbox_settings
from tests.notify.test_delivery_support import (
    RULE,
    WINDOW_START,
    BuildValue,
    Clock,
    add_people,
    add_schedule,
    cancel_schedule,
    make_env,
    open_ledger,
    people,
)

BUILD = BuildValue()
EVENT = "schedule:1@2026-11-15T04:00Z"
SEVEN_DAYS_BEFORE = datetime(2026, 11, 8, 4, 0, tzinfo=UTC)   # 22:00 CST on 7 November
ONE_DAY_BEFORE = datetime(2026, 11, 14, 4, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def env(ledger_url: str, clock: Clock, tmp_path: Path):  # type: ignore[no-untyped-def]
    ledger = open_ledger(ledger_url, clock)
    add_people(ledger, people(3))
    yield make_env(ledger, outbox_settings(tmp_path / "outbox"))
    ledger.close()


def due(env, clock: Clock) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with env.ledger.read() as conn:
        return [(str(d.kind), d.event) for d in due_notices(conn, clock.now, RULE)]


def sent_files(tmp_path: Path) -> int:
    return len(list((tmp_path / "outbox" / "new").iterdir()))


def test_offsets_read_and_write_alike() -> None:
    assert parse_offset("7d") == timedelta(days=7) and parse_offset(" 36h ") == timedelta(hours=36)
    assert [offset_label(parse_offset(t)) for t in ("7d", "36h", "90m", "24h")] == ["7d", "36h", "90m", "1d"]
    with pytest.raises(Exception, match="not like 7d"):
        parse_offset("a week")


def test_nothing_can_be_announced_before_a_schedule_exists(env, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    for kind in ("advance", "reminder", "rescheduled", "cancelled"):
        with pytest.raises(NoticeRefused, match="no push is scheduled"):
            send_notice(env, kind, BUILD)
    assert due(env, clock) == []
    add_schedule(env.ledger, BUILD.id)
    assert due(env, clock) == [("advance", EVENT)]
    with pytest.raises(NoticeRefused, match="nothing to reschedule"):
        send_notice(env, "rescheduled", BUILD)
    with pytest.raises(NoticeRefused, match="is not cancelled"):
        send_notice(env, "cancelled", BUILD)
    with pytest.raises(NoticeRefused, match=r"no reminder for 2026\.4\.0\+b3 is due yet: 7d"):
        send_notice(env, "reminder", BUILD)


def test_the_quarter_of_notices_as_tick_sees_it(env, clock: Clock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_schedule(env.ledger, BUILD.id)
    advance = send_notice(env, "advance", BUILD)
    assert advance.target.event == EVENT and sent_files(tmp_path) == 3
    assert due(env, clock) == []
    clock.now = SEVEN_DAYS_BEFORE - timedelta(minutes=1)
    assert due(env, clock) == []
    clock.now = SEVEN_DAYS_BEFORE
    assert due(env, clock) == [("reminder", f"{EVENT}:reminder:7d")]
    reminder = send_notice(env, "reminder", BUILD)
    assert reminder.target.event == f"{EVENT}:reminder:7d" and sent_files(tmp_path) == 6
    assert due(env, clock) == []
    clock.now = ONE_DAY_BEFORE + timedelta(hours=2)
    assert due(env, clock) == [("reminder", f"{EVENT}:reminder:1d")]
    send_notice(env, "reminder", BUILD)
    assert due(env, clock) == []
    clock.now = WINDOW_START + timedelta(hours=5)
    completed = send_notice(env, "completed", BUILD)
    assert completed.target.event == EVENT and completed.target.window is not None
    assert [s.notice.kind for s in status(env, BUILD)] == ["advance", "reminder", "reminder", "completed"]


def test_a_late_tick_sends_only_the_latest_reminder_and_none_before_the_advance(env, clock: Clock
                                                                                ) -> None:  # type: ignore[no-untyped-def]
    add_schedule(env.ledger, BUILD.id)
    clock.now = ONE_DAY_BEFORE + timedelta(hours=1)
    assert due(env, clock) == [("advance", EVENT)], "no reminder for a push nobody was told about"
    send_notice(env, "advance", BUILD)
    assert due(env, clock) == [], "both reminder times passed before the advance went out"
    with pytest.raises(NoticeRefused, match="already sent"):
        send_notice(env, "advance", BUILD)
    early = send_notice(env, "reminder", BUILD, offset=timedelta(days=7))
    assert early.target.event.endswith(":reminder:7d")


def test_a_moved_push_is_rescheduled_then_reminded_at_its_new_date(env, clock: Clock, tmp_path: Path
                                                                   ) -> None:  # type: ignore[no-untyped-def]
    add_schedule(env.ledger, BUILD.id)
    send_notice(env, "advance", BUILD)
    later = WINDOW_START + timedelta(days=7)
    add_schedule(env.ledger, BUILD.id, later, state="moved", reason="a blocker was found in beta")
    new_event = "schedule:2@2026-11-22T04:00Z"
    assert due(env, clock) == [("rescheduled", new_event)]
    with pytest.raises(NoticeRefused, match="already sent"):
        send_notice(env, "advance", BUILD, event=EVENT)
    moved = send_notice(env, "rescheduled", BUILD)
    assert moved.target.event == new_event and moved.target.previous_window is not None
    assert moved.target.previous_window.start == WINDOW_START and moved.target.reason
    shown = preview(env, "rescheduled", BUILD, "user1@example.org")
    assert "Saturday 14 November 2026" in shown.composed.text and "a blocker was found" in shown.composed.text
    with pytest.raises(NoticeRefused, match="already sent"):
        send_notice(env, "rescheduled", BUILD)
    clock.now = SEVEN_DAYS_BEFORE + timedelta(hours=1)
    assert due(env, clock) == [], "the old window's reminders no longer apply"
    clock.now = later - timedelta(days=7)
    assert due(env, clock) == [("reminder", f"{new_event}:reminder:7d")]


def test_a_cancellation_is_announced_once(env, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    add_schedule(env.ledger, BUILD.id)
    cancel_schedule(env.ledger, BUILD.id, "the hosting provider moved our maintenance")
    with pytest.raises(NoticeRefused, match="no notice announced the push"):
        send_notice(env, "cancelled", BUILD)
    assert due(env, clock) == [], "nobody was told, so nobody needs a cancellation"
    add_schedule(env.ledger, BUILD.id)  # scheduled again for the same window: schedule 3
    third = "schedule:3@2026-11-15T04:00Z"
    send_notice(env, "advance", BUILD)
    cancel_schedule(env.ledger, BUILD.id, "the hosting provider moved our maintenance")
    assert due(env, clock) == [("cancelled", "schedule:4@2026-11-15T04:00Z")]
    with pytest.raises(NoticeRefused, match="was cancelled"):
        send_notice(env, "reminder", BUILD, offset=timedelta(days=7))
    report = send_notice(env, "cancelled", BUILD)
    assert report.target.reason == "the hosting provider moved our maintenance"
    assert due(env, clock) == []
    new_window = WINDOW_START + timedelta(days=14)
    add_schedule(env.ledger, BUILD.id, new_window)
    assert due(env, clock) == [("advance", "schedule:5@2026-11-29T04:00Z")]
    assert [n.notice.event for n in status(env, BUILD)] == [third, "schedule:4@2026-11-15T04:00Z"]


def test_a_resume_lists_the_trainings_its_first_recipients_saw(env, clock: Clock, tmp_path: Path
                                                               ) -> None:  # type: ignore[no-untyped-def]
    add_schedule(env.ledger, BUILD.id)
    at, link, title = check_training(at_text="2026-11-10 15:00", zone="Europe/London",
                                     link="https://meet.example.org/charts", title="Printing charts",
                                     now=clock.now)
    assert at == datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    with env.ledger.write() as conn:
        add_training(conn, BUILD.id, at=at, link=link, title=title, now=clock.now, by="rm@example.org")
    report = send_notice(env, "advance", BUILD)
    clock.advance(hours=1)
    with env.ledger.write() as conn:
        add_training(conn, BUILD.id, at=at + timedelta(days=1), link=link, title="Second session",
                     now=clock.now, by="rm@example.org")
    shown = preview(env, "advance", BUILD, "user2@example.org")
    assert report.notice is not None and shown.notice == report.notice
    assert "Printing charts" in shown.composed.text and "Second session" not in shown.composed.text
    assert "Tuesday 10 November 2026, 09:00 CST" in shown.composed.text
    assert NoticeKind(report.target.kind) is NoticeKind.ADVANCE


def test_send_due_sends_what_tick_owes_once(env, clock: Clock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_schedule(env.ledger, BUILD.id)
    builds = {BUILD.id: BUILD}
    first = send_due(env, builds.__getitem__)
    assert [(str(r.due.kind), r.error, r.report.counts.complete if r.report and r.report.counts else None)
            for r in first] == [("advance", None, True)]
    assert send_due(env, builds.__getitem__) == [] and sent_files(tmp_path) == 3
    clock.now = SEVEN_DAYS_BEFORE + timedelta(hours=3)
    [reminder] = send_due(env, builds.__getitem__)
    assert reminder.report is not None and reminder.report.target.event == f"{EVENT}:reminder:7d"
    assert send_due(env, builds.__getitem__) == [] and sent_files(tmp_path) == 6


def test_send_due_reports_a_refusal_and_goes_on(env, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    other = BuildValue(id="2026.4.0+b4")
    add_schedule(env.ledger, BUILD.id)
    add_schedule(env.ledger, other.id, WINDOW_START + timedelta(days=7))
    env.notes.approved = False
    results = send_due(env, {BUILD.id: BUILD, other.id: other}.__getitem__)
    assert [(r.due.build_id, r.report) for r in results] == [(BUILD.id, None), (other.id, None)]
    assert all(isinstance(r.error, NoticeRefused) and "not approved" in str(r.error) for r in results)
