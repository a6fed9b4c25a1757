"""Organisations, their contacts and beta enrollment in the ledger: the audiences' source of truth.

Every write here happens inside the caller's transaction and writes its audit
entry there too. An import is applied as one transaction after the whole file
was checked (contacts.parse_contacts_csv), so a bad file changes nothing and a
good one changes everything it says, never half.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select

from channels.audience.contacts import Contact, ContactChanges, diff_contacts
from channels.errors import ChannelsError
from channels.store import (
    Organisation,
    contacts,
    enrollments,
    ensure_org,
    find_org,
    org_key,
    organisations,
    require_org,
)
from releases.records.ledger import Ledger


def _contact(row: Any, default_zone: str) -> Contact:
    return Contact(organisation=row.org, name=row.name, email=row.email, role=row.role,
                   time_zone=row.time_zone or default_zone, opted_out=bool(row.opted_out))


def ledger_contacts(conn: Connection, default_zone: str) -> list[Contact]:
    """Every contact of every organisation not removed, in organisation and name order.

    A contact who gave no time zone gets `default_zone`; "" keeps them apart, as stored (imports
    compare with the file that way, and notices tell only those who gave one "your time zone")."""
    rows = conn.execute(
        select(organisations.c.name.label("org"), contacts.c.name, contacts.c.email, contacts.c.role,
               contacts.c.time_zone, contacts.c.opted_out)
        .join(organisations, organisations.c.id == contacts.c.org_id)
        .where(organisations.c.removed_at.is_(None)))
    found = [_contact(r, default_zone) for r in rows]
    return sorted(found, key=lambda c: (c.organisation.casefold(), c.name.casefold(), c.email.lower()))


def _ledger_spelling(conn: Connection, incoming: list[Contact]) -> list[Contact]:
    """Incoming contacts with their organisation spelled as the ledger spells it, so that
    "ACADIA hospice" in a file is Acadia Hospice, not a second organisation."""
    known = {org_key(r.name): r.name for r in conn.execute(select(organisations.c.name))}
    return [replace(c, organisation=known.get(org_key(c.organisation), c.organisation)) for c in incoming]


def _insert(ledger: Ledger, conn: Connection, contact: Contact) -> None:
    conn.execute(contacts.insert().values(
        org_id=ensure_org(ledger, conn, contact.organisation), name=contact.name, email=contact.email,
        email_key=contact.email.lower(), role=contact.role, time_zone=contact.time_zone,
        opted_out=contact.opted_out, updated_at=ledger.clock()))


def _update(ledger: Ledger, conn: Connection, before: Contact, after: Contact) -> None:
    org = find_org(conn, before.organisation)
    assert org is not None  # `before` was read from the ledger in this transaction
    conn.execute(contacts.update().where(and_(contacts.c.org_id == org.id,
                                              contacts.c.email_key == before.email.lower()))
                 .values(name=after.name, email=after.email, role=after.role, time_zone=after.time_zone,
                         opted_out=after.opted_out, updated_at=ledger.clock()))


def import_contacts(ledger: Ledger, conn: Connection, incoming: list[Contact], *, source: str,
                    sha256: str) -> ContactChanges:
    """Apply a checked contact list: add the new, update the edited in place, keep the rest.

    Contacts in the ledger but not in the file are reported, not removed: a
    partial export must not silently drop a hospice from its install notices.
    Re-importing the same file writes nothing, not even an audit entry.
    """
    changes = diff_contacts(ledger_contacts(conn, ""), _ledger_spelling(conn, incoming))
    if not changes.changes_anything:
        return changes
    for contact in changes.added:
        _insert(ledger, conn, contact)
    for update in changes.updated:
        _update(ledger, conn, update.before, update.after)
    ledger.record(conn, "contacts.import", f"file:{source}", detail={
        "sha256": sha256,
        "added": [f"{c.organisation}: {c.email}" for c in changes.added],
        "updated": [{"contact": f"{u.after.organisation}: {u.after.email}", "fields": list(u.fields)}
                    for u in changes.updated],
        "unchanged": len(changes.unchanged), "not_in_file": len(changes.not_in_file)})
    return changes


@dataclass(frozen=True)
class Upsert:
    """What `orgs add` did: "added", "updated" (with the fields) or "unchanged", to the contact as stored."""

    outcome: str
    contact: Contact
    fields: tuple[str, ...] = ()


def upsert_contact(ledger: Ledger, conn: Connection, contact: Contact) -> Upsert:
    """Add one contact or update it in place (`orgs add`), matched by organisation and address."""
    [contact] = _ledger_spelling(conn, [contact])
    current = {c.key: c for c in ledger_contacts(conn, "")}
    before = current.get(contact.key)
    if before is None:
        _insert(ledger, conn, contact)
        ledger.record(conn, "contact.add", f"org:{contact.organisation}",
                      detail={"email": contact.email, "role": contact.role})
        return Upsert("added", contact)
    fields = tuple(name for name in ("name", "email", "role", "time_zone", "opted_out")
                   if getattr(before, name) != getattr(contact, name))
    if not fields:
        return Upsert("unchanged", before)
    _update(ledger, conn, before, contact)
    ledger.record(conn, "contact.update", f"org:{contact.organisation}",
                  detail={"email": contact.email, "fields": list(fields)})
    return Upsert("updated", contact, fields)


def find_contact(conn: Connection, org_name: str, email: str) -> tuple[Organisation, str]:
    """The organisation and the stored spelling of one of its contacts' address, or an error."""
    org = require_org(conn, org_name)
    stored = conn.execute(select(contacts.c.email).where(and_(
        contacts.c.org_id == org.id, contacts.c.email_key == email.strip().lower()))).scalar()
    if stored is None:
        raise ChannelsError(f"{org.name} has no contact {email.strip()!r}",
                            hint=f'`quarterdeck orgs list` shows the contacts of "{org.name}"')
    return org, stored


def remove_contact(ledger: Ledger, conn: Connection, org_name: str, email: str) -> tuple[Organisation, str]:
    """Remove one contact; returns its organisation and address as stored."""
    org, stored = find_contact(conn, org_name, email)
    conn.execute(contacts.delete().where(and_(contacts.c.org_id == org.id,
                                              contacts.c.email_key == stored.lower())))
    ledger.record(conn, "contact.remove", f"org:{org.name}", detail={"email": stored})
    return org, stored


@dataclass(frozen=True)
class Removal:
    organisation: str
    contacts: int
    left_beta: bool


def remove_org(ledger: Ledger, conn: Connection, org_name: str) -> Removal:
    """Remove an organisation from every audience: its contacts go, its enrollment ends.

    The organisation's row stays, marked removed, because its sign-offs and
    problem reports are evidence that past promotions relied on; importing or
    adding a contact for it later brings it back.
    """
    org = require_org(conn, org_name)
    now = ledger.clock()
    gone = conn.execute(contacts.delete().where(contacts.c.org_id == org.id)).rowcount
    left = conn.execute(enrollments.update().where(and_(enrollments.c.org_id == org.id,
                                                        enrollments.c.left_at.is_(None)))
                        .values(left_at=now, left_by=ledger.actor.who)).rowcount
    conn.execute(organisations.update().where(organisations.c.id == org.id).values(removed_at=now))
    ledger.record(conn, "org.remove", f"org:{org.name}",
                  detail={"contacts": gone, "left_beta": bool(left)})
    return Removal(org.name, gone, bool(left))


# ---------------------------------------------------------------- the beta programme's members

@dataclass(frozen=True)
class Enrollment:
    """One period of an organisation in the beta programme; `left_at` None means it is enrolled now."""

    organisation: str
    enrolled_at: datetime
    enrolled_by: str
    left_at: datetime | None
    left_by: str | None

    def as_dict(self) -> dict[str, object]:
        return {"organisation": self.organisation, "enrolled_at": self.enrolled_at.isoformat(),
                "enrolled_by": self.enrolled_by,
                "left_at": self.left_at.isoformat() if self.left_at else None, "left_by": self.left_by}


def _enrollment(row: Any) -> Enrollment:
    return Enrollment(row.org, row.enrolled_at, row.enrolled_by, row.left_at, row.left_by)


def _open_enrollment(conn: Connection, org_id: int) -> Any:
    return conn.execute(select(enrollments, organisations.c.name.label("org"))
                        .join(organisations, organisations.c.id == enrollments.c.org_id)
                        .where(and_(enrollments.c.org_id == org_id, enrollments.c.left_at.is_(None)))
                        ).first()


def enroll(ledger: Ledger, conn: Connection, org_name: str) -> tuple[Enrollment, bool]:
    """Enroll an organisation; returns its enrollment and whether this call made it."""
    org = require_org(conn, org_name)
    current = _open_enrollment(conn, org.id)
    if current is not None:
        return _enrollment(current), False
    conn.execute(enrollments.insert().values(org_id=org.id, enrolled_at=ledger.clock(),
                                             enrolled_by=ledger.actor.who))
    ledger.record(conn, "beta.enroll", f"org:{org.name}")
    return _enrollment(_open_enrollment(conn, org.id)), True


def leave(ledger: Ledger, conn: Connection, org_name: str) -> Enrollment | None:
    """End an organisation's enrollment; None when it was not enrolled (nothing changed)."""
    org = require_org(conn, org_name)
    current = _open_enrollment(conn, org.id)
    if current is None:
        return None
    now = ledger.clock()
    conn.execute(enrollments.update().where(enrollments.c.id == current.id)
                 .values(left_at=now, left_by=ledger.actor.who))
    ledger.record(conn, "beta.leave", f"org:{org.name}")
    return replace(_enrollment(current), left_at=now, left_by=ledger.actor.who)


def enrollment_history(conn: Connection) -> list[Enrollment]:
    rows = conn.execute(select(enrollments, organisations.c.name.label("org"))
                        .join(organisations, organisations.c.id == enrollments.c.org_id)
                        .order_by(enrollments.c.enrolled_at, enrollments.c.id))
    return [_enrollment(r) for r in rows]
