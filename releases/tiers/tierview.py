"""What runs where, read from the ledger: deployments, hosts, locks and exclusions as `status` shows them.

The queries are written once, as plain SQL run by a `releases.records.reads.Rows`
(stdlib sqlite3 for `status` on a SQLite ledger, SQLAlchemy everywhere
else), so that `status` starts without SQLAlchemy. The write side and the
table definitions stay in releases.tiers.deployments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from releases.records.reads import Rows

# Every value class here has a docstring: dataclass() would otherwise build one from
# inspect.signature() on every `status`.

@dataclass(frozen=True)
class HostStatus:
    """What one host of a tier runs now, and the last build that passed its health check there."""

    tier: str
    host: str
    build_id: str | None
    state: str
    last_good_build: str | None
    updated_at: datetime | None


@dataclass(frozen=True)
class Deployment:
    """One rollout or rollback of a build to a tier; `status` shows the newest unless it succeeded."""

    id: int
    build_id: str
    tier: str
    kind: str
    state: str
    started_at: datetime
    finished_at: datetime | None
    started_by: str
    forced_reason: str | None
    resumed_from: int | None


@dataclass(frozen=True)
class HostProgress:
    """One host's row in one deployment."""

    host: str
    state: str
    step: str | None
    error: str | None
    previous_build: str | None
    carried: bool
    updated_at: datetime


@dataclass(frozen=True)
class Lock:
    """A tier's deploy lease: who holds it, for which command, and until when it stands."""

    tier: str
    token: str
    owner: str
    command: str
    holder: str
    acquired_at: datetime
    lease_until: datetime

    def holder_gone(self) -> bool:
        """True only when provably dead: the holder ran on this machine and its process is gone."""
        import socket  # only when a lock is shown: every status would pay for it otherwise

        machine, _, pid = self.holder.rpartition(":")
        if machine != socket.gethostname() or not pid.isdigit():
            return False
        try:
            os.kill(int(pid), 0)  # signal 0 only asks whether the process exists
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def build_unknown(kind: str, progress: HostProgress) -> bool:
    """Whether a host of a rollout that died unfinished may run another build than the ledger says.

    `current` moves inside a step and the ledger learns of it only when the step's end is
    written, so a process killed in between leaves the record behind the host: during an
    install's `switch`; during a put-back after a failed health check (`rollback`,
    `rollback-post-activate`, `rollback:…`), which the record shows as the new build
    `switched`; and from a rollback's `switch` on, which the record shows as the old build
    until the end. A host that got to verified or rolled-back was recorded with what it runs.
    """
    step, state = progress.step or "", progress.state
    if state in ("verified", "rolled-back"):
        return False
    if kind == "rollback":
        return step in ("switch", "post-activate", "health-check")
    return (step == "switch" and state == "uploading") or step.startswith("rollback")


DEPLOYMENT_TIMES = ("started_at", "finished_at")
LOCK_TIMES = ("acquired_at", "lease_until")


def deployment_of(row: Mapping[str, Any]) -> Deployment:
    """A deployments row, its DEPLOYMENT_TIMES read as times."""
    return Deployment(row["id"], row["build_id"], row["tier"], row["kind"], row["state"],
                      row["started_at"], row["finished_at"], row["started_by"],
                      row["forced_reason"], row["resumed_from"])


def lock_of(row: Mapping[str, Any]) -> Lock:
    """A tier_locks row, its LOCK_TIMES read as times."""
    return Lock(row["tier"], row["token"], row["owner"], row["command"], row["holder"],
                row["acquired_at"], row["lease_until"])


# ---------------------------------------------------------------- the queries

def latest_deployment(rows: Rows, tier: str) -> Deployment | None:
    found = rows("SELECT * FROM deployments WHERE tier = :tier ORDER BY id DESC LIMIT 1", {"tier": tier},
                 times=DEPLOYMENT_TIMES)
    return deployment_of(found[0]) if found else None


def deployment_hosts(rows: Rows, deployment_id: int) -> list[HostProgress]:
    found = rows("SELECT * FROM host_states WHERE deployment_id = :id ORDER BY position",
                 {"id": deployment_id}, times=("updated_at",))
    return [HostProgress(r["host"], r["state"], r["step"], r["error"], r["previous_build"],
                         bool(r["carried"]), r["updated_at"]) for r in found]


def host_statuses(rows: Rows, tier: str | None = None) -> list[HostStatus]:
    found = (rows("SELECT * FROM host_current WHERE tier = :tier", {"tier": tier}, times=("updated_at",))
             if tier else rows("SELECT * FROM host_current", times=("updated_at",)))
    return [HostStatus(r["tier"], r["host"], r["build_id"], r["state"], r["last_good_build"],
                       r["updated_at"]) for r in found]


def current_lock(rows: Rows, tier: str) -> Lock | None:
    found = rows("SELECT * FROM tier_locks WHERE tier = :tier", {"tier": tier}, times=LOCK_TIMES)
    return lock_of(found[0]) if found else None


def active_exclusions(rows: Rows, tier: str | None = None) -> dict[tuple[str, str], str]:
    if tier:
        found = rows("SELECT tier, host, reason FROM exclusions WHERE cleared_at IS NULL AND tier = :tier "
                     "ORDER BY id", {"tier": tier})
    else:
        found = rows("SELECT tier, host, reason FROM exclusions WHERE cleared_at IS NULL ORDER BY id")
    return {(r["tier"], r["host"]): r["reason"] for r in found}


def build_on(rows: Rows, tier: str) -> str | None:
    """The build the tier's last completed deployment installed (a promotion or a rollback)."""
    found = rows("SELECT build_id FROM deployments WHERE tier = :tier AND state = 'succeeded' "
                 "ORDER BY id DESC LIMIT 1", {"tier": tier})
    return str(found[0]["build_id"]) if found else None
