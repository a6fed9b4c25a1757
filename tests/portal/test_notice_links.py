"""The link in a beta-available notice, end to end: sent by `notice send` into the outbox, taken out
of the message, opened against the real `serve` process; the same link `portal link` makes at that
moment; refused once revoked; never in the ledger, the status or a preview.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage

import httpx
import pytest

import pipeline
from tests.channels.cli_support import NOW, make_build, sample_file, stage
from tests.conftest import Project
from tests.notify.test_readers import notes_with_action
from tests.portal.server import SECRET, serving, set_portal, visit

ACADIA = "Acadia Hospice"
MARIE, TOM = "mh.theriault@acadia-hospice.example", "it@acadia-hospice.example"
JOSE = "jose.nunez@bayou-palliative.example"   # Bayou Palliative is not enrolled
DANA = "dana.whitfield@quarterdeck.example"   # staff: beta testers too
LINK = re.compile(r"http://127\.0\.0\.1:8080/l/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


@pytest.fixture
def beta(project: Project, monkeypatch: pytest.MonkeyPatch) -> tuple[Project, str]:
    """Contacts imported, Acadia enrolled, a build on staging with approved beta notes."""
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    monkeypatch.setattr(pipeline.App, "notice_notes", lambda self, build, audience:
                        notes_with_action(build, audience), raising=False)
    project.ok("orgs", "import", sample_file(project))
    project.ok("beta", "enroll", ACADIA)
    build = make_build(project)
    stage(project, build)
    return project, build


def sent(project: Project) -> dict[str, tuple[str, str]]:
    """The outbox's messages by recipient: their text and HTML parts."""
    found = {}
    for path in (project.root / ".quarterdeck" / "outbox" / "new").iterdir():
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        text, html = msg.get_body(("plain",)), msg.get_body(("html",))
        assert text is not None and html is not None
        found[msg["To"].addresses[0].addr_spec] = (text.get_content(), html.get_content())
    return found


def the_link(parts: tuple[str, str]) -> str:
    text, html = parts
    [link] = re.findall(r"Your own beta page: (\S+)", text)
    assert LINK.fullmatch(link) and f'<a href="{link}"' in html and f">{link}</a>" in html
    return link


def test_the_link_in_a_beta_notice_opens_that_contacts_page_until_it_is_revoked(
        beta: tuple[Project, str], monkeypatch: pytest.MonkeyPatch) -> None:
    project, build = beta
    monkeypatch.setenv("QUARTERDECK_PORTAL_SECRET", SECRET)
    sending = project.ok("notice", "send", "beta-available", build, "--yes")
    messages = sent(project)
    assert {MARIE, TOM, DANA} <= set(messages)
    links = {address: the_link(parts) for address, parts in messages.items()}
    assert len(set(links.values())) == len(links), "each contact has a link of their own"
    assert "It works until Wednesday 4 November 2026, 07:00 EST." in " ".join(messages[MARIE][0].split())

    # the link is the one `portal link` makes at the notice's moment: one way to make a link
    assert project.ok("portal", "link", MARIE).out.strip() == links[MARIE]

    # the secret and the links are in the messages only: not in the ledger, the output, the status
    stored = str([project.query(f"SELECT * FROM {table}") for table in ("notices", "deliveries", "audit")])
    shown = project.ok("notice", "status", build)
    listed = project.ok("notice", "status", build, "--json")
    preview = project.ok("notice", "preview", "beta-available", build, "--to", MARIE)
    outputs = (sending.out + sending.err, shown.out + shown.err, listed.out, preview.out + preview.err)
    for where in (stored, *outputs):
        assert SECRET not in where and not any(link in where for link in links.values())
        assert "/l/" + links[MARIE].split("/l/")[1][:20] not in where
    assert "Your own beta page: http://127.0.0.1:8080/l/PERSONAL-LINK-MADE-FOR-EACH-RECIPIENT" in preview.out

    with serving(project) as base:
        for address, name in ((MARIE, "Marie-Hélène Thériault"), (TOM, "Tom Baxter")):
            client = visit(base, links[address].removeprefix("http://127.0.0.1:8080"))
            page = client.get("/beta")
            assert page.status_code == 200 and name in page.text and ACADIA in page.text
            assert build in page.text
        opened = [e for e in project.ok("log", "--json").json() if e["action"] == "portal.open"]
        assert sorted(e["actor"] for e in opened) == sorted([MARIE, TOM])

        project.ok("portal", "revoke", MARIE)
        plain = httpx.Client(base_url=base, follow_redirects=False, timeout=10)
        refused = plain.get(links[MARIE].removeprefix("http://127.0.0.1:8080"))
        assert refused.status_code == 403 and "no longer valid" in refused.text
        assert "qd_session" not in refused.headers.get("set-cookie", "")
        visit(base, links[TOM].removeprefix("http://127.0.0.1:8080"))  # only Marie's links ended


def test_without_the_link_secret_a_beta_notice_goes_out_as_before(
        beta: tuple[Project, str], monkeypatch: pytest.MonkeyPatch) -> None:
    project, build = beta
    monkeypatch.delenv("QUARTERDECK_PORTAL_SECRET", raising=False)
    project.ok("notice", "send", "beta-available", build, "--yes")
    messages = sent(project)
    assert MARIE in messages
    for text, html in messages.values():
        assert "beta page" not in text and "/l/" not in html
        assert "HOW TO REPORT PROBLEMS AND SIGN OFF" in text


def test_a_short_link_secret_refuses_the_beta_notice_before_anything_is_written(
        beta: tuple[Project, str], monkeypatch: pytest.MonkeyPatch) -> None:
    project, build = beta
    monkeypatch.setenv("QUARTERDECK_PORTAL_SECRET", "hunter2")
    before = project.query("SELECT count(*) FROM audit")
    refused = project.run("notice", "send", "beta-available", build, "--yes")
    assert refused.code == 1 and "fewer than 32" in refused.err and "hunter2" not in refused.err
    assert "this is a bug" not in refused.err
    assert project.query("SELECT count(*) FROM audit") == before
    assert project.query("SELECT count(*) FROM notices") == [(0,)]
    set_portal(project, link_days="7")   # the link's lifetime is the [portal] table's
    monkeypatch.setenv("QUARTERDECK_PORTAL_SECRET", SECRET)
    project.ok("notice", "send", "beta-available", build, "--yes")
    assert "It works until Monday 12 October 2026, 08:00 EDT." in " ".join(sent(project)[MARIE][0].split())


def test_the_advance_notice_link_lets_a_hospice_outside_the_beta_ask_to_join(
        beta: tuple[Project, str], monkeypatch: pytest.MonkeyPatch) -> None:
    project, build = beta
    monkeypatch.setenv("QUARTERDECK_PORTAL_SECRET", SECRET)
    project.ok("schedule", build, "--next-window")
    project.ok("notice", "send", "advance", build, "--yes")
    messages = sent(project)
    text, _ = messages[JOSE]
    link = the_link(messages[JOSE])
    assert "TRY NEW VERSIONS EARLY" in text and "ask to join if you have\nnot yet." in text
    assert "please do not forward it" in text
    assert len({the_link(parts) for parts in messages.values()}) == len(messages), "each their own"

    with serving(project) as base:
        client = visit(base, link.removeprefix("http://127.0.0.1:8080"))
        page = client.get("/beta").text
        assert "Bayou Palliative is not enrolled" in page and 'id="join"' in page
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token is not None
        assert client.post("/beta/join", data={"csrf": token.group(1)}).status_code == 303
    asked = [e for e in project.ok("log", "--json").json() if e["action"] == "beta.join-request"]
    assert [e["actor"] for e in asked] == [JOSE]
    approved = project.ok("beta", "approve", "Bayou Palliative")
    assert "Bayou Palliative" in approved.out


def test_without_the_link_secret_the_advance_notice_has_no_beta_invitation(
        beta: tuple[Project, str], monkeypatch: pytest.MonkeyPatch) -> None:
    project, build = beta
    monkeypatch.delenv("QUARTERDECK_PORTAL_SECRET", raising=False)
    project.ok("schedule", build, "--next-window")
    project.ok("notice", "send", "advance", build, "--yes")
    for text, html in sent(project).values():
        assert "TRY NEW VERSIONS EARLY" not in text and "/l/" not in text + html
