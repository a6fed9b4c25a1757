"""The maintenance window as an entry in the readers' calendars (RFC 5545, made by `icalendar`).

Every notice about one push carries the same UID, so Outlook, Google Calendar
and Apple Calendar keep one entry and change it: a later notice with a higher
SEQUENCE moves it, METHOD:CANCEL removes it. The entry is published, not an
invitation to a meeting: nobody is asked to accept, and it is transparent, so
it never shows the reader as busy.

Pure: the values come from the notice (notify.notices works out the UID and
SEQUENCE from the ledger); `icalendar` is imported only when an entry is made,
so commands that compose no notice never load it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from notify.mail.calendar_part import Invitation

PRODID = "-//Quarterdeck//maintenance notices//EN"


class _Span(Protocol):
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...


@dataclass(frozen=True)
class CalendarEntry:
    """What keeps one push the same calendar entry across its notices."""

    uid: str            # one per push: the same in the advance, reminder, rescheduled and cancelled notices
    sequence: int       # raised by each announcement after the first (a move, a cancellation)
    stamp: datetime     # when the notice was made (DTSTAMP): a resumed send writes the same entry
    organizer: str      # the sender's address
    cancelled: bool = False


def push_uid(build_id: str, domain: str) -> str:
    """The push's UID: the build goes to production once, so the build names the push."""
    return f"push.{build_id}@{domain}"


def invitation(entry: CalendarEntry, window: _Span, *, project: str, version: str,
               description: str) -> Invitation:
    """The window as an iCalendar object with its METHOD, ready to attach."""
    from icalendar import Calendar, Event, vCalAddress  # only a notice with a calendar entry loads it

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    method = "CANCEL" if entry.cancelled else "PUBLISH"
    calendar.add("method", method)
    event = Event()
    event.add("uid", entry.uid)
    event.add("sequence", entry.sequence)
    event.add("dtstamp", entry.stamp.astimezone(UTC))
    event.add("dtstart", window.start.astimezone(UTC))
    event.add("dtend", window.end.astimezone(UTC))
    summary = f"{project} update to {version}: maintenance window"
    event.add("summary", f"Cancelled: {summary}" if entry.cancelled else summary)
    event.add("description", description)
    event.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT")
    event.add("organizer", vCalAddress(f"mailto:{entry.organizer}"))
    calendar.add_component(event)
    return Invitation(method, calendar.to_ical())
