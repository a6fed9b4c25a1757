"""The record-keeping commands: the audit log, its verification, backups and restores."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from releases.app import ReleasesApp
from releases.errors import ReleasesError


class ChainBroken(ReleasesError):
    """`log verify` found an entry that does not fit the chain."""


def _setup_log(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", help="only entries from this date (YYYY-MM-DD, UTC) on")
    p.add_argument("--build", help="only entries about this build (id, sha256 prefix, latest, @TIER)")
    p.add_argument("--limit", type=int, help="only the newest N entries")
    p.add_argument("--json", action="store_true", help="print JSON on stdout and nothing else")


def cmd_log(app: ReleasesApp, args: argparse.Namespace) -> int:
    from releases.records.auditlog import read_log

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise ReleasesError(f"--since {args.since!r} is not a date like 2026-10-01",
                                hint="give YYYY-MM-DD or an ISO-8601 time") from None
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since
    subject = app.resolve_build(args.build).id if args.build else None
    with app.ledger.read() as conn:
        entries = read_log(conn, since=since, subject=subject, limit=args.limit)
    if app.json:
        app.emit_json([{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "command": e.command,
                        "action": e.action, "subject": e.subject, "reason": e.reason,
                        "detail": e.detail} for e in entries])
        return 0
    from rich.table import Table

    table = Table(title="Audit log", title_justify="left")
    for col in ("#", "when (UTC)", "who", "action", "subject", "reason"):
        table.add_column(col, overflow="fold")
    for e in entries:
        table.add_row(str(e.id), f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.subject,
                      e.reason or "")
    app.out.print(table if entries else "no audit entries match")
    return 0


def cmd_log_verify(app: ReleasesApp, args: argparse.Namespace) -> int:
    from releases.records.auditlog import verify_chain

    with app.ledger.read() as conn:
        report = verify_chain(conn)
    if app.json:
        app.emit_json({"ok": report.ok, "entries": report.entries, "first_bad": report.first_bad,
                       "problem": report.problem, "head": report.head})
        return 0 if report.ok else 1
    if not report.ok:
        raise ChainBroken(f"the audit trail is broken: {report.problem}",
                          hint="restore the ledger from a backup whose `log verify` passes")
    app.out.print(f"[green]ok[/green] {report.entries} audit entries, chain intact; "
                  f"head {report.head[:16]}…")
    return 0


def _backups_dir(app: ReleasesApp) -> Path:
    return app.config.backup_dir


def _setup_backup(p: argparse.ArgumentParser) -> None:
    p.add_argument("--to", metavar="DIR", help="where backups are kept (default: [backup].dir)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout and nothing else")


def cmd_backup(app: ReleasesApp, args: argparse.Namespace) -> int:
    from releases.records.backup import create_backup

    target = Path(args.to) if args.to else _backups_dir(app)
    if _on_postgresql(app):
        from releases.records.pgbackup import create_pg_backup

        info = create_pg_backup(app.ledger, target, keep=app.config.backup_keep)
    else:
        info = create_backup(app.ledger, app.config.artifacts_dir, target, keep=app.config.backup_keep)
    if app.json:
        app.emit_json({"path": str(info.path), "created_at": info.created_at, "files": info.files,
                       "bytes": info.bytes, "audit_entries": info.audit_entries,
                       "audit_head": info.audit_head})
        return 0
    app.out.print(f"backup written: [bold]{info.path}[/bold] ({info.files} files, "
                  f"{info.bytes / 1048576:.1f} MiB, {info.audit_entries} audit entries)")
    return 0


def _setup_restore(p: argparse.ArgumentParser) -> None:
    p.add_argument("backup", metavar="BACKUP", help="a backup directory written by `quarterdeck backup`")
    p.add_argument("--yes", action="store_true", help="do not ask before replacing the ledger")
    p.add_argument("--replace", action="store_true",
                   help="PostgreSQL: restore into a database that is not empty, dropping what it holds")


def _on_postgresql(app: ReleasesApp) -> bool:
    return app.config.ledger_url.startswith("postgresql")


def cmd_restore(app: ReleasesApp, args: argparse.Namespace) -> int:
    from releases.records.backup import check_backup, ledger_file, record_restore, restore_backup

    source = Path(args.backup)
    if not source.is_absolute() and not source.exists():
        source = _backups_dir(app) / args.backup
    manifest = check_backup(source)
    if _on_postgresql(app):
        return _restore_postgresql(app, source, manifest, replace=args.replace, yes=args.yes)
    target = ledger_file(app.config.ledger_url)
    if target.exists() and not app.confirm(
            f"replace the ledger {target} with the backup of {manifest['created_at']}?", args.yes):
        app.out.print("nothing restored")
        return 1
    kept = restore_backup(source, target, app.config.artifacts_dir, now=app.clock())
    record_restore(app.ledger, source, manifest, kept)
    app.out.print(f"restored [bold]{source.name}[/bold] into {target}")
    if kept:
        app.out.print(f"the previous ledger is kept at {kept}")
    return 0


def _restore_postgresql(app: ReleasesApp, source: Path, manifest: dict[str, Any], *, replace: bool,
                        yes: bool) -> int:
    """Into an empty database; the ledger is opened (and the restore recorded) only afterwards,
    since opening it first would create empty tables in the way."""
    from releases.records.backup import record_restore
    from releases.records.pgbackup import restore_pg_backup
    from releases.settings import mask_password

    where = mask_password(app.config.ledger_url)
    if replace and not app.confirm(f"drop what {where} holds and restore the backup of "
                                   f"{manifest['created_at']}?", yes):
        app.out.print("nothing restored")
        return 1
    restore_pg_backup(source, manifest, app.config.ledger_url, replace=replace)
    record_restore(app.ledger, source, manifest, None)
    app.out.print(f"restored [bold]{source.name}[/bold] into {where}")
    return 0


def _setup_verify(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON only")
