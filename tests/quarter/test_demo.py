"""`quarterdeck demo` as a user runs it: the installed command, from a clean directory, no pinned clock."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.quarter.conftest import Run, clean_env, maildir_messages, notice_kind, quarterdeck, recipient
from tests.support.postgres import PgServer

BETA_ORGS = {"Acadia Hospice", "Bayou Palliative"}  # the demo enrolls these two


@dataclass(frozen=True)
class Demo:
    root: Path
    run: Run
    env: dict[str, str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """One demo run shared by this module's tests (it takes a few seconds)."""
    cwd = tmp_path_factory.mktemp("clean")
    env = clean_env()
    run = quarterdeck("demo", "--dir", "quarter", cwd=cwd, env=env)
    return Demo(cwd / "quarter", run, env)


def test_demo_runs_the_quarter_from_a_clean_directory(demo: Demo) -> None:
    assert demo.run.code == 0, str(demo.run)
    assert demo.run.out.startswith(f"Quarterdeck demo in {demo.root}")
    said = demo.run.said
    for step in ("$ quarterdeck build", "$ quarterdeck promote latest --to staging --yes",
                 "$ quarterdeck notice send beta-available latest",
                 "$ quarterdeck notice send advance latest",
                 "$ quarterdeck tick", "$ quarterdeck log verify", "$ quarterdeck status"):
        assert step in said
    assert "simulated clock" in said  # it says where time is simulated
    assert said.index("(exit code 3, as expected") < said.index("done push of")  # gates refused first
    assert "Where to look" in said and str(demo.root / ".quarterdeck/outbox/new") in said


def test_every_host_runs_the_same_build(demo: Demo) -> None:
    assert demo.run.code == 0, str(demo.run)
    status = quarterdeck("--config", str(demo.root / "quarterdeck.toml"), "status", "--json",
                         cwd=demo.root, env=demo.env)
    assert status.code == 0, str(status)
    tiers = json.loads(status.out)["tiers"]
    [build] = {t["build"] for t in tiers}
    assert build and build.startswith(tuple(f"{y}." for y in range(2026, 2031)))
    hosts = sorted(p.name for p in (demo.root / "hosts").iterdir())
    assert hosts == ["dev-1", "dev-2", "production-1", "production-2", "staging-1", "staging-2"]
    for name in hosts:
        current = demo.root / "hosts" / name / "current"
        assert current.is_symlink(), name
        assert (current / "VERSION").read_text().splitlines()[0] == f"BUILD={build}", name


def test_the_outbox_holds_each_notice_once_per_recipient(demo: Demo) -> None:
    assert demo.run.code == 0, str(demo.run)
    with open(demo.root / "contacts.csv", encoding="utf-8", newline="") as handle:
        contacts = list(csv.DictReader(handle))
    everyone = {c["email"] for c in contacts}
    beta = {c["email"] for c in contacts if c["role"] == "staff" or c["organisation"] in BETA_ORGS}
    assert len(everyone) == 12 and len(beta) == 7
    messages = maildir_messages(demo.root / ".quarterdeck" / "outbox")
    got = Counter((recipient(m), notice_kind(m)) for m in messages)
    wanted = Counter({(a, kind): 1 for a in everyone for kind in ("advance", "completed")})
    wanted.update({(a, "reminder"): 2 for a in everyone})
    wanted.update({(a, "beta-available"): 1 for a in beta})
    assert got == wanted
    assert len(messages) == 7 + 12 * 4
    assert len({m["Message-ID"] for m in messages}) == len(messages)
    assert {m["Auto-Submitted"] for m in messages} == {"auto-generated"}


def test_the_advance_notice_says_what_to_do_under_one_heading(demo: Demo) -> None:
    """The quarter's breaking change reaches "What you need to do" (not "Nothing"), and the notes
    appear under their own heading once, in customer words (no commit ids, no tracker ids)."""
    outbox = maildir_messages(demo.root / ".quarterdeck" / "outbox")
    advance = [m for m in outbox if notice_kind(m) == "advance"]
    assert advance
    for message in advance:
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        todo = text.split("WHAT YOU NEED TO DO", 1)[1].split("TRAINING", 1)[0]
        assert "scripts that read the old columns must be updated" in todo and "Nothing" not in todo
        assert text.count("Release notes - Hospice Care Suite 2027.1.0") == 1
        assert "RELEASE NOTES FOR" not in text and "HOS-" not in text


def test_the_demo_audit_chain_verifies(demo: Demo) -> None:
    assert demo.run.code == 0, str(demo.run)
    verify = quarterdeck("--config", str(demo.root / "quarterdeck.toml"), "log", "verify",
                         cwd=demo.root.parent, env=demo.env)
    assert verify.code == 0, str(verify)
    assert verify.out.startswith("ok ") and "chain intact" in verify.out


def test_beta_feedback_arrives_over_http_from_a_tester_and_the_application(demo: Demo) -> None:
    """Acadia's sign-off comes from Marie on her beta page and Bayou's problem from its installation
    through the intake API, each over real HTTP, recorded with them as the actors."""
    assert demo.run.code == 0, str(demo.run)
    said = demo.run.said
    assert "notify.release_team is empty" not in said, "the demo's release team would hear of a blocker"
    assert "» the application on staging-1 reports a problem through the intake API" in said
    assert "» mh.theriault@acadia-hospice.example opens the link in her beta notice" in said
    assert "the API filed problem #1 against 2027.1.0+b1 (new, open)" in said
    assert "the page recorded the sign-off of 2027.1.0+b1 by mh.theriault@acadia-hospice.example" in said
    log = quarterdeck("--config", str(demo.root / "quarterdeck.toml"), "log", "--json",
                      cwd=demo.root.parent, env=demo.env)
    assert log.code == 0, str(log)
    by_action = {(e["action"], e["subject"]): (e["actor"], e["command"]) for e in json.loads(log.out)}
    assert by_action[("problem.report", "problem:1")] == ("api-token:1", "serve: problem intake API")
    assert by_action[("portal.open", "contact:Acadia Hospice:mh.theriault@acadia-hospice.example")] == (
        "mh.theriault@acadia-hospice.example", "serve: beta page")
    assert by_action[("signoff.add", "2027.1.0+b1:Acadia Hospice")] == (
        "mh.theriault@acadia-hospice.example", "serve: beta page")
    kept = demo.root / ".quarterdeck" / "kept"
    for name in ("portal-secret", "bayou-api-token"):
        secret = (kept / name).read_text(encoding="utf-8").strip()
        assert (kept / name).stat().st_mode & 0o777 == 0o600
        assert len(secret) >= 32 and secret not in demo.run.out + demo.run.err, name


def test_the_demo_refuses_a_directory_that_is_not_empty(demo: Demo) -> None:
    before = sorted(p.name for p in demo.root.iterdir())
    again = quarterdeck("demo", "--dir", str(demo.root), cwd=demo.root.parent, env=demo.env)
    assert again.code == 2, str(again)
    assert f"--dir {demo.root} is not empty" in again.said and "give a new or empty directory" in again.said
    assert sorted(p.name for p in demo.root.iterdir()) == before


def test_the_demo_runs_the_quarter_on_a_postgresql_ledger(tmp_path: Path, postgres: PgServer) -> None:
    """`demo --ledger-url` on an empty PostgreSQL database: the same quarter, the ledger shared."""
    url = postgres.url(postgres.create_database())
    run = quarterdeck("demo", "--dir", "quarter", "--ledger-url", url, cwd=tmp_path, env=clean_env())
    assert run.code == 0, str(run)
    assert postgres.password not in run.out + run.err  # "where to look" names the ledger masked
    assert not (tmp_path / "quarter" / ".quarterdeck" / "ledger.db").exists()
    status = quarterdeck("--config", str(tmp_path / "quarter" / "quarterdeck.toml"), "log", "verify",
                         cwd=tmp_path, env=clean_env())
    assert status.code == 0, str(status)
    messages = maildir_messages(tmp_path / "quarter" / ".quarterdeck" / "outbox")
    assert len(messages) == 7 + 12 * 4  # as on SQLite: each notice once per recipient
