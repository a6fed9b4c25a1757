"""The one error family of the channels package (tiers, audiences, beta programme, calendar, gates)."""

from __future__ import annotations


class ChannelsError(Exception):
    """A channel, audience, calendar or gate request cannot be carried out; the message says why."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
