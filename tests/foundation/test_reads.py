"""Every ledger read runs by both routes of releases.records.reads and gets the same answer.

The sqlite3 route serves `status`, resolving BUILD and `notes show` on a SQLite ledger; the
SQLAlchemy route (`text()` on the ledger's connection) serves every other database and every
read inside a writer's transaction. Both are run here on the same SQLite ledger, query by query,
and compared with each other and with what SQLAlchemy Core reads from the same tables.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select

import pipeline
from notes.review import ledgerview
from notes.review import store as notes_store
from releases.artifacts import buildview
from releases.artifacts.builds import get_build as core_build
from releases.records.ledger import Actor, Compiled, Ledger
from releases.records.reads import Rows, reading, rows_of, sqlite_rows, utc
from releases.tiers import tierview
from releases.tiers.deployments import acquire_lock, exclude_host, get_deployment
from tests.conftest import Project

NOW = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)


def _url(project: Project) -> str:
    return project.ledger_url


@pytest.fixture
def ledger(project: Project) -> Any:
    """A ledger with a build on dev, a lock and an exclusion on staging, a correction and an approval."""
    build = project.ok("build", "--json").json()["id"]  # type: ignore[index]
    project.ok("promote", build, "--to", "dev", "--yes")
    project.ok("notes", "skip", project.repo.head(), "--reason", "tooling only")
    project.ok("notes", "approve", build, "--yes")
    opened = Ledger(_url(project), pipeline.ledger_schemas(),
                    actor=Actor(who="rm@example.org", command="test"), clock=lambda: NOW)
    acquire_lock(opened, "staging", timedelta(minutes=2))
    with opened.write() as conn:
        exclude_host(opened, conn, "staging", "local:/elsewhere", "disk being replaced")
    yield opened
    opened.close()


def _every_read(rows: Rows) -> dict[str, object]:
    """Each read query of releases and notes, with arguments that find something and that find nothing."""
    build = buildview.latest_build(rows)
    assert build is not None
    last = tierview.latest_deployment(rows, "dev")
    assert last is not None
    return {
        "latest_deployment": last, "no_deployment": tierview.latest_deployment(rows, "production"),
        "deployment_hosts": tierview.deployment_hosts(rows, last.id),
        "host_statuses": tierview.host_statuses(rows), "dev_hosts": tierview.host_statuses(rows, "dev"),
        "lock": tierview.current_lock(rows, "staging"), "no_lock": tierview.current_lock(rows, "dev"),
        "exclusions": tierview.active_exclusions(rows),
        "staging_exclusions": tierview.active_exclusions(rows, "staging"),
        "build": buildview.get_build(rows, build.id), "no_build": buildview.get_build(rows, "2000.1.0+b1"),
        "builds": buildview.list_builds(rows), "one_build": buildview.list_builds(rows, 1),
        "by_prefix": buildview.find_by_sha_prefix(rows, build.sha256[:8].upper()),
        "before": buildview.build_before(rows, "dev", build.id),
        "running": buildview.newest_running(rows, "dev"),
        "corrections": ledgerview.list_corrections(rows), "fixes": ledgerview.correction_map(rows),
        "approval": ledgerview.latest_approval(rows, build.id, "production"),
        "no_approval": ledgerview.latest_approval(rows, build.id, "beta"),
    }


@pytest.mark.backends("sqlite")  # the sqlite3 route: SQLite's own
def test_both_routes_give_the_same_values_and_core_agrees(project: Project, ledger: Ledger) -> None:
    with sqlite_rows(_url(project), {"notes": ledgerview.SCHEMA_VERSION}) as fast:
        assert fast is not None
        through_sqlite3 = _every_read(fast)
    with ledger.read() as conn:
        through_sqlalchemy = _every_read(rows_of(conn))
        through_notes_store = _every_read(notes_store.rows_of(conn))  # notes' runner in a workflow
        build = through_sqlite3["build"]
        last = through_sqlite3["latest_deployment"]
        by_core = (core_build(conn, build.id), get_deployment(conn, last.id),  # type: ignore[attr-defined]
                   notes_store.get_correction(conn, project.repo.head()))
    assert through_sqlite3 == through_sqlalchemy == through_notes_store
    assert by_core == (build, last, through_sqlite3["corrections"][0])  # type: ignore[index]
    found = through_sqlite3
    assert found["no_deployment"] is found["no_lock"] is found["no_build"] is found["no_approval"] is None
    assert found["before"] is None and found["running"] == build and found["by_prefix"] == [build]
    assert found["lock"].lease_until == NOW + timedelta(minutes=2)  # type: ignore[attr-defined]
    assert found["exclusions"] == {("staging", "local:/elsewhere"): "disk being replaced"}
    assert [h.state for h in found["deployment_hosts"]] == ["verified"]  # type: ignore[attr-defined]
    assert list(found["fixes"]) == [project.repo.head()]  # type: ignore[call-overload]
    times = [build.created_at, last.started_at, last.finished_at,  # type: ignore[attr-defined]
             found["lock"].acquired_at, found["approval"].approved_at,  # type: ignore[attr-defined]
             found["corrections"][0].updated_at,  # type: ignore[index]
             found["deployment_hosts"][0].updated_at, found["host_statuses"][0].updated_at]  # type: ignore[index]
    assert all(isinstance(t, datetime) and t.tzinfo is UTC for t in times)


def _route(rows: Rows) -> str:
    return "sqlite3" if "sqlite_rows" in getattr(rows, "__qualname__", "") else "sqlalchemy"


@pytest.mark.backends("sqlite")  # the sqlite3 route: SQLite's own
def test_reading_takes_sqlite3_when_it_may_and_the_ledger_otherwise(project: Project, ledger: Ledger) -> None:
    url = _url(project)
    opened: list[str] = []

    def open_ledger() -> Ledger:
        opened.append("ledger")
        return ledger

    with reading(url, open_ledger, {"notes": ledgerview.SCHEMA_VERSION}) as rows:
        assert _route(rows) == "sqlite3" and not opened
        fast = _every_read(rows)
    # a URL the sqlite3 route does not read (query options), and a schema it must not read: the ledger
    for other_url, others in ((url + "?timeout=20", None), (url, {"notes": ledgerview.SCHEMA_VERSION + 1})):
        with reading(other_url, open_ledger, others) as rows:
            assert _route(rows) == "sqlalchemy"
            assert _every_read(rows) == fast
    assert opened == ["ledger", "ledger"]


@pytest.mark.backends("sqlite")  # the sqlite3 route: SQLite's own
def test_the_app_reads_through_reading(project: Project, ledger: Ledger) -> None:
    args = pipeline.build_parser().parse_args(["--config", str(project.config), "status"])
    app = pipeline.App(args, ["--config", str(project.config), "status"])
    try:
        with app.ledger_rows({"notes": ledgerview.SCHEMA_VERSION}) as rows:
            assert _route(rows) == "sqlite3"
            through_app = _every_read(rows)
    finally:
        app.close()
    with ledger.read() as conn:
        assert through_app == _every_read(rows_of(conn))


@pytest.mark.parametrize("stored", ["2026-11-25 12:00:00.123456", "2026-11-25 12:00:00",
                                    datetime(2026, 11, 25, 12, 0, 0, 123456),
                                    datetime(2026, 11, 25, 13, 0, 0, 123456, tzinfo=UTC) - timedelta(hours=1),
                                    None])
def test_a_stored_time_reads_as_aware_utc(stored: object) -> None:
    """Text from SQLite, a naive datetime from PostgreSQL, both naive UTC: the same instant, aware."""
    got = utc(stored)  # type: ignore[arg-type]
    if stored is None:
        assert got is None
        return
    assert got is not None and got.tzinfo is UTC
    assert got.replace(microsecond=0) == NOW.replace(microsecond=0)


@pytest.mark.backends("sqlite")  # Compiled serves the held SQLite connection
def test_compiled_statements_send_what_sqlalchemy_sends(ledger: Ledger) -> None:
    """`Compiled` (the driver-level writes of a notice run) stores exactly what Connection.execute stores."""
    from notify.store import deliveries, notices

    def people(notice_id: int) -> list[dict[str, object]]:
        return [{"notice_id": notice_id, "email": f"{n}@example.org", "email_key": f"{n}@example.org",
                 "name": name, "organisation": "Ærø Hospice", "time_zone": "UTC", "state": "pending",
                 "attempts": 0, "updated_at": NOW + timedelta(seconds=n)}
                for n, name in enumerate(("Zoë", "O'Hara", "Ng"))]

    statement = insert(deliveries)
    with ledger.write() as conn:
        ids = [conn.execute(notices.insert().values(
            kind="advance", build_id="b", event="e", generation=n, channel="everyone", recipients=3,
            retry_deadline=NOW, created_at=NOW, created_by="me")).inserted_primary_key[0] for n in range(4)]
        one = Compiled(statement.values(people(ids[0])[0]), conn.dialect)
        conn.exec_driver_sql(one.sql, tuple(one.args({})))
        conn.execute(statement, people(ids[1])[:1])
        many = Compiled(statement.values({name: bindparam(name) for name in people(0)[0]}), conn.dialect)
        conn.exec_driver_sql(many.sql, many.many(people(ids[2])))
        conn.execute(statement, people(ids[3]))
        stored = [[tuple(r)[2:] for r in conn.exec_driver_sql(
            "SELECT * FROM deliveries WHERE notice_id = ? ORDER BY id", (notice_id,))] for notice_id in ids]
        typed = conn.execute(select(deliveries.c.updated_at).where(deliveries.c.notice_id == ids[2])
                             .order_by(deliveries.c.id)).scalars().all()
    assert stored[0] == stored[1] and len(stored[0]) == 1
    assert stored[2] == stored[3] and len(stored[2]) == 3
    assert typed == [NOW, NOW + timedelta(seconds=1), NOW + timedelta(seconds=2)]


def test_compiled_refuses_a_dialect_without_positional_parameters() -> None:
    from sqlalchemy.dialects import postgresql

    from notify.store_writes import HEARTBEAT

    dialect: Callable[[], Any] = postgresql.dialect  # psycopg2 takes %(name)s: named, not positional
    with pytest.raises(ValueError, match="not a positional dialect"):
        Compiled(HEARTBEAT, dialect())


def test_notes_time_column_is_the_ledgers() -> None:
    """notes imports no other package, so its tables carry their own UTC column type; it must store,
    read and refuse exactly as the ledger's does, and declare the same column on every database."""
    from sqlalchemy import Column, Integer, MetaData, Table, create_engine
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.exc import StatementError
    from sqlalchemy.schema import CreateTable

    from notes.errors import NotesError
    from releases.errors import LedgerError
    from releases.records.ledger import UTCDateTime as LedgerTime

    kinds = {"ledger": (LedgerTime, LedgerError), "notes": (notes_store.UTCDateTime, NotesError)}
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        ddl = {str(CreateTable(Table("t", MetaData(), Column("at", kind))).compile(dialect=dialect))
               for kind, _ in kinds.values()}
        assert len(ddl) == 1
    engine = create_engine("sqlite://")
    stored = {}
    naive = NOW.astimezone(UTC).replace(tzinfo=None)
    kolkata = NOW.astimezone(timezone(timedelta(hours=5, minutes=30)))
    for name, (kind, error) in kinds.items():
        table = Table(f"times_{name}", MetaData(), Column("id", Integer, primary_key=True),
                      Column("at", kind))
        with engine.begin() as conn:
            table.create(conn)
            conn.execute(table.insert(), [{"id": 1, "at": NOW}, {"id": 2, "at": None},
                                          {"id": 3, "at": kolkata}])
            raw = conn.exec_driver_sql(f"SELECT at FROM times_{name} ORDER BY id").scalars().all()
            typed = conn.execute(select(table.c.at).order_by(table.c.id)).scalars().all()
            with pytest.raises(StatementError) as refused:
                conn.execute(table.insert().values(id=4, at=naive))
            assert isinstance(refused.value.orig, error)
        stored[name] = (raw, typed)
    assert stored["ledger"] == stored["notes"]
    assert stored["ledger"][1] == [NOW, None, NOW]
