"""One notice email for one recipient, and its exact bytes on the wire.

Pure: no clock, no network. A notice's MIME structure is made only here
(`framed_message`, an EmailMessage) and serialised only by the stdlib's
generator; notify.mail.wire does that once per zone and fills in each
recipient's own parts, made by the functions here (`personal_headers`,
`quoted_printable`).

Headers are header objects as `email.policy` describes them, made only from
values that have had every line-breaking character taken out of their free
text (names, organisations, subjects), so no value can start a header of its
own. Both body parts are quoted-printable UTF-8 (a calendar entry, base64): the whole message is 7-bit
ASCII with short lines, so it needs neither 8BITMIME nor SMTPUTF8 from the
server and no line comes near the 998-octet limit, whatever the release
notes contain.

A run writes thousands of messages that share most of their headers, so a
header is folded once per value (`Header`): the ones every message of a run
carries are made by the stdlib's header registry once, and the ones that
differ per recipient (To, Date, Message-ID) are composed as header text by
`email.utils` and folded by the policy, which writes text whose lines fit as
it is and has longer text folded by the registry.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import quopri
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP, EmailPolicy
from email.utils import format_datetime, formataddr
from typing import Any, Protocol

from notify.errors import NotifyError
from notify.mail.calendar_part import Invitation, mixed_boundary
from notify.settings import NotifySettings, check_domain


class _HeaderClasses(HeaderRegistry):
    """The stdlib registry, building each header class once.

    `HeaderRegistry.__getitem__` creates a new class with `type()` on every
    lookup, and an EmailMessage looks one up for every header it is given (to
    know how many of that header it may hold). The classes it builds are
    equivalent, so one per header name gives the same headers and the same bytes.
    """

    def __init__(self) -> None:
        super().__init__()
        self._built: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        built = self._built.get(key)
        if built is None:
            built = self._built[key] = super().__getitem__(name)
        return built


# CRLF, headers folded at 78, RFC 2047 for non-ASCII
POLICY: EmailPolicy[Any] = SMTP.clone(header_factory=_HeaderClasses())
_BY_LINESEP = {POLICY.linesep: POLICY, "\n": POLICY.clone(linesep="\n")}  # the wire's, the outbox's
MAX_LINE_OCTETS = 998               # RFC 5322 2.1.1, excluding the CRLF
_BREAKS_AND_CONTROLS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_SPACES = re.compile(r"\s{2,}")


def single_line(value: str) -> str:
    """Free text made safe for a header: line breaks and control characters become one space.

    Stripping (not rejecting) is deliberate here: the contact import already
    rejects such names, and a stray one must not stop a whole batch of notices.
    """
    if value.isprintable() and "  " not in value:
        # Nothing to replace: printable text has no control, break or separator but the ASCII
        # space, so no run of whitespace either; the common case needs no regex pass.
        return value.strip()
    return _SPACES.sub(" ", _BREAKS_AND_CONTROLS.sub(" ", value)).strip()


@functools.lru_cache(maxsize=16)
def _checked_domain(domain: str) -> str:
    """check_domain, once per domain: a run asks for the same one for every message."""
    return check_domain(domain)


def message_id_for(notice_id: str, recipient_email: str, domain: str) -> str:
    """The same Message-ID every time a notice is (re)sent to a recipient.

    Deterministic so that a resend after an `unknown` outcome carries the
    same ID as the copy that may already have arrived: mail clients and
    servers that de-duplicate by Message-ID then show it once. The recipient
    address is case-folded because mailbox names are compared that way.
    """
    _checked_domain(domain)
    digest = hashlib.sha256(f"{notice_id}\x00{recipient_email.strip().lower()}".encode()).hexdigest()
    return f"<n.{digest[:24]}@{domain}>"  # 96 bits; short enough that the header is not folded


@dataclass(frozen=True)
class Envelope:
    """Who the message is from and to, as header-ready values."""

    sender: Address
    recipient: Address
    reply_to: Address | None = None


def recipient_address(name: str, email: str) -> Address:
    """`Name <email>` for the To header; the address itself must be clean ASCII, the name is cleaned."""
    if _BREAKS_AND_CONTROLS.search(email) or not email.isascii():
        raise NotifyError(f"recipient address {email!r} contains a line break, control or non-ASCII "
                          "character", hint="correct the contact's email in the contacts CSV and re-import")
    try:
        return Address(display_name=single_line(name), addr_spec=email.strip())
    except (ValueError, IndexError) as err:
        raise NotifyError(f"recipient address {email!r} is not a valid email address ({err})",
                          hint="correct the contact's email in the contacts CSV and re-import") from err


class Header(str):
    """A header value as `email.policy` describes header objects: a str with a `name` and a `fold`.

    A message stores and returns such an object as it is, and the generator
    writes what its `fold` returns. `source` is what the policy folds: a
    header object of the stdlib's registry, or header text (ASCII, one line)
    that the policy writes as it is when it fits and re-folds through the
    registry when it does not. The folded text is kept per way of folding, so a
    header shared by every message of a run is folded once.
    """

    name: str
    _source: str | BaseHeader
    _folded: dict[tuple[str, int | None, bool, str], str]

    def __new__(cls, name: str, value: str, source: str | BaseHeader | None = None) -> Header:
        if source is None:
            source = value
        text = None if isinstance(source, BaseHeader) else source
        if text is not None and (_BREAKS_AND_CONTROLS.search(text) or not text.isascii()):
            raise ValueError(f"{name} header text {source!r} is not one line of ASCII")
        header = super().__new__(cls, value)
        header.name = name
        header._source = source
        header._folded = {}
        return header

    def fold(self, *, policy: EmailPolicy) -> str:
        key = (policy.linesep, policy.max_line_length, policy.utf8, policy.refold_source)
        folded = self._folded.get(key)
        if folded is None:
            folded = self._folded[key] = policy.fold(self.name, self._source)
        return folded


@functools.lru_cache(maxsize=256)
def shared_header(name: str, value: str) -> Header:
    """A header many messages carry (sender, subject, MIME headers), made by the stdlib's registry once."""
    made = POLICY.header_factory(name, value)
    return Header(name, str(made), made)


def address_header(name: str, address: Address) -> Header:
    """An address header made per message: `formataddr` quotes or RFC 2047-encodes the name.

    Text that does not fit on one line is folded by the registry from the address itself: re-folding
    the text would decode its encoded name and could write the name's specials (a comma, "<")
    back unquoted.
    """
    text = formataddr((address.display_name, address.addr_spec))
    if len(name) + 2 + len(text) <= (POLICY.max_line_length or MAX_LINE_OCTETS):
        return Header(name, str(address), text)
    return Header(name, str(address), POLICY.header_factory(name, address))


def quoted_printable(text: str) -> str:
    """A body part's text as UTF-8 quoted-printable, its lines ended as `str.splitlines` reads them.

    Long lines are cut with soft breaks (no line over 78 characters, the
    header limit `set_content` also keeps body lines to), and trailing spaces
    and every non-ASCII or control byte are encoded: the part is 7-bit text
    that every server carries unchanged.
    """
    lines = text.encode("utf-8").splitlines()
    return quopri.encodestring(b"\n".join(lines) + b"\n").decode("ascii")


def new_boundary() -> str:
    """A new MIME boundary for every message, as the generator would choose one.

    "=_" never occurs in quoted-printable text (there an "=" is followed by two
    hex digits or ends a line), so no body part can contain the boundary and
    none has to be searched; 96 random bits keep it apart from any other message.
    """
    return f"=_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class Personal:
    """The headers of a message that are its recipient's own, and its MIME boundary."""

    to: Header
    date: Header
    message_id: Header
    boundary: str


def personal_headers(recipient: Address, message_id: str, date: datetime) -> Personal:
    if date.tzinfo is None:
        raise NotifyError(f"message date {date.isoformat()} has no time zone",
                          hint="pass an aware datetime (the injected clock returns UTC)")
    return Personal(address_header("To", recipient), Header("Date", format_datetime(date.astimezone(UTC))),
                    Header("Message-ID", message_id), new_boundary())


class _FoldedWords(Header):
    """An ASCII header folded at the spaces between its words, its first word on the name's line.

    The stdlib's folder moves a whole ASCII subject such as "New date: … 2027" to a line of its own
    when it is too long for the first one, and a parser then reads it back with a leading space.
    Folding at the spaces already in the text keeps every character: unfolding (removing the CRLF)
    gives the subject back exactly.
    """

    def fold(self, *, policy: EmailPolicy) -> str:
        width = policy.max_line_length or MAX_LINE_OCTETS
        lines, line = [], f"{self.name}:"
        for word in str(self).split(" "):
            if len(line) + 1 + len(word) > width and line != f"{self.name}:":
                lines.append(line)
                line = ""
            line += f" {word}"
        return policy.linesep.join([*lines, line]) + policy.linesep


@functools.lru_cache(maxsize=64)
def subject_header(subject: str) -> Header:
    """The Subject of every message of a notice: ASCII text folded at its spaces, anything else
    RFC 2047-encoded by the stdlib's registry (whose encoded words never start a line empty)."""
    value = single_line(subject)
    if value.isascii():
        return _FoldedWords("Subject", value)
    return shared_header("Subject", value)


def _calendar_part(invitation: Invitation) -> EmailMessage:
    """text/calendar with its METHOD, as an attachment: Outlook, Google Calendar and Apple Calendar
    offer to add it, and update the entry of the same UID when a later notice carries it again."""
    part = EmailMessage(policy=POLICY)
    part["Content-Type"] = shared_header(
        "Content-Type", f'text/calendar; charset="utf-8"; method={invitation.method}')
    part["Content-Disposition"] = shared_header("Content-Disposition",
                                                f'attachment; filename="{invitation.filename}"')
    part["Content-Transfer-Encoding"] = shared_header("Content-Transfer-Encoding", "base64")
    part.set_payload(base64.encodebytes(invitation.ics).decode("ascii"))
    return part


def _body_part(subtype: str, text: str) -> EmailMessage:
    part = EmailMessage(policy=POLICY)
    part["Content-Type"] = shared_header("Content-Type", f'text/{subtype}; charset="utf-8"')
    part["Content-Transfer-Encoding"] = shared_header("Content-Transfer-Encoding", "quoted-printable")
    part.set_payload(quoted_printable(text))
    return part


def framed_message(*, sender: Address, reply_to: Address | None, subject: str, personal: Personal,
                   text: str, html: str, invitation: Invitation | None = None) -> EmailMessage:
    """A multipart/alternative notice: the plain-text part first (complete on its own), then HTML;
    with a calendar entry, that pair and the entry inside a multipart/mixed.

    Clients show the last alternative they understand, so HTML wins where it
    can be shown and the text part serves everything else (and screen readers
    and filters that prefer it). The calendar entry is an attachment beside
    the alternatives, not one of them, so no client shows it instead of the
    text. The only place a notice's MIME structure is made.
    """
    msg = EmailMessage(policy=POLICY)
    msg["From"] = shared_header("From", str(sender))
    msg["To"] = personal.to
    if reply_to is not None:
        msg["Reply-To"] = shared_header("Reply-To", str(reply_to))
    msg["Subject"] = subject_header(subject)
    msg["Date"] = personal.date
    msg["Message-ID"] = personal.message_id
    msg["Auto-Submitted"] = shared_header("Auto-Submitted", "auto-generated")  # RFC 3834: no auto-replies
    msg["MIME-Version"] = shared_header("MIME-Version", "1.0")
    alternative = msg
    if invitation is not None:
        msg["Content-Type"] = Header("Content-Type",
                                     f'multipart/mixed; boundary="{mixed_boundary(personal.boundary)}"')
        alternative = EmailMessage(policy=POLICY)
    alternative["Content-Type"] = Header("Content-Type",
                                         f'multipart/alternative; boundary="{personal.boundary}"')
    alternative.attach(_body_part("plain", text))
    alternative.attach(_body_part("html", html))
    if invitation is not None:
        msg.attach(alternative)
        msg.attach(_calendar_part(invitation))
    return msg


def build_message(*, envelope: Envelope, subject: str, text: str, html: str,
                  message_id: str, date: datetime, invitation: Invitation | None = None) -> EmailMessage:
    """One notice email from plain values: `framed_message` with the recipient's own headers."""
    personal = personal_headers(envelope.recipient, message_id, date)
    return framed_message(sender=envelope.sender, reply_to=envelope.reply_to, subject=subject,
                          personal=personal, text=text, html=html, invitation=invitation)


def message_bytes(msg: EmailMessage, *, linesep: str = "\r\n") -> bytes:
    """The serialised message, refused if any line would break the 998-octet limit.

    The check runs on the exact bytes that leave, because that is where the
    limit applies; an overlong line is a bug in composition, never something
    to send and let a relay truncate.
    """
    policy = _BY_LINESEP.get(linesep) or POLICY.clone(linesep=linesep)
    try:
        data = msg.as_bytes(policy=policy)
    except (ValueError, UnicodeError) as err:
        raise NotifyError(f"message {msg.get('Message-ID', '(no Message-ID)')} cannot be serialised: "
                          f"{err}") from err
    longest = longest_line(data, linesep.encode())
    if longest > MAX_LINE_OCTETS:
        raise NotifyError(f"message {msg.get('Message-ID')} has a line of {longest} octets "
                          f"(limit {MAX_LINE_OCTETS})", hint="this is a bug: please report it")
    return data


@dataclass(frozen=True)
class Outgoing:
    """A message already serialised (by notify.mail.wire): the transports send `data` as it is."""

    message_id: str
    data: bytes        # CRLF line ends, every line within MAX_LINE_OCTETS


def longest_line(data: bytes, linesep: bytes = b"\r\n") -> int:
    return max(map(len, data.split(linesep)), default=0)  # map(len): no Python frame per line


class _Addressee(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str: ...


class _Content(Protocol):
    @property
    def subject(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def html(self) -> str: ...
    @property
    def invitation(self) -> Invitation | None: ...


@dataclass(frozen=True)
class Letterhead:
    """What every notice from one configuration shares: its sender, reply-to and Message-ID domain."""

    sender: Address
    reply_to: Address | None
    domain: str

    @classmethod
    def of(cls, settings: NotifySettings) -> Letterhead:
        return cls(settings.sender_address, settings.reply_to_address, settings.message_domain)

    def message(self, *, notice_id: str, recipient: _Addressee, content: _Content,
                date: datetime) -> EmailMessage:
        """The email for one (notice, recipient); compose.Recipient and compose.Composed fit."""
        envelope = Envelope(self.sender, recipient_address(recipient.name, recipient.email), self.reply_to)
        return build_message(envelope=envelope, subject=content.subject, text=content.text, html=content.html,
                             message_id=message_id_for(notice_id, recipient.email, self.domain), date=date,
                             invitation=content.invitation)


def notice_message(settings: NotifySettings, *, notice_id: str, recipient: _Addressee, content: _Content,
                   date: datetime) -> EmailMessage:
    """One notice email on its own (a preview, a test copy): `Letterhead.message` with these settings."""
    return Letterhead.of(settings).message(notice_id=notice_id, recipient=recipient, content=content,
                                           date=date)
