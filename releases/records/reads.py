"""One way to read the ledger: each query is SQL text with named parameters, run by a `Rows`.

`status`, resolving BUILD and `notes show` must start without importing
SQLAlchemy (issue 8; benchmarks/bench_startup.py measures them and a test
checks what they import). So each query they need is written once, as SQL
that SQLite and PostgreSQL both accept (releases.tiers.tierview, releases.artifacts.buildview,
notes.review.ledgerview), and this module runs it, by one of two routes with the
same contract:

- `sqlite_rows`: the stdlib sqlite3 module, on a SQLite ledger file whose
  schemas are current (a reader must never create or upgrade a ledger);
- `rows_of(conn)`: SQLAlchemy's `text()` on the ledger's own connection,
  for any database and schema version, and inside a writer's transaction.

`reading` picks the route. Either way a row comes back as a mapping of
column name to value, and the columns a query names in `times` as aware UTC
datetimes, as the ledger's `UTCDateTime` columns give them to SQLAlchemy Core.
Every other read, and every write, is SQLAlchemy Core on the ledger's
connection; the tables stay with the package that owns them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from sqlalchemy import Connection

RELEASES_SCHEMA_VERSION = 2  # releases.records.schema.SCHEMA's version; sqlite3 reads only a ledger at it


class Rows(Protocol):
    """Run one SELECT with named (:name) parameters; rows come back as mappings, `times` as aware UTC."""

    def __call__(self, sql: str, params: Mapping[str, object] | None = None, *,
                 times: Collection[str] = ()) -> list[Mapping[str, Any]]: ...


def utc(value: str | datetime | None) -> datetime | None:
    """A ledger time as an aware UTC datetime: sqlite3 hands back the stored text, naive UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rows_of(conn: Connection) -> Rows:
    """Queries run through the ledger's SQLAlchemy connection (any database), in its transaction."""
    from sqlalchemy import text

    from releases.records.ledger import UTCDateTime

    def rows(sql: str, params: Mapping[str, object] | None = None, *,
             times: Collection[str] = ()) -> list[Mapping[str, Any]]:
        query = text(sql).columns(**{name: UTCDateTime for name in times}) if times else text(sql)
        return cast(list[Mapping[str, Any]], conn.execute(query, dict(params or {})).mappings().all())

    return rows


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
    opening through releases.records.ledger creates or upgrades it, which a reader
    must not do.
    """
    path = sqlite_path(url)
    if path is None or not path.is_file():
        yield None
        return
    wanted = {"releases": RELEASES_SCHEMA_VERSION, **(others or {})}
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN")  # one read snapshot for every query (WAL: no writer waits for it)

        def rows(sql: str, params: Mapping[str, object] | None = None, *,
                 times: Collection[str] = ()) -> list[Mapping[str, Any]]:
            cursor = conn.execute(sql, dict(params or {}))
            names = [d[0] for d in cursor.description]
            found: list[Mapping[str, Any]] = []
            for values in cursor.fetchall():
                row = dict(zip(names, values, strict=True))
                for name in times:
                    if name in row:
                        row[name] = utc(row[name])
                found.append(row)
            return found

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
    """Rows for one read: through sqlite3 when the ledger allows (see `sqlite_rows`), else through
    `ledger()`'s SQLAlchemy connection, which any database and schema can take."""
    with sqlite_rows(url, others) as rows:
        if rows is not None:
            yield rows
            return
    with ledger().read() as conn:
        yield rows_of(conn)
