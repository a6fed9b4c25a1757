"""The audit log, its hash chain, and backups that restore to the same state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Project


@pytest.fixture
def built(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("QUARTERDECK_NOW", "2026-10-05T12:00:00+00:00")
    project.ok("build")
    project.repo.commit("fix: second")
    project.ok("build")
    project.repo.commit("feat: third")
    project.ok("build")
    return project


def _db(project: Project) -> Path:
    return project.root / ".quarterdeck/ledger.db"


def test_log_shows_who_did_what(built: Project) -> None:
    entries = built.ok("log", "--json").json()
    creates = [e for e in entries if e["action"] == "build.create"]  # type: ignore[union-attr]
    assert [e["subject"] for e in creates] == ["2026.4.0+b1", "2026.4.0+b2", "2026.4.0+b3"]
    assert all(e["actor"] == "ada@example.org" for e in creates)
    only = built.ok("log", "--build", "2026.4.0+b2", "--json").json()
    assert [e["subject"] for e in only] == ["2026.4.0+b2"]  # type: ignore[index]
    assert built.ok("log", "--since", "2030-01-01", "--json").json() == []
    bad = built.run("log", "--since", "yesterday")
    assert bad.code == 1 and "--since 'yesterday' is not a date" in bad.err


def test_verify_passes_then_names_the_first_tampered_entry(built: Project) -> None:
    ok = built.ok("log", "verify", "--json").json()
    assert ok["ok"] is True and ok["entries"] == 3  # type: ignore[index]
    [(target,)] = built.query("SELECT id FROM audit WHERE subject = '2026.4.0+b2'")
    built.query("UPDATE audit SET actor = 'mallory@example.org' WHERE id = ?", target)
    result = built.run("log", "verify")
    assert result.code == 1
    assert f"entry #{target} was changed after it was written" in result.err


def test_verify_detects_a_deleted_entry(built: Project) -> None:
    [(target,)] = built.query("SELECT id FROM audit WHERE subject = '2026.4.0+b2'")
    built.query("DELETE FROM audit WHERE id = ?", target)
    result = built.run("log", "verify")
    assert result.code == 1
    assert f"entry #{target + 1} does not follow the entry before it" in result.err


def test_verify_detects_reordered_entries(built: Project) -> None:
    a, b = (r[0] for r in built.query(
        "SELECT id FROM audit WHERE action = 'build.create' ORDER BY id LIMIT 2"))
    built.query("UPDATE audit SET id = -1 WHERE id = ?", a)
    built.query("UPDATE audit SET id = ? WHERE id = ?", a, b)
    built.query("UPDATE audit SET id = ? WHERE id = -1", b)
    result = built.run("log", "verify", "--json")
    assert result.code == 1
    assert json.loads(result.out)["first_bad"] == a


@pytest.mark.backends("sqlite")  # a PostgreSQL ledger is backed up with pg_dump: not yet
def test_backup_restores_into_a_fresh_directory_with_the_same_status(
        built: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    info = built.ok("backup", "--json").json()
    backup = Path(info["path"])  # type: ignore[index]
    assert (backup / "manifest.json").is_file() and (backup / "ledger.db").is_file()
    assert len(list((backup / "artifacts").iterdir())) == 3
    before_builds = built.ok("builds", "--json").json()
    before_status = built.ok("status", "--json").json()

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    monkeypatch.chdir(fresh)
    other = Project(fresh, built.repo, capsys)
    other.ok("init", "--repo", str(built.repo.path), "--timezone", "America/Chicago")
    other.ok("restore", str(backup))
    assert other.ok("builds", "--json").json() == before_builds
    assert other.ok("status", "--json").json() == before_status
    assert other.ok("log", "verify", "--json").json()["ok"] is True  # type: ignore[index]
    for build in before_builds:  # type: ignore[union-attr]
        assert (fresh / ".quarterdeck/artifacts" / f"{build['sha256']}.tar.gz").is_file()


@pytest.mark.backends("sqlite")  # a PostgreSQL ledger is backed up with pg_dump: not yet
def test_restore_keeps_the_replaced_ledger_and_asks_first(built: Project) -> None:
    backup = Path(built.ok("backup", "--json").json()["path"])  # type: ignore[index]
    refused = built.run("restore", str(backup))
    assert refused.code == 2 and "--yes" in refused.err
    built.ok("restore", str(backup), "--yes")
    kept = list((built.root / ".quarterdeck").glob("ledger.db.before-restore-*"))
    assert len(kept) == 1


@pytest.mark.backends("sqlite")  # a PostgreSQL ledger is backed up with pg_dump: not yet
@pytest.mark.parametrize("damage", ["edit", "delete", "add"])
def test_a_damaged_backup_is_refused_and_changes_nothing(built: Project, damage: str) -> None:
    backup = Path(built.ok("backup", "--json").json()["path"])  # type: ignore[index]
    artifact = next((backup / "artifacts").iterdir())
    if damage == "edit":
        artifact.write_bytes(artifact.read_bytes()[:-1] + b"!")
    elif damage == "delete":
        artifact.unlink()
    else:
        (backup / "artifacts" / "stray.tar.gz").write_bytes(b"x")
    before = _db(built).read_bytes()
    result = built.run("restore", str(backup), "--yes")
    assert result.code == 1
    assert f"backup {backup.name}" in result.err
    assert _db(built).read_bytes() == before


@pytest.mark.backends("sqlite")  # a PostgreSQL ledger is backed up with pg_dump: not yet
def test_only_the_newest_backups_are_kept(built: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    text = built.config.read_text().replace("keep = 5                      # newest", "keep = 2  # newest")
    built.config.write_text(text)
    for minute in range(4):
        monkeypatch.setenv("QUARTERDECK_NOW", f"2026-10-0{minute + 1}T12:00:00+00:00")
        built.ok("backup")
    kept = sorted(p.name for p in (built.root / ".quarterdeck/backups").iterdir())
    assert kept == ["backup-20261003T120000Z", "backup-20261004T120000Z"]
