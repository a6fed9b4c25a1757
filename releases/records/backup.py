"""Backups of the pipeline's own records: the ledger and the artifacts it references.

A backup is a directory with a consistent copy of the ledger (SQLite's online
backup API, so writers may keep going), the referenced artifacts, and a
manifest of sha256 checksums. Restore checks the manifest before it touches
anything, so a damaged backup is refused whole.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from releases.artifacts.artifact import sha256_file
from releases.artifacts.builds import builds
from releases.errors import ReleasesError
from releases.records.auditlog import verify_chain
from releases.records.ledger import Ledger

MANIFEST = "manifest.json"
LEDGER_FILE = "ledger.db"
FORMAT = 1


class BackupError(ReleasesError):
    """A backup cannot be written, or is damaged and cannot be restored."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    created_at: str
    files: int
    bytes: int
    audit_entries: int
    audit_head: str


def sqlite_path(url: str) -> Path:
    if not url.startswith("sqlite:///") or url.endswith(":memory:"):
        raise BackupError(f"backups are written for SQLite ledgers; {url.split(':', 1)[0]} is not one",
                          hint="back up a PostgreSQL ledger with pg_dump and the artifact directory")
    return Path(url[len("sqlite:///"):])


def create_backup(ledger: Ledger, artifacts_dir: Path, backups_dir: Path, *, keep: int) -> BackupInfo:
    """Write a new backup directory, then drop the oldest beyond `keep`."""
    source = sqlite_path(ledger.url)
    now = ledger.clock()
    name = f"backup-{now:%Y%m%dT%H%M%S}Z"
    backups_dir.mkdir(parents=True, exist_ok=True)
    final = backups_dir / name
    if final.exists():
        raise BackupError(f"{final} already exists", hint="wait a second and run the backup again")
    work = backups_dir / f".{name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    (work / "artifacts").mkdir(parents=True)
    try:
        _copy_ledger(source, work / LEDGER_FILE)
        with sqlite3.connect(work / LEDGER_FILE) as copy:
            digests = [r[0] for r in copy.execute(f"SELECT DISTINCT sha256 FROM {builds.name}")]
        for digest in digests:
            src = artifacts_dir / f"{digest}.tar.gz"
            if not src.exists():
                raise BackupError(f"artifact {digest[:12]} referenced by the ledger is missing from "
                                  f"{artifacts_dir}", hint="restore it from an older backup first")
            shutil.copyfile(src, work / "artifacts" / src.name)
        files = {p.relative_to(work).as_posix(): sha256_file(p)
                 for p in sorted(work.rglob("*")) if p.is_file()}
        report = _chain_of(work / LEDGER_FILE)
        manifest = {"format": FORMAT, "created_at": now.isoformat(), "ledger": LEDGER_FILE,
                    "audit_entries": report[0], "audit_head": report[1], "files": files}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        os.replace(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    prune_backups(backups_dir, keep)
    size = sum(p.stat().st_size for p in final.rglob("*") if p.is_file())
    return BackupInfo(final, now.isoformat(), len(files), size, report[0], report[1])


def _copy_ledger(source: Path, dest: Path) -> None:
    if not source.exists():
        raise BackupError(f"there is no ledger at {source} to back up")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        dst.close()
        src.close()


def _chain_of(db: Path) -> tuple[int, str]:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///file:{db}?mode=ro&immutable=1&uri=true")
    try:
        with engine.connect() as conn:
            report = verify_chain(conn)
    finally:
        engine.dispose()
    return report.entries, report.head


def list_backups(backups_dir: Path) -> list[Path]:
    if not backups_dir.is_dir():
        return []
    return sorted(p for p in backups_dir.iterdir() if p.is_dir() and p.name.startswith("backup-"))


def prune_backups(backups_dir: Path, keep: int) -> list[Path]:
    """Keep the newest `keep` backups (the recovery plan keeps five days)."""
    old = list_backups(backups_dir)[:-keep] if keep > 0 else []
    for path in old:
        shutil.rmtree(path)
    return old


def check_backup(path: Path) -> dict[str, Any]:
    """The manifest, after proving every file is present, unchanged, and nothing was added."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{path} is not a backup: it has no {MANIFEST}")
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        files: dict[str, str] = manifest["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise BackupError(f"{manifest_path} is damaged: {err}") from err
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path} has backup format {manifest.get('format')!r}; this quarterdeck "
                          f"reads format {FORMAT}")
    present = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()} - {MANIFEST}
    missing = sorted(set(files) - present)
    extra = sorted(present - set(files))
    if missing:
        raise BackupError(f"backup {path.name} is damaged: {missing[0]} is missing",
                          hint="restore an older backup")
    if extra:
        raise BackupError(f"backup {path.name} has a file its manifest does not list: {extra[0]}")
    for name, digest in files.items():
        if sha256_file(path / name) != digest:
            raise BackupError(f"backup {path.name} is damaged: {name} does not match its checksum",
                              hint="restore an older backup")
    entries, head = _chain_of(path / LEDGER_FILE)
    if (entries, head) != (manifest.get("audit_entries"), manifest.get("audit_head")):
        raise BackupError(f"backup {path.name}: its audit trail does not match the manifest")
    return manifest


def restore_backup(path: Path, ledger_path: Path, artifacts_dir: Path, *, now: datetime) -> Path | None:
    """Put a checked backup in place; an existing ledger is kept aside, never overwritten."""
    manifest = check_backup(path)
    kept_aside = None
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    if ledger_path.exists():
        kept_aside = ledger_path.with_name(f"{ledger_path.name}.before-restore-{now:%Y%m%dT%H%M%S}Z")
        _copy_ledger(ledger_path, kept_aside)
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    for name in manifest["files"]:
        if name.startswith("artifacts/"):
            target = artifacts_dir / name.removeprefix("artifacts/")
            if not target.exists():
                shutil.copyfile(path / name, target)
    temp = ledger_path.with_name(f".{ledger_path.name}.restoring")
    shutil.copyfile(path / LEDGER_FILE, temp)
    for suffix in ("-wal", "-shm"):
        Path(f"{ledger_path}{suffix}").unlink(missing_ok=True)
    os.replace(temp, ledger_path)
    return kept_aside

