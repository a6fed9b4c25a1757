"""What every notice says in the same words: what to do, whether the application is unavailable,
and dates, times and durations (English, whatever the process locale; readers read English notices).

Pure. notify.content.compose fills the templates with these; they are apart from it so that the
wording can be read, and changed, in one place.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from notify.errors import NotifyError
from notify.mail.message import single_line
from notify.settings import DEFAULT_DOWNTIME, downtime_problem
from notify.vocabulary import NoticeKind

if TYPE_CHECKING:
    from notify.content.compose import NoticeContext

DEFAULT_USER_ACTION = ("Nothing: the update is installed on our servers. "
                       "You do not need to install or change anything.")
ACTIONS_INTRO = "Please do the following before the update:"
NO_CONTACT = "Reply to this email."
_AVAILABILITY = {  # the kinds whose window does not take the application away
    NoticeKind.BETA_AVAILABLE: "{project} itself is not affected: the beta system is a separate copy, "
                               "and nothing you use every day is unavailable.",
    NoticeKind.CANCELLED: "{project} stays available: there is no interruption.",
    NoticeKind.COMPLETED: "The maintenance window is over: {project} is available again.",
}
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


class _Span(Protocol):
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def duration(self) -> timedelta: ...


def user_action(ctx: NoticeContext) -> str:
    """What readers must do, as plain text: said in full by the caller, else the notes'
    action-required items, else that there is nothing to do."""
    if ctx.user_action.strip():
        return ctx.user_action.strip()
    if not ctx.actions:
        return DEFAULT_USER_ACTION
    items = [f"- {single_line(a.change)}"
             + (f"\n  What to do: {single_line(a.todo)}" if a.todo.strip() else "") for a in ctx.actions]
    return "\n".join([ACTIONS_INTRO, *items])


def availability(ctx: NoticeContext, kind: NoticeKind) -> str:
    """How long the application is unavailable (or that it is not), in one sentence."""
    project = single_line(ctx.project)
    if kind in _AVAILABILITY:
        return _AVAILABILITY[kind].format(project=project)
    if ctx.window is None:
        return ""
    sentence = ctx.downtime.strip() or DEFAULT_DOWNTIME
    problem = downtime_problem(sentence)
    if problem:
        raise NotifyError(f"notify.downtime: {problem}")
    return single_line(sentence.format(project=project, duration=format_duration(ctx.window.duration)))


def plain_availability(ctx: NoticeContext, kind: NoticeKind) -> str:
    """The calendar entry's description: the availability and whom to contact."""
    contact = ctx.support_contact.strip() or NO_CONTACT
    said = availability(ctx, kind)
    if kind is NoticeKind.CANCELLED:
        said = f"Cancelled: the update of {single_line(ctx.project)} to {single_line(ctx.version)} " \
               f"will not take place in this window. {said}"
    return f"{said}\nQuestions or problems: {contact}"


# -- dates, times and durations -------------------------------------------------------------------

def format_day(at: datetime) -> str:
    """`Saturday 14 March 2026`, without depending on the process locale."""
    return f"{_DAYS[at.weekday()]} {at.day} {_MONTHS[at.month - 1]} {at.year}"


def format_moment(at: datetime, zone: ZoneInfo) -> str:
    """`Saturday 14 March 2026, 18:00 EDT` in `zone`."""
    local = at.astimezone(zone)
    return f"{format_day(local)}, {local:%H:%M} {_abbreviation(local)}"


def format_window(window: _Span, zone: ZoneInfo) -> str:
    """`Saturday 14 March 2026, 22:00–23:30 GMT`, or both days when the window crosses midnight.

    Each end carries its own abbreviation when they differ, so a window
    across a DST change reads correctly (`01:00 GMT–04:00 BST`).
    """
    start, end = window.start.astimezone(zone), window.end.astimezone(zone)
    if start.date() != end.date():
        return f"{format_moment(start, zone)} – {format_moment(end, zone)}"
    if _abbreviation(start) != _abbreviation(end):
        return f"{format_day(start)}, {start:%H:%M} {_abbreviation(start)}–{end:%H:%M} {_abbreviation(end)}"
    return f"{format_day(start)}, {start:%H:%M}–{end:%H:%M} {_abbreviation(end)}"


def format_duration(span: timedelta) -> str:
    """`4 hours`, `1 hour 30 minutes`, `45 minutes` (real elapsed time, rounded to the minute)."""
    minutes = round(span.total_seconds() / 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if minutes or not hours:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def _abbreviation(local: datetime) -> str:
    name = local.tzname() or ""
    if name and name[0] not in "+-":
        return name
    return local.strftime("UTC%z")[:-2] + ":" + local.strftime("%z")[-2:]  # zones without letters
