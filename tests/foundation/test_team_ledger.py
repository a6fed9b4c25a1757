"""A ledger a team shares on PostgreSQL: how it is reached, and what is said when it cannot be.

Each failure names what is wrong and what to do, and never shows the password.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tests.conftest import Project
from tests.support.postgres import PgServer
from tests.support.sshd import free_port

pytestmark = pytest.mark.backends("postgresql")


def _use(project: Project, url: str) -> None:
    text = project.config.read_text(encoding="utf-8")
    project.config.write_text(re.sub(r'(?m)^url = "postgresql://[^"]*"', f'url = "{url}"', text, count=1),
                              encoding="utf-8")


def test_the_readme_form_of_the_url_works_whatever_sqlalchemy_defaults_to(project: Project) -> None:
    """`postgresql://` (what README shows) reaches the server through psycopg 3."""
    assert project.ledger_url.startswith("postgresql://")
    built = project.ok("build", "--json").json()
    assert project.ok("builds", "--json").json()[0]["id"] == built["id"]  # type: ignore[index]
    assert project.query("SELECT count(*) FROM builds") == [(1,)]


def test_another_driver_in_the_url_is_refused_by_name(project: Project) -> None:
    _use(project, project.ledger_url.replace("postgresql://", "postgresql+psycopg2://"))
    result = project.run("status")
    assert result.code == 1 and "unexpected" not in result.err
    said = " ".join(result.err.split())
    assert "names the driver 'psycopg2'" in said and "postgresql://USER@HOST/DATABASE" in said


def test_a_refused_connection_says_so_without_the_password(project: Project, postgres: PgServer) -> None:
    port = free_port()  # nothing listens there
    _use(project, project.ledger_url.replace(f":{postgres.port}/", f":{port}/"))
    result = project.run("status")
    assert result.code == 1 and "unexpected" not in result.err
    assert "connection refused" in result.err and "is the server running" in result.err
    assert postgres.password not in result.out + result.err
    assert "another quarterdeck may hold it" not in result.err


def test_a_wrong_password_is_named_and_not_shown(project: Project, postgres: PgServer) -> None:
    database = project.ledger_url.rsplit("/", 1)[1]
    _use(project, postgres.url(database, password="not-the-password"))
    result = project.run("builds")
    assert result.code == 1 and "unexpected" not in result.err
    assert "wrong password" in result.err and "~/.pgpass" in result.err
    assert "not-the-password" not in result.out + result.err
    assert "***" in result.err  # the URL is shown masked, so the reader knows which one


def test_a_missing_database_says_how_to_create_it(project: Project, postgres: PgServer) -> None:
    _use(project, postgres.url("no_such_ledger"))
    result = project.run("status")
    assert result.code == 1 and "unexpected" not in result.err
    assert "database does not exist" in result.err and "createdb" in result.err
    assert postgres.password not in result.out + result.err


def _second_machine(project: Project, tmp_path: Path) -> Path:
    """Another release manager's working directory: the same ledger, repository and hosts, its
    own (empty) artifacts directory."""
    home = tmp_path / "second-machine"
    home.mkdir()
    text = project.config.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^repo = "[^"]*"', f'repo = "{project.repo.path}"', text, count=1)
    text = text.replace('"local:.quarterdeck/hosts/', f'"local:{project.root}/.quarterdeck/hosts/')
    config = home / "quarterdeck.toml"
    config.write_text(text, encoding="utf-8")
    return config


def test_a_build_made_on_one_machine_is_promoted_from_another(project: Project, tmp_path: Path) -> None:
    build = project.ok("build", "--json").json()  # type: ignore[assignment]
    assert isinstance(build, dict)
    config = _second_machine(project, tmp_path)
    cache = config.parent / ".quarterdeck" / "artifacts" / f"{build['sha256']}.tar.gz"
    assert not cache.exists()
    project.ok("--config", str(config), "promote", build["id"], "--to", "dev", "--yes")
    assert cache.is_file() and hashlib.sha256(cache.read_bytes()).hexdigest() == build["sha256"]
    current = project.root / ".quarterdeck" / "hosts" / "dev-1" / "current"
    assert f"BUILD={build['id']}" in (current / "VERSION").read_text()
    assert project.query("SELECT count(*) FROM artifact_chunks WHERE sha256 = ?", build["sha256"])[0][0] >= 1


def test_a_damaged_copy_in_the_ledger_is_never_deployed(project: Project, tmp_path: Path) -> None:
    build = project.ok("build", "--json").json()  # type: ignore[assignment]
    assert isinstance(build, dict)
    project.query("UPDATE artifact_chunks SET data = ? WHERE sha256 = ? AND seq = 0",
                  b"not the artifact", build["sha256"])
    config = _second_machine(project, tmp_path)
    refused = project.run("--config", str(config), "promote", build["id"], "--to", "dev", "--yes")
    assert refused.code == 1 and "unexpected" not in refused.err
    said = " ".join(refused.err.split())
    assert f"the ledger's copy of artifact {build['sha256'][:12]} is damaged" in said
    assert not (project.root / ".quarterdeck" / "hosts" / "dev-1" / "current").exists()
    assert not list((config.parent / ".quarterdeck" / "artifacts").glob("*.tar.gz"))


def test_backup_of_a_team_ledger_says_how_to_back_it_up_and_writes_nothing(project: Project) -> None:
    project.ok("build")
    refused = project.run("backup")
    assert refused.code == 1 and "unexpected" not in refused.err
    said = " ".join(refused.err.split())
    assert "backups are written for SQLite ledgers" in said and "pg_dump --format=custom" in said
    assert not list((project.root / ".quarterdeck" / "backups").glob("backup-*"))
