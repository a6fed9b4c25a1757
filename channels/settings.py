"""The channels package's part of the configuration: the calendar, each tier's gates and
audience, and the project's time zone, as plain-data key tables and frozen values.

The key tables (PROJECT, TIER, GATES, CALENDAR) have the shape described in
releases.settings; pipeline.py checks the file against them with its one checker and
builds these values with `calendar_rule` and `gate_settings`. The values check
themselves on construction, with the same functions the key tables name, so that no
function further in ever meets an impossible rule (a 13th month, a fifth Saturday, a
zone that does not exist) and `config check` refuses exactly what a later command would.

A tier's gate settings (channels.gates.gates.GateSettings) live with the gates that read them:
`status` needs the calendar rule for its next push but no gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, time, timedelta, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from channels.errors import CalendarError, ChannelsError
from releases.settings import Spec

if TYPE_CHECKING:
    from channels.gates.gates import GateSettings

INTERNAL, BETA, EVERYONE = "internal", "beta", "everyone"
CHANNELS = (INTERNAL, BETA, EVERYONE)

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS = tuple(name.lower() for name in WEEKDAY_NAMES)  # as the configuration spells them
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

    Listing it (available_timezones) walks every file of the tz database, far more than a
    command's start-up may spend; it is left for names that do not load, to suggest a correction.
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
    then never imports zoneinfo and the sysconfig it reads (issue 8). Other zones still
    load their database file.
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


# The shortest maintenance window: shorter is a typo (minutes given as hours), and no notice
# can promise hospices a push that fits in it. The key table and the rule both use it.
MIN_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class CalendarRule:
    """When the quarterly pushes happen, all in the project's time zone.

    `week` counts occurrences of `weekday` in the month (1..4, or -1 for the
    last one), so months=(2, 5, 8, 11), weekday=5, week=2 is "the second
    Saturday of February, May, August and November". The offsets say how long
    before the window starts each milestone falls; `reminders` are the offsets
    of reminder notices. See channels.calendar.calendar for how they are applied.
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
    auto_push: bool = False  # `tick` runs the scheduled push itself when its window opens

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
    months = months_problem(rule.months) if isinstance(rule.months, tuple) \
        else f"expected a non-empty tuple of months 1-12, got {rule.months!r}"
    if months:
        problems.append(f"months: {months}")
    if not is_whole_number(rule.weekday) or not 0 <= rule.weekday <= 6:
        problems.append(f"weekday: {rule.weekday!r} is not a weekday (0=Monday … 6=Sunday)")
    if not is_whole_number(rule.week) or rule.week not in WEEKS:
        problems.append(f"week: {rule.week!r} is not 1, 2, 3, 4 or -1 (the last one in the month)")
    if not isinstance(rule.start, time):
        problems.append(f"start: {rule.start!r} is not a time of day")
    elif rule.start.tzinfo is not None:
        problems.append("start: give a local time without a zone; the zone is the rule's timezone")
    if not isinstance(rule.window, timedelta) or rule.window < MIN_WINDOW:
        problems.append(f"window: {show_value(rule.window)} is shorter than {show_value(MIN_WINDOW)}, "
                        "the shortest maintenance window")
    zone = zone_problem(rule.timezone)
    if zone:
        problems.append(f"timezone: {zone}")
    for field in ("notice_lead", "beta_start", "code_freeze"):
        value = getattr(rule, field)
        if not isinstance(value, timedelta) or value < timedelta(0):
            problems.append(f"{field}: {show_value(value)} must be a length of time of zero or more")
    reminders = reminders_problem(rule.reminders) if isinstance(rule.reminders, tuple) \
        else f"expected a tuple of lengths of time, got {rule.reminders!r}"
    if reminders:
        problems.append(f"reminders: {reminders}")
    return problems


def months_problem(months: Sequence[Any]) -> str | None:
    """What is wrong with the months of the quarterly pushes (each 1-12, at least one, none twice)."""
    if not months:
        return f"expected a non-empty {type(months).__name__} of months 1-12, got {months!r}"
    bad = [m for m in months if not is_whole_number(m) or not 1 <= m <= 12]
    if bad:
        return "; ".join(f"{m!r} is not a month (1-12)" for m in bad)
    twice = sorted({m for m in months if months.count(m) > 1}, key=repr)
    return f"{', '.join(map(repr, twice))} listed twice" if twice else None


def reminders_problem(reminders: Sequence[Any]) -> str | None:
    """What is wrong with the reminder offsets before a push (each positive, none twice)."""
    bad = [v for v in reminders if not isinstance(v, timedelta) or v <= timedelta(0)]
    if bad:
        return "; ".join(f"{show_value(v)} must be a positive length of time" for v in bad)
    return "an offset is listed twice" if len(set(reminders)) != len(reminders) else None


def parse_hhmm(text: str) -> time:
    """A window start written as 22:00; ValueError when it is not a time of day."""
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2
            and 0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
        raise ValueError(f"{text!r} is not a time like 22:00")
    return time(int(hours), int(minutes))


def _start_problem(text: str) -> str | None:
    try:
        parse_hhmm(text)
    except ValueError as err:
        return str(err)
    return None


def _reminder_days_problem(days: list[int]) -> str | None:
    return reminders_problem(tuple(timedelta(days=d) for d in days))


# The project's time zone is written in [project] but read only through this package.
PROJECT: Spec = {"timezone": {"type": str, "default": "UTC", "check": zone_problem}}
def tier_url_problem(url: str) -> str | None:
    """What is wrong with a tier's `url`, the address its channel's readers open (None when fine)."""
    from urllib.parse import urlsplit

    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError as err:
        return f"{url!r} is not a URL ({err})"
    if parts.scheme not in ("https", "http") or not parts.hostname or any(c.isspace() for c in url) \
            or not url.isprintable():
        return f"{url!r} is not an http(s) address; write it as https://beta.example.org/"
    return None


# `url`: where the tier's readers use the application (the beta system, in the beta-available notice)
TIER: Spec = {"channel": {"type": str, "default": EVERYONE, "choices": CHANNELS},
              "url": {"type": str, "default": "", "check": tier_url_problem}}
GATES: Spec = {
    "soak_days": {"type": (int, float), "default": 0, "minimum": 0},
    "min_signoffs": {"type": int, "default": 0, "minimum": 0},
    "no_open_blockers": {"type": bool, "default": False},
    "require_window": {"type": bool, "default": False},
    "advance_notice": {"type": bool, "default": False},
}
CALENDAR: Spec = {
    "months": {"type": list, "default": [2, 5, 8, 11], "item": int, "check": months_problem},
    "weekday": {"type": str, "default": "saturday", "choices": WEEKDAYS},
    "week": {"type": int, "default": 2, "choices": WEEKS},
    "start": {"type": str, "default": "22:00", "check": _start_problem},
    "window_hours": {"type": (int, float), "default": 4, "minimum": MIN_WINDOW / timedelta(hours=1)},
    "notice_lead_days": {"type": int, "default": 14, "minimum": 0},
    "beta_start_days": {"type": int, "default": 21, "minimum": 0},
    "code_freeze_days": {"type": int, "default": 28, "minimum": 0},
    "reminder_days": {"type": list, "default": [7, 1], "item": int, "check": _reminder_days_problem},
    "auto_push": {"type": bool, "default": False},
}


def calendar_rule(calendar: dict[str, Any], timezone: str) -> CalendarRule:
    """The checked [calendar] table and the project's time zone as a CalendarRule."""
    return CalendarRule(
        months=tuple(calendar["months"]), weekday=WEEKDAYS.index(calendar["weekday"]),
        week=calendar["week"], start=parse_hhmm(calendar["start"]),
        window=timedelta(hours=calendar["window_hours"]), timezone=timezone,
        notice_lead=timedelta(days=calendar["notice_lead_days"]),
        beta_start=timedelta(days=calendar["beta_start_days"]),
        code_freeze=timedelta(days=calendar["code_freeze_days"]),
        reminders=tuple(timedelta(days=d) for d in calendar["reminder_days"]),
        auto_push=calendar["auto_push"])


def gate_settings(gates: dict[str, Any]) -> GateSettings:
    """A checked [gates.TIER] table as the gates' settings (the notice gate is notify's)."""
    from channels.gates.gates import GateSettings

    soak = gates.get("soak_days", 0)
    return GateSettings(min_soak=timedelta(days=soak) if soak else None,
                        min_signoffs=gates.get("min_signoffs", 0),
                        no_open_blockers=gates.get("no_open_blockers", False),
                        require_window=gates.get("require_window", False))


INIT_GATES_CALENDAR = '''\
# Gates a build must pass to enter a tier; `--force --reason` overrides and is recorded.
[gates.production]
soak_days = 7                 # days on staging
min_signoffs = 1              # beta organisations that signed off
no_open_blockers = true
require_window = true         # only inside the scheduled maintenance window
advance_notice = true         # the advance notice went out notice_lead_days before

[calendar]
months = [2, 5, 8, 11]        # quarterly pushes
weekday = "saturday"
week = 2                      # second Saturday; -1 for the last
start = "22:00"               # window start, project time zone
window_hours = 4
notice_lead_days = 14         # advance notice at least this long before the window
beta_start_days = 21          # build on staging this long before
code_freeze_days = 28
reminder_days = [7, 1]
auto_push = false             # let `quarterdeck tick` run the scheduled push by itself

'''
