"""How the ledger connects: SQLite on one machine, PostgreSQL for a team, and what to say when
a connection fails.

Writers are serialised on both: SQLite by BEGIN IMMEDIATE, PostgreSQL by a transaction-level
advisory lock taken as each write transaction begins. Every check-then-write of the ledger (the
next build number, a tier's lock, a notice's one row per event, the audit chain's head) then
behaves the same on both, and two release managers on one shared ledger queue up instead of
forking the audit chain or meeting a raw unique-key error.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from releases.errors import LedgerError
from releases.settings import ledger_url_problem, mask_password

# Any fixed number shared by every quarterdeck: the advisory lock that serialises ledger writers.
WRITE_LOCK_KEY = 0x5144_4C45  # "QDLE"
WAIT_FOR_WRITER_SECONDS = 60  # how long a write waits for another one before giving up
DRIVER = "psycopg"  # psycopg 3, the `postgres` extra; `postgresql://` means it whatever SQLAlchemy's default


def engine_url(url: str) -> str:
    """The URL SQLAlchemy is given: `postgresql://` gets the psycopg 3 driver, since SQLAlchemy 2.0
    would pick psycopg2, which quarterdeck neither needs nor installs. A URL the configuration's
    check refuses (releases.settings.ledger_url_problem) is refused here in the same words."""
    problem = ledger_url_problem(url)
    if problem is not None:
        raise LedgerError(f"ledger.url: {problem}", hint="fix [ledger].url in the configuration")
    if url.startswith("postgresql://"):
        return f"postgresql+{DRIVER}://" + url[len("postgresql://"):]
    return url


def make_engine(url: str) -> Engine:
    try:
        engine_text = engine_url(url)
        if engine_text.startswith("sqlite"):
            return _sqlite_engine(engine_text)
        make_url(engine_text)
    except ArgumentError as err:
        raise LedgerError(f"[ledger].url {mask_password(url)!r} is not a database URL: {err}",
                          hint="e.g. sqlite:///.quarterdeck/ledger.db or postgresql://USER@HOST/DATABASE"
                          ) from err
    try:
        engine = create_engine(engine_text, pool_pre_ping=True)
    except ModuleNotFoundError as err:
        raise LedgerError("a PostgreSQL ledger needs the psycopg driver, which is not installed",
                          hint="pip install 'quarterdeck[postgres]'") from err

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("qd_write"):
            # Wait for another writer as long as SQLite's busy timeout would, then say so.
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{WAIT_FOR_WRITER_SECONDS}s'")
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")

    return engine


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": WAIT_FOR_WRITER_SECONDS})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, see _on_begin
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={WAIT_FOR_WRITER_SECONDS * 1000}")
        # FULL: WAL syncs at every commit, so a committed row survives a power cut or a kernel
        # crash, not only a killed process (NORMAL may lose the last commits). The ledger is
        # what makes a notice go out once and a rollout resume truthfully.
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("qd_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def check_sqlite_directory(url: str) -> None:
    """A SQLite ledger's directory must exist: SQLite makes the file, never its directory, and its own
    words ("unable to open database file") would read like a ledger held by another quarterdeck."""
    from releases.records.reads import sqlite_path

    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise LedgerError(f"the ledger's directory {path.parent} does not exist",
                          hint=f"create it (mkdir -p {path.parent}), or point [ledger].url at the ledger; "
                               "`quarterdeck init` makes .quarterdeck/ for the default one")


def first_line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err)
    return text.splitlines()[0] if text else type(err).__name__


def connection_error(url: str, err: SQLAlchemyError) -> LedgerError:
    """What is wrong with reaching the ledger, and what to do, without its password."""
    where = mask_password(url)
    text = first_line(err).replace(url, where)  # a driver may repeat the URL, password and all
    lower = text.lower()
    if "connection refused" in lower or "could not connect" in lower or "timeout expired" in lower:
        return LedgerError(f"cannot reach the ledger's PostgreSQL server ({where}): connection refused",
                           hint="is the server running and listening on that host and port? "
                                "check [ledger].url")
    if "password authentication failed" in lower or "no password supplied" in lower:
        return LedgerError(f"the ledger's PostgreSQL server refused the login ({where}): "
                           + ("wrong password" if "failed" in lower else "no password given"),
                           hint="check the user and password in [ledger].url, or give the password "
                                "in ~/.pgpass or PGPASSWORD")
    if "does not exist" in lower and "database" in lower:
        return LedgerError(f"the ledger's database does not exist ({where})",
                           hint="create it (createdb -h HOST -U USER NAME); quarterdeck then creates "
                                "its tables on first use")
    if "database is locked" in lower or "lock timeout" in lower:
        return LedgerError(f"the ledger could not be written: {text}",
                           hint="another quarterdeck may hold it; try again")
    if "unable to open database file" in lower:
        return LedgerError(f"the ledger could not be opened ({where}): {text}",
                           hint="check that the directory of [ledger].url exists and is writable")
    return LedgerError(f"the ledger could not be used ({where}): {text}",
                       hint="check [ledger].url in the configuration")
