"""What runs where: deployments, per-host progress, tier locks and excluded hosts, in the ledger.

Per-host progress is written as it happens, one short transaction per step,
so that a rollout killed half-way is visible in `status` and can be resumed:
`verified` hosts are done, everything else is redone. `host_current` is the
ledger's belief of what each host runs now; it moves only when a host's
`current` symlink moved (switched, verified, rolled back) and is corrected
from what the host itself reported at the end of a rollout.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
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

from releases.artifacts import buildview
from releases.artifacts.buildview import PROMOTIONS
from releases.errors import LockError, ReleasesError
from releases.records.ledger import Ledger, UTCDateTime, inserted_id
from releases.records.reads import rows_of
from releases.tiers import tierview
from releases.tiers.tierview import Deployment, HostProgress, HostStatus, Lock

metadata = MetaData()

deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("build_id", String(64), nullable=False, index=True),
    Column("tier", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # promote | resume | rollback
    Column("state", String(16), nullable=False),  # running | succeeded | failed | interrupted
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("started_by", String(320), nullable=False),
    Column("forced_reason", Text),
    Column("resumed_from", Integer, ForeignKey("deployments.id")),
    Index("ix_deployments_tier_state", "tier", "state"),
    Index("ix_deployments_tier_id", "tier", "id"),  # newest deployment of a tier without a scan
)

host_states = Table(
    "host_states",
    metadata,
    Column("deployment_id", Integer, ForeignKey("deployments.id"), primary_key=True),
    Column("host", String(500), primary_key=True),
    Column("position", Integer, nullable=False),  # rollout order
    Column("tier", String(64), nullable=False),
    Column("build_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("step", String(40)),
    Column("error", Text),
    Column("previous_build", String(64)),  # what the host ran before this deployment: where to go back
    Column("carried", Boolean, nullable=False, default=False),  # verified by the resumed deployment
    Column("updated_at", UTCDateTime, nullable=False),
)

host_current = Table(
    "host_current",
    metadata,
    Column("tier", String(64), primary_key=True),
    Column("host", String(500), primary_key=True),
    Column("build_id", String(64)),
    Column("state", String(16), nullable=False),  # switched | verified | failed | rolled-back
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
    Column("holder", String(300), nullable=False),  # machine:pid, to tell a dead holder from a live one
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

HOST_STATES = ("pending", "uploading", "switched", "verified", "rolled-back", "failed", "excluded",
               "not-started", "cancelled")
_MOVES_CURRENT = ("switched", "verified", "rolled-back", "failed")


# ---------------------------------------------------------------- deployments

def _deployment(row: Any) -> Deployment:
    return tierview.deployment_of(row._mapping)


def start_deployment(ledger: Ledger, conn: Connection, *, build_id: str, tier: str, kind: str,
                     previous: Mapping[str, str | None], carried: Collection[str] = (),
                     excluded: Mapping[str, str] | None = None, resumed_from: int | None = None,
                     forced_reason: str | None = None) -> int:
    """Open a deployment with one row per host, in rollout order (`previous`'s order)."""
    now = ledger.clock()
    excluded = excluded or {}
    result = conn.execute(deployments.insert().values(
        build_id=build_id, tier=tier, kind=kind, state="running", started_at=now,
        started_by=ledger.actor.who, forced_reason=forced_reason, resumed_from=resumed_from))
    deployment_id = inserted_id(result)
    for position, (host, before) in enumerate(previous.items()):
        state = "verified" if host in carried else "excluded" if host in excluded else "pending"
        conn.execute(host_states.insert().values(
            deployment_id=deployment_id, host=host, position=position, tier=tier, build_id=build_id,
            state=state, step=f"verified in #{resumed_from}" if host in carried else None,
            error=None, previous_build=before, carried=host in carried, updated_at=now))
    for host, reason in excluded.items():
        exclude_host(ledger, conn, tier, host, reason)
    ledger.record(conn, f"deploy.{kind}", f"{build_id}@{tier}", reason=forced_reason,
                  detail={"deployment": deployment_id, "hosts": list(previous),
                          "carried": sorted(carried), "excluded": sorted(excluded),
                          "resumed_from": resumed_from})
    return deployment_id


def finish_deployment(ledger: Ledger, conn: Connection, deployment_id: int, state: str) -> None:
    conn.execute(deployments.update().where(deployments.c.id == deployment_id)
                 .values(state=state, finished_at=ledger.clock()))
    ledger.record(conn, f"deploy.{state}", f"deployment:{deployment_id}")


def interrupt_running(ledger: Ledger, conn: Connection, tier: str) -> list[int]:
    """Mark the tier's unfinished deployments interrupted; only called while holding the tier's lock,
    so no process can still be running them."""
    ids = list(conn.execute(select(deployments.c.id).where(and_(
        deployments.c.tier == tier, deployments.c.state == "running"))).scalars())
    for deployment_id in ids:
        finish_deployment(ledger, conn, deployment_id, "interrupted")
    return ids


def get_deployment(conn: Connection, deployment_id: int) -> Deployment | None:
    row = conn.execute(select(deployments).where(deployments.c.id == deployment_id)).first()
    return _deployment(row) if row else None


def latest_deployment(conn: Connection, tier: str) -> Deployment | None:
    return tierview.latest_deployment(rows_of(conn), tier)


def deployment_hosts(conn: Connection, deployment_id: int) -> list[HostProgress]:
    return tierview.deployment_hosts(rows_of(conn), deployment_id)


KEEP: Any = object()  # "leave this column as it is"


def record_host(ledger: Ledger, conn: Connection, *, deployment_id: int, host: str, state: str,
                step: str | None = KEEP, error: str | None = KEEP, current: str | None = KEEP) -> bool:
    """Write a host's progress; move `host_current` when what the host runs changed.

    `current` is what the host itself reported running (None: could not ask),
    which overrides what the state implies. Audits each change of state once,
    so the trail says when each host switched and was verified, not every step.
    Returns whether the state changed.
    """
    row = conn.execute(select(host_states, deployments.c.kind)
                       .join(deployments, deployments.c.id == host_states.c.deployment_id)
                       .where(and_(host_states.c.deployment_id == deployment_id,
                                   host_states.c.host == host))).first()
    if row is None:
        raise ReleasesError(f"deployment #{deployment_id} has no host {host} in the ledger")
    now = ledger.clock()
    values: dict[str, Any] = {"state": state, "updated_at": now}
    if step is not KEEP:
        values["step"] = step
    if error is not KEEP:
        values["error"] = error
    conn.execute(host_states.update().where(and_(host_states.c.deployment_id == deployment_id,
                                                 host_states.c.host == host)).values(**values))
    changed: bool = row.state != state
    if changed:
        ledger.record(conn, f"host.{state}", f"{row.build_id}@{row.tier}:{host}",
                      reason=None if error is KEEP else error,
                      detail={"deployment": deployment_id, "step": values.get("step", row.step)})
    if state in _MOVES_CURRENT and not (row.kind == "rollback" and state == "switched"):
        _move_current(ledger, conn, row, state, current, now)
    return changed


def _move_current(ledger: Ledger, conn: Connection, row: Any, state: str, reported: str | None,
                  now: datetime) -> None:
    where = and_(host_current.c.tier == row.tier, host_current.c.host == row.host)
    before = conn.execute(select(host_current).where(where)).first()
    running = before.build_id if before else None
    last_good = before.last_good_build if before else None
    healthy = state == "verified" or (row.kind == "rollback" and state == "rolled-back")
    if state in ("switched", "verified") or healthy:
        running = row.build_id
    elif state == "rolled-back":
        running = row.previous_build
    if reported is not KEEP and reported is not None:
        running = reported  # the host said so itself
    if healthy:
        last_good = row.build_id
        clear_exclusion(ledger, conn, row.tier, row.host)
    values = {"build_id": running, "state": state, "last_good_build": last_good, "updated_at": now}
    if before:
        conn.execute(host_current.update().where(where).values(**values))
    else:
        conn.execute(host_current.insert().values(tier=row.tier, host=row.host, **values))


def host_statuses(conn: Connection, tier: str | None = None) -> list[HostStatus]:
    return tierview.host_statuses(rows_of(conn), tier)


def _succeeded(build_id: str | None, tier: str) -> Any:
    clauses = [deployments.c.tier == tier, deployments.c.state == "succeeded",
               deployments.c.kind.in_(PROMOTIONS)]
    if build_id is not None:
        clauses.append(deployments.c.build_id == build_id)
    return and_(*clauses)


def succeeded_on(conn: Connection, build_id: str, tier: str) -> bool:
    """Whether the build ever completed a promotion to the tier: the rule for promoting further.

    A rollback to a build does not count: it returns to a release, it does not test one.
    """
    found = conn.execute(select(deployments.c.id).where(_succeeded(build_id, tier)).limit(1)).first()
    return found is not None


def first_success_at(conn: Connection, build_id: str, tier: str) -> datetime | None:
    return conn.execute(select(deployments.c.finished_at).where(_succeeded(build_id, tier))
                        .order_by(deployments.c.finished_at).limit(1)).scalar()


def build_on(conn: Connection, tier: str) -> str | None:
    return tierview.build_on(rows_of(conn), tier)


def builds_released_on(conn: Connection, tier: str) -> list[str]:
    rows = conn.execute(select(deployments.c.build_id).where(_succeeded(None, tier)).distinct())
    return [r[0] for r in rows]


def build_before(conn: Connection, tier: str, build_id: str) -> str | None:
    return buildview.build_before(rows_of(conn), tier, build_id)


# ---------------------------------------------------------------- locks

def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _lock(row: Any) -> Lock:
    return tierview.lock_of(row._mapping)


def describe_lock(lock: Lock, now: datetime) -> str:
    """Who holds it, since when, through which command, and whether it looks abandoned."""
    text = (f"locked by {lock.owner} since {lock.acquired_at:%Y-%m-%d %H:%M:%S} UTC "
            f"({lock.command}; process {lock.holder})")
    if lock.holder_gone():
        text += "; that process is no longer running"
    elif lock.lease_until < now:
        text += f"; its lease ran out at {lock.lease_until:%H:%M:%S} UTC, so its holder seems gone"
    return text


def acquire_lock(ledger: Ledger, tier: str, lease: timedelta, *, audited: bool = True) -> Lock:
    """Take the tier's deploy lock, or say who holds it and since when; never taken over silently.

    A lock whose holder is provably dead (it ran on this machine and its process is gone,
    killed or crashed) is taken over, and the takeover is audited with the dead holder's
    details: nobody can still be working under it. Any other holder, however stale its
    lease looks, is only removed by a person (`unlock`), since it may run on another machine.
    `audited=False` is for `tick`'s own lock: run from cron it would otherwise write two
    entries every few minutes, and what it does under the lock is audited anyway.
    """
    now = ledger.clock()
    with ledger.write() as conn:
        row = conn.execute(select(tier_locks).where(tier_locks.c.tier == tier)).first()
        if row is not None:
            held = _lock(row)
            if not held.holder_gone():
                raise LockError(
                    f"tier {tier} is {describe_lock(held, now)}",
                    hint=f"wait for it to finish, or if it is stale break it with "
                         f"`quarterdeck unlock {tier} --reason TEXT` (audited)",
                )
            conn.execute(tier_locks.delete().where(and_(tier_locks.c.tier == tier,
                                                        tier_locks.c.token == held.token)))
            ledger.record(conn, "lock.takeover", f"tier:{tier}",
                          reason=f"its holder, process {held.holder} on this machine, is no longer running",
                          detail={"owner": held.owner, "since": held.acquired_at.isoformat(),
                                  "command": held.command, "holder": held.holder})
        lock = Lock(tier, secrets.token_hex(16), ledger.actor.who, ledger.actor.command, _holder(),
                    now, now + lease)
        conn.execute(tier_locks.insert().values(**lock.__dict__))
        if audited:
            ledger.record(conn, "lock.acquire", f"tier:{tier}", detail={"holder": lock.holder})
        return lock


def renew_lock(ledger: Ledger, lock: Lock, lease: timedelta) -> bool:
    """Extend the lease; False when the lock is no longer ours (someone broke it)."""
    with ledger.write() as conn:
        result = conn.execute(tier_locks.update().where(and_(tier_locks.c.tier == lock.tier,
                                                             tier_locks.c.token == lock.token))
                              .values(lease_until=ledger.clock() + lease))
        return bool(result.rowcount)


def release_lock(ledger: Ledger, lock: Lock, *, audited: bool = True) -> None:
    with ledger.write() as conn:
        result = conn.execute(tier_locks.delete().where(and_(tier_locks.c.tier == lock.tier,
                                                             tier_locks.c.token == lock.token)))
        if result.rowcount and audited:
            ledger.record(conn, "lock.release", f"tier:{lock.tier}")


def break_lock(ledger: Ledger, tier: str, reason: str) -> Lock | None:
    """Remove whoever's lock the tier has, recording why; None when it was not locked."""
    with ledger.write() as conn:
        row = conn.execute(select(tier_locks).where(tier_locks.c.tier == tier)).first()
        if row is None:
            return None
        conn.execute(tier_locks.delete().where(tier_locks.c.tier == tier))
        ledger.record(conn, "lock.break", f"tier:{tier}", reason=reason,
                      detail={"owner": row.owner, "since": row.acquired_at.isoformat(),
                              "command": row.command, "holder": row.holder})
        return _lock(row)


def current_lock(conn: Connection, tier: str) -> Lock | None:
    return tierview.current_lock(rows_of(conn), tier)


# ---------------------------------------------------------------- exclusions

def exclude_host(ledger: Ledger, conn: Connection, tier: str, host: str, reason: str) -> None:
    """Leave a host out until it catches up; the first exclusion stays the one shown (since when)."""
    active = conn.execute(select(exclusions.c.id).where(and_(
        exclusions.c.tier == tier, exclusions.c.host == host, exclusions.c.cleared_at.is_(None)))).first()
    if active is None:
        conn.execute(exclusions.insert().values(tier=tier, host=host, reason=reason,
                                                excluded_by=ledger.actor.who, excluded_at=ledger.clock()))
    ledger.record(conn, "host.exclude", f"{tier}:{host}", reason=reason)


def clear_exclusion(ledger: Ledger, conn: Connection, tier: str, host: str) -> None:
    result = conn.execute(exclusions.update().where(and_(
        exclusions.c.tier == tier, exclusions.c.host == host, exclusions.c.cleared_at.is_(None)))
        .values(cleared_at=ledger.clock()))
    if result.rowcount:
        ledger.record(conn, "host.caught-up", f"{tier}:{host}")


def active_exclusions(conn: Connection, tier: str | None = None) -> dict[tuple[str, str], str]:
    return tierview.active_exclusions(rows_of(conn), tier)
