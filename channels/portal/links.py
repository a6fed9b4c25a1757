"""Signed values, pure: a contact's personal link, the session it opens, and a form's CSRF token.

A link names one contact (by the contacts row id) and the generation of that contact's links:
`portal revoke` starts a new generation, so every older link and the sessions they opened stop
working, and a new link works again. A link expires; its session ends when the link would have.
Each value is signed with HMAC-SHA256 over its purpose and fields, so a session value cannot be
used as a link, nor a link as a session. Rotating the secret invalidates every value at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from channels.errors import ChannelsError

LINK, SESSION = "link", "session"
LINK_PATH = "/l/"   # a link is the base URL, this path and the signed value (web.py routes it)
MAX_VALUE_LENGTH = 200  # a link or cookie longer than any we make is refused before parsing


class PortalRefused(ChannelsError):
    """A link, session, token or form the portal does not accept; the message is safe to show."""


@dataclass(frozen=True)
class Grant:
    """What a link or session grants: one contact, in one generation of their links, until `expires`."""

    contact_id: int
    tag: str          # contact_tag of the contact's organisation and address: a reused row id opens nothing
    generation: int
    expires: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: str, payload: str) -> bytes:
    return hmac.new(secret, f"{purpose}\n{payload}".encode("ascii"), hashlib.sha256).digest()


def sign(secret: bytes, purpose: str, grant: Grant) -> str:
    payload = f"{grant.contact_id}.{grant.tag}.{grant.generation}.{int(grant.expires.timestamp())}"
    return f"{_b64(payload.encode('ascii'))}.{_b64(_mac(secret, purpose, payload))}"


def verify(secret: bytes, purpose: str, value: str, now: datetime) -> Grant:
    """The grant a signed value carries, or PortalRefused: forged, malformed or expired."""
    what = "link" if purpose == LINK else "session"
    if len(value) > MAX_VALUE_LENGTH:
        raise PortalRefused(f"this {what} is not valid")
    try:
        encoded, mac = value.split(".")
        payload = _unb64(encoded).decode("ascii")
        given = _unb64(mac)
    except (ValueError, UnicodeDecodeError):
        raise PortalRefused(f"this {what} is not valid") from None
    if not hmac.compare_digest(given, _mac(secret, purpose, payload)):
        raise PortalRefused(f"this {what} is not valid")
    contact, tag, generation, expires = payload.split(".")
    grant = Grant(int(contact), tag, int(generation), datetime.fromtimestamp(int(expires), UTC))
    if grant.expires <= now:
        raise PortalRefused(f"this {what} has expired", hint="ask the release team for a new link")
    return grant


def contact_tag(org_id: int, email_key: str) -> str:
    return _b64(hashlib.sha256(f"{org_id}:{email_key}".encode()).digest()[:9])


@dataclass(frozen=True)
class LinkSigner:
    """How personal links are made: where they point, how long they work, the secret that signs them.

    The one place a link's form is written: `portal link` and every beta-available notice make
    theirs here. A link issued at the same moment, for the same contact in the same generation, is
    the same link, so a notice resumed after a crash writes each recipient the link they were sent.
    """

    base_url: str
    days: int
    secret: bytes = field(repr=False)   # never in a traceback or a log line

    def grant(self, contact_id: int, tag: str, generation: int, issued_at: datetime) -> Grant:
        return Grant(contact_id, tag, generation, self.expiry(issued_at))

    def expiry(self, issued_at: datetime) -> datetime:
        """When a link issued at `issued_at` stops working (to the second, as the link carries it)."""
        return (issued_at + timedelta(days=self.days)).replace(microsecond=0)

    def url(self, grant: Grant) -> str:
        return f"{self.base_url}{LINK_PATH}{sign(self.secret, LINK, grant)}"

    @property
    def stand_in(self) -> str:
        """What previews and test copies show where a recipient's own link goes: a link is a
        bearer credential, so it reaches only the contact it names."""
        return f"{self.base_url}{LINK_PATH}PERSONAL-LINK-MADE-FOR-EACH-RECIPIENT"


def csrf_token(secret: bytes, session: str) -> str:
    """The token every form of a session carries: tied to the session, so another visitor's
    page (or another site) cannot make one."""
    return _b64(_mac(secret, "csrf", session))


def csrf_ok(secret: bytes, session: str, token: str) -> bool:
    return hmac.compare_digest(token.encode("utf-8", "replace"), csrf_token(secret, session).encode("ascii"))


def token_hash(token: str) -> str:
    """How an API token is stored: its sha256, so that the ledger (and its backups) cannot be
    used to report problems in an organisation's name."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
