"""Helpers for the delivery, gate and CLI tests of notices: a real ledger, contacts, schedules, notes.

No tests here. The ledger is a real SQLite file with every package's tables;
contacts and schedules are written into the channels package's own tables
(its commands may not exist yet); release notes stand in for pipeline's
`notice_notes` hook, which belongs to another package's wiring.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from channels.calendar.calendar import CalendarRule
from channels.store import SCHEMA as CHANNELS_SCHEMA
from channels.store import contacts, current_schedule, enrollments, ensure_org, schedules
from notify import store as notify_store
from notify.content.notes_input import NoticeNotes
from notify.sending.delivery import NoticeEnv, RetryPolicy
from notify.settings import NotifySettings
from releases.records.ledger import Actor, Ledger
from releases.records.schema import SCHEMA as RELEASES_SCHEMA

ZONE = "America/Chicago"
# Friday 16 October 2026: the November push (second Saturday, 14 Nov 22:00 Chicago) is four weeks away.
START = datetime(2026, 10, 16, 15, 0, tzinfo=UTC)
WINDOW_START = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)   # 22:00 CST on Saturday 14 November
WINDOW_END = WINDOW_START + timedelta(hours=4)
RULE = CalendarRule(months=(2, 5, 8, 11), weekday=5, week=2,
                    start=datetime(2026, 1, 1, 22, 0).time(), window=timedelta(hours=4), timezone=ZONE,
                    notice_lead=timedelta(days=14), beta_start=timedelta(days=21),
                    code_freeze=timedelta(days=28), reminders=(timedelta(days=7), timedelta(days=1)))


class Clock:
    """The injected clock: tests move it forward by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@dataclass(frozen=True)
class BuildValue:
    """The fields of releases.artifacts.builds.Build that notify reads."""

    id: str = "2026.4.0+b3"
    version: str = "2026.4.0"
    commit: str = "0" * 40
    sha256: str = "a" * 64


@dataclass
class Notes:
    """Stands in for pipeline's notice_notes(build, audience) hook: editable, approvable notes."""

    markdown: str = "## New features\n\n* Medication charts can be printed (#41)\n"
    approved: bool = True
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, build: object, audience: str) -> NoticeNotes:
        self.calls.append((getattr(build, "id", "?"), audience))
        text = self.markdown.replace("## ", "").replace("* ", "- ")
        html = "<ul><li>" + "</li><li>".join(line[2:] for line in self.markdown.splitlines()
                                              if line.startswith("* ")) + "</li></ul>"
        digest = hashlib.sha256(self.markdown.encode()).hexdigest()
        return NoticeNotes(self.markdown, text, html, digest, self.approved)


def open_ledger(where: Path | str, clock: Clock) -> Ledger:
    """A ledger with the tables notices need: a SQLite file's path, or a ledger URL (the
    `ledger_url` fixture, so that the test runs on SQLite and PostgreSQL)."""
    url = where if isinstance(where, str) else f"sqlite:///{where}"
    return Ledger(url, [RELEASES_SCHEMA, CHANNELS_SCHEMA, notify_store.SCHEMA],
                  actor=Actor(who="rm@carenotes.example.org", command="pytest"), clock=clock)


@dataclass(frozen=True)
class Person:
    organisation: str
    name: str
    email: str
    role: str = "nurse"
    time_zone: str | None = None


def people(count: int, organisation: str = "Acadia Hospice") -> list[Person]:
    return [Person(organisation, f"User {i}", f"user{i}@example.org") for i in range(1, count + 1)]


def add_people(ledger: Ledger, persons: Iterable[Person], *, enroll: Iterable[str] = ()) -> None:
    with ledger.write() as conn:
        for person in persons:
            org = ensure_org(ledger, conn, person.organisation)
            conn.execute(contacts.insert().values(
                org_id=org, name=person.name, email=person.email, email_key=person.email.lower(),
                role=person.role, time_zone=person.time_zone, opted_out=False, updated_at=ledger.clock()))
        for name in enroll:
            org = ensure_org(ledger, conn, name)
            conn.execute(enrollments.insert().values(org_id=org, enrolled_at=ledger.clock(),
                                                     enrolled_by="rm@carenotes.example.org"))


def add_schedule(ledger: Ledger, build_id: str, start: datetime = WINDOW_START,
                 end: datetime | None = None, state: str = "scheduled", reason: str | None = None) -> int:
    """A schedule row as channels writes them: append-only, the newest row is the one in force
    (state "moved" when it replaces an earlier window)."""
    with ledger.write() as conn:
        result = conn.execute(schedules.insert().values(
            build_id=build_id, window_start=start, window_end=end or start + timedelta(hours=4), state=state,
            reason=reason, created_at=ledger.clock(), created_by="rm@carenotes.example.org"))
        return int(result.inserted_primary_key[0])


def cancel_schedule(ledger: Ledger, build_id: str, reason: str) -> int:
    """A cancellation as channels records it: a new row with the cancelled window."""
    with ledger.write() as conn:
        current = current_schedule(conn, build_id)
        assert current is not None
        result = conn.execute(schedules.insert().values(
            build_id=build_id, window_start=current.window_start, window_end=current.window_end,
            state="cancelled", reason=reason, created_at=ledger.clock(),
            created_by="rm@carenotes.example.org"))
        return int(result.inserted_primary_key[0])


def schedule_ids(ledger: Ledger) -> list[int]:
    with ledger.read() as conn:
        return [r[0] for r in conn.execute(select(schedules.c.id).order_by(schedules.c.id))]


def make_env(ledger: Ledger, settings: NotifySettings, notes: Notes | None = None, **overrides: object
             ) -> NoticeEnv:
    values: dict[str, object] = dict(
        ledger=ledger, settings=settings, project="CareNotes", timezone=ZONE, rule=RULE,
        notes=notes or Notes(), support_contact="support@carenotes.example.org",
        retry=RetryPolicy(first_delay=timedelta(minutes=5)), sleep=lambda seconds: None)
    values.update(overrides)
    return NoticeEnv(**values)  # type: ignore[arg-type]
