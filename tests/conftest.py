"""Shared fixtures: real git repositories and an initialised Quarterdeck project per test."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import pipeline
from tests.support.gitrepo import GitRepo
from tests.support.postgres import PgServer, remove, start_server

BACKENDS = ("sqlite", "postgresql")

os.environ.setdefault("COLUMNS", "200")  # Rich wraps tables at 80 columns without a terminal
# A developer's own link secret must not put links in every notice a test sends: the tests that
# want links set it themselves.
os.environ.pop("QUARTERDECK_PORTAL_SECRET", None)


@pytest.fixture
def app_repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "app")
    repo.write("README.md", "# Clinical app\n")
    repo.write("bin/start", "#!/bin/sh\necho start\n", executable=True)
    repo.commit("feat: first version of the clinical app", {"app/main.py": "print('hello')\n"})
    return repo


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


class Project:
    """An initialised project directory; `run` calls the CLI in-process and captures its output."""

    def __init__(self, root: Path, repo: GitRepo, capsys: pytest.CaptureFixture[str],
                 ledger_url: str | None = None) -> None:
        self.root = root
        self.repo = repo
        self._capsys = capsys
        self.config = root / "quarterdeck.toml"
        self.ledger_url = ledger_url or f"sqlite:///{root / '.quarterdeck' / 'ledger.db'}"

    @property
    def backend(self) -> str:
        return "postgresql" if self.ledger_url.startswith("postgresql") else "sqlite"

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Rows of a statement run (and committed) on the project's ledger, whichever database it
        is; `?` marks parameters."""
        from sqlalchemy import create_engine

        from releases.records.connection import engine_url

        engine = create_engine(engine_url(self.ledger_url))
        try:
            with engine.begin() as conn:
                if self.backend == "postgresql":
                    sql = sql.replace("?", "%s")
                result = conn.exec_driver_sql(sql, tuple(params))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def run(self, *argv: str) -> Result:
        self._capsys.readouterr()
        code = pipeline.main(["--config", str(self.config), *argv])
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, *argv: str) -> Result:
        result = self.run(*argv)
        assert result.code == 0, f"quarterdeck {' '.join(argv)} failed:\n{result.out}\n{result.err}"
        return result


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses a ledger runs on SQLite and on PostgreSQL, but those marked
    `backends(...)`: `backends("sqlite")` for SQLite's own mechanics (its files, its DB-API
    route) or nothing of the ledger's database (the configuration file), `backends("postgresql")`
    for what only a shared server has (two release managers racing)."""
    if "ledger_backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        metafunc.parametrize("ledger_backend", marker.args if marker else BACKENDS)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """One throwaway PostgreSQL cluster for the session; each test gets its own database."""
    server = start_server()
    yield server
    remove(server)


@pytest.fixture
def ledger_url(ledger_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A new, empty ledger on the test's backend."""
    if ledger_backend == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    server: PgServer = request.getfixturevalue("postgres")
    return server.url(server.create_database())


@pytest.fixture
def project(tmp_path: Path, app_repo: GitRepo, capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch, ledger_backend: str,
            request: pytest.FixtureRequest) -> Iterator[Project]:
    root = tmp_path / "release-home"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.delenv("QUARTERDECK_CONFIG", raising=False)
    proj = Project(root, app_repo, capsys)
    result = proj.run("init", "--repo", str(app_repo.path), "--timezone", "America/Chicago")
    assert result.code == 0, result.err
    if ledger_backend == "postgresql":
        proj.ledger_url = request.getfixturevalue("ledger_url")
        text = proj.config.read_text(encoding="utf-8")
        default = 'url = "sqlite:///.quarterdeck/ledger.db"'
        assert default in text, "init's template no longer writes the default ledger URL"
        proj.config.write_text(text.replace(default, f'url = "{proj.ledger_url}"', 1), encoding="utf-8")
    yield proj
