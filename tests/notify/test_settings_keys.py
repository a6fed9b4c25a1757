"""The [notify] keys that were once accepted only by NotifySettings, now in the file: each one
reaches the delivery it configures, through the real commands and a real SMTP server."""

from __future__ import annotations

import pytest

from tests.conftest import Project
from tests.notify.test_cli import BUILD, use_smtp
from tests.support.smtp import Fault, SmtpServer

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")


def _edit(project: Project, old: str, new: str) -> None:
    text = project.config.read_text()
    assert old in text, old
    project.config.write_text(text.replace(old, new, 1))


def test_notify_max_attempts_and_end_of_data_timeout_reach_the_smtp_session(
        scheduled: Project, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    use_smtp(scheduled, smtp_server, monkeypatch)
    _edit(scheduled, "max_attempts = 3", "max_attempts = 2")
    _edit(scheduled, "end_of_data_timeout = 600", "end_of_data_timeout = 1")
    for at in (1, 2):
        smtp_server.handler.schedule(Fault.DROP_AT_RCPT, at=at)
    smtp_server.handler.schedule(Fault.SILENT_AFTER_CONTENT, at=3)
    scheduled.run("notice", "send", "advance", BUILD, "--yes")
    [notice] = scheduled.ok("notice", "status", BUILD, "--json").json()["notices"]  # type: ignore[index]
    problems = {p["state"]: p for p in notice["problems"]}
    assert problems["temp-failed"]["attempts"] == 2  # two connections, as configured, not the default 3
    assert "unknown" in problems  # no reply to the data within the configured second
    assert notice["sent"] == 3


def test_notify_templates_override_the_shipped_ones(scheduled: Project) -> None:
    (scheduled.root / "notice-templates").mkdir()
    (scheduled.root / "notice-templates" / "advance.subject.txt").write_text(
        "Planned maintenance: {{ project }} {{ version }}\n", encoding="utf-8")
    _edit(scheduled, 'templates = ""', 'templates = "notice-templates"')
    shown = scheduled.ok("notice", "preview", "advance", BUILD, "--to", "maria@bayou.example.org").out
    assert "Subject: Planned maintenance: " in shown




def test_the_downtime_sentence_and_the_beta_url_are_configured_and_checked(scheduled: Project) -> None:
    """Issue 16: the unavailability sentence and the beta system's address come from the file, and
    `config check` refuses a sentence that cannot be filled in or an address that is not a web one."""
    _edit(scheduled, 'downtime = ""', 'downtime = "Please log out: {project} is down for {duration}."')
    shown = scheduled.ok("notice", "preview", "advance", BUILD, "--to", "maria@bayou.example.org").out
    assert "Please log out: app is down for 4 hours." in shown
    _edit(scheduled, '{duration}.', '{hours}.')
    _edit(scheduled, 'url = ""                      # the beta system', 'url = "ftp://beta.example.org"  #')
    refused = scheduled.run("config", "check")
    assert refused.code == 1
    assert ("notify.downtime: 'Please log out: {project} is down for {hours}.' cannot be filled in "
            "(KeyError: 'hours'); use only {project} and {duration}") in refused.err
    assert "tiers.staging.url: 'ftp://beta.example.org' is not an http(s) address" in refused.err
