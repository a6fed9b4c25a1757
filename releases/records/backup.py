"""Backups of the pipeline's own records: the ledger and the artifacts it references.

A backup is a directory with a consistent copy of the ledger (SQLite's online
backup API, so writers may keep going), the referenced artifacts, and a
manifest of sha256 checksums. Restore checks the manifest before it touches
anything, so a damaged backup is refused whole. A PostgreSQL ledger's backup is
a dump with the same manifest (releases.records.pgbackup); naming, retention and
the manifest's checks are these.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from releases.artifacts.artifact import CHUNK, ArtifactStore, sha256_file
from releases.artifacts.builds import builds
from releases.errors import ArtifactError, ReleasesError
from releases.records.auditlog import verify_chain
from releases.records.ledger import Ledger
from releases.records.reads import sqlite_path
from releases.settings import mask_password

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


def ledger_file(url: str) -> Path:
    """The SQLite ledger's file (the one reading of a SQLite URL, releases.records.reads')."""
    path = sqlite_path(url)
    if path is None:
        raise BackupError(f"{mask_password(url)} is not a SQLite ledger file that can be copied",
                          hint="name the ledger as sqlite:////absolute/path.db, or back up a PostgreSQL "
                               "ledger on PostgreSQL (quarterdeck backup does both)")
    return path


def create_backup(ledger: Ledger, artifacts_dir: Path, backups_dir: Path, *, keep: int) -> BackupInfo:
    """Write a new backup directory, then drop the oldest beyond `keep`.

    Each backup is written in a working directory of its own and renamed into place under
    a name no other backup has, so two backups started in the same second never touch each
    other's files: the second one is named `backup-…Z-2`.
    """
    source = ledger_file(ledger.url)
    now = ledger.clock()
    name = f"backup-{now:%Y%m%dT%H%M%S}Z"
    backups_dir.mkdir(parents=True, exist_ok=True)
    work = backups_dir / f".{name}.{secrets.token_hex(6)}.partial"
    work.mkdir()  # exclusive, and with the usual permissions (mkdtemp's would be private)
    store = ArtifactStore(artifacts_dir)
    try:
        (work / "artifacts").mkdir()
        _copy_ledger(source, work / LEDGER_FILE)
        with sqlite3.connect(work / LEDGER_FILE) as copy:
            digests = [r[0] for r in copy.execute(f"SELECT DISTINCT sha256 FROM {builds.name}")]
        for digest in digests:
            try:
                store.copy_verified(digest, work / "artifacts" / store.path_for(digest).name)
            except ArtifactError as err:
                raise BackupError(f"no backup was written: {err}", hint=err.hint) from err
        files = {p.relative_to(work).as_posix(): sha256_file(p)
                 for p in sorted(work.rglob("*")) if p.is_file()}
        report = _chain_of(work / LEDGER_FILE)
        manifest = {"format": FORMAT, "created_at": now.isoformat(), "ledger": LEDGER_FILE,
                    "audit_entries": report[0], "audit_head": report[1], "files": files}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        size = sum(p.stat().st_size for p in work.rglob("*") if p.is_file())
        final = move_into_place(work, backups_dir, name)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    prune_backups(backups_dir, keep)
    return BackupInfo(final, now.isoformat(), len(files), size, report[0], report[1])


def move_into_place(work: Path, backups_dir: Path, name: str) -> Path:
    """Rename the finished backup to `name`, or `name-2`, `name-3`… when that one is taken.

    A rename never replaces a finished backup: it holds files, and renaming a directory over
    a non-empty one fails."""
    for number in range(1, 1000):
        final = backups_dir / (name if number == 1 else f"{name}-{number}")
        if final.exists():
            continue
        try:
            os.rename(work, final)
        except OSError as err:
            if err.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue  # another backup took this name a moment ago
            raise
        return final
    raise BackupError(f"{backups_dir} already holds 999 backups named {name}…",
                      hint="remove old backups from it, or give another directory with --to")


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
    return sorted((p for p in backups_dir.iterdir() if p.is_dir() and p.name.startswith("backup-")),
                  key=_written_order)


def _written_order(path: Path) -> tuple[str, int]:
    """backup-<time>Z, then backup-<time>Z-2, -3 … -10 for backups written in the same second."""
    stem, _, number = path.name.rpartition("-")
    if stem.endswith("Z") and number.isdigit():
        return stem, int(number)
    return path.name, 1


def prune_backups(backups_dir: Path, keep: int) -> list[Path]:
    """Keep the newest `keep` backups (the recovery plan keeps five days).

    Another backup finishing at the same moment may be removing the same old one; what it
    removed first is simply gone already."""
    old = list_backups(backups_dir)[:-keep] if keep > 0 else []
    for path in old:
        shutil.rmtree(path, onerror=_gone_already)
    return old


def _gone_already(function: Any, path: str, exc_info: Any) -> None:
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]


RESTORE_OLDER = "restore an older backup (`quarterdeck restore BACKUP`); this one is not used"


def check_backup(path: Path) -> dict[str, Any]:
    """The manifest, after proving every file is present, unchanged, nothing was added, and
    every artifact hashes to its own name (a backup written from a damaged artifact records
    the damaged bytes' checksum, so the manifest alone would pass it)."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{path} is not a backup: it has no {MANIFEST}",
                          hint="name a directory written by `quarterdeck backup`")
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        files: dict[str, str] = manifest["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise BackupError(f"{manifest_path} is damaged: {err}", hint=RESTORE_OLDER) from err
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path} has backup format {manifest.get('format')!r}; this quarterdeck "
                          f"reads format {FORMAT}", hint="restore it with the quarterdeck that wrote it")
    present = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()} - {MANIFEST}
    missing = sorted(set(files) - present)
    extra = sorted(present - set(files))
    if missing:
        raise BackupError(f"backup {path.name} is damaged: {missing[0]} is missing", hint=RESTORE_OLDER)
    if extra:
        raise BackupError(f"backup {path.name} has a file its manifest does not list: {extra[0]}",
                          hint=f"remove it if you put it there, else {RESTORE_OLDER}")
    for name, digest in files.items():
        if sha256_file(path / name) != digest:
            raise BackupError(f"backup {path.name} is damaged: {name} does not match its checksum",
                              hint=RESTORE_OLDER)
        wanted = _artifact_digest(name)
        if wanted is not None and digest != wanted:
            raise BackupError(f"backup {path.name} holds a damaged artifact: {name} has sha256 "
                              f"{digest[:12]}…, not the digest it is named by",
                              hint=f"it was backed up damaged; {RESTORE_OLDER}")
    if manifest.get("backend") == "postgresql":
        return manifest  # its audit trail is proven once restored (releases.records.pgbackup)
    entries, head = _chain_of(path / LEDGER_FILE)
    if (entries, head) != (manifest.get("audit_entries"), manifest.get("audit_head")):
        raise BackupError(f"backup {path.name}: its audit trail does not match the manifest",
                          hint=RESTORE_OLDER)
    return manifest


def _artifact_digest(name: str) -> str | None:
    """The digest an artifact of a backup is named by, or None for the backup's other files."""
    if not name.startswith("artifacts/"):
        return None
    return name.removeprefix("artifacts/").removesuffix(".tar.gz")


def restore_backup(path: Path, ledger_path: Path, artifacts_dir: Path, *, now: datetime) -> Path | None:
    """Put a checked backup in place; an existing ledger is kept aside, never overwritten.

    An artifact already in the store is kept when its bytes hash to its name, and replaced
    from the backup when they do not."""
    manifest = check_backup(path)
    kept_aside = None
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    if ledger_path.exists():
        kept_aside = ledger_path.with_name(f"{ledger_path.name}.before-restore-{now:%Y%m%dT%H%M%S}Z")
        _copy_ledger(ledger_path, kept_aside)
    store = ArtifactStore(artifacts_dir)
    for name in manifest["files"]:
        digest = _artifact_digest(name)
        if digest is None:
            continue
        try:
            store.verified(digest)
        except ArtifactError:  # missing, or damaged: the backup's checked copy goes in its place
            with store.temp_file() as temp, (path / name).open("rb") as source:
                shutil.copyfileobj(source, temp, CHUNK)
            store.add(Path(temp.name))
    temp_ledger = ledger_path.with_name(f".{ledger_path.name}.restoring")
    shutil.copyfile(path / LEDGER_FILE, temp_ledger)
    for suffix in ("-wal", "-shm"):
        Path(f"{ledger_path}{suffix}").unlink(missing_ok=True)
    os.replace(temp_ledger, ledger_path)
    return kept_aside


def record_restore(ledger: Ledger, backup: Path, manifest: dict[str, Any], kept_aside: Path | None) -> None:
    """The restored ledger's trail says it was restored, from which backup, and where the
    replaced ledger went: the entry follows the backup's own head, so the chain stays whole."""
    with ledger.write() as conn:
        ledger.record(conn, "ledger.restore", f"backup:{backup.name}",
                      detail={"backup": str(backup.resolve()), "created_at": manifest["created_at"],
                              "audit_head": manifest["audit_head"],
                              "kept_aside": str(kept_aside) if kept_aside else None})
