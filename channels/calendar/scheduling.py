"""A build's production push in the ledger: scheduling, moving, cancelling; and holds (vetoes).

Schedules are append-only: every change is a new row and the newest row is
the schedule in force, so the notices feature can tell an announced window
from a moved one (each row is its own event) and the history of a date is
never lost. A move or a cancellation always carries its reason, because the
people told about the old date will be told why it changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, and_

from channels.calendar.calendar import next_pushes, window_starting
from channels.errors import ChannelsError
from channels.settings import CalendarRule, zone_of
from channels.store import (
    CANCELLED,
    MOVED,
    SCHEDULED,
    Hold,
    Schedule,
    active_hold,
    current_schedule,
    holds,
    schedules,
)
from releases.records.ledger import Ledger, inserted_id


def _when(moment: datetime, zone: str) -> str:
    """An instant in the project's zone for messages (the zone the release manager plans in)."""
    local = moment.astimezone(zone_of(zone))
    return f"{local:%Y-%m-%d %H:%M %Z}" + ("" if zone == "UTC" else f" ({moment.astimezone(UTC):%H:%M} UTC)")


@dataclass(frozen=True)
class ScheduleChange:
    """What `schedule` did: the schedule now in force, the one it replaced, and whether anything changed."""

    schedule: Schedule
    previous: Schedule | None
    changed: bool

    @property
    def kind(self) -> str:
        if not self.changed:
            return "unchanged"
        return "moved" if self.schedule.state == MOVED else "scheduled"


def _refuse_if_held(conn: Connection, build_id: str, doing: str, zone: str) -> None:
    hold = active_hold(conn, build_id)
    if hold is not None:
        raise ChannelsError(f"{build_id} is held ({hold.held_by}, {_when(hold.held_at, zone)}: "
                            f"{hold.reason}); a held build cannot be {doing}",
                            hint=f"release the hold first: quarterdeck release-hold {build_id} --reason TEXT")


def set_schedule(ledger: Ledger, conn: Connection, build_id: str, *, start: datetime, end: datetime,
                 reason: str | None, timezone: str = "UTC") -> ScheduleChange:
    """Schedule the build's push, or move it (a move needs a reason); the same window again is a no-op."""
    now = ledger.clock()
    if start.astimezone(UTC) <= now.astimezone(UTC):
        raise ChannelsError(f"the window starting {_when(start, timezone)} is not in the future "
                            f"(now {_when(now, timezone)})",
                            hint="choose a date to come, or --next-window for the next quarterly push")
    if end <= start:
        raise ChannelsError(f"the window ending {_when(end, timezone)} does not end after it starts")
    _refuse_if_held(conn, build_id, "scheduled", timezone)
    current = current_schedule(conn, build_id)
    active = current if current is not None and current.active else None
    if active is not None and active.window_start == start.astimezone(UTC) \
            and active.window_end == end.astimezone(UTC):
        return ScheduleChange(active, active, changed=False)
    if active is not None and not (reason and reason.strip()):
        raise ChannelsError(
            f"{build_id} is already scheduled for {_when(active.window_start, timezone)}; "
            "moving it needs a reason",
            hint="pass --reason TEXT: the rescheduled notice tells everyone why the date moved")
    state = MOVED if active is not None else SCHEDULED
    text = reason.strip() if reason and reason.strip() else None
    result = conn.execute(schedules.insert().values(
        build_id=build_id, window_start=start, window_end=end, state=state, reason=text,
        created_at=now, created_by=ledger.actor.who))
    detail = {"start": start.astimezone(UTC).isoformat(), "end": end.astimezone(UTC).isoformat()}
    if active is not None:
        detail["previous_start"] = active.window_start.isoformat()
    ledger.record(conn, "schedule.move" if active else "schedule.set", build_id, reason=text,
                  detail=detail)
    row = Schedule(inserted_id(result), build_id, start.astimezone(UTC),
                   end.astimezone(UTC), state, text, now, ledger.actor.who)
    return ScheduleChange(row, current, changed=True)


def cancel_schedule(ledger: Ledger, conn: Connection, build_id: str, *, reason: str) -> Schedule:
    """Cancel the build's scheduled push; the cancelled window is kept as the newest row."""
    if not reason or not reason.strip():
        raise ChannelsError(f"cancelling the push of {build_id} needs a reason", hint="pass --reason TEXT")
    current = current_schedule(conn, build_id)
    if current is None or not current.active:
        raise ChannelsError(f"{build_id} has no scheduled push to cancel"
                            + (" (it was already cancelled)" if current else ""),
                            hint=f"`quarterdeck schedule show {build_id}` shows its schedule history")
    now = ledger.clock()
    result = conn.execute(schedules.insert().values(
        build_id=build_id, window_start=current.window_start, window_end=current.window_end,
        state=CANCELLED, reason=reason.strip(), created_at=now, created_by=ledger.actor.who))
    ledger.record(conn, "schedule.cancel", build_id, reason=reason.strip(),
                  detail={"start": current.window_start.isoformat(), "end": current.window_end.isoformat()})
    return Schedule(inserted_id(result), build_id, current.window_start, current.window_end,
                    CANCELLED, reason.strip(), now, ledger.actor.who)


def hold_build(ledger: Ledger, conn: Connection, build_id: str, *, reason: str,
               timezone: str = "UTC") -> Hold:
    """Veto every promotion of the build until the hold is released."""
    if not reason or not reason.strip():
        raise ChannelsError(f"holding {build_id} needs a reason", hint="pass --reason TEXT")
    held = active_hold(conn, build_id)
    if held is not None:
        raise ChannelsError(f"{build_id} is already held ({held.held_by}, {_when(held.held_at, timezone)}: "
                            f"{held.reason})",
                            hint="release the hold first if its reason should change")
    now = ledger.clock()
    conn.execute(holds.insert().values(build_id=build_id, reason=reason.strip(), held_by=ledger.actor.who,
                                       held_at=now))
    ledger.record(conn, "build.hold", build_id, reason=reason.strip())
    return Hold(build_id, reason.strip(), ledger.actor.who, now)


def release_hold(ledger: Ledger, conn: Connection, build_id: str, *, reason: str | None) -> Hold:
    """Lift the build's hold; returns the hold that was lifted."""
    held = active_hold(conn, build_id)
    if held is None:
        raise ChannelsError(f"{build_id} is not held; nothing to release")
    text = reason.strip() if reason and reason.strip() else None
    conn.execute(holds.update().where(and_(holds.c.build_id == build_id, holds.c.released_at.is_(None)))
                 .values(released_at=ledger.clock(), released_by=ledger.actor.who, release_reason=text))
    ledger.record(conn, "build.release-hold", build_id, reason=text,
                  detail={"held_by": held.held_by, "hold_reason": held.reason})
    return held


def signoff_deadline(conn: Connection, build_id: str, rule: CalendarRule, now: datetime) -> datetime | None:
    """By when beta testers should sign off or report: the advance-notice deadline of the build's
    scheduled push (or of the next quarterly push), after which its date is announced to everyone;
    the window's start once that deadline has passed. The beta notice and the beta page say it."""
    schedule = current_schedule(conn, build_id)
    if schedule is not None and schedule.state != CANCELLED:
        laid_out = window_starting(rule, schedule.window_start)
    else:
        upcoming = next_pushes(rule, now, 1)
        if not upcoming:
            return None
        laid_out = upcoming[0]
    if laid_out.notice_deadline_utc > now.astimezone(UTC):
        return laid_out.notice_deadline_utc
    return laid_out.start_utc if laid_out.start_utc > now.astimezone(UTC) else None
