"""Joining the beta programme from the page: a contact asks, a release manager approves.

Enrollment itself stays channels.audience.directory's `enroll`; this module only keeps the
request between the two, so that a hospice cannot enroll itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, select

from channels.audience.directory import Enrollment, enroll
from channels.errors import ChannelsError
from channels.portal.access import Visitor
from channels.portal.store import join_requests
from channels.store import enrolled_org_names, require_org
from releases.records.ledger import Ledger


@dataclass(frozen=True)
class JoinRequest:
    requested_by: str
    requested_at: datetime


def pending_request(conn: Connection, org_id: int) -> JoinRequest | None:
    row = conn.execute(select(join_requests).where(and_(join_requests.c.org_id == org_id,
                                                        join_requests.c.approved_at.is_(None)))
                       .order_by(join_requests.c.id).limit(1)).first()
    return JoinRequest(row.requested_by, row.requested_at) if row else None


def request_join(ledger: Ledger, conn: Connection, visitor: Visitor) -> JoinRequest:
    """Record the visitor's request (the ledger acting as them); once per organisation."""
    if visitor.org in enrolled_org_names(conn):
        raise ChannelsError(f"{visitor.org} is already in the beta programme")
    waiting = pending_request(conn, visitor.org_id)
    if waiting is not None:
        raise ChannelsError(f"{visitor.org} asked to join on {waiting.requested_at:%Y-%m-%d}",
                            hint="the release team will answer that request")
    now = ledger.clock()
    conn.execute(join_requests.insert().values(org_id=visitor.org_id, requested_by=visitor.email,
                                               requested_at=now))
    ledger.record(conn, "beta.join-request", f"org:{visitor.org}")
    return JoinRequest(visitor.email, now)


def approve_join(ledger: Ledger, conn: Connection, org_name: str) -> tuple[Enrollment, JoinRequest]:
    """Enroll the organisation that asked to join, and close its request."""
    org = require_org(conn, org_name)
    waiting = pending_request(conn, org.id)
    if waiting is None:
        raise ChannelsError(f"{org.name} has not asked to join the beta programme",
                            hint=f'`quarterdeck beta enroll "{org.name}"` enrolls it without a request')
    conn.execute(join_requests.update().where(and_(join_requests.c.org_id == org.id,
                                                   join_requests.c.approved_at.is_(None)))
                 .values(approved_at=ledger.clock(), approved_by=ledger.actor.who))
    enrollment, _ = enroll(ledger, conn, org.name)
    ledger.record(conn, "beta.join-approve", f"org:{org.name}", detail={"requested_by": waiting.requested_by})
    return enrollment, waiting
