"""What a notice is about: its event, the window it announces, and which notices are due now.

The event key is what makes "the same notice" precise, and so what `--again`
and the exactly-once rule are about. It names the schedule row and the
window's start, so a schedule moved in place still gets its own rescheduled
notice, and a reminder is keyed by its offset:

    beta-available  build
    advance         schedule:7@2026-11-15T04:00Z
    reminder        schedule:7@2026-11-15T04:00Z:reminder:7d
    rescheduled     schedule:8@2026-11-22T04:00Z
    cancelled       schedule:8@2026-11-22T04:00Z
    completed       schedule:8@2026-11-22T04:00Z   (or what the caller names, e.g. deployment:3)
    problem-alert   problem:12                     (to the release team; see notify.alerts)

Reads the channels package's schedules and this package's notices; writes
nothing. `due_notices` is what `quarterdeck tick` asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, or_, select

from channels.audience.audience import members
from channels.audience.contacts import Contact
from channels.audience.directory import ledger_contacts
from channels.calendar.calendar import window_starting
from channels.settings import CalendarRule
from channels.store import Schedule, current_schedule, enrolled_org_names, schedules
from notify.alerts import ALERT_CHANNEL, ProblemAlert, alert_event, alerted_problem, unalerted_blockers
from notify.content.calendar_entry import CalendarEntry, push_uid
from notify.content.compose import Action, NoticeContext, Training, Window
from notify.content.notes_input import NoticeNotes
from notify.errors import NotifyError
from notify.store import deliveries, notices
from notify.store_records import NoticeRecord, build_notices, latest_notice
from notify.vocabulary import NoticeKind, State

ANNOUNCING = (NoticeKind.ADVANCE, NoticeKind.RESCHEDULED)
_OFFSET = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class NoticeRefused(NotifyError):
    """The notice cannot be sent now: no schedule, nothing to reschedule or cancel, already sent…"""


def parse_kind(value: str) -> NoticeKind:
    try:
        return NoticeKind(value)
    except ValueError:
        raise NotifyError(f"{value!r} is not a notice kind",
                          hint=f"kinds are: {', '.join(k.value for k in NoticeKind)}") from None


def parse_offset(value: str) -> timedelta:
    """`7d`, `36h` or `90m`, as the reminder offsets are written."""
    match = _OFFSET.match(value)
    if not match or int(match.group(1)) == 0:
        raise NotifyError(f"reminder offset {value!r} is not like 7d, 12h or 30m")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def offset_label(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def schedule_event(schedule: Schedule) -> str:
    return f"schedule:{schedule.id}@{schedule.window_start.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


@dataclass(frozen=True)
class Target:
    """One notice's subject matter: everything but the notes, trainings and recipients."""

    kind: NoticeKind
    build_id: str
    version: str
    event: str
    channel: str
    window: Window | None = None
    previous_window: Window | None = None
    reason: str = ""


def channel_of(kind: NoticeKind, production_channel: str) -> str:
    if kind is NoticeKind.PROBLEM_ALERT:
        return ALERT_CHANNEL
    return "beta" if kind is NoticeKind.BETA_AVAILABLE else production_channel


def _window(start: datetime | None, end: datetime | None) -> Window | None:
    return Window(start, end) if start is not None and end is not None else None


def target_of(notice: NoticeRecord, version: str) -> Target:
    """The target a notice was created with, from its stored values (a resume says the same thing)."""
    return Target(NoticeKind(notice.kind), notice.build_id, version, notice.event, notice.channel,
                  _window(notice.window_start, notice.window_end),
                  _window(notice.previous_start, notice.previous_end), notice.reason or "")


def _active(schedule: Schedule | None) -> bool:
    return schedule is not None and schedule.state != "cancelled"


def _last_announcement(conn: Connection, build_id: str) -> NoticeRecord | None:
    """The newest advance, rescheduled or cancelled notice: what the users were told last."""
    found = build_notices(conn, build_id, [*ANNOUNCING, NoticeKind.CANCELLED])
    return found[-1] if found else None


def reminder_times(rule: CalendarRule, start: datetime) -> list[tuple[timedelta, datetime]]:
    """(offset, when) for each reminder before a window starting at `start`, earliest first."""
    laid_out = window_starting(rule, start)
    offsets = sorted(rule.reminders, reverse=True)
    return list(zip(offsets, laid_out.reminders_utc, strict=True))


def plan_target(conn: Connection, kind: NoticeKind, build: Any, *, now: datetime, rule: CalendarRule,
                production_channel: str, event: str | None = None,
                offset: timedelta | None = None) -> Target:
    """The notice `kind` for `build` as the ledger stands now; refuses what makes no sense yet."""
    channel = channel_of(kind, production_channel)
    if kind is NoticeKind.BETA_AVAILABLE:
        return Target(kind, build.id, build.version, event or "build", channel)
    if kind is NoticeKind.PROBLEM_ALERT:
        if event is None:
            raise NoticeRefused("a problem alert is sent by itself when a blocker is reported",
                                hint=f"`quarterdeck tick` sends any still owed; `quarterdeck notice status "
                                     f"{build.id}` shows them")
        alerted_problem(event)
        return Target(kind, build.id, build.version, event, channel)
    schedule = current_schedule(conn, build.id)
    window = Window(schedule.window_start, schedule.window_end) if schedule else None
    if kind is NoticeKind.COMPLETED:
        if _active(schedule):
            assert schedule is not None
            return Target(kind, build.id, build.version, event or schedule_event(schedule), channel, window)
        return Target(kind, build.id, build.version, event or "unscheduled", channel)
    if schedule is None:
        raise NoticeRefused(f"no push is scheduled for {build.id}, so there is no {kind} notice to send",
                            hint="schedule the production push first")
    key = event or schedule_event(schedule)
    if kind is NoticeKind.CANCELLED:
        if schedule.state != "cancelled":
            raise NoticeRefused(f"the push of {build.id} in the window starting "
                                f"{schedule.window_start:%Y-%m-%d %H:%M} UTC is not cancelled",
                                hint="cancel the schedule first; the cancelled notice announces it")
        last = _last_announcement(conn, build.id)
        if last is None and latest_notice(conn, kind, build.id, key) is None:
            raise NoticeRefused(f"no notice announced the push of {build.id}, so there is no cancellation "
                                "to announce")
        return Target(kind, build.id, build.version, key, channel, window, reason=schedule.reason or "")
    if not _active(schedule):
        raise NoticeRefused(f"the push of {build.id} was cancelled; there is no window to announce",
                            hint="schedule a new window first")
    if kind is NoticeKind.ADVANCE:
        return Target(kind, build.id, build.version, key, channel, window)
    if kind is NoticeKind.RESCHEDULED:
        sent = latest_notice(conn, kind, build.id, key)
        if sent is not None:
            return target_of(sent, build.version)
        last = _last_announcement(conn, build.id)
        if last is None or last.kind == NoticeKind.CANCELLED or last.window_start is None:
            raise NoticeRefused(f"no advance notice announced an earlier window for {build.id}, so there is "
                                "nothing to reschedule", hint=f"send the advance notice: quarterdeck notice "
                                                              f"send advance {build.id}")
        previous = _window(last.window_start, last.window_end)
        assert window is not None and previous is not None
        if previous.start.astimezone(UTC) == window.start.astimezone(UTC):
            raise NoticeRefused(f"the {last.kind} notice already announced this window for {build.id}",
                                hint="move the schedule first, then announce the new date")
        return Target(kind, build.id, build.version, key, channel, window, previous,
                      reason=schedule.reason or "")
    # reminder
    assert schedule is not None and kind is NoticeKind.REMINDER
    times = reminder_times(rule, schedule.window_start)
    if offset is None:
        came = [off for off, at in times if at <= now.astimezone(UTC)]
        if not came:
            listed = ", ".join(f"{offset_label(off)} ({at:%Y-%m-%d %H:%M} UTC)" for off, at in times)
            raise NoticeRefused(f"no reminder for {build.id} is due yet" + (f": {listed}" if listed else
                                                                              " (no reminders configured)"),
                                hint="pass --offset 7d to send one of them early")
        offset = came[-1]
    key = event or f"{schedule_event(schedule)}:reminder:{offset_label(offset)}"
    return Target(kind, build.id, build.version, key, channel, window)


def channel_audience(conn: Connection, channel: str, *, include_opted_out: bool,
                     default_zone: str = "") -> list[Contact]:
    """The channel's members now, one per address, by channels' own rules (removed organisations out).
    Contacts who gave no time zone keep it empty: their notices name the project's zone as such."""
    return members(channel, ledger_contacts(conn, default_zone), enrolled_org_names(conn),
                   include_opted_out=include_opted_out)


def notice_context(target: Target, *, project: str, timezone: str, notes: NoticeNotes | None,
                   trainings: tuple[Training, ...], support_contact: str, feedback: str = "",
                   downtime: str = "", beta_url: str = "", signoff_by: datetime | None = None,
                   as_of: datetime | None = None, calendar: CalendarEntry | None = None,
                   problem: ProblemAlert | None = None) -> NoticeContext:
    return NoticeContext(
        kind=target.kind, project=project, build_id=target.build_id, version=target.version,
        project_zone=timezone, notes_text=notes.text if notes else "", notes_html=notes.html if notes else "",
        window=target.window, previous_window=target.previous_window, trainings=trainings,
        reason=target.reason, actions=tuple(Action(change, todo) for change, todo in notes.actions)
        if notes else (), feedback=feedback, support_contact=support_contact, downtime=downtime,
        beta_url=beta_url if target.kind is NoticeKind.BETA_AVAILABLE else "", signoff_by=signoff_by,
        as_of=as_of, calendar=calendar, problem=problem)


# -- the push's calendar entry and the beta testers' deadline ---------------------------------------

CALENDAR_KINDS = (NoticeKind.ADVANCE, NoticeKind.REMINDER, NoticeKind.RESCHEDULED, NoticeKind.CANCELLED)


def calendar_entry(conn: Connection, target: Target, *, notice_id: int | None, domain: str, organizer: str,
                   stamp: datetime) -> CalendarEntry | None:
    """The entry the notice carries: one UID per push; SEQUENCE counts the announcements (advance,
    rescheduled, cancelled, any generation) made before this one, so each move or cancellation
    raises it and a reminder repeats the last one's. `notice_id` is the notice being resumed
    (None: one not created yet), so a resumed send writes the same entry again."""
    if target.kind not in CALENDAR_KINDS or target.window is None:
        return None
    before = [n for n in build_notices(conn, target.build_id, [*ANNOUNCING, NoticeKind.CANCELLED])
              if notice_id is None or n.id < notice_id]
    sequence = len(before) if target.kind is not NoticeKind.REMINDER else max(len(before) - 1, 0)
    return CalendarEntry(push_uid(target.build_id, domain), sequence, stamp, organizer,
                         cancelled=target.kind is NoticeKind.CANCELLED)


# -- what `tick` should send ----------------------------------------------------------------------

@dataclass(frozen=True)
class DueNotice:
    kind: NoticeKind
    build_id: str
    event: str
    why: str
    offset: timedelta | None = None

    def as_dict(self) -> dict[str, object]:
        return {"kind": str(self.kind), "build": self.build_id, "event": self.event, "why": self.why}


def _current_schedules(conn: Connection) -> list[Schedule]:
    newest = select(func.max(schedules.c.id)).group_by(schedules.c.build_id).scalar_subquery()
    rows = conn.execute(select(schedules).where(schedules.c.id.in_(newest)).order_by(schedules.c.id))
    return [Schedule(r.id, r.build_id, r.window_start, r.window_end, r.state, r.reason, r.created_at,
                     r.created_by) for r in rows]


def _for_schedule(conn: Connection, schedule: Schedule, now: datetime, rule: CalendarRule) -> list[DueNotice]:
    build, key = schedule.build_id, schedule_event(schedule)
    last = _last_announcement(conn, build)
    if schedule.state == "cancelled":
        if last is not None and last.kind != NoticeKind.CANCELLED:
            return [DueNotice(NoticeKind.CANCELLED, build, key,
                              "the push was cancelled after it was announced")]
        return []
    if last is None or last.kind == NoticeKind.CANCELLED:
        return [DueNotice(NoticeKind.ADVANCE, build, key, "a push is scheduled and has not been announced")]
    announced = last.window_start.astimezone(UTC) if last.window_start else None
    if announced != schedule.window_start.astimezone(UTC):
        return [DueNotice(NoticeKind.RESCHEDULED, build, key, "the push moved after it was announced")]
    came = [(off, at) for off, at in reminder_times(rule, schedule.window_start)
            if last.created_at < at <= now]
    if not came:
        return []
    offset, at = came[-1]
    reminder = f"{key}:reminder:{offset_label(offset)}"
    if latest_notice(conn, NoticeKind.REMINDER, build, reminder) is not None:
        return []  # sent (or being sent: unfinished ones are found below); older offsets are stale
    return [DueNotice(NoticeKind.REMINDER, build, reminder, f"the {offset_label(offset)} reminder was due "
                      f"{at:%Y-%m-%d %H:%M} UTC", offset)]


def due_after_change(conn: Connection, build_id: str, now: datetime, rule: CalendarRule) -> DueNotice | None:
    """The notice a schedule change of `build_id` made due: rescheduled after an announced window
    moved, cancelled after an announced push was cancelled; None when the change announces nothing
    yet (a push never announced is announced by its advance notice, due by its deadline)."""
    schedule = current_schedule(conn, build_id)
    if schedule is None:
        return None
    due = _for_schedule(conn, schedule, now.astimezone(UTC), rule)
    return next((d for d in due if d.kind in (NoticeKind.RESCHEDULED, NoticeKind.CANCELLED)), None)


def due_notices(conn: Connection, now: datetime, rule: CalendarRule, *,
                alerts_within: timedelta | None = None) -> list[DueNotice]:
    """Notices owed at `now`: announcements and reminders of pushes to come, and unfinished sends;
    with `alerts_within` (a release team is configured), the alert of each open blocker reported
    that recently which has none yet.

    Unfinished: rows still pending (a run died or stopped) or temp-failed
    with their retry due before the notice's retry deadline. Only the
    newest generation of a notice is resumed.
    """
    now = now.astimezone(UTC)
    due: list[DueNotice] = []
    for schedule in _current_schedules(conn):
        if schedule.window_start.astimezone(UTC) > now:
            due.extend(_for_schedule(conn, schedule, now, rule))
    if alerts_within is not None:
        due.extend(DueNotice(NoticeKind.PROBLEM_ALERT, build, alert_event(problem),
                             f"blocker #{problem} was reported and the release team not yet told")
                   for problem, build in unalerted_blockers(conn, now, alerts_within))
    owed = (select(deliveries.c.notice_id).where(or_(
        deliveries.c.state == State.PENDING.value,
        (deliveries.c.state == State.TEMP_FAILED.value) & (deliveries.c.next_attempt_at <= now)))
        .distinct().scalar_subquery())
    rows = conn.execute(select(notices).where(notices.c.id.in_(owed), notices.c.superseded_by.is_(None),
                                              notices.c.retry_deadline > now).order_by(notices.c.id))
    planned = {(d.kind, d.build_id, d.event) for d in due}
    for row in rows:
        if (NoticeKind(row.kind), row.build_id, row.event) not in planned:
            due.append(DueNotice(NoticeKind(row.kind), row.build_id, row.event,
                                 "recipients are still pending or due a retry"))
    return due
