"""The ledger: created on first use, persistent across processes, upgraded in place, audited."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select, text

from releases.artifacts.builds import builds, get_build
from releases.errors import LedgerError
from releases.records.ledger import Actor, Ledger, Schema, audit
from releases.records.schema import SCHEMA
from tests.conftest import Project

DATA = Path(__file__).parents[1] / "data"
ACTOR = Actor("ops@example.org", "quarterdeck test")


def _clock() -> datetime:
    return datetime(2026, 10, 5, 12, 0, tzinfo=UTC)


def test_a_first_schema_ledger_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript((DATA / "ledger-v1.sql").read_text())
    ledger = Ledger(f"sqlite:///{path}", [SCHEMA], actor=ACTOR, clock=_clock)
    try:
        assert ledger.schema_version("releases") == 2
        with ledger.read() as conn:
            kept = get_build(conn, "2026.3.0+b4")
            assert kept is not None and kept.size == 12345 and kept.subject is None
            assert kept.created_at == datetime(2026, 8, 1, 9, 0, tzinfo=UTC)
            tables = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
                         .scalars())
            assert {"deployments", "host_states", "host_current", "tier_locks"} <= tables
            actions = conn.execute(select(audit.c.action, audit.c.detail).order_by(audit.c.id)).all()
        assert actions[-1].action == "ledger.upgrade"
        assert '"from": 1' in actions[-1].detail and '"to": 2' in actions[-1].detail
    finally:
        ledger.close()
    # opening again changes nothing more
    again = Ledger(f"sqlite:///{path}", [SCHEMA], actor=ACTOR, clock=_clock)
    with again.read() as conn:
        assert conn.execute(select(audit.c.id)).all()[-1][0] == 2
    again.close()


def test_a_newer_ledger_is_refused(ledger_url: str) -> None:
    url = ledger_url
    Ledger(url, [Schema("future", 3, (MetaData(),))], actor=ACTOR, clock=_clock).close()
    with pytest.raises(LedgerError, match="newer than this quarterdeck understands"):
        Ledger(url, [Schema("future", 2, (MetaData(),))], actor=ACTOR, clock=_clock)


def test_sqlite_settings(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}", [SCHEMA], actor=ACTOR, clock=_clock)
    with ledger.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: a commit survives a power cut
    held = ledger.hold_sqlite()
    assert held is not None
    try:  # the connection a notice run holds is set up the same way, transactions left to the caller
        assert held.dbapi.execute("PRAGMA synchronous").fetchone() == (2,)
        assert held.dbapi.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert held.dbapi.isolation_level is None and not held.dbapi.in_transaction
    finally:
        held.close()
    ledger.close()


def test_ledger_persists_across_processes_and_audits_who(project: Project,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", "2026-10-05T12:00:00+00:00")
    env_path = str(Path(__file__).parents[2])
    out = subprocess.run([sys.executable, "-m", "pipeline", "--config", str(project.config), "build"],
                         cwd=project.root, capture_output=True, text=True,
                         env={**__import__("os").environ, "PYTHONPATH": env_path}, check=False)
    assert out.returncode == 0, out.stderr
    listed = project.ok("builds", "--json").json()
    assert [b["id"] for b in listed] == ["2026.4.0+b1"]  # type: ignore[index]
    rows = project.query("SELECT actor, command, action, subject FROM audit WHERE action = 'build.create'")
    assert project.query("SELECT count(*) FROM builds") == [(1,)]
    actor, command, action, subject = rows[0]
    assert actor == "ada@example.org"  # git user.email of the application repository
    assert command.startswith("quarterdeck --config") and command.endswith("build")
    assert (action, subject) == ("build.create", "2026.4.0+b1")


def test_naive_times_are_refused(ledger_url: str) -> None:
    ledger = Ledger(ledger_url, [SCHEMA], actor=ACTOR, clock=_clock)
    with pytest.raises(LedgerError, match="naive datetime"), ledger.write() as conn:
        conn.execute(builds.insert().values(
            id="x", version="2026.4.0", build_number=1, commit="c", ref="main", sha256="s", size=1,
            source_key="k", created_by="me", created_at=datetime(2026, 1, 1)))
    ledger.close()


@pytest.mark.backends("sqlite")  # a SQLite file's directory
def test_a_sqlite_ledger_in_a_missing_directory_says_so_and_makes_nothing(project: Project) -> None:
    text = project.config.read_text()
    project.config.write_text(text.replace('url = "sqlite:///.quarterdeck/ledger.db"',
                                           'url = "sqlite:///records/ledger.db"', 1))
    missing = project.root / "records"
    for argv in (("status",), ("builds",), ("notes", "show", "latest"), ("build",)):
        result = project.run(*argv)
        assert result.code == 1, argv
        err = " ".join(result.err.split())
        assert f"error: the ledger's directory {missing} does not exist" in err, (argv, err)
        assert f"hint: create it (mkdir -p {missing})" in err
        assert "another quarterdeck" not in err and "bug" not in err
    assert not missing.exists()
