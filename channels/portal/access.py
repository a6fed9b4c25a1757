"""Who a link, a session or an API token names, in the ledger; and the writes that manage them.

Everything a visitor does is recorded with the contact (or the token) as the actor: `acting`
gives the ledger view that stamps them on the audit entries and on the rows they write.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select

from channels.audience.directory import find_contact
from channels.errors import ChannelsError
from channels.portal.links import (
    LINK,
    SESSION,
    Grant,
    LinkSigner,
    PortalRefused,
    contact_tag,
    sign,
    token_hash,
    verify,
)
from channels.portal.settings import PortalSettings
from channels.portal.store import api_tokens, link_generations
from channels.store import contacts, org_key, organisations, require_org
from releases.records.ledger import Actor, Ledger, inserted_id

PAGE_COMMAND = "serve: beta page"
API_COMMAND = "serve: problem intake API"


@dataclass(frozen=True)
class Visitor:
    """A beta contact on their page: one contact of one organisation, for as long as the grant."""

    contact_id: int
    org_id: int
    org: str
    name: str
    email: str
    time_zone: str | None
    grant: Grant

    def acting(self, ledger: Ledger) -> Ledger:
        return ledger.acting_as(Actor(self.email, PAGE_COMMAND))


@dataclass(frozen=True)
class TokenHolder:
    """The application reporting through an organisation's API token."""

    token_id: int
    org_id: int
    org: str

    @property
    def actor(self) -> str:
        return f"api-token:{self.token_id}"

    def acting(self, ledger: Ledger) -> Ledger:
        return ledger.acting_as(Actor(self.actor, API_COMMAND))


def _contact_query() -> Any:
    """Contacts of the organisations that are there, with the generation of their links."""
    return (select(contacts.c.id, contacts.c.org_id, contacts.c.name, contacts.c.email, contacts.c.email_key,
                   contacts.c.time_zone, organisations.c.name.label("org"), organisations.c.name_key,
                   func.coalesce(link_generations.c.generation, 0).label("generation"))
            .join(organisations, organisations.c.id == contacts.c.org_id)
            .outerjoin(link_generations, and_(link_generations.c.org_id == contacts.c.org_id,
                                              link_generations.c.email_key == contacts.c.email_key))
            .where(organisations.c.removed_at.is_(None)))


def contact_row(conn: Connection, email: str, org_name: str | None) -> Any:
    """The one contact an address (and, when it is in several organisations, --org) names."""
    if org_name is not None:
        org, stored = find_contact(conn, org_name, email)
        return conn.execute(_contact_query().where(and_(contacts.c.org_id == org.id,
                                                        contacts.c.email == stored))).one()
    rows = conn.execute(_contact_query().where(contacts.c.email_key == email.strip().lower())).all()
    if not rows:
        raise ChannelsError(f"no organisation has a contact {email.strip()!r}",
                            hint="`quarterdeck orgs list` shows the contacts; `orgs add` adds one")
    if len(rows) > 1:
        names = ", ".join(sorted((r.org for r in rows), key=str.casefold))
        raise ChannelsError(f"{email.strip()} is a contact of {names}",
                            hint="name the organisation the link is for with --org")
    return rows[0]


def generation(conn: Connection, org_id: int, email_key: str) -> int:
    found = conn.execute(select(link_generations.c.generation).where(and_(
        link_generations.c.org_id == org_id, link_generations.c.email_key == email_key))).scalar()
    return int(found or 0)


def _grant(signer: LinkSigner, row: Any, issued_at: datetime) -> Grant:
    """The grant of a contact row of `_contact_query` (its id, organisation, address, generation)."""
    return signer.grant(row.id, contact_tag(row.org_id, row.email_key), row.generation, issued_at)


def issue_link(ledger: Ledger, conn: Connection, signer: LinkSigner, *, email: str,
               org_name: str | None) -> tuple[str, str, Grant]:
    """A contact's personal link (their organisation, the URL, what it grants), recorded as issued."""
    row = contact_row(conn, email, org_name)
    grant = _grant(signer, row, ledger.clock())
    ledger.record(conn, "portal.link", f"contact:{row.org}:{row.email}",
                  detail={"expires": grant.expires.isoformat(), "generation": grant.generation})
    return row.org, signer.url(grant), grant


@dataclass(frozen=True)
class ContactLinks:
    """Every contact's own link as issued at one moment: a beta-available notice's creation.

    A notice resumed after a crash, or resent, is made as of its creation, so each recipient gets
    the link their first attempt carried (unless their links were revoked since: then a new one).
    Unlike `portal link`, no audit entry per link: the notice's own records (its creation and each
    recipient's delivery row) say who was sent a link and when, and the link is derived from them.
    """

    signer: LinkSigner
    issued_at: datetime
    grants: Mapping[tuple[str, str], Grant]   # by (organisation key, address key)
    withheld: bool = False                    # previews and test copies: a stand-in, never a link

    @property
    def expires(self) -> datetime:
        return self.signer.expiry(self.issued_at)

    def url(self, organisation: str, email: str) -> str | None:
        """The link of the contact `email` of `organisation`; None for someone who is not (or no
        longer) a contact there."""
        if self.withheld:
            return self.signer.stand_in
        grant = self.grants.get((org_key(organisation), email.strip().lower()))
        return None if grant is None else self.signer.url(grant)

    def withhold(self) -> ContactLinks:
        return replace(self, withheld=True)


def contact_links(conn: Connection, settings: PortalSettings, issued_at: datetime) -> ContactLinks | None:
    """Each contact's link as of `issued_at`; None when the link secret is not set (no beta page)."""
    if not settings.secret_is_set():
        return None
    signer = settings.signer()
    rows = conn.execute(_contact_query()).all()
    return ContactLinks(signer, issued_at, {(r.name_key, r.email_key): _grant(signer, r, issued_at)
                                            for r in rows})


def revoke_links(ledger: Ledger, conn: Connection, *, email: str, org_name: str | None) -> tuple[str, str]:
    """End every link of the contact issued so far, and the sessions they opened."""
    row = contact_row(conn, email, org_name)
    now = generation(conn, row.org_id, row.email_key) + 1
    values = {"generation": now, "revoked_at": ledger.clock(), "revoked_by": ledger.actor.who}
    mine = and_(link_generations.c.org_id == row.org_id, link_generations.c.email_key == row.email_key)
    changed = conn.execute(link_generations.update().where(mine).values(**values))
    if not changed.rowcount:
        conn.execute(link_generations.insert().values(org_id=row.org_id, email_key=row.email_key, **values))
    ledger.record(conn, "portal.revoke", f"contact:{row.org}:{row.email}", detail={"generation": now})
    return row.org, row.email


def visitor_of(conn: Connection, grant: Grant) -> Visitor:
    """The contact a verified grant names, if it still stands: the contact is there, in the same
    organisation, and their links were not revoked since it was made."""
    row = conn.execute(_contact_query().where(contacts.c.id == grant.contact_id)).first()
    if (row is None or contact_tag(row.org_id, row.email_key) != grant.tag
            or row.generation != grant.generation):
        raise PortalRefused("this link is no longer valid", hint="ask the release team for a new link")
    return Visitor(row.id, row.org_id, row.org, row.name, row.email, row.time_zone, grant)


def open_link(ledger: Ledger, conn: Connection, secret: bytes, value: str) -> tuple[Visitor, str]:
    """The visitor a link names and the session value it opens, recorded with the contact as actor."""
    visitor = visitor_of(conn, verify(secret, LINK, value, ledger.clock()))
    visitor.acting(ledger).record(conn, "portal.open", f"contact:{visitor.org}:{visitor.email}")
    return visitor, sign(secret, SESSION, visitor.grant)


def session_visitor(conn: Connection, secret: bytes, value: str, now: datetime) -> Visitor:
    return visitor_of(conn, verify(secret, SESSION, value, now))


# ---------------------------------------------------------------- API tokens

def new_token(ledger: Ledger, conn: Connection, org_name: str) -> tuple[str, str]:
    """A new API token for the organisation's installation (shown once, stored as its hash)."""
    org = require_org(conn, org_name)
    token = "qdp_" + secrets.token_urlsafe(32)
    result = conn.execute(api_tokens.insert().values(org_id=org.id, token_sha256=token_hash(token),
                                                     created_at=ledger.clock(), created_by=ledger.actor.who))
    ledger.record(conn, "portal.token", f"org:{org.name}", detail={"token": inserted_id(result)})
    return org.name, token


def token_holder(conn: Connection, token: str) -> TokenHolder:
    row = conn.execute(select(api_tokens.c.id, organisations.c.id.label("org_id"), organisations.c.name)
                       .join(organisations, organisations.c.id == api_tokens.c.org_id)
                       .where(and_(api_tokens.c.token_sha256 == token_hash(token),
                                   organisations.c.removed_at.is_(None)))).first()
    if row is None:
        raise PortalRefused("this token is not valid", hint="`quarterdeck portal token ORG` makes one")
    return TokenHolder(row.id, row.org_id, row.name)
