"""`notes show` reads the ledger without SQLAlchemy: same notes, same rows, no heavy imports."""

from __future__ import annotations

import sqlite3

import pytest

from notes.review import generation, ledgerview, store
from releases.artifacts import buildview
from releases.records.reads import rows_of, sqlite_rows
from tests.conftest import Project
from tests.support.fresh import modules_after

from .test_cli_support import NOW, History, build, history, make_app, run_on

__all__ = ["history"]


def _url(project: Project) -> str:
    return project.ledger_url


@pytest.fixture
def shipped(project: Project, history: History) -> tuple[str, str]:
    """Two builds: one on staging and production, a later one with corrections and an approval."""
    first = build(project)
    run_on(project, first, "staging")
    run_on(project, first, "production")
    project.repo.commit("feat(rota): print the rota\n\nTicket: HOS-40")
    project.repo.commit("fix(rota): week numbers\n\nTraining: show the charge nurses")
    second = build(project)
    run_on(project, second, "staging")
    project.ok("notes", "reword", project.repo.head(), "--text", "fix(rota): ISO week numbers")
    project.ok("notes", "skip", history.chore, "--reason", "tooling only")
    project.ok("notes", "approve", second, "--yes")
    return first, second


@pytest.mark.backends("sqlite")  # the sqlite3 route: SQLite's own
def test_notes_show_imports_no_sqlalchemy_and_says_what_the_ledger_path_says(
        project: Project, shipped: tuple[str, str]) -> None:
    _, second = shipped
    report, fresh = modules_after(["--config", str(project.config), "notes", "show", second],
                                  project.root, env={"QUARTERDECK_NOW": NOW})
    assert report == {"code": 0, "heavy": []}
    assert "ISO week numbers" in fresh and "Print the rota" in fresh
    app = make_app(project)
    try:
        b = app.resolve_build(second)
        with app.ledger.read() as conn:
            through_ledger = generation.generate(app, b, "production", rows=store.rows_of(conn))
    finally:
        app.close()
    assert fresh == through_ledger.markdown
    assert through_ledger.range.basis == "production"  # read through tier_commit: production runs `first`


@pytest.mark.backends("sqlite")  # the sqlite3 route: SQLite's own
def test_the_plain_readers_and_the_ledger_give_the_same_values(
        project: Project, shipped: tuple[str, str]) -> None:
    first, second = shipped
    sha_prefix = project.ok("builds", "--json").json()[0]["sha256"][:8]  # type: ignore[index]

    def everything(rows: object) -> tuple[object, ...]:
        r = rows  # type: ignore[assignment]
        return (buildview.get_build(r, first), buildview.get_build(r, "2000.1.0+b1"),  # type: ignore[arg-type]
                buildview.list_builds(r), buildview.list_builds(r, 1),  # type: ignore[arg-type]
                buildview.latest_build(r), buildview.find_by_sha_prefix(r, sha_prefix),  # type: ignore[arg-type]
                buildview.build_before(r, "staging", second),  # type: ignore[arg-type]
                buildview.build_before(r, "production", first),  # type: ignore[arg-type]
                buildview.newest_running(r, "staging"),  # type: ignore[arg-type]
                ledgerview.list_corrections(r), ledgerview.correction_map(r),  # type: ignore[arg-type]
                ledgerview.latest_approval(r, second, "production"),  # type: ignore[arg-type]
                ledgerview.latest_approval(r, first, "production"))  # type: ignore[arg-type]

    with sqlite_rows(_url(project), {"notes": ledgerview.SCHEMA_VERSION}) as fast:
        assert fast is not None
        plain = everything(fast)
    app = make_app(project)
    try:
        with app.ledger.read() as conn:
            through_ledger = everything(rows_of(conn))
            stored = (store.list_corrections(conn), store.latest_approval(conn, second, "production"))
    finally:
        app.close()
    assert plain == through_ledger
    assert (plain[9], plain[11]) == stored
    got, missing, _, newest, latest, by_prefix, before, nothing, running = plain[:9]
    corrections, fixes, approval, none = plain[9:]
    assert got.id == first and got.created_at.tzinfo is not None and missing is None  # type: ignore[attr-defined]
    assert [b.id for b in newest] == [second] and latest.id == second  # type: ignore[attr-defined,union-attr]
    assert [b.id for b in by_prefix] == [second]  # type: ignore[attr-defined]
    assert before == first and nothing is None and running.id == second  # type: ignore[attr-defined]
    assert len(corrections) == 2 and len(fixes) == 2  # type: ignore[arg-type]
    assert approval.build_id == second and approval.approved_at.tzinfo is not None  # type: ignore[attr-defined]
    assert none is None


@pytest.mark.backends("sqlite")  # the sqlite3 route: SQLite's own
def test_notes_tables_at_another_version_are_left_to_the_ledger(
        project: Project, shipped: tuple[str, str]) -> None:
    _, second = shipped
    before = project.ok("notes", "show", second).out
    path = project.root / ".quarterdeck" / "ledger.db"
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_versions SET version = 0 WHERE component = 'notes'")
    with sqlite_rows(_url(project)) as fast:
        assert fast is not None  # status reads only the releases tables: still fine
    with sqlite_rows(_url(project), {"notes": ledgerview.SCHEMA_VERSION}) as fast:
        assert fast is None
    assert project.ok("notes", "show", second).out == before  # through the ledger, which upgrades it
    with sqlite3.connect(path) as db:
        version = db.execute("SELECT version FROM schema_versions WHERE component = 'notes'").fetchone()
    assert version == (ledgerview.SCHEMA_VERSION,)
