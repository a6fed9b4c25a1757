"""The one error family of the channels package (tiers, audiences, beta programme, calendar, gates)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from releases.errors import HintedError

if TYPE_CHECKING:
    from channels.audience.contacts import LineProblem


class ChannelsError(HintedError):
    """A channel, audience, calendar or gate request cannot be carried out; the message says why."""


class CalendarError(ChannelsError):
    """A calendar rule or a requested push time is invalid (names the field or the local time)."""


class SignoffError(ChannelsError):
    """A beta sign-off breaks the programme's rules (not enrolled, not on staging, already signed)."""


class ContactsImportError(ChannelsError):
    """A contacts file was rejected whole; `problems` lists every bad line, nothing was imported."""

    def __init__(self, source: str, problems: Sequence[LineProblem], hint: str | None = None) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = len({p.line for p in self.problems})
        head = (f"{source}: {lines} bad line{'s' if lines != 1 else ''}, "
                "nothing was imported")
        super().__init__("\n".join([head, *(str(p) for p in self.problems)]),
                         hint or "fix every line listed and import the whole file again")


