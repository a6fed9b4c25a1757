"""`status` reads SQLite without SQLAlchemy: same answers, no heavy imports, old ledgers still upgraded."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pipeline
from releases.deployments import acquire_lock, exclude_host, rows_of
from releases.ledger import Actor, Ledger
from releases.tierview import (
    active_exclusions,
    current_lock,
    deployment_hosts,
    host_statuses,
    latest_deployment,
    sqlite_rows,
)
from tests.conftest import Project
from tests.support.fresh import modules_after

DATA = Path(__file__).parent.parent / "data"


def _ledger_url(project: Project) -> str:
    return f"sqlite:///{project.root / '.quarterdeck' / 'ledger.db'}"


def test_help_imports_no_heavy_library(tmp_path: Path) -> None:
    report, out = modules_after(["--help"], tmp_path)
    assert report == {"code": 0, "heavy": []}
    assert "promote" in out and "notice" in out and "notes" in out


def test_status_reads_a_sqlite_ledger_without_sqlalchemy_and_agrees_with_it(project: Project) -> None:
    build = project.ok("build", "--json").json()["id"]  # type: ignore[index]
    project.ok("promote", build, "--to", "dev", "--yes")
    in_process = project.ok("status", "--json").json()
    report, out = modules_after(["--config", str(project.config), "status", "--json"], project.root)
    assert report == {"code": 0, "heavy": []}
    fresh = json.loads(out)
    assert fresh == in_process
    assert fresh["tiers"][0]["build"] == build and fresh["tiers"][0]["hosts"][0]["state"] == "verified"


def test_the_sqlite_reader_and_the_ledger_give_the_same_rows(project: Project) -> None:
    build = project.ok("build", "--json").json()["id"]  # type: ignore[index]
    project.ok("promote", build, "--to", "dev", "--yes")
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    ledger = Ledger(_ledger_url(project), pipeline.ledger_schemas(),
                    actor=Actor(who="rm@example.org", command="test"), clock=lambda: now)
    try:
        acquire_lock(ledger, "staging", timedelta(minutes=2))
        with ledger.write() as conn:
            exclude_host(ledger, conn, "staging", "local:/elsewhere", "disk being replaced")

        def everything(rows: object) -> tuple[object, ...]:
            last = latest_deployment(rows, "dev")  # type: ignore[arg-type]
            assert last is not None
            return (last, deployment_hosts(rows, last.id), host_statuses(rows),  # type: ignore[arg-type]
                    host_statuses(rows, "dev"), current_lock(rows, "staging"),  # type: ignore[arg-type]
                    current_lock(rows, "dev"), active_exclusions(rows),  # type: ignore[arg-type]
                    active_exclusions(rows, "staging"), latest_deployment(rows, "production"))  # type: ignore[arg-type]

        with sqlite_rows(_ledger_url(project)) as fast:
            assert fast is not None
            through_sqlite = everything(fast)
        with ledger.read() as conn:
            through_ledger = everything(rows_of(conn))
    finally:
        ledger.close()
    assert through_sqlite == through_ledger
    last, hosts, _, _, lock, no_lock, excluded, _, none = through_sqlite
    assert last.build_id == build and last.started_at.tzinfo is UTC  # type: ignore[attr-defined]
    assert [h.state for h in hosts] == ["verified"]  # type: ignore[attr-defined]
    assert lock is not None and lock.lease_until == now + timedelta(minutes=2)  # type: ignore[attr-defined]
    assert no_lock is None and none is None
    assert excluded == {("staging", "local:/elsewhere"): "disk being replaced"}


def test_a_ledger_at_an_older_schema_is_left_to_the_ledger_which_upgrades_it(project: Project) -> None:
    path = project.root / ".quarterdeck" / "ledger.db"
    for leftover in path.parent.glob("ledger.db*"):
        leftover.unlink()
    with sqlite3.connect(path) as db:
        db.executescript((DATA / "ledger-v1.sql").read_text())
    with sqlite_rows(_ledger_url(project)) as fast:
        assert fast is None
    shown = project.ok("status", "--json").json()
    assert [t["name"] for t in shown["tiers"]] == ["dev", "staging", "production"]  # type: ignore[index]
    with sqlite3.connect(path) as db:
        version = db.execute("SELECT version FROM schema_versions WHERE component = 'releases'").fetchone()
    assert version == (2,)


def test_no_ledger_yet_and_other_databases_take_the_ledger_path(tmp_path: Path) -> None:
    with sqlite_rows(f"sqlite:///{tmp_path / 'absent.db'}") as fast:
        assert fast is None
    assert not (tmp_path / "absent.db").exists()
    for url in ("postgresql://rm@127.0.0.1/ledger", "sqlite://", f"sqlite:///{tmp_path}/x.db?mode=ro"):
        with sqlite_rows(url) as fast:
            assert fast is None


def test_a_misspelt_command_still_lists_every_command(tmp_path: Path, capsys: object) -> None:
    """Only the chosen command's parser is built; a name that is no command gets the whole list."""
    code = pipeline.main(["statu"])
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert code == 2
    assert "invalid choice: 'statu'" in err
    for name in ("status", "promote", "notice", "notes", "calendar"):
        assert f"'{name}'" in err
    assert pipeline.main(["status", "--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err  # type: ignore[attr-defined]
