"""One real browser (Debian's chromium, driven by Playwright) through the beta page: open the
personal link, read the notes, sign off, withdraw, report a blocker that stops the gates and
emails the release team (a real aiosmtpd server)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.channels.cli_support import NOW, make_build, sample_file, stage
from tests.conftest import Project
from tests.notify.test_cli import use_smtp
from tests.notify.test_problem_alert import TEAM, use_release_team
from tests.portal.server import SECRET, link_of, serving
from tests.support.missing import missing
from tests.support.smtp import SmtpServer

MARIE = "mh.theriault@acadia-hospice.example"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = os.environ.get("QUARTERDECK_SCREENSHOT")  # set to refresh docs/beta-page.png


def chromium() -> str:
    """Debian's chromium; in CI a missing browser FAILS the test, locally it skips it."""
    found = shutil.which("chromium")
    if found:
        return found
    missing("chromium not found: apt-get install chromium", "the browser test")


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
def test_a_beta_tester_signs_off_withdraws_and_reports_a_blocker_in_a_browser(
        project: Project, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    executable = chromium()
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    monkeypatch.setenv("QUARTERDECK_PORTAL_SECRET", SECRET)
    project.ok("orgs", "import", sample_file(project))
    project.ok("beta", "enroll", "Acadia Hospice")
    build = make_build(project, "census export keeps the ward filter")
    stage(project, build)
    project.ok("schedule", build, "--next-window")
    project.ok("notes", "approve", build, "--audience", "beta", "--yes")
    project.ok("training", "add", build, "--at", "2026-10-20 14:00",
               "--title", "What is new in census exports", "--link", "https://training.example.org/census")
    use_smtp(project, smtp_server, monkeypatch)
    use_release_team(project)
    commit = project.query('SELECT "commit" FROM builds WHERE id = ?', build)[0][0]
    with serving(project) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 1200})
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error"
                    else None)
            page.goto(base + link_of(project, MARIE))
            assert page.url == base + "/beta", "the link redirects to a clean URL"
            assert page.locator("h2", has_text=f"Build {build}").is_visible()
            notes = page.locator("#notes .notes").inner_text()
            assert "census export keeps the ward filter" in notes.lower()
            assert commit[:7] not in page.content(), "no commit ids reach a customer"
            assert "2026-11-14 23:00" in page.locator("#build").inner_text(), "the push in New York time"
            training = page.locator("#training")
            assert "Tuesday 20 October 2026, 15:00 EDT" in training.inner_text(), "in Marie's own time"
            assert training.get_by_role("link", name="What is new in census exports").is_visible()
            if SCREENSHOT:
                page.screenshot(path=SCREENSHOT, full_page=True)

            page.fill("#note", "Census and exports tested on two wards")
            page.click("#sign-off")
            assert "Acadia Hospice signed off this build" in page.locator("#signoff").inner_text()
            assert project.query("SELECT signed_by, note FROM signoffs") == [
                (MARIE, "Census and exports tested on two wards")]
            page.click("#withdraw")
            assert page.locator("#sign-off").is_visible()
            assert project.query("SELECT count(*) FROM signoffs") == [(0,)]

            page.select_option("#severity", "blocker")
            page.fill("#summary", "<img src=x onerror=alert(1)> Census crashes on save")
            page.fill("#details", "1. Open census\n2. Save")
            page.click("#report-problem")
            assert page.locator("#known td.blocker").count() == 1
            known = page.locator("#known").inner_text()
            assert "<img src=x onerror=alert(1)> Census crashes on save" in known
            assert page.locator("#known img").count() == 0, "markup in a summary stays text"
            assert errors == []
            deadline = time.monotonic() + 20  # the alert is sent beside the page's answer
            while not smtp_server.handler.accepted and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            browser.close()
    gates = project.run("gates", build, "--to", "production", "--json").json()
    assert isinstance(gates, list)
    assert any(g["gate"] == "blockers" and not g["passed"] and "Census crashes" in g["detail"] for g in gates)
    assert project.query("SELECT reported_by FROM problems") == [(MARIE,)]
    [alert] = smtp_server.handler.accepted
    assert alert.rcpt_tos == (TEAM,)
    text = alert.message().get_body(("plain",)).get_content()
    assert f"Reported by:   {MARIE}" in text and "Summary:       <img src=x onerror=alert(1)> Census" in text
    assert "<img" not in alert.message().get_body(("html",)).get_content()


def test_the_readme_screenshot_is_there() -> None:
    shot = Path(__file__).resolve().parents[2] / "docs" / "beta-page.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
