"""The notice and training commands, run in-process against a real project, outbox and SMTP server."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

import pytest

import pipeline
from releases.records.ledger import Actor, Ledger
from tests.conftest import Project
from tests.notify.test_delivery_support import Clock, Notes, Person
from tests.support.smtp import SMTP_PASSWORD, SmtpServer

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
NOW = "2026-10-16T15:00:00+00:00"
BUILD = "2026.4.0+b1"
MARIA = Person("Bayou Palliative", "María José Núñez", "maria@bayou.example.org",
               time_zone="America/New_York")


@pytest.fixture
def notes(monkeypatch: pytest.MonkeyPatch) -> Notes:
    """Pipeline's notice_notes hook, provided here until the notes wiring supplies approved notes."""
    value = Notes()
    monkeypatch.setattr(pipeline.App, "notice_notes", lambda self, build, audience: value(build, audience),
                        raising=False)
    return value


CONTACTS = """organisation,name,email,role,time_zone
Acadia Hospice,User 1,user1@example.org,nurse,
Acadia Hospice,User 2,user2@example.org,nurse,
Acadia Hospice,User 3,user3@example.org,nurse,
Acadia Hospice,User 4,user4@example.org,nurse,
Bayou Palliative,María José Núñez,maria@bayou.example.org,nurse,America/New_York
"""


@pytest.fixture
def ready(project: Project, notes: Notes, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project with one build, five contacts (one in New York) and the November push scheduled,
    all through the real commands."""
    return prepared(project, monkeypatch)


def prepared(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    assert project.ok("build", "--json").json()["id"] == BUILD  # type: ignore[index]
    csv = project.root / "contacts.csv"
    csv.write_text(CONTACTS, encoding="utf-8")
    project.ok("orgs", "import", str(csv))
    project.ok("schedule", BUILD, "--next-window")
    return project


def project_ledger(project: Project) -> Ledger:
    return Ledger(project.ledger_url, pipeline.ledger_schemas(), actor=Actor("test@example.org", "pytest"),
                  clock=Clock())


def use_smtp(project: Project, server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    text = project.config.read_text()
    text = re.sub(r'(?m)^smtp_url = "".*$', f'smtp_url = "{server.url}"\nca_file = "{server.ca_file}"', text)
    project.config.write_text(text)
    monkeypatch.setenv("QUARTERDECK_SMTP_PASSWORD", SMTP_PASSWORD)


def outbox(project: Project) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted((project.root / ".quarterdeck" / "outbox" / "new").iterdir()):
        with open(path, "rb") as handle:
            found.append(email.message_from_binary_file(handle, policy=email.policy.default))
    return found  # type: ignore[return-value]


def test_preview_shows_a_new_york_contact_exactly_what_she_gets_and_sends_nothing(ready: Project) -> None:
    result = ready.ok("notice", "preview", "advance", BUILD, "--to", "MARIA@bayou.example.org")
    out = result.out
    assert "To: María José Núñez <maria@bayou.example.org>" in out
    assert "Subject: app will be updated to 2026.4.0 on Saturday 14 November 2026" in out
    assert "When: Saturday 14 November 2026, 23:00 EST – Sunday 15 November 2026, 03:00 EST" in out
    assert ("(Saturday 14 November 2026, 22:00 CST – Sunday 15 November 2026, 02:00 CST, "
            "America/Chicago)") in out
    assert "----- text/html -----" in out and "Medication charts can be printed (#41)" in out
    assert re.search(r"Message-ID: <n\.[0-9a-f]{24}@localhost>", out)
    assert "maria@bayou.example.org (America/New_York) receives it" in result.err
    shown = ready.ok("notice", "preview", "advance", BUILD, "--json").json()
    assert shown["to"] == "user1@example.org" and shown["time_zone"] == "America/Chicago"  # type: ignore[index]
    assert "<html" in shown["html"] and shown["notice"] is None  # type: ignore[index]
    missing = ready.run("notice", "preview", "advance", BUILD, "--to", "stranger@example.org")
    assert missing.code == 1 and "stranger@example.org is not a recipient" in missing.err
    assert ready.ok("notice", "status", BUILD, "--json").json() == {"build": BUILD, "notices": []}
    assert outbox(ready) == []


def test_outbox_send_is_exactly_once_with_dry_run_and_test_copies(ready: Project) -> None:
    dry = ready.ok("notice", "send", "advance", BUILD, "--dry-run")
    assert "dry run: would create the advance notice" in dry.out and "for 5 recipients" in dry.out
    assert outbox(ready) == []
    test = ready.ok("notice", "send", "advance", BUILD, "--test-to", "rm@example.org")
    assert "test copy to rm@example.org: sent" in test.out
    [copy] = outbox(ready)
    assert copy["Subject"].startswith("[TEST] app will be updated") and copy["To"] == "rm@example.org"
    sent = ready.ok("notice", "send", "advance", BUILD, "--yes")
    assert ("sent the advance notice (schedule:1@2026-11-15T04:00Z) of 2026.4.0+b1: attempted 5 of 5"
            in sent.out)
    assert "5 recipients: 5 sent" in sent.out
    real = [m for m in outbox(ready) if not m["Subject"].startswith("[TEST]")]
    assert len(real) == 5 and len(outbox(ready)) == 6
    assert sorted(m["To"].addresses[0].addr_spec for m in real) == sorted(
        ["user1@example.org", "user2@example.org", "user3@example.org", "user4@example.org",
         "maria@bayou.example.org"])
    assert all(m["Auto-Submitted"] == "auto-generated" for m in real)
    again = ready.run("notice", "send", "advance", BUILD, "--yes")
    assert again.code == 1 and "was already sent: 5 of 5 delivered" in again.err and "--again" in again.err
    assert again.err.startswith("error: ") and "0/?" not in again.err  # no empty bar before the refusal
    assert len(outbox(ready)) == 6
    status = ready.ok("notice", "status", BUILD, "--json").json()
    [notice] = status["notices"]  # type: ignore[index]
    assert (notice["kind"], notice["sent"], notice["recipients"], notice["pending"]) == ("advance", 5, 5, 0)
    table = ready.ok("notice", "status", BUILD).out
    assert "Notices of 2026.4.0+b1" in table and "advance" in table


def test_smtp_send_status_resend_and_confirm(ready: Project, smtp_server: SmtpServer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.smtp import Fault

    use_smtp(ready, smtp_server, monkeypatch)
    smtp_server.handler.rcpt_replies["user3@example.org"] = "550 5.1.1 <user3@example.org>: no such user"
    smtp_server.handler.schedule(Fault.DROP_AFTER_CONTENT, 2)
    sent = ready.ok("notice", "send", "advance", BUILD, "--yes")
    assert "5 recipients: 3 sent, 1 failed, 1 unknown" in sent.out
    assert re.search(r"user3@example.org +failed +550 5\.1\.1 <user3@example.org>: no such user", sent.out)
    assert re.search(r"user2@example.org +unknown +the message was sent but the connection broke", sent.out)
    assert "quarterdeck notice confirm advance 2026.4.0+b1 --email ADDRESS" in sent.out
    assert "quarterdeck notice resend advance 2026.4.0+b1 --failed" in sent.out
    report = ready.ok("notice", "status", BUILD, "--json").json()
    [notice] = report["notices"]  # type: ignore[index]
    assert {k: notice[k] for k in ("sent", "failed", "unknown", "pending", "temp-failed")} == {
        "sent": 3, "failed": 1, "unknown": 1, "pending": 0, "temp-failed": 0}
    failed = [p for p in notice["problems"] if p["state"] == "failed"]
    assert failed == [{"email": "user3@example.org", "name": "User 3", "organisation": "Acadia Hospice",
                       "state": "failed", "code": 550, "attempts": 1,
                       "reply": "550 5.1.1 <user3@example.org>: no such user",
                       "message_id": failed[0]["message_id"], "queue_id": None}]
    assert re.fullmatch(r"<n\.[0-9a-f]{24}@localhost>", failed[0]["message_id"])
    unknown = next(p["email"] for p in notice["problems"] if p["state"] == "unknown")
    smtp_server.handler.rcpt_replies.clear()
    resent = ready.ok("notice", "resend", "advance", BUILD, "--failed", "--json").json()
    assert resent["attempted"] == 1 and resent["counts"]["failed"] == 0  # type: ignore[index]
    confirmed = ready.ok("notice", "confirm", "advance", BUILD, "--email", unknown, "--delivered",
                         "--reason", "the hospice replied")
    assert f"{unknown}: sent (confirmed delivered by" in confirmed.out
    final = ready.ok("notice", "status", BUILD, "--json").json()["notices"][0]  # type: ignore[index]
    assert final["sent"] == 5 and final["problems"] == []
    copies = [a for r in smtp_server.handler.received for a in r.rcpt_tos]  # the unanswered one too
    assert sorted(copies) == sorted(set(copies)) and len(copies) == 5
    usage = ready.run("notice", "confirm", "advance", BUILD, "--email", unknown)
    assert usage.code == 2


def test_training_sessions_are_added_listed_and_announced(ready: Project) -> None:
    added = ready.ok("training", "add", BUILD, "--at", "2026-11-10 15:00", "--tz", "Europe/London",
                     "--link", "https://meet.example.org/charts", "--title", "Printing charts",
                     "--json").json()
    assert added["at"] == "2026-11-10T15:00:00+00:00"  # type: ignore[index]
    listed = ready.ok("training", "list", BUILD).out
    assert "Tue 2026-11-10 09:00 America/Chicago" in listed and "Printing charts" in listed
    bad_link = ready.run("training", "add", BUILD, "--at", "2026-11-10 15:00",
                         "--link", "javascript:alert(1)", "--title", "x")
    assert bad_link.code == 1 and "is not an http(s) link" in bad_link.err
    past = ready.run("training", "add", BUILD, "--at", "2026-10-01 15:00", "--link", "https://x.example.org",
                     "--title", "too late")
    assert past.code == 1 and "is not in the future" in past.err
    shown = ready.ok("notice", "preview", "advance", BUILD, "--to", MARIA.email).out
    assert "Printing charts" in shown and "Tuesday 10 November 2026, 10:00 EST" in shown
    assert len(ready.ok("training", "list", BUILD, "--json").json()) == 1  # type: ignore[arg-type]


def test_refusals_name_what_to_do(ready: Project, notes: Notes) -> None:
    notes.approved = False
    refused = ready.run("notice", "send", "advance", BUILD, "--yes")
    assert refused.code == 1 and "are not approved" in refused.err
    preview = ready.run("notice", "preview", "advance", BUILD)
    assert preview.code == 0 and "not approved yet" in preview.err
    notes.approved = True
    early = ready.ok("notice", "preview", "reminder", BUILD, "--json").json()
    assert early["event"].endswith(":reminder:7d")  # type: ignore[index]
    assert early["headers"]["Subject"].startswith("Reminder: app will be updated")  # type: ignore[index]
    none_due = ready.run("notice", "send", "reminder", BUILD, "--yes")
    assert none_due.code == 1 and "no reminder for 2026.4.0+b1 is due yet" in none_due.err
    assert "--offset 7d" in none_due.err
    bad_kind = ready.run("notice", "send", "weekly", BUILD)
    assert bad_kind.code == 2
    unknown = ready.run("notice", "resend", "advance", BUILD, "--failed")
    assert unknown.code == 1 and "no advance notice of 2026.4.0+b1 has been sent" in unknown.err
    assert Path(ready.root / ".quarterdeck" / "outbox" / "new").is_dir()


def gate_results(project: Project) -> dict[str, tuple[bool, str]]:
    result = project.run("gates", BUILD, "--to", "production", "--json")
    assert result.code == 3, result.err  # soak, sign-offs and the window fail this early in any case
    return {g["gate"]: (g["passed"], g["detail"]) for g in result.json()}  # type: ignore[union-attr,index]


def test_with_pipelines_notes_hook_and_the_gates_command(project: Project,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ready = prepared(project, monkeypatch)
    refused = ready.run("notice", "send", "advance", BUILD, "--yes")
    assert refused.code == 1 and "release notes of 2026.4.0+b1 are not approved" in refused.err
    assert "quarterdeck notes approve 2026.4.0+b1 --audience production" in refused.err
    before = gate_results(ready)
    assert before["advance-notice"] == (False, "no advance notice announced the window "
                                               "2026-11-14 22:00–02:00 next day America/Chicago")
    ready.ok("notes", "approve", BUILD, "--yes")
    ready.ok("notice", "send", "advance", BUILD, "--yes")
    [first, *_] = outbox(ready)
    assert "First version of the clinical app" in first.get_body(("plain",)).get_content()
    after = gate_results(ready)
    assert {g: after[g][0] for g in ("advance-notice", "notice-notes", "no-cancellation")} == {
        "advance-notice": True, "notice-notes": True, "no-cancellation": True}
    ready.ok("schedule", "cancel", BUILD, "--reason", "a blocker was found in beta testing")
    ready.ok("notice", "send", "cancelled", BUILD, "--yes")
    cancelled = [m for m in outbox(ready) if m["Subject"].startswith("Cancelled:")]
    assert len(cancelled) == 5
    assert "a blocker was found in beta testing" in cancelled[0].get_body(("plain",)).get_content()
    assert gate_results(ready)["no-cancellation"][0] is False
