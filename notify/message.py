"""One notice email for one recipient, and its exact bytes on the wire.

Pure: no clock, no network. Headers are built only through the `email`
package's Address and header objects, after every line-breaking character
has been taken out of the free text that reaches them (names, organisations,
subjects), so no value can start a header of its own. Both body parts are
quoted-printable UTF-8: the whole message is 7-bit ASCII with short lines,
so it needs neither 8BITMIME nor SMTPUTF8 from the server and no line comes
near the 998-octet limit, whatever the release notes contain.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any, Protocol

from .errors import NotifyError
from .settings import NotifySettings, check_domain


class _HeaderClasses(HeaderRegistry):
    """The stdlib registry, building each header class once.

    `HeaderRegistry.__getitem__` creates a new class with `type()` on every
    lookup, i.e. for every header of every message; that alone was ~8% of a
    10,000-message send. The classes it builds are equivalent, so one per
    header name gives the same headers and the same bytes.
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


POLICY = SMTP.clone(header_factory=_HeaderClasses())  # CRLF, headers folded at 78, RFC 2047 for non-ASCII
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
        # space, so no run of whitespace either. Saves two regex passes per value per message.
        return value.strip()
    return _SPACES.sub(" ", _BREAKS_AND_CONTROLS.sub(" ", value)).strip()


@functools.lru_cache(maxsize=16)
def _checked_domain(domain: str) -> str:
    """check_domain, once per domain: a run asks for the same one for every message (~2 µs each)."""
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


def build_message(*, envelope: Envelope, subject: str, text: str, html: str,
                  message_id: str, date: datetime) -> EmailMessage:
    """A multipart/alternative notice: the plain-text part first (complete on its own), then HTML.

    Clients show the last alternative they understand, so HTML wins where it
    can be shown and the text part serves everything else (and screen readers
    and filters that prefer it).
    """
    if date.tzinfo is None:
        raise NotifyError(f"message date {date.isoformat()} has no time zone",
                          hint="pass an aware datetime (the injected clock returns UTC)")
    msg = EmailMessage(policy=POLICY)
    msg["From"] = envelope.sender
    msg["To"] = envelope.recipient
    if envelope.reply_to is not None:
        msg["Reply-To"] = envelope.reply_to
    msg["Subject"] = single_line(subject)
    msg["Date"] = date.astimezone(UTC)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"   # RFC 3834: auto-responders must not answer
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def message_bytes(msg: EmailMessage, *, linesep: str = "\r\n") -> bytes:
    """The serialised message, refused if any line would break the 998-octet limit.

    The check runs on the exact bytes that leave, because that is where the
    limit applies; an overlong line is a bug in composition, never something
    to send and let a relay truncate.
    """
    try:
        data = msg.as_bytes(policy=POLICY.clone(linesep=linesep))
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
    """A message already serialised (by notify.wire): the transports send `data` as it is."""

    message_id: str
    data: bytes        # CRLF line ends, every line within MAX_LINE_OCTETS


def header_line(name: str, value: Any) -> bytes:
    """One header exactly as `message_bytes` writes it (folded, CRLF-terminated, 7-bit).

    The same header object and fold call the generator uses, so a message
    assembled from these lines (notify.wire) matches a serialised EmailMessage.
    """
    return POLICY.header_factory(name, value).fold(policy=POLICY).encode("ascii", "surrogateescape")


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


def notice_message(settings: NotifySettings, *, notice_id: str, recipient: _Addressee, content: _Content,
                   date: datetime) -> EmailMessage:
    """The email for one (notice, recipient): compose.Recipient and compose.Composed fit the parameters."""
    envelope = Envelope(sender=settings.sender_address,
                        recipient=recipient_address(recipient.name, recipient.email),
                        reply_to=settings.reply_to_address)
    return build_message(envelope=envelope, subject=content.subject, text=content.text, html=content.html,
                         message_id=message_id_for(notice_id, recipient.email, settings.message_domain),
                         date=date)
