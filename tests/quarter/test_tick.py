"""`quarterdeck tick` in-process on a real project: due notices, the scheduled push, the tick lock.

The quarter used here: one build (2026.4.0+b1) on dev and staging, three
contacts (one beta organisation of two, one member of staff), production
notes approved, the November window scheduled (2026-11-14 22:00
America/Chicago = 2026-11-15 04:00–08:00 UTC) and its advance notice sent on
2026-10-05. Each tick pins QUARTERDECK_NOW to the minute it stands for.
"""

from __future__ import annotations

import email
import email.policy
import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import pipeline
from releases.records.ledger import Actor, Ledger
from releases.tiers.deployments import acquire_lock
from tests.conftest import Project, Result

START = "2026-10-05T12:00:00+00:00"
BUILD = "2026.4.0+b1"
WINDOW_START = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)
WINDOW_END = WINDOW_START + timedelta(hours=4)
SEVEN_DAY_REMINDER = WINDOW_START - timedelta(days=7) + timedelta(minutes=5)
RECIPIENTS = ("ann@acadia.example", "bob@acadia.example", "sam@quarterdeck.example")
CONTACTS = """organisation,name,email,role,time_zone
Acadia Hospice,Ann Nurse,ann@acadia.example,nurse,America/New_York
Acadia Hospice,Bob Admin,bob@acadia.example,administrator,
Quarterdeck Health,Sam Staff,sam@quarterdeck.example,staff,America/Chicago
"""


@pytest.fixture
def quarter(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("QUARTERDECK_NOW", START)
    return make_quarter(project)


def make_quarter(project: Project) -> Project:
    """The quarter described in the module docstring, made through the real commands at START
    (the caller pins QUARTERDECK_NOW)."""
    csv = project.root / "contacts.csv"
    csv.write_text(CONTACTS, encoding="utf-8")
    project.ok("orgs", "import", str(csv))
    project.ok("beta", "enroll", "Acadia Hospice")
    assert project.ok("build", "--json").json()["id"] == BUILD  # type: ignore[index]
    project.ok("notes", "approve", BUILD, "--yes")
    project.ok("schedule", BUILD, "--next-window")
    project.ok("notice", "send", "advance", BUILD, "--yes")
    project.ok("promote", BUILD, "--to", "dev")
    project.ok("promote", BUILD, "--to", "staging", "--yes")
    return project


def tick(project: Project, monkeypatch: pytest.MonkeyPatch, at: datetime, *args: str) -> Result:
    monkeypatch.setenv("QUARTERDECK_NOW", at.isoformat())
    return project.run("tick", *args)


def auto_push(project: Project) -> None:
    text = project.config.read_text(encoding="utf-8")
    assert "auto_push = false" in text
    project.config.write_text(text.replace("auto_push = false", "auto_push = true"), encoding="utf-8")


def sign_off(project: Project) -> None:
    project.ok("signoff", BUILD, "--org", "Acadia Hospice", "--by", "ann@acadia.example")


def flat(text: str) -> str:
    return " ".join(text.split())


def outbox(project: Project) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted((project.root / ".quarterdeck" / "outbox" / "new").iterdir()):
        with open(path, "rb") as handle:
            found.append(email.message_from_binary_file(handle, policy=email.policy.default))
    return found  # type: ignore[return-value]


def per_recipient(project: Project, prefix: str = "") -> Counter[str]:
    return Counter(m["To"].addresses[0].addr_spec for m in outbox(project)
                   if str(m["Subject"]).strip().startswith(prefix))  # long subjects fold after the colon


def query(project: Project, sql: str, *params: object) -> list[tuple[Any, ...]]:
    return project.query(sql, *params)


def audit(project: Project, action: str) -> list[tuple[str, str | None]]:
    return [(r[0], r[1]) for r in query(project, "SELECT subject, reason FROM audit WHERE action = ? "
                                                 "ORDER BY id", action)]


def production_current(project: Project) -> list[str | None]:
    hosts = project.root / ".quarterdeck" / "hosts"
    return [os.readlink(hosts / name / "current") if (hosts / name / "current").is_symlink() else None
            for name in ("production-1", "production-2")]


@pytest.fixture
def test_ledger(project: Project) -> Iterator[Any]:
    """Open the project's ledger as another process would, with a clock the test chooses."""
    opened: list[Ledger] = []

    def make(now: datetime) -> Ledger:
        ledger = Ledger(project.ledger_url, pipeline.ledger_schemas(),
                        actor=Actor("other-tick@example.org", "quarterdeck tick"), clock=lambda: now)
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


def test_a_tick_with_nothing_due_says_so(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    first = tick(project, monkeypatch, datetime(2026, 10, 5, 12, tzinfo=UTC))
    assert first.code == 0 and first.out.strip() == "tick: nothing is due"
    as_json = tick(project, monkeypatch, datetime(2026, 10, 5, 12, 1, tzinfo=UTC), "--json")
    assert as_json.code == 0 and as_json.json() == {"ran": True, "actions": []}
    assert query(project, "SELECT count(*) FROM tier_locks") == [(0,)]  # released after each tick


def test_between_notices_nothing_is_due(quarter: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    before = per_recipient(quarter)
    result = tick(quarter, monkeypatch, SEVEN_DAY_REMINDER - timedelta(minutes=10))
    assert result.code == 0 and result.out.strip() == "tick: nothing is due"
    assert per_recipient(quarter) == before == Counter(dict.fromkeys(RECIPIENTS, 1))


def test_a_tick_that_does_nothing_writes_nothing_to_the_audit_trail(
        quarter: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from cron every five minutes, a no-op tick's lock entries were ~580 entries a day."""
    entries = query(quarter, "SELECT count(*), max(id) FROM audit")
    for minutes in (10, 15, 20):
        assert tick(quarter, monkeypatch, SEVEN_DAY_REMINDER - timedelta(minutes=minutes)).code == 0
    assert query(quarter, "SELECT count(*), max(id) FROM audit") == entries
    assert quarter.ok("log", "verify").code == 0
    due = tick(quarter, monkeypatch, SEVEN_DAY_REMINDER)  # one that acts is audited as before
    assert due.code == 0 and query(quarter, "SELECT count(*) FROM audit")[0][0] > entries[0][0]


def test_a_due_reminder_goes_out_once_however_often_tick_runs(
        quarter: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    first = tick(quarter, monkeypatch, SEVEN_DAY_REMINDER)
    assert first.code == 0, first.err
    assert f"done reminder notice for {BUILD}: 3 recipients" in flat(first.out)
    assert per_recipient(quarter, "Reminder:") == Counter(dict.fromkeys(RECIPIENTS, 1))
    assert per_recipient(quarter) == Counter(dict.fromkeys(RECIPIENTS, 2))  # the advance notice + this
    again = tick(quarter, monkeypatch, SEVEN_DAY_REMINDER + timedelta(seconds=30))
    assert again.code == 0 and again.out.strip() == "tick: nothing is due"
    later = tick(quarter, monkeypatch, SEVEN_DAY_REMINDER + timedelta(hours=3), "--json")
    assert later.json() == {"ran": True, "actions": []}
    assert per_recipient(quarter) == Counter(dict.fromkeys(RECIPIENTS, 2))
    # the next reminder comes on its own day, once
    day_before = tick(quarter, monkeypatch, WINDOW_START - timedelta(days=1) + timedelta(minutes=5))
    assert f"done reminder notice for {BUILD}: 3 recipients" in flat(day_before.out)
    assert per_recipient(quarter, "Reminder:") == Counter(dict.fromkeys(RECIPIENTS, 2))


def test_a_failing_gate_refuses_the_push_and_is_audited_once(
        quarter: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    auto_push(quarter)  # no sign-off: the signoffs gate fails
    first = tick(quarter, monkeypatch, WINDOW_START + timedelta(minutes=5))
    assert first.code == 0, first.err
    said = flat(first.out)
    assert f"refused push of {BUILD} to production: gates refuse: signoffs: 0 of 1 sign-off" in said
    second = tick(quarter, monkeypatch, WINDOW_START + timedelta(minutes=10), "--json")
    [action] = second.json()["actions"]  # type: ignore[index]
    assert action["outcome"] == "refused" and action["detail"].startswith("gates refuse: signoffs:")
    assert audit(quarter, "tick.push-refused") == [(f"{BUILD}:schedule#1", action["detail"])]
    assert production_current(quarter) == [None, None]
    assert query(quarter, "SELECT count(*) FROM deployments WHERE tier = 'production'") == [(0,)]


def test_without_auto_push_an_open_window_is_reported_as_waiting(
        quarter: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    sign_off(quarter)  # every gate would pass
    result = tick(quarter, monkeypatch, WINDOW_START + timedelta(minutes=5))
    assert result.code == 0
    assert (f"waiting push of {BUILD} to production: the window is open; [calendar].auto_push is off, "
            "so run `quarterdeck promote` yourself") in flat(result.out)
    tick(quarter, monkeypatch, WINDOW_START + timedelta(minutes=10))
    assert len(audit(quarter, "tick.push-manual")) == 1
    assert production_current(quarter) == [None, None]


def test_with_auto_push_and_every_gate_passing_the_push_happens_once(
        quarter: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    auto_push(quarter)
    sign_off(quarter)
    result = tick(quarter, monkeypatch, WINDOW_START + timedelta(minutes=5))
    assert result.code == 0, result.err
    assert f"done push of {BUILD} to production: installed on every host" in flat(result.out)
    assert production_current(quarter) == [f"releases/{BUILD}"] * 2
    assert per_recipient(quarter, "Completed:") == Counter(dict.fromkeys(RECIPIENTS, 1))
    again = tick(quarter, monkeypatch, WINDOW_START + timedelta(minutes=5, seconds=30))
    assert again.code == 0 and again.out.strip() == "tick: nothing is due"
    assert query(quarter, "SELECT count(*) FROM deployments WHERE tier = 'production'") == [(1,)]
    assert per_recipient(quarter, "Completed:") == Counter(dict.fromkeys(RECIPIENTS, 1))


def test_a_window_that_closed_while_the_machine_was_down_is_reported_once_never_started(
        quarter: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    auto_push(quarter)
    sign_off(quarter)  # everything but the window would let it through
    first = tick(quarter, monkeypatch, WINDOW_END + timedelta(hours=1))
    assert first.code == 1
    assert (f"missed push of {BUILD} to production: the window 2026-11-15 04:00–08:00 UTC closed before "
            "it was done; reschedule it (a missed push is never started late)") in flat(first.out)
    assert production_current(quarter) == [None, None]
    assert query(quarter, "SELECT count(*) FROM deployments WHERE tier = 'production'") == [(0,)]
    assert [s for s, _ in audit(quarter, "tick.push-missed")] == [f"{BUILD}:schedule#1"]
    second = tick(quarter, monkeypatch, WINDOW_END + timedelta(hours=1, minutes=5))
    assert second.code == 0 and second.out.strip() == "tick: nothing is due"
    assert len(audit(quarter, "tick.push-missed")) == 1
    assert production_current(quarter) == [None, None]
    assert per_recipient(quarter, "Completed:") == Counter()


def test_a_tick_while_another_runs_does_nothing(quarter: Project, monkeypatch: pytest.MonkeyPatch,
                                               test_ledger: Any) -> None:
    held = acquire_lock(test_ledger(SEVEN_DAY_REMINDER - timedelta(minutes=1)), "tick", timedelta(minutes=30))
    before = per_recipient(quarter)
    result = tick(quarter, monkeypatch, SEVEN_DAY_REMINDER)  # a reminder is due
    assert result.code == 0
    assert flat(result.out) == "another tick is running since 2026-11-08 04:04 UTC; nothing done"
    second = tick(quarter, monkeypatch, SEVEN_DAY_REMINDER + timedelta(minutes=1))
    assert second.code == 0 and "nothing done" in second.out
    assert per_recipient(quarter) == before
    assert query(quarter, "SELECT tier, token FROM tier_locks") == [("tick", held.token)]  # not taken over
    assert audit(quarter, "lock.break") == []


def test_tick_json_while_another_runs_prints_only_json(quarter: Project, monkeypatch: pytest.MonkeyPatch,
                                                        test_ledger: Any) -> None:
    """`--json` promises JSON on stdout and nothing else, for the scripts that run tick."""
    acquire_lock(test_ledger(SEVEN_DAY_REMINDER - timedelta(minutes=1)), "tick", timedelta(minutes=30))
    result = tick(quarter, monkeypatch, SEVEN_DAY_REMINDER, "--json")
    assert result.code == 0
    assert result.out.lstrip().startswith("{"), f"tick --json printed more than JSON:\n{result.out}"
    data = result.json()
    assert isinstance(data, dict) and data["ran"] is False and data["actions"] == []
    assert data["busy"].startswith("another tick is running since ")


def test_an_expired_tick_lock_is_broken_with_an_audit_entry_and_the_tick_runs(
        quarter: Project, monkeypatch: pytest.MonkeyPatch, test_ledger: Any) -> None:
    acquire_lock(test_ledger(SEVEN_DAY_REMINDER - timedelta(hours=2)), "tick", timedelta(minutes=30))
    result = tick(quarter, monkeypatch, SEVEN_DAY_REMINDER)
    assert result.code == 0, result.err
    assert f"done reminder notice for {BUILD}: 3 recipients" in flat(result.out)
    assert per_recipient(quarter, "Reminder:") == Counter(dict.fromkeys(RECIPIENTS, 1))
    assert audit(quarter, "lock.break") == [
        ("tier:tick", "the previous tick's lease expired (killed or machine down)")]
    assert query(quarter, "SELECT count(*) FROM tier_locks") == [(0,)]
    [(detail,)] = query(quarter, "SELECT detail FROM audit WHERE action = 'lock.break'")
    assert "other-tick@example.org" in detail  # whose lock it was is kept
