"""What runs where, read from the ledger without SQLAlchemy.

`status` is the command release managers and their monitoring run most, and
importing SQLAlchemy alone costs more than the rest of the command (issue 8:
start-up at most 2x `import rich`). So the few queries `status` needs are
written here once, as plain SQL that SQLite and PostgreSQL both accept, and
run through whichever connection is at hand: the stdlib sqlite3 module for a
SQLite ledger whose releases schema is current, otherwise the ledger's own
SQLAlchemy connection (releases.deployments wraps it). The write side and
the table definitions stay in releases.deployments.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

RELEASES_SCHEMA_VERSION = 2  # releases.schema.SCHEMA's version; the fast path reads only a ledger at it


class Rows(Protocol):
    """Run one SELECT with named (:name) parameters; rows come back as mappings."""

    def __call__(self, sql: str, params: Mapping[str, object] | None = None) -> list[Mapping[str, Any]]: ...


# Every value class here has a docstring: dataclass() fills a missing one from
# inspect.signature(), ~0.1 ms per class on every `status`.

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


def utc(value: Any) -> Any:
    """A ledger time as an aware UTC datetime: SQLite hands back text, PostgreSQL a naive datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def deployment_of(row: Mapping[str, Any]) -> Deployment:
    return Deployment(row["id"], row["build_id"], row["tier"], row["kind"], row["state"],
                      utc(row["started_at"]), utc(row["finished_at"]), row["started_by"],
                      row["forced_reason"], row["resumed_from"])


def lock_of(row: Mapping[str, Any]) -> Lock:
    return Lock(row["tier"], row["token"], row["owner"], row["command"], row["holder"],
                utc(row["acquired_at"]), utc(row["lease_until"]))


# ---------------------------------------------------------------- the queries

def latest_deployment(rows: Rows, tier: str) -> Deployment | None:
    found = rows("SELECT * FROM deployments WHERE tier = :tier ORDER BY id DESC LIMIT 1", {"tier": tier})
    return deployment_of(found[0]) if found else None


def deployment_hosts(rows: Rows, deployment_id: int) -> list[HostProgress]:
    found = rows("SELECT * FROM host_states WHERE deployment_id = :id ORDER BY position",
                 {"id": deployment_id})
    return [HostProgress(r["host"], r["state"], r["step"], r["error"], r["previous_build"],
                         bool(r["carried"]), utc(r["updated_at"])) for r in found]


def host_statuses(rows: Rows, tier: str | None = None) -> list[HostStatus]:
    found = (rows("SELECT * FROM host_current WHERE tier = :tier", {"tier": tier}) if tier
             else rows("SELECT * FROM host_current"))
    return [HostStatus(r["tier"], r["host"], r["build_id"], r["state"], r["last_good_build"],
                       utc(r["updated_at"])) for r in found]


def current_lock(rows: Rows, tier: str) -> Lock | None:
    found = rows("SELECT * FROM tier_locks WHERE tier = :tier", {"tier": tier})
    return lock_of(found[0]) if found else None


def active_exclusions(rows: Rows, tier: str | None = None) -> dict[tuple[str, str], str]:
    if tier:
        found = rows("SELECT tier, host, reason FROM exclusions WHERE cleared_at IS NULL AND tier = :tier "
                     "ORDER BY id", {"tier": tier})
    else:
        found = rows("SELECT tier, host, reason FROM exclusions WHERE cleared_at IS NULL ORDER BY id")
    return {(r["tier"], r["host"]): r["reason"] for r in found}


# ---------------------------------------------------------------- the SQLite fast path

def sqlite_path(url: str) -> Path | None:
    """The file of a plain `sqlite:////absolute/path` ledger URL; None for anything else."""
    prefix = "sqlite:////"
    if not url.startswith(prefix) or "?" in url:
        return None
    return Path("/" + url[len(prefix):])


@contextmanager
def sqlite_rows(url: str, others: Mapping[str, int] | None = None) -> Iterator[Rows | None]:
    """Rows read in one snapshot of a SQLite ledger, or None when the full ledger must open it.

    None when the URL is not a plain SQLite file, the file does not exist yet,
    or its releases schema (or any schema named in `others`, component ->
    version, for a reader of other packages' tables) is not the current one:
    opening through releases.ledger creates or upgrades it, which a reader
    must not do.
    """
    path = sqlite_path(url)
    if path is None or not path.is_file():
        yield None
        return
    wanted = {"releases": RELEASES_SCHEMA_VERSION, **(others or {})}
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("BEGIN")  # one read snapshot for every query (WAL: no writer waits for it)

        def rows(sql: str, params: Mapping[str, object] | None = None) -> list[Mapping[str, Any]]:
            return conn.execute(sql, dict(params or {})).fetchall()  # type: ignore[return-value]

        try:
            found = {r["component"]: r["version"]
                     for r in rows("SELECT component, version FROM schema_versions")}
        except sqlite3.DatabaseError:
            found = {}
        yield rows if all(found.get(name) == version for name, version in wanted.items()) else None
    finally:
        conn.close()


@contextmanager
def reading(url: str, ledger: Callable[[], Any], others: Mapping[str, int] | None = None) -> Iterator[Rows]:
    """Rows for one read: straight through sqlite3 when the ledger allows (see `sqlite_rows`),
    else through `ledger()`'s SQLAlchemy connection, which any database and schema can take.

    Commands that only read (status, and resolving BUILD for notes show) then
    never import SQLAlchemy on a SQLite ledger.
    """
    with sqlite_rows(url, others) as rows:
        if rows is not None:
            yield rows
            return
    from .deployments import rows_of

    with ledger().read() as conn:
        yield rows_of(conn)
