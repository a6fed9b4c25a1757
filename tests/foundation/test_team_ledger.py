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


def _restored_into(project: Project, postgres: PgServer, tmp_path: Path, *args: str,
                   database: str | None = None) -> tuple[Path, object]:
    """A second working directory on another (by default new, empty) database; the restore's result."""
    config = _second_machine(project, tmp_path)
    url = postgres.url(database or postgres.create_database())
    config.write_text(config.read_text().replace(project.ledger_url, url), encoding="utf-8")
    return config, project.run("--config", str(config), "restore", *args)


def test_a_team_ledger_is_backed_up_with_pg_dump_and_restored_into_an_empty_database(
        project: Project, postgres: PgServer, tmp_path: Path) -> None:
    build = project.ok("build", "--json").json()["id"]  # type: ignore[index]
    project.ok("promote", build, "--to", "dev")
    written = project.ok("backup", "--json").json()
    assert isinstance(written, dict)
    backup = Path(written["path"])
    assert sorted(p.name for p in backup.iterdir()) == ["ledger.dump", "manifest.json"]
    assert postgres.password not in (backup / "manifest.json").read_text()
    config, restored = _restored_into(project, postgres, tmp_path, str(backup))
    assert restored.code == 0, restored.err  # type: ignore[attr-defined]
    again = project.ok("--config", str(config), "builds", "--json").json()
    assert [b["id"] for b in again] == [build]  # type: ignore[union-attr]
    verified = project.ok("--config", str(config), "log", "verify", "--json").json()
    assert verified["ok"] is True  # type: ignore[index]
    log = project.ok("--config", str(config), "log", "--json").json()
    assert log[-1]["action"] == "ledger.restore"  # type: ignore[index]
    # the artifacts came with the dump: the restored ledger promotes the build further
    project.ok("--config", str(config), "promote", build, "--to", "staging", "--yes")


def test_a_restore_into_a_database_that_is_not_empty_is_refused_unless_told(
        project: Project, postgres: PgServer, tmp_path: Path) -> None:
    project.ok("build")
    backup = Path(project.ok("backup", "--json").json()["path"])  # type: ignore[index]
    project.repo.commit("fix: after the backup")
    project.ok("build")
    database = project.ledger_url.rsplit("/", 1)[1]  # the live ledger itself
    before = project.query("SELECT count(*) FROM audit")
    _, refused = _restored_into(project, postgres, tmp_path, str(backup), database=database)
    assert refused.code == 1  # type: ignore[attr-defined]
    said = " ".join(refused.err.split())  # type: ignore[attr-defined]
    assert "is not empty" in said and "--replace" in said and postgres.password not in said
    assert project.query("SELECT count(*) FROM audit") == before
    config = tmp_path / "second-machine" / "quarterdeck.toml"
    project.ok("--config", str(config), "restore", str(backup), "--replace", "--yes")
    assert [b["id"] for b in project.ok("builds", "--json").json()] == ["2027.1.0+b1"]  # type: ignore[union-attr]
    assert project.ok("log", "verify", "--json").json()["ok"] is True  # type: ignore[index]


def test_a_damaged_dump_is_refused_and_nothing_is_restored(project: Project, postgres: PgServer,
                                                           tmp_path: Path) -> None:
    project.ok("build")
    backup = Path(project.ok("backup", "--json").json()["path"])  # type: ignore[index]
    dump = backup / "ledger.dump"
    dump.write_bytes(dump.read_bytes()[:-1] + b"!")
    database = postgres.create_database()
    _, refused = _restored_into(project, postgres, tmp_path, str(backup), database=database)
    assert refused.code == 1  # type: ignore[attr-defined]
    assert "ledger.dump does not match its checksum" in " ".join(refused.err.split())  # type: ignore[attr-defined]
    from releases.records.pgbackup import tables_in

    assert tables_in(postgres.url(database)) == []


def test_only_the_newest_team_ledger_backups_are_kept(project: Project,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    text = project.config.read_text().replace("keep = 5                      # newest", "keep = 2  # newest")
    project.config.write_text(text)
    made = []
    for minute in range(3):
        monkeypatch.setenv("QUARTERDECK_NOW", f"2026-10-05T12:0{minute}:00+00:00")
        made.append(Path(project.ok("backup", "--json").json()["path"]).name)  # type: ignore[index]
    kept = sorted(p.name for p in (project.root / ".quarterdeck" / "backups").iterdir())
    assert kept == made[1:]
