"""Backups of a team's PostgreSQL ledger: `pg_dump` in its custom format, and the same manifest.

The dump holds the whole ledger, artifacts included (releases.artifacts.shared keeps them in
it). It is taken from one snapshot that the manifest's audit head is read from too, so the
head always describes the dump exactly, whatever other release managers write meanwhile.
`restore` checks the manifest and the dump's table of contents before it touches anything,
restores into an empty database (a non-empty one only when told), and then proves the
restored audit trail is the one the manifest names. The password never reaches a command
line: pg_dump and pg_restore read it from their environment.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text

from releases.artifacts.artifact import sha256_file
from releases.records.auditlog import verify_chain
from releases.records.backup import (
    FORMAT,
    MANIFEST,
    BackupError,
    BackupInfo,
    move_into_place,
    prune_backups,
)
from releases.records.connection import engine_url
from releases.records.ledger import Ledger
from releases.settings import mask_password

DUMP_FILE = "ledger.dump"


def tool(name: str) -> str:
    """pg_dump or pg_restore: on PATH, else the newest of Debian's versioned directories."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                                                   key=lambda p: int(p.split("/")[4]), reverse=True)), None)
    if found is None:
        raise BackupError(f"{name} is not installed; a PostgreSQL ledger is backed up and restored with it",
                          hint="install PostgreSQL's client tools (apt-get install postgresql-client)")
    return found


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL for pg_dump/pg_restore without its password, and the environment that carries it."""
    from sqlalchemy.engine import make_url

    parts = make_url(url)
    env = {**os.environ}
    if parts.password:
        env["PGPASSWORD"] = str(parts.password)
    bare = parts.set(drivername="postgresql", password=None)
    return bare.render_as_string(hide_password=False), env


def _run(argv: list[str], env: dict[str, str], url: str, what: str) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["(nothing)"])[-1].replace(url, mask_password(url))
        raise BackupError(f"{what} failed: {said}", hint="check that the server is reachable and the user "
                                                         "may read (back up) or create (restore) the tables")


def create_pg_backup(ledger: Ledger, backups_dir: Path, *, keep: int) -> BackupInfo:
    """Dump the ledger from one snapshot, with a manifest naming that snapshot's audit head."""
    now = ledger.clock()
    name = f"backup-{now:%Y%m%dT%H%M%S}Z"
    backups_dir.mkdir(parents=True, exist_ok=True)
    work = backups_dir / f".{name}.{secrets.token_hex(6)}.partial"
    work.mkdir()
    bare, env = _libpq(ledger.url)
    try:
        with ledger.engine.connect() as conn:
            conn.execute(text("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            report = verify_chain(conn)  # the same snapshot the dump is taken from
            _run([tool("pg_dump"), "--format=custom", "--no-owner", f"--snapshot={snapshot}",
                  f"--file={work / DUMP_FILE}", bare], env, ledger.url, "pg_dump")
            conn.rollback()
        files = {DUMP_FILE: sha256_file(work / DUMP_FILE)}
        manifest = {"format": FORMAT, "backend": "postgresql", "created_at": now.isoformat(),
                    "ledger": DUMP_FILE, "audit_entries": report.entries, "audit_head": report.head,
                    "files": files}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        size = sum(p.stat().st_size for p in work.iterdir() if p.is_file())
        final = move_into_place(work, backups_dir, name)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    prune_backups(backups_dir, keep)
    return BackupInfo(final, now.isoformat(), len(files), size, report.entries, report.head)


def tables_in(url: str) -> list[str]:
    """The tables a database already holds (a restore goes into an empty one)."""
    engine = create_engine(engine_url(url))
    try:
        with engine.connect() as conn:
            return sorted(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def restore_pg_backup(path: Path, manifest: dict[str, Any], url: str, *, replace: bool) -> None:
    """Restore a checked backup's dump into the database, then prove its audit trail is the
    manifest's. A database that holds tables is refused unless `replace` (they are dropped)."""
    if manifest.get("backend") != "postgresql":
        raise BackupError(f"backup {path.name} is of a SQLite ledger; this ledger is PostgreSQL",
                          hint="restore it into a SQLite ledger, or back up this ledger with `quarterdeck "
                               "backup`")
    bare, env = _libpq(url)
    restore = tool("pg_restore")
    _run([restore, "--list", str(path / DUMP_FILE)], env, url, f"reading backup {path.name}")
    present = tables_in(url)
    if present and not replace:
        raise BackupError(f"the database of {mask_password(url)} is not empty ({len(present)} tables, "
                          f"e.g. {present[0]}); a backup is restored into an empty database",
                          hint="create an empty database and point [ledger].url at it, or pass --replace "
                               "to drop what this one holds")
    _run([restore, "--no-owner", "--exit-on-error", "--single-transaction",
          *(["--clean", "--if-exists"] if replace else []), f"--dbname={bare}", str(path / DUMP_FILE)],
         env, url, "pg_restore")
    engine = create_engine(engine_url(url))
    try:
        with engine.connect() as conn:
            report = verify_chain(conn)
    finally:
        engine.dispose()
    if (report.entries, report.head) != (manifest.get("audit_entries"), manifest.get("audit_head")):
        raise BackupError(f"backup {path.name} was restored, but its audit trail does not match the "
                          "manifest", hint="do not use this database; restore an older backup into an "
                                           "empty one")
