"""The release team's alert about a reported blocker, from the command line and `tick`: one email
through the delivery ledger to a real aiosmtpd server, owed when the server refuses or a process
dies, sent once by the next `tick`, with the reporter's text inert."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from channels.gates.beta import report_problem
from notify.content.compose import Composer, NoticeKind
from tests.channels.cli_support import open_ledger, sample_file
from tests.conftest import Project
from tests.notify.factories import NEW_YORK_NURSE, context
from tests.notify.test_cli import use_smtp
from tests.notify.test_delivery_kill import slow_server  # noqa: F401  (fixture)
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
NOW = "2026-10-05T12:00:00+00:00"
LATER = "2026-10-05T12:10:00+00:00"  # past the first retry (5 minutes)
TEAM = "release@hospice-suite.example"
ACADIA = "Acadia Hospice"
MARIE = "mh.theriault@acadia-hospice.example"
REPO = Path(__file__).resolve().parents[2]


def use_release_team(project: Project, value: str = f"Release Team <{TEAM}>") -> None:
    text = project.config.read_text(encoding="utf-8")
    text, count = re.subn(r'(?m)^release_team = "".*$', f'release_team = "{value}"', text)
    assert count == 1, "init's template no longer writes notify.release_team"
    project.config.write_text(text, encoding="utf-8")


@pytest.fixture
def alerting(project: Project, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project with the sample organisations, one build, the release team's address and a real
    SMTP server (STARTTLS, AUTH)."""
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    project.ok("orgs", "import", sample_file(project))
    project.ok("build")
    use_smtp(project, smtp_server, monkeypatch)
    use_release_team(project)
    return project


def build_id(project: Project) -> str:
    return str(project.query("SELECT id FROM builds")[0][0])


def report(project: Project, severity: str = "blocker", summary: str = "Census crashes on save",
           *more: str) -> int:
    out = project.ok("problem", "report", build_id(project), "--org", ACADIA, "--severity", severity,
                     "--summary", summary, "--json", *more).json()
    assert isinstance(out, dict)
    return int(out["id"])


def alerts(project: Project) -> list[tuple[object, ...]]:
    """(event, recipient, state) of every alert's delivery row."""
    return project.query("SELECT n.event, d.email, d.state FROM notices n JOIN deliveries d "
                         "ON d.notice_id = n.id WHERE n.kind = 'problem-alert' ORDER BY d.id")


def tick(project: Project, at: str) -> list[dict[str, object]]:
    os.environ["QUARTERDECK_NOW"] = at  # the monkeypatched value, moved on
    done = project.run("tick", "--json")
    assert done.code in (0, 1), done.err
    answer = done.json()
    assert isinstance(answer, dict)
    return list(answer["actions"])


def test_the_alert_tells_the_release_team_in_their_words_with_the_reporters_text_as_text() -> None:
    composed = Composer().prepare(context(NoticeKind.PROBLEM_ALERT)).render(NEW_YORK_NURSE)
    assert composed.subject == "[CareNotes] Blocker #7 reported by Bayou Palliative on 2026.1.0-b3"
    assert "Summary:       <b>Charts</b> print blank & crash" in composed.text
    assert "Reported at:   Friday 20 February 2026, 04:00 EST" in composed.text  # the reader's zone
    assert "<script>alert(1)</script>" in composed.text  # the text part is text
    assert "&lt;b&gt;Charts&lt;/b&gt; print blank &amp; crash" in composed.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in composed.html and "<script" not in composed.html
    assert "Medication charts" not in composed.text, "an alert carries no release notes"


def test_a_blocker_reported_on_the_command_line_emails_the_release_team_once(
        alerting: Project, smtp_server: SmtpServer) -> None:
    minor = report(alerting, "major", "Export is slow")
    assert smtp_server.handler.received == [] and alerts(alerting) == [], "only a blocker alerts"
    problem = report(alerting, "blocker", "Census crashes on save")
    [received] = smtp_server.handler.accepted
    assert received.rcpt_tos == (TEAM,)
    message = received.message()
    build = build_id(alerting)
    assert message["To"] == f"Release Team <{TEAM}>"
    assert message["Subject"] == f"[app] Blocker #{problem} reported by {ACADIA} on {build}"
    text = message.get_body(("plain",)).get_content()
    assert f"Problem:       #{problem} (blocker)" in text and f"Organisation:  {ACADIA}" in text
    assert "quarterdeck problem list --open" in text and f"quarterdeck gates {build} --to TIER" in text
    assert f"quarterdeck problem resolve {problem}" in text
    assert alerts(alerting) == [(f"problem:{problem}", TEAM, "sent")]
    status = alerting.ok("notice", "status", build, "--json").json()
    assert [(n["kind"], n["event"], n["sent"]) for n in status["notices"]] == [  # type: ignore[index]
        ("problem-alert", f"problem:{problem}", 1)]
    assert tick(alerting, LATER) == [] and len(smtp_server.handler.received) == 1, "nothing is owed"
    assert minor != problem
    by_hand = alerting.run("notice", "send", "problem-alert", build, "--yes")
    assert by_hand.code == 1 and "a problem alert is sent by itself when a blocker is reported" in by_hand.err
    assert len(smtp_server.handler.received) == 1


def test_the_reporters_text_is_inert_in_the_alert(alerting: Project, smtp_server: SmtpServer) -> None:
    hostile = "<script>alert(1)</script> Bcc: victim@evil.example =?utf-8?q?x?="
    details = alerting.root / "details.txt"
    details.write_text("1. Open census\r\nBcc: victim@evil.example\r\n<img src=x onerror=alert(1)>\n",
                       encoding="utf-8")
    problem = report(alerting, "blocker", hostile, "--details", str(details))
    [received] = smtp_server.handler.accepted
    assert received.rcpt_tos == (TEAM,), "nobody else is written to"
    message = received.message()
    assert message["Bcc"] is None and message["Cc"] is None
    assert message["Subject"] == f"[app] Blocker #{problem} reported by {ACADIA} on {build_id(alerting)}"
    assert b"\r\nBcc:" not in received.content.split(b"\r\n\r\n", 1)[0], "no header line from the summary"
    assert b"=?utf-8?q?x?=" not in received.content.split(b"\r\n\r\n", 1)[0]
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    text = message.get_body(("plain",)).get_content()
    assert f"Summary:       {hostile}" in text and "Bcc: victim@evil.example" in text  # text, in the body
    refused = alerting.run("problem", "report", build_id(alerting), "--org", ACADIA, "--severity", "blocker",
                           "--summary", "Census\r\nBcc: victim@evil.example")
    assert refused.code == 1 and "--summary contains a line break" in refused.err
    assert len(smtp_server.handler.received) == 1


def test_a_refusing_server_leaves_the_alert_owed_and_tick_sends_it_once(
        alerting: Project, smtp_server: SmtpServer) -> None:
    smtp_server.handler.rcpt_replies[TEAM] = "550 5.7.1 Relaying denied"
    reported = alerting.run("problem", "report", build_id(alerting), "--org", ACADIA, "--severity", "blocker",
                            "--summary", "Census crashes on save")
    assert reported.code == 0, reported.err
    assert (f"warning: problem alert for #1 to {TEAM}: temp-failed (550 5.7.1 Relaying denied); "
            "`quarterdeck tick` sends it when it can") in " ".join(reported.err.split())
    assert alerting.query("SELECT status FROM problems") == [("open",)], "the report is filed"
    assert alerts(alerting) == [("problem:1", TEAM, "temp-failed")]
    assert tick(alerting, NOW) == [], "the retry is not due yet"
    smtp_server.handler.rcpt_replies.clear()  # the mail set-up is fixed
    [done] = tick(alerting, LATER)
    assert done["outcome"] == "done" and done["what"] == f"problem-alert notice for {build_id(alerting)}"
    assert alerts(alerting) == [("problem:1", TEAM, "sent")]
    assert tick(alerting, "2026-10-05T13:00:00+00:00") == []
    assert smtp_server.handler.accepted_for(TEAM) == 1


def test_an_unreachable_server_leaves_it_pending_for_tick(project: Project, smtp_server: SmtpServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    project.ok("orgs", "import", sample_file(project))
    project.ok("build")
    use_release_team(project)
    use_smtp(project, smtp_server, monkeypatch)
    configured = project.config.read_text(encoding="utf-8")
    project.config.write_text(configured.replace(smtp_server.url, "smtps://127.0.0.1:9"))  # nobody listens
    reported = project.run("problem", "report", build_id(project), "--org", ACADIA, "--severity", "blocker",
                           "--summary", "Census crashes on save")
    assert reported.code == 0 and "`quarterdeck tick` sends it when it can" in reported.err
    assert alerts(project) == [("problem:1", TEAM, "pending")]
    project.config.write_text(configured)
    [done] = tick(project, NOW)
    assert done["outcome"] == "done"
    assert alerts(project) == [("problem:1", TEAM, "sent")] and smtp_server.handler.accepted_for(TEAM) == 1


def test_tick_sends_the_alert_a_stopped_process_never_wrote(alerting: Project,
                                                            smtp_server: SmtpServer) -> None:
    """The report committed, then the process died before the alert's notice existed."""
    for at in ("2026-10-03T12:00:00+00:00", NOW):  # two days ago: past the retry deadline
        ledger = open_ledger(alerting, at)
        try:
            with ledger.write() as conn:
                report_problem(ledger, conn, build_id=build_id(alerting), org_name=ACADIA, severity="blocker",
                               summary=f"Census crashes (reported {at[:10]})", details=None, by=MARIE)
        finally:
            ledger.close()
    assert alerts(alerting) == []
    [done] = tick(alerting, NOW)
    assert done["outcome"] == "done"
    assert alerts(alerting) == [("problem:2", TEAM, "sent")], "only the recent blocker is owed"
    [received] = smtp_server.handler.accepted
    assert "Census crashes (reported 2026-10-05)" in received.message().get_body(("plain",)).get_content()
    assert tick(alerting, LATER) == [] and len(smtp_server.handler.received) == 1


def test_no_release_team_no_alert_and_config_check_says_so(project: Project,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    checked = project.ok("config", "check")
    assert "warning: notify.release_team is empty: a blocker reported" in " ".join(checked.err.split())
    project.ok("orgs", "import", sample_file(project))
    project.ok("build")
    report(project)
    assert alerts(project) == [] and project.query("SELECT count(*) FROM notices") == [(0,)]
    assert tick(project, LATER) == []
    use_release_team(project)
    assert "release_team" not in project.ok("config", "check").err
    bad = project.config.read_text().replace(f"Release Team <{TEAM}>", "release team")
    project.config.write_text(bad)
    refused = project.run("config", "check")
    assert refused.code == 1 and "notify.release_team: 'release team' is not one email address" in refused.err
    filed = project.run("problem", "report", build_id(project), "--org", ACADIA, "--severity", "blocker",
                        "--summary", "Census crashes again")
    assert filed.code == 0, "a broken mail set-up never fails the report itself"
    assert "warning: problem alert for #2: notify.release_team: 'release team' is not one email" in " ".join(
        filed.err.split())
    assert project.query("SELECT count(*) FROM problems") == [(2,)]


CHILD = "import sys, pipeline; sys.exit(pipeline.main(sys.argv[1:]))"


def test_a_process_killed_during_the_alert_never_sends_it_twice(
        project: Project, slow_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    project.ok("orgs", "import", sample_file(project))
    project.ok("build")
    use_smtp(project, slow_server, monkeypatch)
    use_release_team(project)
    slow_server.handler.delay = 30.0  # the message is taken; its reply never comes before the kill
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = ["--config", str(project.config), "problem", "report", build_id(project), "--org", ACADIA,
            "--severity", "blocker", "--summary", "Census crashes on save"]
    child = subprocess.Popen([sys.executable, "-c", CHILD, *argv], cwd=project.root, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not slow_server.handler.received and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    _, err = child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL, err.decode()
    assert project.query("SELECT status FROM problems") == [("open",)]
    assert alerts(project) == [("problem:1", TEAM, "sending")]
    slow_server.handler.delay = 0.0
    assert tick(project, (datetime.fromisoformat(NOW) + timedelta(minutes=20)).isoformat()) == []
    status = project.ok("notice", "status", build_id(project), "--json").json()
    [alert] = status["notices"]  # type: ignore[index]
    assert (alert["kind"], alert["unknown"], alert["pending"]) == ("problem-alert", 1, 0), \
        "its fate is unknown: a person confirms it; it is not sent again"
    assert Counter(a for r in slow_server.handler.received for a in r.rcpt_tos) == Counter({TEAM: 1})
