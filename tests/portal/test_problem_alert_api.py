"""The release team's alert when the application or a tester reports a blocker through the real
`serve` process: sent after the report is filed, to a real aiosmtpd server, once per new problem;
a mail server that cannot be reached never fails the report, and `tick` sends the alert later."""

from __future__ import annotations

import time

import pytest

from tests.channels.cli_support import NOW, make_build, sample_file
from tests.conftest import Project
from tests.notify.test_cli import use_smtp
from tests.notify.test_problem_alert import TEAM, alerts, use_release_team
from tests.portal.server import SECRET, serving
from tests.portal.test_intake_api import ACADIA, post
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    monkeypatch.setenv("QUARTERDECK_PORTAL_SECRET", SECRET)


@pytest.fixture
def reporting(project: Project, smtp_server: SmtpServer,
              monkeypatch: pytest.MonkeyPatch) -> tuple[Project, str, str]:
    """Acadia's installation with a token, a build to report on, and the release team's address
    on the real SMTP server: (project, build, token)."""
    project.ok("orgs", "import", sample_file(project))
    build = make_build(project)
    token = project.ok("portal", "token", ACADIA).out.strip()
    use_smtp(project, smtp_server, monkeypatch)
    use_release_team(project)
    return project, build, token


def arrived(server: SmtpServer, count: int) -> list[object]:
    """The accepted messages once there are `count` (the alert is sent beside the answer)."""
    deadline = time.monotonic() + 20
    while len(server.handler.accepted) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(server.handler.accepted)


def test_a_new_blocker_from_the_application_alerts_once_and_a_repeat_does_not(
        reporting: tuple[Project, str, str], smtp_server: SmtpServer) -> None:
    project, build, token = reporting
    said: list[str] = []
    report = {"build": build, "severity": "blocker", "summary": "<b>Census</b> crashes on save",
              "details": "stack trace\r\nBcc: victim@evil.example", "diagnostics": {"request": "a1"}}
    with serving(project, said=said) as base:
        minor = post(base, token, {**report, "severity": "minor", "summary": "Slow export"})
        assert minor.status_code == 201
        first = post(base, token, report)
        assert first.status_code == 201, first.text
        problem = first.json()["id"]
        [received] = arrived(smtp_server, 1)
        again = post(base, token, {**report, "diagnostics": {"request": "b2"}})
        assert again.status_code == 200 and again.json()["duplicate"] is True
        time.sleep(0.5)  # a second alert, were there one, would be on its way by now
    assert len(smtp_server.handler.received) == 1, "a repeat of an open problem is not news"
    assert received.rcpt_tos == (TEAM,)  # type: ignore[attr-defined]
    message = received.message()  # type: ignore[attr-defined]
    assert message["Subject"] == f"[app] Blocker #{problem} reported by {ACADIA} on {build}"
    assert message["Bcc"] is None
    text = message.get_body(("plain",)).get_content()
    assert "Reported by:   api-token:1" in text and "Summary:       <b>Census</b> crashes on save" in text
    html = message.get_body(("html",)).get_content()
    assert "&lt;b&gt;Census&lt;/b&gt;" in html and "<b>Census" not in html
    assert alerts(project) == [(f"problem:{problem}", TEAM, "sent")]
    assert "release_team" not in "".join(said), "configured: serve has nothing to warn about"


def test_a_mail_server_that_cannot_be_reached_never_fails_the_report(
        reporting: tuple[Project, str, str], smtp_server: SmtpServer) -> None:
    project, build, token = reporting
    configured = project.config.read_text(encoding="utf-8")
    project.config.write_text(configured.replace(smtp_server.url, "smtps://127.0.0.1:9"))  # nobody listens
    said: list[str] = []
    with serving(project, said=said) as base:
        started = time.monotonic()
        filed = post(base, token, {"build": build, "severity": "blocker", "summary": "Census crashes"})
        assert filed.status_code == 201, filed.text
        assert time.monotonic() - started < 5, "the answer does not wait for the mail server"
        deadline = time.monotonic() + 20
        while alerts(project) != [("problem:1", TEAM, "pending")] and time.monotonic() < deadline:
            time.sleep(0.05)
    assert project.query("SELECT severity, status FROM problems") == [("blocker", "open")]
    assert alerts(project) == [("problem:1", TEAM, "pending")], "owed"
    assert "problem alert for #1" in "".join(said) and "`quarterdeck tick` sends it" in " ".join(
        "".join(said).split())
    project.config.write_text(configured)
    done = project.ok("tick", "--json").json()
    assert [a["outcome"] for a in done["actions"]] == ["done"]  # type: ignore[index]
    assert smtp_server.handler.accepted_for(TEAM) == 1
    assert project.ok("tick", "--json").json()["actions"] == []  # type: ignore[index]


def test_serve_says_once_that_nobody_is_alerted_without_an_address(project: Project) -> None:
    project.ok("orgs", "import", sample_file(project))
    build = make_build(project)
    token = project.ok("portal", "token", ACADIA).out.strip()
    said: list[str] = []
    with serving(project, said=said) as base:
        for summary in ("Census crashes", "Census crashes again"):
            assert post(base, token, {"build": build, "severity": "blocker", "summary": summary}
                        ).status_code == 201
    words = " ".join("".join(said).split())
    assert words.count("warning: notify.release_team is empty: a blocker reported") == 1
    assert project.query("SELECT count(*) FROM problems") == [(2,)]
    assert alerts(project) == []
