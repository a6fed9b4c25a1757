"""The values of a notice's calendar entry part: the iCalendar object to attach, and the outer
boundary of the multipart/mixed that holds it beside the text and HTML alternatives.

The part itself is made by notify.mail.message.framed_message, the one place a notice's MIME
structure is made; notify.mail.wire finds the outer boundary in the serialised message by
`mixed_boundary`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Invitation:
    """A notice's calendar entry (RFC 5545 text made by notify.content.calendar_entry), attached so
    that the recipient's calendar shows the maintenance window and follows it when it moves."""

    method: str        # PUBLISH, or CANCEL when the push is cancelled
    ics: bytes         # the iCalendar object, CRLF line ends as RFC 5545 writes them
    filename: str = "maintenance-window.ics"


def mixed_boundary(boundary: str) -> str:
    """The outer boundary of a notice with a calendar entry, made from the message's own one.

    Neither boundary starts with the other ("=_m" is followed by a letter that is not a hex digit),
    so no parser can take one for the other, and each message still has one random value.
    """
    return f"=_m{boundary[2:]}"
