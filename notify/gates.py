"""The notice gates of a production push: announced early enough, with the approved notes, not cancelled.

Pure judgement over NoticeGateFacts (gathered from the ledger by
`gather_facts`), returning channels' GateResult values that pipeline passes
to the channels gate evaluation as `extra`. The announcement judged is the
newest advance or rescheduled notice for the build's current window: the
notice whose text the users have in front of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from channels.calendar.calendar import format_window, window_starting
from channels.gates.gates import GateResult
from channels.settings import CalendarRule, format_duration, zone_of
from channels.store import current_schedule
from notify.content.notes_input import PRODUCTION
from notify.content.planning import ANNOUNCING
from notify.store_records import Counts, NoticeRecord, build_notices, counts, last_sent_at
from notify.vocabulary import NoticeKind, State

if TYPE_CHECKING:
    from notify.app import NotifyApp

ADVANCE_GATE, NOTES_GATE, CANCELLED_GATE = "advance-notice", "notice-notes", "no-cancellation"


@dataclass(frozen=True)
class Announced:
    """One notice as the gates see it."""

    kind: str
    generation: int
    window_start: datetime | None
    notes_sha256: str | None
    counts: Counts
    delivered_at: datetime | None  # when the last recipient got it (only once every one has)
    created_at: datetime

    @property
    def name(self) -> str:
        return f"{self.kind} notice" + (f" (generation {self.generation})" if self.generation > 1 else "")


@dataclass(frozen=True)
class NoticeGateFacts:
    build_id: str
    timezone: str
    window_start: datetime | None        # the current schedule; None: nothing scheduled
    window_end: datetime | None
    schedule_cancelled: bool
    notice_deadline: datetime | None     # the latest moment the announcement may complete
    notice_lead: timedelta               # as configured (the deadline is that many calendar days before)
    announcement: Announced | None       # newest advance/rescheduled notice for the current window
    last_word: Announced | None          # newest advance/rescheduled/cancelled notice of the build
    approved_sha256: str | None          # None: the build's notes are not approved

    @property
    def window_label(self) -> str:
        if self.window_start is None or self.window_end is None:
            return "(none)"
        return format_window(self.window_start, self.window_end, self.timezone)

    def local(self, moment: datetime) -> str:
        return f"{moment.astimezone(zone_of(self.timezone)):%Y-%m-%d %H:%M} {self.timezone}"


def _not_sent(counts: Counts) -> str:
    parts = [f"{counts[s]} {s}" for s in (State.PENDING, State.SENDING, State.TEMP_FAILED, State.FAILED,
                                          State.UNKNOWN) if counts[s]]
    return ", ".join(parts)


def _advance_gate(facts: NoticeGateFacts) -> GateResult:
    if facts.window_start is None:
        return GateResult(ADVANCE_GATE, False, f"no push is scheduled for {facts.build_id}, so no advance "
                                               "notice can announce it")
    notice = facts.announcement
    if notice is None:
        return GateResult(ADVANCE_GATE, False, f"no advance notice announced the window {facts.window_label}")
    c = notice.counts
    if not c.complete or notice.delivered_at is None:
        return GateResult(ADVANCE_GATE, False,
                          f"the {notice.name} reached {c[State.SENT]} of {c.recipients} recipients "
                          f"({c.recipients - c[State.SENT]} not: {_not_sent(c)}); "
                          "every recipient must have it")
    assert facts.notice_deadline is not None
    lead = facts.window_start.astimezone(UTC) - notice.delivered_at.astimezone(UTC)
    needed = facts.notice_lead  # said as configured: across a clock change the real span differs by an hour
    said = (f"the {notice.name} reached all {c.recipients} recipients by {facts.local(notice.delivered_at)}, "
            f"{format_duration(lead)} before the window {facts.window_label}")
    if notice.delivered_at.astimezone(UTC) > facts.notice_deadline.astimezone(UTC):
        return GateResult(ADVANCE_GATE, False, f"{said}; needs {format_duration(needed)} "
                                               f"(by {facts.local(facts.notice_deadline)})")
    return GateResult(ADVANCE_GATE, True, f"{said} (needs {format_duration(needed)})")


def _notes_gate(facts: NoticeGateFacts) -> GateResult:
    notice = facts.announcement
    if notice is None or notice.notes_sha256 is None:
        return GateResult(NOTES_GATE, False, "no advance notice of the current window carried release notes")
    if facts.approved_sha256 is None:
        return GateResult(NOTES_GATE, False, f"the release notes of {facts.build_id} are not approved "
                                             f"(the {notice.name} carried {notice.notes_sha256[:12]}…)")
    if notice.notes_sha256 != facts.approved_sha256:
        return GateResult(NOTES_GATE, False,
                          f"the {notice.name} carried notes {notice.notes_sha256[:12]}…, "
                          f"but the approved notes are now {facts.approved_sha256[:12]}…; "
                          f"the users have not seen them (notice send advance {facts.build_id} --again)")
    return GateResult(NOTES_GATE, True, f"the {notice.name} carried the approved notes "
                                        f"({facts.approved_sha256[:12]}…)")


def _cancelled_gate(facts: NoticeGateFacts) -> GateResult:
    last = facts.last_word
    if last is not None and last.kind == NoticeKind.CANCELLED:
        return GateResult(CANCELLED_GATE, False,
                          f"a cancelled notice went out on {facts.local(last.created_at)} "
                          "and no new window has been announced since")
    if facts.schedule_cancelled:
        return GateResult(CANCELLED_GATE, False, f"the push of {facts.build_id} is cancelled")
    return GateResult(CANCELLED_GATE, True, "no cancelled notice is in force")


def evaluate(facts: NoticeGateFacts) -> list[GateResult]:
    """The three notice gates in a fixed order."""
    return [_advance_gate(facts), _notes_gate(facts), _cancelled_gate(facts)]


def _announced(conn: Connection, notice: NoticeRecord | None) -> Announced | None:
    if notice is None:
        return None
    count = counts(conn, [notice])[notice.id]
    return Announced(notice.kind, notice.generation, notice.window_start, notice.notes_sha256, count,
                     last_sent_at(conn, notice.id) if count.complete else None, notice.created_at)


def gather_facts(conn: Connection, build_id: str, *, rule: CalendarRule,
                 approved_sha256: str | None) -> NoticeGateFacts:
    """The facts the notice gates judge, read from the ledger (index-only reads per notice)."""
    schedule = current_schedule(conn, build_id)
    found = build_notices(conn, build_id, [*ANNOUNCING, NoticeKind.CANCELLED])
    last_word = found[-1] if found else None
    announcement = None
    deadline = None
    if schedule is not None:
        start = schedule.window_start.astimezone(UTC)
        same = [n for n in found if n.kind != NoticeKind.CANCELLED and n.window_start is not None
                and n.window_start.astimezone(UTC) == start]
        announcement = same[-1] if same else None
        deadline = window_starting(rule, schedule.window_start).notice_deadline_utc
    return NoticeGateFacts(
        build_id=build_id, timezone=rule.timezone,
        window_start=schedule.window_start if schedule else None,
        window_end=schedule.window_end if schedule else None,
        schedule_cancelled=schedule is not None and schedule.state == "cancelled",
        notice_deadline=deadline, notice_lead=rule.notice_lead, announcement=_announced(conn, announcement),
        last_word=_announced(conn, last_word), approved_sha256=approved_sha256)


def notice_gates(app: NotifyApp, build: Any) -> list[GateResult]:
    """The notice gates of `build` for production, for pipeline's promotion_gates (channels' `extra`)."""
    notes = app.notice_notes(build, PRODUCTION)
    with app.ledger.read() as conn:
        facts = gather_facts(conn, build.id, rule=app.calendar_rule(),
                             approved_sha256=notes.sha256 if notes.approved else None)
    return evaluate(facts)
