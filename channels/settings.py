"""The channels package's calendar settings as frozen values: the quarterly rule and its time zone.

pipeline.py turns the configuration file into these; they check themselves on
construction so that no function further in ever meets an impossible rule (a
13th month, a fifth Saturday, a zone that does not exist), and every problem
is reported at once with the field that causes it.

A tier's gate settings (channels.gates.GateSettings) live with the gates that
read them: `status` needs the calendar rule for its next push but no gate, and
a frozen dataclass costs ~1 ms to define on every start (issue 8).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, time, timedelta, tzinfo
from functools import lru_cache

from .errors import CalendarError, ChannelsError

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKS = (1, 2, 3, 4, -1)
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
# Names the tz database ships that mean "whatever this machine says": a release
# schedule must not change when the pipeline moves to another host.
_HOST_DEPENDENT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    from zoneinfo import available_timezones

    return frozenset(available_timezones()) - _HOST_DEPENDENT_ZONES


def _loads(name: str) -> bool:
    """A zone that loads is a known one: one file read instead of listing the whole database.

    Listing it (available_timezones) walks ~600 files, the slowest part of every command's
    start-up (issue 8); it is left for names that do not load, to suggest a correction.
    `posix/` and `right/` copies load too but are not IANA names, so they take the slow path.
    """
    if name.split("/", 1)[0] in ("posix", "right"):
        return False
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        return False
    return True


def zone_problem(name: object) -> str | None:
    """Why `name` is not a usable IANA time zone (with a suggestion), or None when it is."""
    if not isinstance(name, str) or not name.strip():
        return f"{name!r} is not an IANA time zone name (e.g. America/Chicago)"
    if name in _HOST_DEPENDENT_ZONES:
        return f"{name!r} depends on the machine; name an IANA zone such as America/Chicago"
    if name == "UTC":
        return None  # zone_of gives datetime's own UTC, which needs no tz database
    if not _loads(name) and name not in _known_zones():
        import difflib  # only to suggest a correction

        by_case = {zone.casefold(): zone for zone in _known_zones()}
        close = by_case.get(name.casefold()) or next(
            iter(difflib.get_close_matches(name, sorted(_known_zones()), n=1, cutoff=0.8)), None)
        suggestion = f" (did you mean {close}?)" if close else " (e.g. America/Chicago)"
        return f"{name!r} is not an IANA time zone{suggestion}"
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError) as err:  # a damaged tz database file
        return f"time zone {name!r} cannot be loaded: {err}"
    return None


def zone_of(name: str) -> tzinfo:
    """The zone named `name` (one zone_problem accepts): a ZoneInfo, or for "UTC" datetime's UTC.

    UTC is the one zone that needs no tz database: its instants, offsets and names ("UTC",
    "+00:00") are those ZoneInfo("UTC") gives, and a project kept in UTC (init's default)
    then never imports zoneinfo, which with the sysconfig it reads is ~2.5 ms of every
    `status` (issue 8). Other zones still load their database file.
    """
    if name == "UTC":
        return UTC
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def load_zone(name: str, *, field: str = "timezone") -> tzinfo:
    """The zone for `name` (see zone_of), or a ChannelsError naming `field` and what is wrong with it."""
    problem = zone_problem(name)
    if problem:
        raise ChannelsError(f"{field}: {problem}")
    return zone_of(name)


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def format_duration(length: timedelta) -> str:
    """A length of time as people say it, to two units, rounded down: "3 days 4 hours".

    Rounded down so that a soak of 6 days 23 hours is never shown as "7 days"
    next to a gate that needs 7 days and fails.
    """
    if length < timedelta(0):
        return "minus " + format_duration(-length)
    minutes = int(length.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _plural(days, "day") + (f" {_plural(hours, 'hour')}" if hours else "")
    if hours:
        return _plural(hours, "hour") + (f" {_plural(minutes, 'minute')}" if minutes else "")
    if minutes or not length:
        return _plural(minutes, "minute")
    return "less than a minute"


def show_value(value: object) -> str:
    return format_duration(value) if isinstance(value, timedelta) else repr(value)


def is_whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class CalendarRule:
    """When the quarterly pushes happen, all in the project's time zone.

    `week` counts occurrences of `weekday` in the month (1..4, or -1 for the
    last one), so months=(2, 5, 8, 11), weekday=5, week=2 is "the second
    Saturday of February, May, August and November". The offsets say how long
    before the window starts each milestone falls; `reminders` are the offsets
    of reminder notices. See channels.calendar for how they are applied.
    """

    months: tuple[int, ...]
    weekday: int
    week: int
    start: time
    window: timedelta
    timezone: str
    notice_lead: timedelta
    beta_start: timedelta
    code_freeze: timedelta
    reminders: tuple[timedelta, ...] = ()

    def __post_init__(self) -> None:
        problems = rule_problems(self)
        if problems:
            raise CalendarError("calendar rule: " + "; ".join(problems),
                                hint="fix the [calendar] table of the configuration")

    @property
    def zone(self) -> tzinfo:
        return zone_of(self.timezone)

    def describe(self) -> str:
        """The rule in words, for `calendar` output: "second Saturday of Feb, May, Aug, Nov at 22:00"."""
        months = ", ".join(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                            "Nov", "Dec")[m - 1] for m in sorted(self.months))
        hours = self.window.total_seconds() / 3600
        length = f"{hours:g} hour{'s' if hours != 1 else ''}"
        return (f"{_ORDINALS[self.week]} {WEEKDAY_NAMES[self.weekday]} of {months} "
                f"at {self.start:%H:%M} {self.timezone}, {length}")


def rule_problems(rule: CalendarRule) -> list[str]:
    """Every problem of a rule, each naming its field, so one error can list them all."""
    problems: list[str] = []
    months = rule.months
    if not isinstance(months, tuple) or not months:
        problems.append(f"months: expected a non-empty tuple of months 1-12, got {months!r}")
    else:
        bad = [m for m in months if not is_whole_number(m) or not 1 <= m <= 12]
        problems.extend(f"months: {m!r} is not a month (1-12)" for m in bad)
        if not bad and len(set(months)) != len(months):
            twice = sorted({m for m in months if months.count(m) > 1}, key=repr)
            problems.append(f"months: {', '.join(map(repr, twice))} listed twice")
    if not is_whole_number(rule.weekday) or not 0 <= rule.weekday <= 6:
        problems.append(f"weekday: {rule.weekday!r} is not a weekday (0=Monday … 6=Sunday)")
    if not is_whole_number(rule.week) or rule.week not in WEEKS:
        problems.append(f"week: {rule.week!r} is not 1, 2, 3, 4 or -1 (the last one in the month)")
    if not isinstance(rule.start, time):
        problems.append(f"start: {rule.start!r} is not a time of day")
    elif rule.start.tzinfo is not None:
        problems.append("start: give a local time without a zone; the zone is the rule's timezone")
    if not isinstance(rule.window, timedelta) or rule.window <= timedelta(0):
        problems.append(f"window: {show_value(rule.window)} must be a positive length of time")
    zone = zone_problem(rule.timezone)
    if zone:
        problems.append(f"timezone: {zone}")
    for field in ("notice_lead", "beta_start", "code_freeze"):
        value = getattr(rule, field)
        if not isinstance(value, timedelta) or value < timedelta(0):
            problems.append(f"{field}: {show_value(value)} must be a length of time of zero or more")
    if not isinstance(rule.reminders, tuple):
        problems.append(f"reminders: expected a tuple of lengths of time, got {rule.reminders!r}")
    else:
        for value in rule.reminders:
            if not isinstance(value, timedelta) or value <= timedelta(0):
                problems.append(f"reminders: {show_value(value)} must be a positive length of time")
        if all(isinstance(v, timedelta) for v in rule.reminders) and \
                len(set(rule.reminders)) != len(rule.reminders):
            problems.append("reminders: an offset is listed twice")
    return problems
