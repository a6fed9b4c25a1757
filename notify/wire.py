"""A notice email as the bytes that go on the wire, assembled from parts serialised once per zone.

Building an EmailMessage and flattening it costs ~4 ms a message, nearly
all of it spent producing the same headers and quoted-printable lines for
every recipient. Here the stdlib serialises each zone's message once, with
sample values in the per-message headers (To, Date, Message-ID) and a
marker line as each body; that skeleton is cut at those places. A
recipient's message is the skeleton with their header lines, a fresh MIME
boundary and the bodies put back: body lines without a personal value were
encoded once, the few with one are encoded per recipient by the stdlib's own
quoted-printable encoder (it works line by line, so lines encode
independently). Header lines come from the stdlib's header classes, except
the common `To: Plain Name <plain@address>` that fits on one line, which is
exactly its own text.

`Letters.outgoing` returns None whenever any of this cannot be shown to give
the bytes `message_bytes(render_message(...))` gives (see notify.stencil);
the caller then composes the message in full. tests/notify/test_wire.py
compares the two for a varied set of recipients.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.generator import Generator
from email.headerregistry import Address
from email.quoprimime import body_encode
from typing import ClassVar

from .compose import PreparedNotice, Recipient
from .errors import NotifyError
from .message import (
    MAX_LINE_OCTETS,
    POLICY,
    Envelope,
    Outgoing,
    build_message,
    header_line,
    longest_line,
    message_bytes,
    message_id_for,
    recipient_address,
)
from .settings import NotifySettings
from .stencil import Marks, Stencil, fits, personal_values, stencil_for, substitutable

CRLF = b"\r\n"
_SAMPLE_DATE = datetime(2000, 1, 1, tzinfo=UTC)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9'-]+(?: [A-Za-z0-9'-]+)*\Z")  # atoms only: nothing to quote or encode
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\Z")


# A line quoted-printable leaves as it is: printable ASCII but "=", with spaces and tabs only inside,
# short enough for no soft break. Lines with a recipient's name are encoded per message; most are such.
_QP_AS_IS = re.compile(rb"[\t !-<>-~]*[!-<>-~]\Z")
_QP_AS_IS_MAX = 76


def qp_line(line: bytes) -> bytes:
    """One body line, quoted-printable as `set_content(cte="quoted-printable")` encodes it (CRLF breaks).

    The stdlib encoder costs ~5 µs a line; the check for a line it would leave alone, ~0.3 µs.
    """
    if not line or (len(line) <= _QP_AS_IS_MAX and _QP_AS_IS.match(line)):
        return line
    return body_encode(line.decode("latin-1") + "\n", POLICY.max_line_length, "\r\n")[:-2].encode("ascii")


def to_line(display: str, email: str) -> bytes:
    """The To header for `recipient_address(display, email)` as the generator writes it (`display`
    already cleaned by single_line, as recipient_address cleans it)."""
    if _PLAIN_ADDRESS.match(email) and (not display or _PLAIN_NAME.match(display)):
        line = f"To: {display} <{email}>" if display else f"To: {email}"
        if len(line) <= POLICY.max_line_length:
            return line.encode("ascii") + CRLF
    return header_line("To", recipient_address(display, email))


class _Body:
    """A body's wire lines: runs of lines without a marker encoded once, marked lines kept as pieces.

    Marked lines are encoded per recipient, but remembered: an organisation's footer line is the
    same for all its people.
    """

    REMEMBERED = 4096

    def __init__(self, text: str, marks: re.Pattern[bytes]) -> None:
        self._encoded: dict[bytes, bytes] = {}
        self.segments: list[bytes | list[bytes]] = []
        run: list[bytes] = []
        for line in text.encode("utf-8").splitlines():
            pieces = marks.split(line)
            if len(pieces) == 1:
                run.append(qp_line(line) + CRLF)
                continue
            if run:
                self.segments.append(b"".join(run))
                run = []
            self.segments.append(pieces)
        if run:
            self.segments.append(b"".join(run))
        if not self.segments:   # an empty body is one empty line, as the stdlib writes it
            self.segments.append(CRLF)

    def wire(self, values: dict[bytes, bytes]) -> bytes:
        line = self._line
        return b"".join(seg if isinstance(seg, bytes) else line(b"".join([values.get(p, p) for p in seg]))
                        for seg in self.segments)

    def _line(self, line: bytes) -> bytes:
        encoded = self._encoded.get(line)
        if encoded is None:
            if len(self._encoded) >= self.REMEMBERED:
                self._encoded.clear()
            encoded = self._encoded[line] = qp_line(line) + CRLF
        return encoded


class _Skeleton:
    """A zone's whole message with its per-recipient parts cut out (see the module docstring)."""

    # where each cut must appear: the boundary in Content-Type and on its three delimiter lines
    SLOTS: ClassVar[dict[str, int]] = {"to": 1, "date": 1, "message_id": 1, "boundary": 4, "text": 1,
                                       "html": 1}

    def __init__(self, settings: NotifySettings, stencil: Stencil, marks: Marks) -> None:
        pattern = re.compile("(" + "|".join((marks.name, marks.organisation, marks.email)) + ")")
        bytes_pattern = re.compile(pattern.pattern.encode("ascii"))
        self.text = _Body(stencil.text, bytes_pattern)
        self.html = _Body(stencil.html, bytes_pattern)
        self.domain = settings.message_domain
        sample_to = Address(addr_spec=f"{marks.email}@example.invalid")
        sample_id = message_id_for(marks.name, "sample@example.invalid", self.domain)
        text_mark, html_mark = f"{marks.name}text", f"{marks.name}html"
        msg = build_message(envelope=Envelope(settings.sender_address, sample_to, settings.reply_to_address),
                            subject=stencil.subject, text=text_mark, html=html_mark, message_id=sample_id,
                            date=_SAMPLE_DATE)
        data = message_bytes(msg)
        boundary = msg.get_boundary()
        mid_line = header_line("Message-ID", sample_id)
        # The per-message ID differs from the sample only in its hex digits, so it folds the same way;
        # that way is "verbatim" unless the message domain is very long.
        self.verbatim_id = mid_line == f"Message-ID: {sample_id}".encode("ascii") + CRLF
        cuts = {header_line("To", sample_to): "to", header_line("Date", _SAMPLE_DATE): "date",
                mid_line: "message_id", text_mark.encode("ascii") + CRLF: "text",
                html_mark.encode("ascii") + CRLF: "html"}
        if boundary:
            cuts[boundary.encode("ascii")] = "boundary"
        splitter = re.compile(b"(" + b"|".join(re.escape(c) for c in cuts) + b")")
        self.parts: list[bytes | str] = [cuts.get(p, p) if i % 2 else p
                                         for i, p in enumerate(splitter.split(data))]
        found = {slot: sum(1 for i, p in enumerate(self.parts) if i % 2 and p == slot) for slot in self.SLOTS}
        self.usable = found == self.SLOTS

    def assemble(self, slots: dict[str, bytes]) -> bytes:
        return b"".join(slots[p] if isinstance(p, str) else p for p in self.parts)


class Letters:
    """Each recipient's message for one notice run: from the zone's skeleton when that provably gives
    the same bytes as composing it in full, else None (the caller composes it)."""

    def __init__(self, settings: NotifySettings, notice_key: str, prepared: PreparedNotice) -> None:
        self.settings, self.notice_key, self.prepared = settings, notice_key, prepared
        self.enabled = substitutable(prepared)
        self.marks = Marks.new()
        self._skeletons: dict[tuple[str, bool, bool], _Skeleton | None] = {}
        self._date: tuple[datetime | None, bytes] = (None, b"")

    def outgoing(self, recipient: Recipient, now: datetime) -> Outgoing | None:
        if not self.enabled or now.tzinfo is None:
            return None
        name, organisation, email = values = personal_values(recipient)
        if not email or not all(fits(v, self.prepared) for v in values):
            return None  # (the stencils always have an address: a blank one would take other branches)
        skeleton = self._skeleton(recipient.time_zone, bool(name), bool(organisation))
        if skeleton is None:
            return None
        try:
            to = to_line(name, email)
            message_id = message_id_for(self.notice_key, email, self.settings.message_domain)
        except (NotifyError, ValueError):
            return None  # composing in full raises the error to record, in its own words
        mid_line = (f"Message-ID: {message_id}".encode("ascii") + CRLF if skeleton.verbatim_id
                    else header_line("Message-ID", message_id))
        # The skeleton passed message_bytes' check when it was built and quoted-printable lines have at
        # most 78 octets, so only header lines made here can break the limit (a huge folded address).
        if longest_line(to + mid_line) > MAX_LINE_OCTETS:
            return None  # composing in full reports it
        marks = self.marks
        personal = {marks.name.encode("ascii"): name.encode("utf-8"),
                    marks.organisation.encode("ascii"): organisation.encode("utf-8"),
                    marks.email.encode("ascii"): email.encode("utf-8")}
        data = skeleton.assemble({
            "to": to, "date": self._date_line(now), "message_id": mid_line,
            # the generator draws a new random boundary for every message; so does this
            "boundary": Generator._make_boundary().encode("ascii"),
            "text": skeleton.text.wire(personal), "html": skeleton.html.wire(personal),
        })
        return Outgoing(message_id, data)

    def _skeleton(self, zone: str, named: bool, placed: bool) -> _Skeleton | None:
        key = (zone, named, placed)
        if key not in self._skeletons:
            try:
                stencil = stencil_for(self.prepared, self.marks, zone, named=named, placed=placed)
                skeleton: _Skeleton | None = _Skeleton(self.settings, stencil, self.marks)
            except NotifyError:
                skeleton = None   # a zone that cannot be rendered: every such recipient fails in full
            self._skeletons[key] = skeleton if skeleton is not None and skeleton.usable else None
        return self._skeletons[key]

    def _date_line(self, now: datetime) -> bytes:
        """The Date header changes once a second at most, and formatting it is a header parse."""
        second = now.astimezone(UTC).replace(microsecond=0)
        if self._date[0] != second:
            self._date = (second, header_line("Date", second))
        return self._date[1]
