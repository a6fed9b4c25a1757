"""The ledger: the pipeline's own database of builds, deployments, notices and the audit trail.

Each package owns the tables of its own concepts and hands them over as a
`Schema`; the ledger creates them on first use and upgrades them in place, one
numbered step at a time, so an existing ledger is never rebuilt and never
loses data. Every state change writes an audit entry in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    CursorResult,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.exc import OperationalError, SQLAlchemyError, StatementError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeDecorator

from releases.errors import LedgerError
from releases.records.connection import check_sqlite_directory, connection_error, make_engine

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC and give them back aware.

    SQLite has no time-zone type; without this a naive value would come back
    and every comparison with the injected clock would raise.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise LedgerError(f"refusing to store naive datetime {value!r}: times in the ledger are UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


Upgrade = Callable[[Connection], None]


@dataclass(frozen=True)
class Schema:
    """The tables one package owns, their version, and how to reach it from older versions.

    `upgrades[n]` turns version n-1 into version n; tables that are new in a
    version need no upgrade step, `create_all` adds them.
    """

    component: str
    version: int
    metadata: Sequence[MetaData]
    upgrades: Mapping[int, Upgrade] = field(default_factory=dict)


core_metadata = MetaData()

schema_versions = Table(
    "schema_versions",
    core_metadata,
    Column("component", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("upgraded_at", UTCDateTime, nullable=False),
)

audit = Table(
    "audit",
    core_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("command", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("reason", Text),
    Column("detail", Text),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who is acting and through which command; stamped on every audit entry."""

    who: str
    command: str


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    command: str
    action: str
    subject: str
    reason: str | None
    detail: dict[str, Any] | None
    prev_hash: str
    hash: str


def entry_hash(prev_hash: str, at: datetime, actor: str, command: str, action: str,
               subject: str, reason: str | None, detail: str | None) -> str:
    """Chain each entry to the one before it so an edit, deletion or reorder shows."""
    payload = json.dumps(
        [prev_hash, at.astimezone(UTC).isoformat(timespec="microseconds"), actor, command,
         action, subject, reason, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class Compiled:
    """A ledger statement compiled once for a dialect with positional parameters, to run on the
    driver's own connection (`Ledger.hold_sqlite`, `Connection.exec_driver_sql`).

    For the writes that run thousands of times in a row (a notice's delivery rows, a send's
    claims): the same statement and the same values as `Connection.execute` would send, with the
    bind processors SQLAlchemy itself runs (for a TypeDecorator, its own conversion and then the
    dialect's: SQLite stores times as text that SQLAlchemy formats), without its per-execute work.
    Raises ValueError for a dialect whose parameters are not positional.
    """

    def __init__(self, statement: ClauseElement, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
            raise ValueError("not a positional dialect")
        names = compiled.positiontup
        self.sql = compiled.string
        self.names = tuple(names)
        self._args: list[tuple[str, Callable[[Any], Any] | None, object]] = []
        for name in names:
            bind = compiled.binds[name]
            default = None if bind.required else bind.value
            self._args.append((name, bind.type.dialect_impl(dialect).bind_processor(dialect), default))

    def args(self, params: Mapping[str, object]) -> list[object]:
        """The positional values of one execution."""
        get = params.get
        return [get(name, default) if process is None else process(get(name, default))
                for name, process, default in self._args]

    def many(self, rows: Iterable[Mapping[str, object]]) -> list[tuple[object, ...]]:
        """The positional values of an executemany; a value repeated across rows (the notice, the
        state, the time) is converted once."""
        order = [(name, default) for name, _, default in self._args]
        processors = [(index, process) for index, (_, process, _) in enumerate(self._args) if process]
        converted: dict[tuple[int, object], object] = {}
        out = []
        for row in rows:
            values = [row.get(name, default) for name, default in order]
            for index, process in processors:
                key = (index, values[index])
                if key not in converted:
                    converted[key] = process(values[index])
                values[index] = converted[key]
            out.append(tuple(values))
        return out


@dataclass(frozen=True)
class HeldSqlite:
    """A ledger connection held for a run (`Ledger.hold_sqlite`): the DB-API connection, the
    dialect to compile statements for, and how to give it back."""

    dbapi: sqlite3.Connection
    dialect: Any
    close: Callable[[], None]

    def compile(self, statement: ClauseElement) -> Compiled:
        return Compiled(statement, self.dialect)

    def commit(self, steps: Iterable[tuple[Compiled, Mapping[str, object]]]) -> list[int] | None:
        """Run the steps in one transaction, begun and ended as `Ledger.write()` does on SQLite
        (BEGIN IMMEDIATE … COMMIT): their row counts, or None when SQLite refused (busy, a
        constraint), with nothing committed, so that the caller goes through `write()` for the
        ledger's own waiting and errors. Anything else (a naive time refused, Ctrl-C) rolls back
        and propagates."""
        cursor = self.dbapi.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            counts = []
            for compiled, params in steps:
                cursor.execute(compiled.sql, compiled.args(params))
                counts.append(cursor.rowcount)
            self.dbapi.commit()
            return counts
        except sqlite3.Error:
            self._rollback()
            return None
        except BaseException:
            self._rollback()
            raise
        finally:
            cursor.close()

    def _rollback(self) -> None:
        if self.dbapi.in_transaction:
            self.dbapi.rollback()


class Ledger:
    """An open ledger. Writes go through `write()`, which serialises writers
    (releases.records.connection: BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL),
    so that two processes reserving a build number queue up instead of both reading the same
    maximum, and two audit entries never follow the same predecessor.
    """

    def __init__(self, url: str, schemas: Sequence[Schema], *, actor: Actor,
                 clock: Clock = utc_now) -> None:
        self.url = url
        self.actor = actor
        self.clock = clock
        self._schemas = list(schemas)
        check_sqlite_directory(url)
        self.engine = make_engine(url)
        try:
            self._ensure_schema()
        except SQLAlchemyError as err:
            raise connection_error(url, err) from err

    @contextmanager
    def write(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(qd_write=True)
                with conn.begin():
                    yield conn
        except OperationalError as err:
            raise connection_error(self.url, err) from err
        except StatementError as err:
            if isinstance(err.orig, LedgerError):
                raise err.orig from err
            raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def record(self, conn: Connection, action: str, subject: str, *,
               reason: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        """Append an audit entry inside the caller's transaction."""
        prev = conn.execute(select(audit.c.hash).order_by(audit.c.id.desc()).limit(1)).scalar()
        at = self.clock()
        detail_text = (json.dumps(detail, sort_keys=True, ensure_ascii=False, default=str)
                       if detail else None)
        prev_hash = prev or GENESIS
        conn.execute(audit.insert().values(
            at=at, actor=self.actor.who, command=self.actor.command, action=action,
            subject=subject, reason=reason, detail=detail_text, prev_hash=prev_hash,
            hash=entry_hash(prev_hash, at, self.actor.who, self.actor.command, action, subject,
                            reason, detail_text),
        ))

    def hold_sqlite(self) -> HeldSqlite | None:
        """One SQLite connection held for a run, as its DB-API object; None for other databases.

        For a caller that commits thousands of tiny transactions in a row (a notice run settles
        and claims one delivery per message) and cannot pay SQLAlchemy's per-execute cost: the
        connection is set up as every ledger connection is (WAL, synchronous=FULL, foreign keys,
        busy timeout, no implicit transactions), and the caller issues BEGIN IMMEDIATE and
        COMMIT itself, as `write()` would. Close it when the run ends.
        """
        if self.engine.dialect.name != "sqlite" or self.engine.dialect.paramstyle != "qmark":
            return None
        held = self.engine.connect()
        raw = held.connection.driver_connection
        if not isinstance(raw, sqlite3.Connection) or raw.isolation_level is not None or raw.in_transaction:
            held.close()  # not a connection make_engine set up (another driver): use write()
            return None
        return HeldSqlite(raw, self.engine.dialect, held.close)

    def acting_as(self, actor: Actor) -> Ledger:
        """The same open ledger, its writes and audit entries stamped with another actor: a beta
        contact acting through their page, or the application through its token. It shares this
        ledger's connections; close this one, not the view."""
        import copy

        view = copy.copy(self)
        view.actor = actor
        return view

    def close(self) -> None:
        self.engine.dispose()

    def schema_version(self, component: str) -> int | None:
        with self.read() as conn:
            return conn.execute(select(schema_versions.c.version)
                                .where(schema_versions.c.component == component)).scalar()

    def _ensure_schema(self) -> None:
        with self.write() as conn:
            core_metadata.create_all(conn)
            known = {row.component: row.version for row in conn.execute(
                select(schema_versions.c.component, schema_versions.c.version))}
            for schema in [Schema("core", 1, (core_metadata,)), *self._schemas]:
                have = known.get(schema.component)
                if have is not None and have > schema.version:
                    raise LedgerError(
                        f"the ledger's {schema.component} tables are at version {have}, "
                        f"newer than this quarterdeck understands ({schema.version})",
                        hint="upgrade quarterdeck; an older release must not write a newer ledger",
                    )
                if have is not None:
                    for step in range(have + 1, schema.version + 1):
                        upgrade = schema.upgrades.get(step)
                        if upgrade is not None:
                            upgrade(conn)
                for tables in schema.metadata:
                    tables.create_all(conn)
                if have is None:
                    conn.execute(schema_versions.insert().values(
                        component=schema.component, version=schema.version, upgraded_at=self.clock()))
                elif have < schema.version:
                    conn.execute(schema_versions.update()
                                 .where(schema_versions.c.component == schema.component)
                                 .values(version=schema.version, upgraded_at=self.clock()))
                    self.record(conn, "ledger.upgrade", schema.component,
                                detail={"from": have, "to": schema.version})


def inserted_id(result: CursorResult[Any]) -> int:
    """The id the database gave the row an INSERT just wrote (every ledger table's key is `id`)."""
    key = result.inserted_primary_key
    if key is None:
        raise LedgerError("the ledger did not report the id of the row it just wrote")
    return int(key[0])
