"""Each recipient's notice of one run, as the bytes that go on the wire.

The content comes from `stencil.Contents` (the zone's stencil where that
provably renders what the templates would, else the templates in full); the
message is always made by `Letterhead.message` and serialised by the stdlib's
generator (notify.message). What is the same for the whole run (sender,
reply-to, the stencils, the headers every message shares) is made once.
"""

from __future__ import annotations

from datetime import datetime

from .compose import PreparedNotice, Recipient
from .message import Letterhead, Outgoing, serialised
from .settings import NotifySettings
from .stencil import Contents


class Letters:
    """The messages of one notice run, one recipient at a time."""

    def __init__(self, settings: NotifySettings, notice_key: str, prepared: PreparedNotice) -> None:
        self.notice_key, self.prepared = notice_key, prepared
        self.letterhead = Letterhead.of(settings)
        self.contents = Contents(prepared)

    def outgoing(self, recipient: Recipient, now: datetime) -> Outgoing:
        """The recipient's message, dated `now`; NotifyError when they cannot be written to (their
        address, their time zone) or the message could not be sent as it is."""
        content = self.contents.render(recipient)
        return serialised(self.letterhead.message(notice_id=self.notice_key, recipient=recipient,
                                                  content=content, date=now))
