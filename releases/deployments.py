"""What runs where: deployments, per-host states, tier locks and excluded hosts, in the ledger.

Per-host state is written as it happens, so an interrupted rollout is visible
and can be resumed: `verified` hosts are done, everything else is redone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    select,
)

from .errors import LockError
from .ledger import Ledger, UTCDateTime

metadata = MetaData()

deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("build_id", String(64), nullable=False, index=True),
    Column("tier", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # promote | rollback | resume
    Column("state", String(16), nullable=False),  # running | succeeded | failed | interrupted
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("started_by", String(320), nullable=False),
    Column("forced_reason", Text),
    Index("ix_deployments_tier_state", "tier", "state"),
)

host_states = Table(
    "host_states",
    metadata,
    Column("deployment_id", Integer, ForeignKey("deployments.id"), primary_key=True),
    Column("host", String(500), primary_key=True),
    Column("tier", String(64), nullable=False),
    Column("build_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("step", String(32)),
    Column("error", Text),
    Column("updated_at", UTCDateTime, nullable=False),
)

host_current = Table(
    "host_current",
    metadata,
    Column("tier", String(64), primary_key=True),
    Column("host", String(500), primary_key=True),
    Column("build_id", String(64)),
    Column("state", String(16), nullable=False),  # verified | switched | failed | rolled-back | ...
    Column("last_good_build", String(64)),
    Column("updated_at", UTCDateTime, nullable=False),
)

tier_locks = Table(
    "tier_locks",
    metadata,
    Column("tier", String(64), primary_key=True),
    Column("token", String(64), nullable=False),
    Column("owner", String(320), nullable=False),
    Column("command", String(200), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime, nullable=False),
)

exclusions = Table(
    "exclusions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tier", String(64), nullable=False),
    Column("host", String(500), nullable=False),
    Column("reason", Text, nullable=False),
    Column("excluded_by", String(320), nullable=False),
    Column("excluded_at", UTCDateTime, nullable=False),
    Column("cleared_at", UTCDateTime),
)

HOST_STATES = ("pending", "uploading", "switched", "verified", "rolled-back", "failed", "excluded")


@dataclass(frozen=True)
class HostStatus:
    tier: str
    host: str
    build_id: str | None
    state: str
    last_good_build: str | None
    updated_at: datetime | None


@dataclass(frozen=True)
class Lock:
    tier: str
    token: str
    owner: str
    command: str
    acquired_at: datetime
    lease_until: datetime


def start_deployment(ledger: Ledger, conn: Connection, *, build_id: str, tier: str, kind: str,
                     hosts: list[str], forced_reason: str | None = None) -> int:
    now = ledger.clock()
    result = conn.execute(deployments.insert().values(
        build_id=build_id, tier=tier, kind=kind, state="running", started_at=now,
        started_by=ledger.actor.who, forced_reason=forced_reason))
    deployment_id = int(result.inserted_primary_key[0])
    for host in hosts:
        conn.execute(host_states.insert().values(
            deployment_id=deployment_id, host=host, tier=tier, build_id=build_id, state="pending",
            updated_at=now))
    ledger.record(conn, f"deploy.{kind}", f"{build_id}@{tier}", reason=forced_reason,
                  detail={"deployment": deployment_id, "hosts": hosts})
    return deployment_id


def set_host_state(ledger: Ledger, conn: Connection, *, deployment_id: int, tier: str, host: str,
                   build_id: str, state: str, step: str | None = None, error: str | None = None,
                   previous_build: str | None = None) -> None:
    """Record a host's progress, and what now runs there once `current` moved."""
    now = ledger.clock()
    conn.execute(host_states.update()
                 .where(and_(host_states.c.deployment_id == deployment_id, host_states.c.host == host))
                 .values(state=state, step=step, error=error, updated_at=now))
    if state in ("switched", "verified", "rolled-back", "failed", "excluded"):
        current = conn.execute(select(host_current).where(
            and_(host_current.c.tier == tier, host_current.c.host == host))).first()
        running = {"switched": build_id, "verified": build_id,
                   "rolled-back": previous_build}.get(state, current.build_id if current else None)
        last_good = build_id if state == "verified" else (current.last_good_build if current else None)
        values = {"build_id": running, "state": state, "last_good_build": last_good, "updated_at": now}
        if current:
            conn.execute(host_current.update().where(
                and_(host_current.c.tier == tier, host_current.c.host == host)).values(**values))
        else:
            conn.execute(host_current.insert().values(tier=tier, host=host, **values))
        ledger.record(conn, f"host.{state}", f"{build_id}@{tier}:{host}", reason=error,
                      detail={"deployment": deployment_id, "step": step})


def finish_deployment(ledger: Ledger, conn: Connection, deployment_id: int, state: str) -> None:
    conn.execute(deployments.update().where(deployments.c.id == deployment_id)
                 .values(state=state, finished_at=ledger.clock()))
    ledger.record(conn, f"deploy.{state}", f"deployment:{deployment_id}")


def host_statuses(conn: Connection, tier: str | None = None) -> list[HostStatus]:
    query = select(host_current)
    if tier:
        query = query.where(host_current.c.tier == tier)
    return [HostStatus(r.tier, r.host, r.build_id, r.state, r.last_good_build, r.updated_at)
            for r in conn.execute(query)]


def succeeded_on(conn: Connection, build_id: str, tier: str) -> bool:
    """Whether the build ever completed a rollout on the tier: the rule for promoting further."""
    row = conn.execute(select(deployments.c.id).where(and_(
        deployments.c.build_id == build_id, deployments.c.tier == tier,
        deployments.c.state == "succeeded")).limit(1)).first()
    return row is not None


def first_success_at(conn: Connection, build_id: str, tier: str) -> datetime | None:
    return conn.execute(select(deployments.c.finished_at).where(and_(
        deployments.c.build_id == build_id, deployments.c.tier == tier,
        deployments.c.state == "succeeded")).order_by(deployments.c.finished_at).limit(1)).scalar()


def builds_released_on(conn: Connection, tier: str) -> list[str]:
    rows = conn.execute(select(deployments.c.build_id).where(and_(
        deployments.c.tier == tier, deployments.c.state == "succeeded")).distinct())
    return [r[0] for r in rows]


def interrupted_deployment(conn: Connection, tier: str) -> tuple[int, str] | None:
    """The newest rollout on the tier that never finished (process killed, laptop closed)."""
    row = conn.execute(select(deployments.c.id, deployments.c.build_id).where(and_(
        deployments.c.tier == tier, deployments.c.state.in_(("running", "failed", "interrupted"))))
        .order_by(deployments.c.id.desc()).limit(1)).first()
    return (row.id, row.build_id) if row else None


def deployment_hosts(conn: Connection, deployment_id: int) -> dict[str, str]:
    rows = conn.execute(select(host_states.c.host, host_states.c.state)
                        .where(host_states.c.deployment_id == deployment_id))
    return {r.host: r.state for r in rows}


# ---------------------------------------------------------------- locks

def acquire_lock(ledger: Ledger, tier: str, lease: timedelta) -> Lock:
    """Take the tier's deploy lock, or say who holds it and since when."""
    now = ledger.clock()
    with ledger.write() as conn:
        row = conn.execute(select(tier_locks).where(tier_locks.c.tier == tier)).first()
        if row is not None:
            since = row.acquired_at.strftime("%Y-%m-%d %H:%M UTC")
            expired = " (its lease has expired)" if row.lease_until < now else ""
            raise LockError(
                f"tier {tier} is locked by {row.owner} since {since} ({row.command}){expired}",
                hint=f"wait for it to finish, or break a stale lock with "
                     f"`quarterdeck unlock {tier} --reason ...`",
            )
        lock = Lock(tier, secrets.token_hex(16), ledger.actor.who, ledger.actor.command, now, now + lease)
        conn.execute(tier_locks.insert().values(**lock.__dict__))
        ledger.record(conn, "lock.acquire", f"tier:{tier}")
        return lock


def renew_lock(ledger: Ledger, lock: Lock, lease: timedelta) -> None:
    with ledger.write() as conn:
        conn.execute(tier_locks.update().where(and_(tier_locks.c.tier == lock.tier,
                                                    tier_locks.c.token == lock.token))
                     .values(lease_until=ledger.clock() + lease))


def release_lock(ledger: Ledger, lock: Lock) -> None:
    with ledger.write() as conn:
        conn.execute(tier_locks.delete().where(and_(tier_locks.c.tier == lock.tier,
                                                    tier_locks.c.token == lock.token)))
        ledger.record(conn, "lock.release", f"tier:{lock.tier}")


def break_lock(ledger: Ledger, tier: str, reason: str) -> Lock | None:
    with ledger.write() as conn:
        row = conn.execute(select(tier_locks).where(tier_locks.c.tier == tier)).first()
        if row is None:
            return None
        conn.execute(tier_locks.delete().where(tier_locks.c.tier == tier))
        ledger.record(conn, "lock.break", f"tier:{tier}", reason=reason,
                      detail={"owner": row.owner, "since": row.acquired_at.isoformat(),
                              "command": row.command})
        return Lock(row.tier, row.token, row.owner, row.command, row.acquired_at, row.lease_until)


def current_lock(conn: Connection, tier: str) -> Lock | None:
    row = conn.execute(select(tier_locks).where(tier_locks.c.tier == tier)).first()
    if row is None:
        return None
    return Lock(row.tier, row.token, row.owner, row.command, row.acquired_at, row.lease_until)


# ---------------------------------------------------------------- exclusions

def exclude_host(ledger: Ledger, conn: Connection, tier: str, host: str, reason: str) -> None:
    conn.execute(exclusions.insert().values(tier=tier, host=host, reason=reason,
                                            excluded_by=ledger.actor.who, excluded_at=ledger.clock()))
    ledger.record(conn, "host.exclude", f"{tier}:{host}", reason=reason)


def clear_exclusion(ledger: Ledger, conn: Connection, tier: str, host: str) -> None:
    conn.execute(exclusions.update().where(and_(exclusions.c.tier == tier, exclusions.c.host == host,
                                                exclusions.c.cleared_at.is_(None)))
                 .values(cleared_at=ledger.clock()))


def active_exclusions(conn: Connection, tier: str | None = None) -> dict[tuple[str, str], str]:
    query = select(exclusions).where(exclusions.c.cleared_at.is_(None))
    if tier:
        query = query.where(exclusions.c.tier == tier)
    return {(r.tier, r.host): r.reason for r in conn.execute(query)}
