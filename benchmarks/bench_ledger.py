"""Ledger growth: `status`, `builds` and `notice status latest` on a ledger holding 10,000 builds
(each deployed to dev) and 1,000,000 delivery rows, against the same commands on a fresh ledger.

Both projects start the same way through the real commands (one build promoted to dev, five
contacts, the advance notice sent to the outbox); the big one then gets the history bulk-inserted
with sqlite3 in a few large transactions, cloning the real rows so that every value is one the
product itself wrote. Target: at most 1.5x. Every statement the three commands run is then passed
through EXPLAIN QUERY PLAN and any full scan of a grown table is reported.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import WORK, Result, quarterdeck, run_timed

try:  # PostgreSQL's half only
    from psycopg.rows import dict_row
except ImportError:  # pragma: no cover
    dict_row = None
from benchmarks.history import make_history

BUILDS = 10_000
DELIVERIES = 1_000_000
PER_NOTICE = 10_000
COMMANDS = {"status": ("status",), "builds": ("builds",), "notice_status": ("notice", "status", "latest")}
GROWN = ("builds", "deployments", "host_states", "notices", "deliveries")
CONTACTS = """organisation,name,email,role,time_zone
Acadia Hospice,User 1,user1@example.org,nurse,
Acadia Hospice,User 2,user2@example.org,nurse,
Acadia Hospice,User 3,user3@example.org,nurse,
Bayou Palliative,User 4,user4@example.org,nurse,America/New_York
Bayou Palliative,User 5,user5@example.org,nurse,America/Chicago
"""


def _qd(config: Path, *argv: str) -> str:
    done = subprocess.run([*quarterdeck(), "--config", str(config), *argv], capture_output=True, text=True,
                          cwd=config.parent)
    if done.returncode != 0:
        raise RuntimeError(f"quarterdeck {' '.join(argv)} failed: {done.stderr[-1500:]}")
    return done.stdout


def fresh_project(root: Path, ledger_url: str | None = None) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    config = root / "quarterdeck.toml"
    _qd(config, "init", "--repo", str(make_history(WORK / "ledger-repo", 20)))
    if ledger_url is not None:
        _use_ledger(config, ledger_url)
    (root / "contacts.csv").write_text(CONTACTS)
    _qd(config, "orgs", "import", str(root / "contacts.csv"))
    _qd(config, "build")
    _qd(config, "promote", "latest", "--to", "dev", "--yes")
    _qd(config, "notes", "approve", "latest", "--yes")
    _qd(config, "schedule", "latest", "--next-window")
    _qd(config, "notice", "send", "advance", "latest", "--yes")
    return config


def _use_ledger(config: Path, url: str) -> None:
    text = config.read_text()
    config.write_text(re.sub(r'(?m)^url = "[^"]*"', f'url = "{url}"', text, count=1))


class _Db:
    """The grown tables, written straight into the database in a few large transactions."""

    def __init__(self, conn: Any, postgres: bool) -> None:
        self.conn, self.postgres = conn, postgres

    def rows(self, table: str) -> list[dict[str, object]]:
        cursor = self.conn.cursor(row_factory=dict_row) if self.postgres else self.conn.cursor()
        cursor.execute(f"SELECT * FROM {table}")
        found = [dict(r) for r in cursor] if self.postgres else \
            [dict(zip([d[0] for d in cursor.description], r, strict=True)) for r in cursor]
        if not found:
            raise RuntimeError(f"the fresh ledger has no {table} row to clone")
        return found

    def one(self, sql: str) -> int:
        cursor = self.conn.cursor()
        cursor.execute(sql)
        return int(cursor.fetchone()[0])

    def insert(self, table: str, rows: list[dict[str, object]]) -> None:
        columns = [c for c in rows[0] if not (c == "id" and rows[0][c] is None)]  # None: the database's
        names = ", ".join(f'"{c}"' for c in columns)
        if self.postgres:
            with self.conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(tuple(row[c] for c in columns))
            return
        self.conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})",
                              [tuple(r[c] for c in columns) for r in rows])

    def begin(self) -> None:
        if not self.postgres:
            self.conn.execute("BEGIN")

    def commit(self) -> None:
        self.conn.commit() if self.postgres else self.conn.execute("COMMIT")


def _stamp(value: object, back: timedelta) -> object:
    """A time moved back: a datetime from PostgreSQL, SQLite's text otherwise."""
    if isinstance(value, datetime):
        return value - back
    moment = datetime.fromisoformat(str(value)) - back
    return moment.isoformat(sep=" ")


def grow(db: _Db) -> dict[str, int]:
    """Add 9,999 older builds, each deployed to dev, and 100 older notices of 10,000 deliveries each,
    cloned from the rows the real commands wrote."""
    try:
        build = db.rows("builds")[0]
        deployment = db.rows("deployments")[0]
        hosts = [r for r in db.rows("host_states") if r["deployment_id"] == deployment["id"]]
        notice = db.rows("notices")[0]
        delivery = db.rows("deliveries")[0]
        db.begin()
        builds, deployments, host_states = [], [], []
        next_deployment = db.one("SELECT max(id) FROM deployments") + 1
        old_ids = []
        for n in range(1, BUILDS):
            back = timedelta(hours=BUILDS - n + 1)
            year, quarter = 2000 + n // 400, 1 + (n // 100) % 4
            build_id = f"{year}.{quarter}.0+b{n % 100 + 1}"
            digest = hashlib.sha256(build_id.encode()).hexdigest()
            old_ids.append(build_id)
            builds.append({**build, "id": build_id, "version": f"{year}.{quarter}.0",
                           "build_number": n % 100 + 1,
                           "commit": hashlib.sha1(build_id.encode()).hexdigest(), "sha256": digest,
                           "source_key": hashlib.sha256(digest.encode()).hexdigest(),
                           "subject": f"feat(mod{n % 40}): change number {n}",
                           "created_at": _stamp(build["created_at"], back)})
            deployments.append({**deployment, "id": next_deployment, "build_id": build_id,
                                "started_at": _stamp(deployment["started_at"], back),
                                "finished_at": _stamp(deployment["finished_at"] or deployment["started_at"],
                                                      back)})
            for host in hosts:
                host_states.append({**host, "deployment_id": next_deployment, "build_id": build_id,
                                    "previous_build": old_ids[-2] if len(old_ids) > 1 else None,
                                    "updated_at": _stamp(host["updated_at"], back)})
            next_deployment += 1
        db.insert("builds", builds)
        db.insert("deployments", deployments)
        db.insert("host_states", host_states)
        db.commit()
        next_notice = db.one("SELECT max(id) FROM notices") + 1
        for k in range(DELIVERIES // PER_NOTICE):
            build_id = old_ids[-1 - k * 90]
            back = timedelta(days=k + 1)
            db.begin()
            db.insert("notices", [{**notice, "id": next_notice, "build_id": build_id,
                                     "event": f"schedule:{k + 100}", "recipients": PER_NOTICE,
                                     "created_at": _stamp(notice["created_at"], back)}])
            rows = []
            for r in range(PER_NOTICE):
                email = f"nurse{r}@hospice{r // 100}.example.org"
                state = "failed" if r % 997 == 0 else "sent"
                rows.append({**delivery, "id": None, "notice_id": next_notice, "email": email,
                             "email_key": email,
                             "name": f"Nurse Number {r}", "organisation": f"Hospice {r // 100:03d}",
                             "state": state, "reply": "550 5.1.1 no such user" if state == "failed"
                             else f"250 2.0.0 OK: queued as Q{r}",
                             "code": 550 if state == "failed" else 250,
                             "sent_at": _stamp(delivery["sent_at"], back) if state == "sent" else None,
                             "updated_at": _stamp(delivery["updated_at"], back)})
            db.insert("deliveries", rows)
            db.commit()
            next_notice += 1
        db.conn.execute("ANALYZE")
        if db.postgres:
            db.conn.commit()
        return {t: db.one(f"SELECT count(*) FROM {t}") for t in GROWN}
    finally:
        db.conn.close()


_TRACE = """
import json, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
seen = []
@event.listens_for(Engine, "before_cursor_execute")
def _keep(conn, cursor, statement, parameters, context, executemany):
    if statement.lstrip().upper().startswith("SELECT"):
        seen.append([statement, list(parameters) if isinstance(parameters, (list, tuple)) else parameters])
import pipeline
code = pipeline.main(sys.argv[2:])
with open(sys.argv[1], "w") as handle:
    json.dump(seen, handle, default=str)
sys.exit(code)
"""


def full_scans(config: Path) -> list[str]:
    """Each SELECT the three commands run, explained on the grown ledger: scans of the big tables."""
    found: list[str] = []
    db = sqlite3.connect(config.parent / ".quarterdeck" / "ledger.db")
    trace = config.parent / "statements.json"
    try:
        for argv in COMMANDS.values():
            subprocess.run([sys.executable, "-c", _TRACE, str(trace), "--config", str(config), *argv],
                           check=True, capture_output=True, cwd=str(Path(__file__).resolve().parents[1]))
            for statement, params in json.loads(trace.read_text()):
                plan = db.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
                for row in plan:
                    detail = str(row[-1])
                    if re.match(r"SCAN (\w+)", detail) and detail.split()[1] in GROWN \
                            and "COVERING INDEX" not in detail:
                        found.append(f"{' '.join(argv)}: {detail} in: {' '.join(statement.split())[:300]}")
    finally:
        db.close()
    return sorted(set(found))


def run() -> Result:
    root = WORK / "ledger"
    fresh = fresh_project(root / "fresh")
    big_root = root / "big"
    shutil.rmtree(big_root, ignore_errors=True)
    shutil.copytree(fresh.parent, big_root)
    big = big_root / "quarterdeck.toml"
    sizes = grow(_Db(sqlite3.connect(big_root / ".quarterdeck" / "ledger.db"), postgres=False))
    figures, worst = _compare(fresh, big, sizes)
    figures["full_scans"] = full_scans(big) or "none"
    return Result("ledger", "<= 1.5x a fresh ledger (10,000 builds, 1,000,000 deliveries)", worst, 1.5,
                  figures=figures)


def run_postgresql() -> Result:
    """The same growth on a PostgreSQL ledger (a throwaway cluster on a loopback port)."""
    import psycopg

    from tests.support.postgres import OWNER, remove, start_server

    server = start_server()
    try:
        root = WORK / "ledger-pg"
        fresh_db = server.create_database()
        fresh = fresh_project(root / "fresh", server.url(fresh_db))
        big_root = root / "big"
        shutil.rmtree(big_root, ignore_errors=True)
        shutil.copytree(fresh.parent, big_root)
        big = big_root / "quarterdeck.toml"
        with psycopg.connect(server.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "big" TEMPLATE "{fresh_db}" OWNER {OWNER}')
        _use_ledger(big, server.url("big"))
        sizes = grow(_Db(psycopg.connect(server.url("big")), postgres=True))
        figures, worst = _compare(fresh, big, sizes)
        return Result("ledger-pg", "<= 1.5x a fresh PostgreSQL ledger (10,000 builds, 1,000,000 "
                      "deliveries)", worst, 1.5, figures=figures)
    finally:
        remove(server)


def _compare(fresh: Path, big: Path, sizes: dict[str, int]) -> tuple[dict[str, object], float]:
    figures: dict[str, object] = {f"rows_{k}": v for k, v in sizes.items()}
    worst = 0.0
    for name, argv in COMMANDS.items():
        small = run_timed([*quarterdeck(), "--config", str(fresh), *argv], runs=5, cwd=fresh.parent)
        large = run_timed([*quarterdeck(), "--config", str(big), *argv], runs=5, cwd=big.parent)
        ratio = large.seconds / small.seconds
        worst = max(worst, ratio)
        figures.update({f"{name}_fresh_s": round(small.seconds, 3),
                        f"{name}_grown_s": round(large.seconds, 3),
                        f"{name}_ratio": round(ratio, 2)})
    return figures, worst
