"""Two release managers at once on one PostgreSQL ledger, as real processes started together.

Each race ends with exactly one winner, a one-line message for the loser (never "unexpected
… this is a bug"), no email sent twice, and an audit chain that `log verify` accepts with no
two entries following the same predecessor.
"""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import Project
from tests.quarter.conftest import Run, maildir_messages
from tests.support.postgres import PgServer

pytestmark = pytest.mark.backends("postgresql")

REPO = Path(__file__).resolve().parents[2]
PAIRS = 20
NOW = "2026-10-05T12:00:00+00:00"
# Each process imports everything heavy, says it is ready, then waits for the word: the race
# starts when all are loaded, not when the slowest interpreter happens to be.
CHILD = """
import pathlib, sys, time
import pipeline, psycopg, sqlalchemy, releases.records.ledger
ready, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.002)
sys.exit(pipeline.main(sys.argv[3:]))
"""


def together(project: Project, commands: Sequence[Sequence[str]], *, now: str = NOW,
             config: Path | None = None) -> list[Run]:
    """Start every command in a process of its own, all at the same moment; their results."""
    base = project.root / f"race-{time.monotonic_ns()}"
    base.mkdir()
    go = base / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", "QUARTERDECK_NOW": now}
    procs = []
    for index, argv in enumerate(commands):
        full = ["--config", str(config or project.config), *argv]
        procs.append(subprocess.Popen([sys.executable, "-c", CHILD, str(base / f"ready-{index}"), str(go),
                                       *full], cwd=project.root, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 120
    while sum(1 for p in base.glob("ready-*")) < len(procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    results = []
    for argv, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=300)
        results.append(Run(tuple(argv), proc.returncode, out, err))
    for ran in results:
        assert "unexpected" not in ran.err and "Traceback" not in ran.err, str(ran)
    return results


def chain_holds(project: Project) -> None:
    verified = project.ok("log", "verify", "--json").json()
    assert verified["ok"] is True, verified  # type: ignore[index]
    forks = project.query("SELECT prev_hash, count(*) FROM audit GROUP BY prev_hash HAVING count(*) > 1")
    assert forks == [], f"entries sharing one predecessor: {forks}"


def one_line(ran: Run) -> str:
    """The loser's message: one error and its hint (Rich may wrap either), nothing else."""
    lines = [line.strip() for line in ran.err.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error:"), str(ran)
    assert sum(line.startswith("error:") for line in lines) == 1, str(ran)
    assert sum(line.startswith("hint:") for line in lines) <= 1, str(ran)
    return " ".join(" ".join(lines).split())


def test_racing_writers_never_fork_the_audit_chain(project: Project) -> None:
    """Before: 30 pairs of `orgs add` on a fresh PostgreSQL ledger gave 5 forks."""
    commands = [["orgs", "add", f"Hospice {pair % 4}", "--name", f"Nurse {pair}-{side}",
                 "--email", f"nurse{pair}.{side}@hospice{pair % 4}.example", "--role", "nurse"]
                for pair in range(PAIRS) for side in "ab"]
    for ran in together(project, commands):
        assert ran.code == 0, str(ran)
    assert project.query("SELECT count(*) FROM contacts") == [(2 * PAIRS,)]
    chain_holds(project)


def test_racing_builds_get_one_number_each(project: Project) -> None:
    refs = [project.repo.commit(f"fix: change {n}", {f"app/change_{n}.py": f"N = {n}\n"})
            for n in range(PAIRS)]
    results = together(project, [["build", "--ref", ref, "--json"] for ref in refs])
    assert [r.code for r in results] == [0] * PAIRS, [str(r) for r in results if r.code]
    numbers = sorted(project.query("SELECT build_number FROM builds"))
    assert numbers == [(n,) for n in range(1, PAIRS + 1)]
    chain_holds(project)


def test_racing_promotions_of_one_tier_have_one_winner_each_round(project: Project) -> None:
    for round_ in range(PAIRS):
        project.repo.commit(f"fix: round {round_}", {f"app/round_{round_}.py": f"R = {round_}\n"})
        build = project.ok("build", "--json").json()["id"]  # type: ignore[index]
        results = together(project, [["promote", build, "--to", "dev", "--yes"]] * 2)
        winners = [r for r in results if r.code == 0 and "already" not in r.out + r.err]
        assert len(winners) == 1, [str(r) for r in results]
        [loser] = [r for r in results if r is not winners[0]]
        if loser.code:
            said = one_line(loser)
            assert "tier dev is locked by" in said or "already" in said, said
        succeeded = project.query("SELECT count(*) FROM deployments WHERE build_id = ? AND tier = 'dev' "
                                  "AND state = 'succeeded'", build)
        assert succeeded == [(1,)]
    assert project.query("SELECT count(*) FROM tier_locks") == [(0,)]
    chain_holds(project)


def test_racing_signoffs_record_one_per_organisation(project: Project) -> None:
    from tests.channels.cli_support import make_build, sample_file, stage

    project.ok("orgs", "import", sample_file(project))
    project.ok("beta", "enroll", "Acadia Hospice")
    builds = [make_build(project, f"signoff {n}") for n in range(PAIRS)]
    for build in builds:
        stage(project, build)
    commands = [["signoff", build, "--org", "Acadia Hospice", "--by", by]
                for build in builds for by in ("mh.theriault@acadia-hospice.example",
                                               "it@acadia-hospice.example")]
    results = together(project, commands)
    for pair in range(PAIRS):
        first, second = results[2 * pair], results[2 * pair + 1]
        assert sorted([first.code, second.code]) == [0, 1], (str(first), str(second))
        loser = first if first.code else second
        assert "already signed off" in one_line(loser)
    assert project.query("SELECT count(*) FROM signoffs") == [(PAIRS,)]
    chain_holds(project)


def _configs(project: Project, postgres: PgServer, count: int) -> list[Path]:
    """`count` copies of the project's configuration, each on a new empty database."""
    text = project.config.read_text(encoding="utf-8")
    made = []
    for index in range(count):
        url = postgres.url(postgres.create_database())
        path = project.root / f"quarterdeck-{index}.toml"
        path.write_text(text.replace(project.ledger_url, url), encoding="utf-8")
        made.append(path)
    return made


def _query(url: str, sql: str) -> list[tuple[object, ...]]:
    from sqlalchemy import create_engine

    from releases.records.connection import engine_url

    engine = create_engine(engine_url(url))
    try:
        with engine.begin() as conn:
            result = conn.exec_driver_sql(sql)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _url_of(config: Path) -> str:
    import pipeline

    return pipeline.load_config(config).ledger_url


def test_two_commands_creating_the_schema_together_both_succeed(project: Project, postgres: PgServer) -> None:
    """Before: 9 of 10 pairs failed on a fresh database (pg_type_typname_nsp_index)."""
    configs = _configs(project, postgres, PAIRS)
    results = []
    for config in configs:  # each pair on its own fresh database, every pair at once
        results += together(project, [["builds", "--json"]] * 2, config=config)
    assert [r.code for r in results] == [0] * (2 * PAIRS), [str(r) for r in results if r.code]
    for config in configs:
        versions = _query(_url_of(config),
                          "SELECT component, count(*) FROM schema_versions GROUP BY component")
        assert versions and all(count == 1 for _, count in versions), versions


def test_two_commands_upgrading_an_old_ledger_together_upgrade_it_once(project: Project,
                                                                       postgres: PgServer) -> None:
    """Before: 6 of 10 pairs failed (column "subject" of relation "builds" already exists)."""
    configs = _configs(project, postgres, PAIRS)
    for config in configs:  # a ledger one version old: the releases tables before `subject`
        url = _url_of(config)
        project.ok("--config", str(config), "builds")
        _query(url, "ALTER TABLE builds DROP COLUMN subject")
        _query(url, "UPDATE schema_versions SET version = 1 WHERE component = 'releases'")
    results = []
    for config in configs:
        results += together(project, [["builds", "--json"]] * 2, config=config)
    assert [r.code for r in results] == [0] * (2 * PAIRS), [str(r) for r in results if r.code]
    for config in configs:
        url = _url_of(config)
        assert _query(url, "SELECT version FROM schema_versions WHERE component = 'releases'") == [(2,)]
        assert _query(url, "SELECT count(*) FROM audit WHERE action = 'ledger.upgrade'") == [(1,)]


def _outbox(project: Project) -> list[email.message.EmailMessage]:
    return maildir_messages(project.root / ".quarterdeck" / "outbox")


def test_racing_sends_of_one_notice_email_everyone_once(project: Project,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.channels.cli_support import sample_file

    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    project.ok("orgs", "import", sample_file(project))
    build = project.ok("build", "--json").json()["id"]  # type: ignore[index]
    project.ok("notes", "approve", build, "--yes")
    project.ok("schedule", build, "--next-window")
    contacts = {row[0] for row in project.query("SELECT email FROM contacts")}
    results = together(project, [["notice", "send", "advance", build, "--yes"]] * (2 * PAIRS))
    assert sum(1 for r in results if r.code == 0) >= 1
    for ran in results:
        if ran.code:
            one_line(ran)
    copies = Counter(str(m["To"].addresses[0].addr_spec) for m in _outbox(project))
    assert copies == Counter(dict.fromkeys(contacts, 1))
    chain_holds(project)


def test_two_ticks_every_five_minutes_do_each_thing_once(project: Project,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A team runs tick on two servers for fail-over: every due notice and the push happen once."""
    from tests.quarter.test_tick import (
        SEVEN_DAY_REMINDER,
        START,
        WINDOW_START,
        auto_push,
        make_quarter,
        sign_off,
    )

    monkeypatch.setenv("QUARTERDECK_NOW", START)
    sign_off(make_quarter(project))
    auto_push(project)
    before = len(_outbox(project))
    moments = [SEVEN_DAY_REMINDER - timedelta(minutes=5) + n * timedelta(minutes=5) for n in range(PAIRS - 4)]
    moments += [WINDOW_START + timedelta(minutes=5 * n) for n in range(4)]
    for moment in moments:
        for ran in together(project, [["tick"]] * 2, now=_iso(moment)):
            assert ran.code == 0 or "another tick is running" in ran.out, str(ran)
    sent = Counter((str(m["To"].addresses[0].addr_spec), str(m["Subject"]).strip())
                   for m in _outbox(project)[before:])
    subjects = {subject for _, subject in sent}
    assert any(s.startswith("Reminder:") for s in subjects)
    assert any(s.startswith("Completed:") for s in subjects)
    assert set(sent.values()) == {1}, sent  # each recipient got each notice once
    pushes = project.query("SELECT count(*) FROM deployments WHERE tier = 'production'")
    assert pushes == [(1,)]
    chain_holds(project)


def _iso(moment: datetime) -> str:
    return moment.isoformat()
