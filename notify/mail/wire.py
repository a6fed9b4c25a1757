"""Each recipient's notice of one run, as the bytes that go on the wire.

A notice is made by `message.framed_message` and serialised by the stdlib's
generator once per content: for the recipients of a zone stencil (see
stencil.Contents), once for the whole zone. That serialised message, the
skeleton, holds stand-ins where a recipient's own parts go: the To, Date and
Message-ID header lines, the MIME boundary (and the outer one made from it), and each body line that carries
one of their values. Their message is the skeleton with those parts made for
them by the same functions that made the rest: their headers folded by the
policy (`message.personal_headers`), a new boundary, their body lines encoded
by `message.quoted_printable` (quoted-printable encodes line by line, so an
encoded body is its encoded lines one after another). Content rendered in
full gets a skeleton of its own. tests/notify/test_wire.py checks each
message against `message.build_message` for the same recipient.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from notify.content.compose import Composed, PreparedNotice, Recipient
from notify.errors import NotifyError
from notify.mail.calendar_part import mixed_boundary
from notify.mail.message import (
    MAX_LINE_OCTETS,
    POLICY,
    Header,
    Letterhead,
    Outgoing,
    Personal,
    framed_message,
    longest_line,
    message_bytes,
    message_id_for,
    new_boundary,
    personal_headers,
    quoted_printable,
    recipient_address,
)
from notify.mail.stencil import Contents, Stencil, filled
from notify.settings import NotifySettings


class Skeleton:
    """One content's message, serialised, with its recipient's parts cut out (see the module docstring)."""

    def __init__(self, letterhead: Letterhead, content: Composed, marks: re.Pattern[str] | None) -> None:
        token = f"qdslot{secrets.token_hex(12)}"
        self.lines: list[str] = []   # the body lines that hold a mark, in order
        text = self._stand_in(content.text, marks, token)
        html = self._stand_in(content.html, marks, token)
        stand_ins = Personal(Header("To", f"{token}to"), Header("Date", f"{token}date"),
                             Header("Message-ID", f"{token}id"), new_boundary())
        data = message_bytes(framed_message(sender=letterhead.sender, reply_to=letterhead.reply_to,
                                            subject=content.subject, personal=stand_ins, text=text,
                                            html=html, invitation=content.invitation))
        cuts: dict[bytes, str | int] = {
            stand_ins.to.fold(policy=POLICY).encode("ascii"): "to",
            stand_ins.date.fold(policy=POLICY).encode("ascii"): "date",
            stand_ins.message_id.fold(policy=POLICY).encode("ascii"): "message_id",
            stand_ins.boundary.encode("ascii"): "boundary",
            mixed_boundary(stand_ins.boundary).encode("ascii"): "mixed"}
        cuts.update({f"{token}l{n}\r\n".encode("ascii"): n for n in range(len(self.lines))})
        splitter = re.compile(b"(" + b"|".join(map(re.escape, sorted(cuts, key=len, reverse=True))) + b")")
        self.parts: list[bytes | str | int] = [cuts[p] if i % 2 else p
                                               for i, p in enumerate(splitter.split(data))]
        found = [p for i, p in enumerate(self.parts) if i % 2]
        # each boundary: once in its Content-Type, before each of its two parts and at its end
        mixed = ["mixed"] * 4 if content.invitation is not None else []
        expected = ["to", "date", "message_id", *["boundary"] * 4, *mixed, *range(len(self.lines))]
        if sorted(map(str, found)) != sorted(map(str, expected)):
            raise NotifyError("a notice's places for each recipient's own parts were not found once each "
                              "in its serialised message", hint="this is a bug: please report it")

    def _stand_in(self, body: str, marks: re.Pattern[str] | None, token: str) -> str:
        """`body` with each line that holds a mark replaced by a stand-in line (lines split as
        `quoted_printable` splits them)."""
        if marks is None:
            return body
        lines = []
        for raw in body.encode("utf-8").splitlines():
            line = raw.decode("utf-8")
            if marks.search(line):
                lines.append(f"{token}l{len(self.lines)}")
                self.lines.append(line)
            else:
                lines.append(line)
        return "".join(line + "\n" for line in lines)

    def fill(self, personal: Personal, marks: re.Pattern[str] | None, values: dict[str, str]) -> bytes:
        """The message of the recipient whose headers are `personal` and whose values the marks stand for."""
        headers: dict[str | int, bytes] = {name: header.fold(policy=POLICY).encode("ascii")
                   for name, header in (("to", personal.to), ("date", personal.date),
                                        ("message_id", personal.message_id))}
        longest = longest_line(b"".join(headers.values()))
        if longest > MAX_LINE_OCTETS:
            raise NotifyError(f"message {personal.message_id} has a line of {longest} octets "
                              f"(limit {MAX_LINE_OCTETS})", hint="this is a bug: please report it")
        slots: dict[str | int, bytes] = {**headers, "boundary": personal.boundary.encode("ascii"),
                                         "mixed": mixed_boundary(personal.boundary).encode("ascii")}
        if marks is not None:
            for n, line in enumerate(self.lines):
                encoded = quoted_printable(filled(line, marks, values)).encode("ascii")
                slots[n] = encoded.replace(b"\n", b"\r\n")   # the wire's line ends, as the generator writes
        return b"".join(p if isinstance(p, bytes) else slots[p] for p in self.parts)


class Letters:
    """The messages of one notice run, one recipient at a time."""

    def __init__(self, settings: NotifySettings, notice_key: str, prepared: PreparedNotice) -> None:
        self.notice_key, self.prepared = notice_key, prepared
        self.letterhead = Letterhead.of(settings)
        self.contents = Contents(prepared)
        self._skeletons: dict[int, Skeleton] = {}   # by id() of the zone stencils the contents keep

    def outgoing(self, recipient: Recipient, now: datetime) -> Outgoing:
        """The recipient's message, dated `now`; NotifyError when they cannot be written to (their
        time zone, their address) or the message could not be sent as it is."""
        marked = self.contents.stencil(recipient)
        if marked is None:
            values: dict[str, str] = {}
            skeleton, marks = self._skeleton(None, self.prepared.render(recipient)), None
        else:
            stencil, values = marked
            skeleton, marks = self._skeleton(stencil, stencil.content), self.contents.pattern
        message_id = message_id_for(self.notice_key, recipient.email, self.letterhead.domain)
        personal = personal_headers(recipient_address(recipient.name, recipient.email), message_id, now)
        return Outgoing(message_id, skeleton.fill(personal, marks, values))

    def _skeleton(self, stencil: Stencil | None, content: Composed) -> Skeleton:
        if stencil is None:
            return Skeleton(self.letterhead, content, None)
        skeleton = self._skeletons.get(id(stencil))
        if skeleton is None:
            skeleton = Skeleton(self.letterhead, content, self.contents.pattern)
            self._skeletons[id(stencil)] = skeleton
        return skeleton
