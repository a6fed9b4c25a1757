"""The audit log, its hash chain, and backups that restore to the same state."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
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


def _flip_a_byte(path: Path) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _hinted(text: str) -> str:
    said = " ".join(text.split())
    assert "hint:" in said and "unexpected" not in said, said
    return said


@pytest.mark.backends("sqlite")  # a PostgreSQL ledger is backed up with pg_dump: not yet
def test_backup_refuses_a_damaged_artifact_and_writes_nothing(built: Project) -> None:
    build = built.ok("show", "2026.4.0+b2", "--json").json()
    _flip_a_byte(built.root / ".quarterdeck/artifacts" / f"{build['sha256']}.tar.gz")  # type: ignore[index]
    result = built.run("backup")
    assert result.code == 1
    said = _hinted(result.err)
    assert f"no backup was written: artifact {built.root}/.quarterdeck/artifacts/{build['sha256']}" in said
    assert "is damaged" in said and "never deploy it" in said
    backups = built.root / ".quarterdeck/backups"
    assert list(backups.iterdir()) == []  # neither a backup nor a working directory is left


@pytest.mark.backends("sqlite")  # a PostgreSQL ledger is backed up with pg_dump: not yet
def test_restore_refuses_a_backup_that_was_written_from_a_damaged_artifact(built: Project) -> None:
    """What an older quarterdeck wrote: the damaged bytes with their own checksum in the manifest."""
    backup = Path(built.ok("backup", "--json").json()["path"])  # type: ignore[index]
    artifact = next((backup / "artifacts").iterdir())
    _flip_a_byte(artifact)
    manifest = json.loads((backup / "manifest.json").read_text())
    name = f"artifacts/{artifact.name}"
    manifest["files"][name] = hashlib.sha256(artifact.read_bytes()).hexdigest()
    (backup / "manifest.json").write_text(json.dumps(manifest))
    before = _db(built).read_bytes()
    result = built.run("restore", str(backup), "--yes")
    assert result.code == 1
    said = _hinted(result.err)
    assert f"backup {backup.name} holds a damaged artifact: {name}" in said
    assert _db(built).read_bytes() == before


@pytest.mark.backends("sqlite")  # a PostgreSQL ledger is backed up with pg_dump: not yet
def test_restore_puts_back_a_damaged_artifact_of_the_store_and_is_audited(built: Project) -> None:
    backup = Path(built.ok("backup", "--json").json()["path"])  # type: ignore[index]
    build = built.ok("show", "2026.4.0+b1", "--json").json()
    stored = built.root / ".quarterdeck/artifacts" / f"{build['sha256']}.tar.gz"  # type: ignore[index]
    _flip_a_byte(stored)
    built.ok("restore", str(backup), "--yes")
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == build["sha256"]  # type: ignore[index]
    log = built.ok("log", "--json").json()
    last = log[-1]  # type: ignore[index]
    assert (last["action"], last["subject"]) == ("ledger.restore", f"backup:{backup.name}")
    manifest = json.loads((backup / "manifest.json").read_text())
    assert last["detail"]["audit_head"] == manifest["audit_head"]
    assert last["detail"]["kept_aside"].startswith(str(built.root / ".quarterdeck/ledger.db.before-restore-"))
    assert built.ok("log", "verify", "--json").json()["ok"] is True  # type: ignore[index]


@pytest.mark.backends("sqlite")  # a PostgreSQL ledger is backed up with pg_dump: not yet
def test_two_backups_started_in_the_same_second_both_finish(built: Project) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    procs = [subprocess.Popen([sys.executable, "-m", "pipeline", "--config", str(built.config), "backup",
                               "--json"], cwd=built.root, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    paths = sorted(Path(json.loads(out)["path"]).name for out, _ in outputs)
    assert paths == ["backup-20261005T120000Z", "backup-20261005T120000Z-2"]
    backups = built.root / ".quarterdeck/backups"
    assert sorted(p.name for p in backups.iterdir()) == paths  # no working directory left behind
    for name in paths:
        built.ok("restore", name, "--yes")
    assert built.ok("log", "verify", "--json").json()["ok"] is True  # type: ignore[index]
