"""The quarterly push calendar, pure: which nights the pushes fall on, and every milestone before them.

Time rules, decided once here so that every command agrees:

* A push is laid out in the project's zone: the rule's date and start time
  are wall-clock values there ("the second Saturday at 22:00 in Chicago").
* A wall time that does not exist (the hour skipped when clocks spring
  forward) moves forward by the length of the gap: 02:30 on the night
  Chicago goes from 02:00 to 03:00 becomes 03:30 CDT. A wall time that
  happens twice (the hour repeated in autumn) means its first occurrence,
  the one still on summer time. Both follow PEP 495's fold=0 and never
  depend on the machine's own zone.
* The window's length is real elapsed time: a four-hour window that spans
  the autumn change ends at 01:00 CST, not 02:00, because that is when four
  hours have passed on the servers.
* Milestones before the push (code freeze, beta start, notice deadline,
  reminders) are wall-clock offsets from the rule's start time: "14 days
  before a 22:00 push" is 22:00 local fourteen calendar days earlier, even
  when a clock change lies in between, because that is what people mean and
  what the notices say. That is Python's own arithmetic on aware datetimes
  in one zone; a resulting wall time that does not exist is resolved by the
  rule above.

All datetimes handed out are aware, in the project zone; the *_utc
properties give the same instants in UTC. Comparisons are always made in UTC
because Python compares two datetimes of the same zone by their wall time
and would call 01:30 CDT and 01:30 CST equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal

from channels.errors import CalendarError
from channels.settings import CalendarRule, load_zone, zone_of

__all__ = [
    "CalendarRule", "PushWindow", "format_window", "is_push_date", "next_pushes", "nth_weekday",
    "parse_local_datetime", "quarter_of", "resolve_local", "version_quarter", "wall_time_kind",
    "window_for_date", "window_starting",
]

WallTime = Literal["normal", "skipped", "repeated"]


def nth_weekday(year: int, month: int, weekday: int, week: int) -> date:
    """The `week`-th `weekday` of a month (week -1: the last one); weeks 1-4 always exist.

    Day arithmetic rather than the stdlib calendar module, whose import (with
    locale's) every `status` would pay for one date.
    """
    if week > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (week - 1))
    last = (date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def wall_time_kind(naive: datetime, zone: tzinfo) -> WallTime:
    """Whether a local wall time exists once, is skipped by a clock change, or happens twice."""
    first = naive.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        return "skipped"
    if first.utcoffset() != naive.replace(tzinfo=zone, fold=1).utcoffset():
        return "repeated"
    return "normal"


def resolve_local(naive: datetime, zone: tzinfo) -> datetime:
    """A wall time made an instant by the module's rule: skipped moves forward, repeated takes the first."""
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)


def _in_zone(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(UTC).astimezone(zone)


def format_window(start: datetime, end: datetime, timezone: str) -> str:
    """A window as people read it: "2026-11-14 22:00–02:00 next day America/Chicago".

    The end shows only its time when the window is shorter than a day, with
    "next day" when it ends after midnight; the zone abbreviations are added
    when a clock change falls inside the window, so the two times are never
    misread.
    """
    zone = zone_of(timezone)
    local_start, local_end = _in_zone(start, zone), _in_zone(end, zone)
    changes = local_start.utcoffset() != local_end.utcoffset()
    start_text = f"{local_start:%Y-%m-%d %H:%M}" + (f" {local_start.tzname()}" if changes else "")
    short = end.astimezone(UTC) - start.astimezone(UTC) < timedelta(days=1)
    end_text = local_end.strftime("%H:%M" if short else "%Y-%m-%d %H:%M") \
        + (f" {local_end.tzname()}" if changes else "") \
        + (" next day" if short and local_end.date() != local_start.date() else "")
    return f"{start_text}–{end_text} {timezone}"


@dataclass(frozen=True)
class PushWindow:
    """One quarterly push: its local date, maintenance window and the milestones leading to it."""

    date: date
    start: datetime
    end: datetime
    freeze: datetime
    beta_start: datetime
    notice_deadline: datetime
    reminders: tuple[datetime, ...]
    timezone: str
    note: str = ""  # set when a clock change moved the start; the CLI shows it

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        return self.end.astimezone(UTC)

    @property
    def freeze_utc(self) -> datetime:
        return self.freeze.astimezone(UTC)

    @property
    def beta_start_utc(self) -> datetime:
        return self.beta_start.astimezone(UTC)

    @property
    def notice_deadline_utc(self) -> datetime:
        return self.notice_deadline.astimezone(UTC)

    @property
    def reminders_utc(self) -> tuple[datetime, ...]:
        return tuple(moment.astimezone(UTC) for moment in self.reminders)

    @property
    def duration(self) -> timedelta:
        """Real elapsed time of the window (differs from end - start wall time across a change)."""
        return self.end_utc - self.start_utc

    def contains(self, moment: datetime) -> bool:
        """Whether an aware instant falls inside the window (start included, end excluded)."""
        return self.start_utc <= _require_aware(moment, "moment").astimezone(UTC) < self.end_utc

    @property
    def label(self) -> str:
        return format_window(self.start, self.end, self.timezone)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: every instant both in the project zone and in UTC, ISO 8601 with offsets."""
        out: dict[str, object] = {"date": self.date.isoformat(), "timezone": self.timezone}
        for name in ("start", "end", "freeze", "beta_start", "notice_deadline"):
            out[name] = getattr(self, name).isoformat()
            out[f"{name}_utc"] = getattr(self, f"{name}_utc").isoformat()
        out["reminders"] = [moment.isoformat() for moment in self.reminders]
        out["reminders_utc"] = [moment.isoformat() for moment in self.reminders_utc]
        out["note"] = self.note
        return out


def _require_aware(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise CalendarError(f"{what}: {moment!r} must be an aware datetime (with a time zone)")
    return moment


def _lay_out(rule: CalendarRule, wall: datetime, start: datetime, note: str) -> PushWindow:
    """The window starting at `start`, with milestones offset from the wall time `wall`."""
    zone = rule.zone
    return PushWindow(
        date=wall.date(),
        start=start,
        end=_in_zone(start.astimezone(UTC) + rule.window, zone),
        freeze=resolve_local(wall - rule.code_freeze, zone),
        beta_start=resolve_local(wall - rule.beta_start, zone),
        notice_deadline=resolve_local(wall - rule.notice_lead, zone),
        reminders=tuple(resolve_local(wall - offset, zone)
                        for offset in sorted(rule.reminders, reverse=True)),
        timezone=rule.timezone,
        note=note,
    )


def window_for_date(rule: CalendarRule, local_date: date) -> PushWindow:
    """The window the rule lays out on `local_date` (any date: see is_push_date for rule dates).

    Used for the rule's own dates and for a push moved to another day with the
    usual start time and length.
    """
    if not isinstance(local_date, date) or isinstance(local_date, datetime):
        raise CalendarError(f"local_date: {local_date!r} is not a date")
    zone = rule.zone
    wall = datetime.combine(local_date, rule.start)
    start = resolve_local(wall, zone)
    kind = wall_time_kind(wall, zone)
    note = ""
    if kind == "skipped":
        note = (f"{wall:%H:%M} does not exist on {local_date} in {rule.timezone} (the clocks go "
                f"forward); the window starts at {start:%H:%M %Z}")
    elif kind == "repeated":
        note = (f"{wall:%H:%M} happens twice on {local_date} in {rule.timezone}; the window starts "
                f"at the first, {start:%H:%M %Z}")
    return _lay_out(rule, wall, start, note)


def window_starting(rule: CalendarRule, start: datetime) -> PushWindow:
    """A window of the rule's length and milestones starting at an explicit instant (`schedule --at`)."""
    local = _in_zone(_require_aware(start, "start"), rule.zone)
    return _lay_out(rule, local.replace(tzinfo=None), local, "")


def is_push_date(rule: CalendarRule, local_date: date) -> bool:
    """Whether the rule puts a quarterly push on this local date."""
    return (local_date.month in rule.months
            and nth_weekday(local_date.year, local_date.month, rule.weekday, rule.week) == local_date)


def next_pushes(rule: CalendarRule, after: datetime, count: int, *,
                include_open: bool = False) -> list[PushWindow]:
    """The next `count` pushes whose window starts after `after` (an aware instant), earliest first.

    With include_open, a window in progress at `after` counts too (the
    `calendar` view during a push); scheduling wants only windows to come.
    """
    after_utc = _require_aware(after, "after").astimezone(UTC)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise CalendarError(f"count: {count!r} must be a whole number of zero or more")
    local = after_utc.astimezone(rule.zone)
    # Start a month early, defensively: a start moved forward by a clock change could
    # cross midnight into the next month (no current zone does it; the tz database changes).
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    windows: list[PushWindow] = []
    while len(windows) < count:
        if month in rule.months:
            window = window_for_date(rule, nth_weekday(year, month, rule.weekday, rule.week))
            boundary = window.end_utc if include_open else window.start_utc
            if boundary > after_utc:
                windows.append(window)
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return windows


def quarter_of(day: date) -> int:
    """The calendar quarter (1-4) a date falls in."""
    return (day.month - 1) // 3 + 1


def version_quarter(window: PushWindow) -> tuple[int, int]:
    """The (year, quarter) a build shipping in this push is versioned for: its local push date's."""
    return window.date.year, quarter_of(window.date)


# A pattern, compiled (and cached by re) when a person's time is first parsed: `status` and
# every other reader of the calendar would otherwise compile it on each start.
_AT = r"^\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})\s*$"


def parse_local_datetime(text: str, timezone: str, *, now: datetime | None) -> datetime:
    """A "YYYY-MM-DD HH:MM" wall time in `timezone` as an aware datetime in that zone.

    Unlike the calendar rule, a time typed by a person is never adjusted
    silently: a skipped time is refused, and so is a repeated one, with the
    UTC spelling of both occurrences to choose from (an hour matters for a
    maintenance window). `now` refuses anything not in the future; pass None
    only where the past is acceptable.
    """
    zone = load_zone(timezone, field="time zone")
    match = re.match(_AT, text) if isinstance(text, str) else None
    if not match:
        raise CalendarError(f"{text!r} is not a local time like 2026-11-14 22:00",
                            hint="give the date and time as YYYY-MM-DD HH:MM")
    try:
        year, month, day, hour, minute = (int(part) for part in match.groups())
        naive = datetime(year, month, day, hour, minute)
    except ValueError as err:
        raise CalendarError(f"{text.strip()!r} is not a real date and time: {err}") from err
    kind = wall_time_kind(naive, zone)
    if kind == "skipped":
        moved = resolve_local(naive, zone)
        raise CalendarError(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {timezone}: the clocks go forward that night",
            hint=f"choose a time outside the skipped hour, e.g. {moved:%Y-%m-%d %H:%M}")
    if kind == "repeated":
        first = naive.replace(tzinfo=zone, fold=0)
        second = naive.replace(tzinfo=zone, fold=1)
        raise CalendarError(
            f"{naive:%Y-%m-%d %H:%M} happens twice in {timezone} (first {first:%Z}, then {second:%Z})",
            hint=(f"give it in UTC with --tz UTC: {first.astimezone(UTC):%Y-%m-%d %H:%M} for the "
                  f"first, {second.astimezone(UTC):%Y-%m-%d %H:%M} for the second"))
    moment = resolve_local(naive, zone)
    if now is not None and moment.astimezone(UTC) <= _require_aware(now, "now").astimezone(UTC):
        raise CalendarError(
            f"{naive:%Y-%m-%d %H:%M} {timezone} is not in the future "
            f"(it is now {_in_zone(now, zone):%Y-%m-%d %H:%M %Z})",
            hint="choose a date to come, or --next-window for the next quarterly push")
    return moment
