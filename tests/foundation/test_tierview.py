"""`status` reads SQLite without SQLAlchemy: same answers, no heavy imports, old ledgers still upgraded."""

from __future__ import annotations

import ast
import json
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pipeline
from channels.calendar.calendar import format_window, next_pushes, parse_local_datetime
from channels.settings import CalendarRule, zone_of, zone_problem
from releases.records.ledger import Actor, Ledger
from releases.records.reads import rows_of, sqlite_rows
from releases.tiers.deployments import acquire_lock, exclude_host
from releases.tiers.tierview import (
    HostProgress,
    active_exclusions,
    build_unknown,
    current_lock,
    deployment_hosts,
    host_statuses,
    latest_deployment,
)
from tests.conftest import Project
from tests.support.fresh import ROOT, modules_after

DATA = Path(__file__).parent.parent / "data"


def _ledger_url(project: Project) -> str:
    return project.ledger_url


def test_help_imports_no_heavy_library(tmp_path: Path) -> None:
    report, out = modules_after(["--help"], tmp_path)
    assert report == {"code": 0, "heavy": []}
    assert "promote" in out and "notice" in out and "notes" in out


@pytest.mark.backends("sqlite")  # the sqlite3 route: SQLite's own
def test_status_reads_a_sqlite_ledger_without_sqlalchemy_and_agrees_with_it(project: Project) -> None:
    build = project.ok("build", "--json").json()["id"]  # type: ignore[index]
    project.ok("promote", build, "--to", "dev", "--yes")
    in_process = project.ok("status", "--json").json()
    report, out = modules_after(["--config", str(project.config), "status", "--json"], project.root)
    assert report == {"code": 0, "heavy": []}
    fresh = json.loads(out)
    assert fresh == in_process
    assert fresh["tiers"][0]["build"] == build and fresh["tiers"][0]["hosts"][0]["state"] == "verified"


@pytest.mark.backends("sqlite")  # the sqlite3 route: SQLite's own
def test_the_sqlite_reader_and_the_ledger_give_the_same_rows(project: Project) -> None:
    build = project.ok("build", "--json").json()["id"]  # type: ignore[index]
    project.ok("promote", build, "--to", "dev", "--yes")
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    ledger = Ledger(_ledger_url(project), pipeline.ledger_schemas(),
                    actor=Actor(who="rm@example.org", command="test"), clock=lambda: now)
    try:
        acquire_lock(ledger, "staging", timedelta(minutes=2))
        with ledger.write() as conn:
            exclude_host(ledger, conn, "staging", "local:/elsewhere", "disk being replaced")

        def everything(rows: object) -> tuple[object, ...]:
            last = latest_deployment(rows, "dev")  # type: ignore[arg-type]
            assert last is not None
            return (last, deployment_hosts(rows, last.id), host_statuses(rows),  # type: ignore[arg-type]
                    host_statuses(rows, "dev"), current_lock(rows, "staging"),  # type: ignore[arg-type]
                    current_lock(rows, "dev"), active_exclusions(rows),  # type: ignore[arg-type]
                    active_exclusions(rows, "staging"), latest_deployment(rows, "production"))  # type: ignore[arg-type]

        with sqlite_rows(_ledger_url(project)) as fast:
            assert fast is not None
            through_sqlite = everything(fast)
        with ledger.read() as conn:
            through_ledger = everything(rows_of(conn))
    finally:
        ledger.close()
    assert through_sqlite == through_ledger
    last, hosts, _, _, lock, no_lock, excluded, _, none = through_sqlite
    assert last.build_id == build and last.started_at.tzinfo is UTC  # type: ignore[attr-defined]
    assert [h.state for h in hosts] == ["verified"]  # type: ignore[attr-defined]
    assert lock is not None and lock.lease_until == now + timedelta(minutes=2)  # type: ignore[attr-defined]
    assert no_lock is None and none is None
    assert excluded == {("staging", "local:/elsewhere"): "disk being replaced"}


@pytest.mark.backends("sqlite")  # the sqlite3 route: SQLite's own
def test_a_ledger_at_an_older_schema_is_left_to_the_ledger_which_upgrades_it(project: Project) -> None:
    path = project.root / ".quarterdeck" / "ledger.db"
    for leftover in path.parent.glob("ledger.db*"):
        leftover.unlink()
    with sqlite3.connect(path) as db:
        db.executescript((DATA / "ledger-v1.sql").read_text())
    with sqlite_rows(_ledger_url(project)) as fast:
        assert fast is None
    shown = project.ok("status", "--json").json()
    assert [t["name"] for t in shown["tiers"]] == ["dev", "staging", "production"]  # type: ignore[index]
    with sqlite3.connect(path) as db:
        version = db.execute("SELECT version FROM schema_versions WHERE component = 'releases'").fetchone()
    assert version == (2,)


def test_no_ledger_yet_and_other_databases_take_the_ledger_path(tmp_path: Path) -> None:
    with sqlite_rows(f"sqlite:///{tmp_path / 'absent.db'}") as fast:
        assert fast is None
    assert not (tmp_path / "absent.db").exists()
    for url in ("postgresql://rm@127.0.0.1/ledger", "sqlite://", f"sqlite:///{tmp_path}/x.db?mode=ro"):
        with sqlite_rows(url) as fast:
            assert fast is None


def test_a_misspelt_command_still_lists_every_command(tmp_path: Path, capsys: object) -> None:
    """Only the chosen command's parser is built; a name that is no command gets the whole list."""
    code = pipeline.main(["statu"])
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert code == 2
    assert "invalid choice: 'statu'" in err
    for name in ("status", "promote", "notice", "notes", "calendar"):
        assert f"'{name}'" in err
    assert pipeline.main(["status", "--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err  # type: ignore[attr-defined]


# ---------------------------------------------------------------- what start-up leaves out (issue 8)

# Imported by none of `status`, `status --json` or `--help`: their values and functions are
# defined where the commands that use them live (contacts' LineProblem, the gates' settings),
# and the other packages' command lists are read only when the command is not in an earlier one.
NOT_FOR_STATUS = ("channels.audience.contacts", "channels.gates.gates", "notify", "notes",
                  "channels.commandline", "sqlalchemy", "jinja2", "git")


def _fresh(runs: list[list[str]], cwd: Path,
           names: tuple[str, ...]) -> tuple[list[object], list[str], list[str], str]:
    """Run the CLI once per argv of `runs`, in one fresh interpreter: the exit codes, which of
    `names` they imported, every command name in COMMANDS once the full list has been built
    after them, and their output.

    The script imports nothing of its own beyond what pipeline needs (no json), so that what
    the commands import shows.
    """
    script = ("import ast, io, sys, contextlib\n"
              "import pipeline\n"
              "out, codes = io.StringIO(), []\n"
              "for argv in ast.literal_eval(sys.argv[2]):\n"
              "    with contextlib.redirect_stdout(out):\n"
              "        try:\n"
              "            codes.append(pipeline.main(argv))\n"
              "        except SystemExit as exit:\n"
              "            codes.append(exit.code)\n"
              "found = [n for n in sys.argv[1].split(',') if n in sys.modules]\n"
              "pipeline.build_parser()\n"
              "from releases.registry import COMMANDS\n"
              "sys.stderr.write(repr((codes, found, [c.name for c in COMMANDS])))\n"
              "sys.stdout.write(out.getvalue())\n")
    done = subprocess.run([sys.executable, "-c", script, ",".join(names), repr(runs)], cwd=cwd,
                          capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "200"})
    codes, found, commands = ast.literal_eval(done.stderr.strip().splitlines()[-1])
    return codes, found, commands, done.stdout


def _in_utc(project: Project) -> None:
    text = project.config.read_text(encoding="utf-8")
    assert 'timezone = "America/Chicago"' in text
    project.config.write_text(text.replace('timezone = "America/Chicago"', 'timezone = "UTC"'),
                              encoding="utf-8")


@pytest.mark.backends("sqlite")  # the sqlite3 route: SQLite's own
def test_status_imports_only_what_it_shows(project: Project) -> None:
    project.ok("status")  # creates the ledger: a new one is made through releases.records.ledger (SQLAlchemy)
    config = ["--config", str(project.config)]
    codes, found, _, out = _fresh([[*config, "status"]], project.root, ("json", "zoneinfo", *NOT_FOR_STATUS))
    assert (codes, found) == ([0], ["zoneinfo"])  # the project's zone is America/Chicago
    assert "next quarterly push:" in out and "America/Chicago" in out
    codes, found, _, out = _fresh([[*config, "status", "--json"]], project.root, NOT_FOR_STATUS)
    assert (codes, found) == ([0], [])
    assert [t["name"] for t in json.loads(out)["tiers"]] == ["dev", "staging", "production"]


@pytest.mark.backends("sqlite")  # the sqlite3 route: SQLite's own
def test_a_project_in_utc_never_imports_zoneinfo_and_shows_the_same_push(project: Project) -> None:
    chicago = project.ok("status", "--json").json()["next_push"]  # type: ignore[index]  # makes the ledger
    _in_utc(project)
    codes, found, _, out = _fresh([["--config", str(project.config), "status"]], project.root,
                                  ("zoneinfo", "json"))
    assert (codes, found) == ([0], [])
    utc = project.ok("status", "--json").json()["next_push"]  # type: ignore[index]
    assert utc.endswith("+00:00") and chicago.endswith(("-06:00", "-05:00"))
    shown = datetime.fromisoformat(utc)
    assert f"next quarterly push: {shown:%a %Y-%m-%d %H:%M} UTC ({shown:%Y-%m-%d %H:%M} UTC)" in out


def test_help_loads_no_zone_and_a_command_run_first_keeps_the_order_of_the_list(tmp_path: Path,
                                                                                project: Project) -> None:
    codes, found, listed, out = _fresh([["--help"]], tmp_path, ("zoneinfo", "tomllib", "sqlite3"))
    assert (codes, found) == ([0], [])
    assert "promote" in out and "notice" in out
    assert listed.index("status") < listed.index("notice") < listed.index("calendar") < listed.index("notes")
    config = ["--config", str(project.config)]
    for argv in (["status"], ["notice", "status", "latest"], ["calendar"], ["notes", "show", "latest"],
                 ["config", "check"]):
        codes, _, after, _ = _fresh([[*config, *argv]], project.root, ())
        assert codes[0] in (0, 1) and after == listed, argv


def test_a_later_package_s_command_after_status_in_the_same_process(project: Project) -> None:
    """status reads only the releases package's list; calendar (channels) then loads the rest in order."""
    project.ok("status")
    config = ["--config", str(project.config)]
    codes, found, listed, out = _fresh([[*config, "status"], [*config, "calendar"], [*config, "statu"]],
                                       project.root, ("channels.commandline",))
    assert (codes, found) == ([0, 0, 2], ["channels.commandline"])
    assert "next quarterly push:" in out and "freeze" in out.lower()
    assert listed == _fresh([["--help"]], project.root, ())[2]


# ---------------------------------------------------------------- UTC without zoneinfo

def _rule(timezone: str, months: tuple[int, ...], weekday: int, week: int, start: time) -> CalendarRule:
    return CalendarRule(months=months, weekday=weekday, week=week, start=start, window=timedelta(hours=4),
                        timezone=timezone, notice_lead=timedelta(days=14), beta_start=timedelta(days=21),
                        code_freeze=timedelta(days=28), reminders=(timedelta(days=7), timedelta(days=1)))


@settings(max_examples=60, deadline=None)
@given(months=st.lists(st.integers(1, 12), min_size=1, max_size=4, unique=True),
       weekday=st.integers(0, 6), week=st.sampled_from((1, 2, 3, 4, -1)),
       start=st.times(), day=st.dates(date(1990, 1, 1), date(2090, 12, 31)))
def test_utc_lays_out_every_window_as_the_tz_database_utc_does(months: list[int], weekday: int, week: int,
                                                               start: time, day: date) -> None:
    """"UTC" is datetime's own zone, "Etc/UTC" the tz database's: the same instants and the same text."""
    after = datetime.combine(day, time(12), tzinfo=UTC)
    ours = next_pushes(_rule("UTC", tuple(months), weekday, week, start), after, 2, include_open=True)
    database = next_pushes(_rule("Etc/UTC", tuple(months), weekday, week, start), after, 2, include_open=True)
    for mine, theirs in zip(ours, database, strict=True):
        assert mine.start.tzinfo is UTC and type(theirs.start.tzinfo).__name__ == "ZoneInfo"
        assert {**mine.as_dict(), "timezone": "-"} == {**theirs.as_dict(), "timezone": "-"}
        assert mine == replace(theirs, timezone="UTC")
        assert format_window(mine.start, mine.end, "UTC") == theirs.label.replace("Etc/UTC", "UTC")
        assert f"{mine.start:%a %Y-%m-%d %H:%M %Z}" == f"{theirs.start:%a %Y-%m-%d %H:%M %Z}"


def test_utc_is_accepted_everywhere_a_zone_is_and_parses_like_any_other() -> None:
    assert zone_of("UTC") is UTC and str(zone_of("Etc/UTC")) == "Etc/UTC"
    moment = parse_local_datetime("2031-05-10 22:00", "UTC", now=datetime(2031, 1, 1, tzinfo=UTC))
    assert moment == datetime(2031, 5, 10, 22, tzinfo=UTC)
    assert moment.isoformat() == "2031-05-10T22:00:00+00:00"
    assert zone_problem("UTC") is None and zone_problem("Etc/UTC") is None
    assert zone_problem("Mars/Olympus")


def _at(state: str, step: str | None) -> HostProgress:
    return HostProgress("local:hosts/a", state, step, None, "2026.4.0+b1", False,
                        datetime(2026, 10, 5, tzinfo=UTC))


def test_a_host_killed_while_current_may_have_moved_runs_a_build_unknown_until_checked() -> None:
    unknown = [("promote", "uploading", "switch"),                  # the rename may have happened
               ("promote", "switched", "rollback"),                 # putting the old release back
               ("promote", "switched", "rollback-post-activate"),   # put back; recorded as the new one
               ("resume", "switched", "rollback:switch"),           # put back because another host failed
               ("promote", "failed", "rollback"),                   # the put-back itself failed
               ("rollback", "switched", "switch"),
               ("rollback", "switched", "health-check"),            # switched; the record still says old
               ("rollback", "failed", "health-check")]
    known = [("promote", "uploading", "upload"), ("promote", "uploading", "pre-activate"),
             ("promote", "switched", "switch"), ("promote", "switched", "health-check"),
             ("promote", "verified", "health-check"), ("promote", "rolled-back", "rollback-post-activate"),
             ("resume", "verified", "verified in #4"), ("promote", "pending", None),
             ("promote", "cancelled", "link-shared"), ("rollback", "switched", "connect"),
             ("rollback", "rolled-back", "health-check")]
    assert [build_unknown(kind, _at(state, step)) for kind, state, step in unknown] == [True] * len(unknown)
    assert [build_unknown(kind, _at(state, step)) for kind, state, step in known] == [False] * len(known)
