"""The beta page over real HTTP: a contact's link opens their page, and they sign off, withdraw and
report problems themselves, recorded with them as the actor."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.channels.cli_support import NOW, make_build, sample_file, stage
from tests.conftest import Project
from tests.portal.server import SECRET, csrf, ledger_state, link_of, serving, set_portal, visit

ACADIA, BAYOU = "Acadia Hospice", "Bayou Palliative"
MARIE, TOM, JOSE = ("mh.theriault@acadia-hospice.example", "it@acadia-hospice.example",
                    "jose.nunez@bayou-palliative.example")


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    monkeypatch.setenv("QUARTERDECK_PORTAL_SECRET", SECRET)


@pytest.fixture
def beta(project: Project) -> Project:
    """Contacts imported, Acadia enrolled, a build on staging."""
    project.ok("orgs", "import", sample_file(project))
    project.ok("beta", "enroll", ACADIA)
    stage(project, make_build(project))
    return project


@pytest.fixture
def server(beta: Project) -> Iterator[str]:
    with serving(beta) as base:
        yield base


def build_on_staging(project: Project) -> str:
    return str(project.query("SELECT build_id FROM deployments WHERE tier = 'staging'")[0][0])


def test_a_link_opens_a_session_and_the_page_of_that_contact(beta: Project, server: str) -> None:
    client = visit(server, link_of(beta, MARIE))
    cookie = client.cookies.jar
    (session,) = list(cookie)
    assert session.name == "qd_session" and not session.secure
    opened = [e for e in beta.ok("log", "--json").json() if e["action"] == "portal.open"]
    assert [(e["actor"], e["subject"]) for e in opened] == [(MARIE, f"contact:{ACADIA}:{MARIE}")]

    page = client.get("/beta")
    assert page.status_code == 200
    assert "Acadia Hospice" in page.text and "Marie-Hélène Thériault" in page.text
    assert build_on_staging(beta) in page.text
    assert "times in America/New_York" in page.text
    assert "Bayou" not in page.text and "Cascade" not in page.text, "no other organisation is named"
    headers = page.headers
    assert "script-src" not in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "<script" not in page.text and " style=" not in page.text


def test_sign_off_withdraw_and_report_as_the_contact(beta: Project, server: str) -> None:
    client = visit(server, link_of(beta, MARIE))
    build = build_on_staging(beta)
    token = csrf(client.get("/beta").text)
    signed = client.post("/beta/signoff", data={"csrf": token, "build": build, "note": "MAR checked"})
    assert signed.status_code == 303
    assert beta.query("SELECT signed_by, note, recorded_by FROM signoffs") == [(MARIE, "MAR checked", MARIE)]
    verdicts = beta.run("gates", build, "--to", "production", "--json").json()
    assert isinstance(verdicts, list)
    assert any(g["gate"] == "signoffs" and ACADIA in g["detail"] for g in verdicts)

    page = client.get("/beta").text
    assert "Acadia Hospice signed off this build" in page and 'id="withdraw"' in page
    other = visit(server, link_of(beta, TOM))
    refused = other.post("/beta/withdraw", data={"csrf": csrf(other.get("/beta").text), "build": build})
    assert refused.status_code == 409 and "only the contact who signed off" in refused.text
    withdrawn = client.post("/beta/withdraw", data={"csrf": token, "build": build})
    assert withdrawn.status_code == 303
    assert beta.query("SELECT count(*) FROM signoffs") == [(0,)]
    trail = [(e["action"], e["actor"]) for e in beta.ok("log", "--json").json()
             if e["action"].startswith("signoff.")]
    assert sorted(trail) == [("signoff.add", MARIE), ("signoff.withdraw", MARIE)]

    hostile = '<script>alert(1)</script> <b onmouseover="x()">Census</b>'
    reported = client.post("/beta/problems", data={"csrf": token, "build": build, "severity": "blocker",
                                                   "summary": hostile, "details": "1. open census\n2. crash"})
    assert reported.status_code == 303
    assert beta.query("SELECT summary, severity, reported_by FROM problems") == [(hostile, "blocker", MARIE)]
    page = client.get("/beta").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "<b onmouseover" not in page
    blockers = beta.run("gates", build, "--to", "production", "--json").json()
    assert isinstance(blockers, list)
    assert any(g["gate"] == "blockers" and not g["passed"] for g in blockers)


def _refused(project: Project, response: httpx.Response, status: int, before: tuple[object, ...]) -> None:
    assert response.status_code == status, response.text
    assert ledger_state(project) == before, "a refused request changed the ledger"


def test_forged_expired_and_revoked_links_open_nothing(beta: Project, server: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    good = link_of(beta, MARIE)
    monkeypatch.setenv("QUARTERDECK_NOW", "2026-08-01T12:00:00+00:00")
    expired = link_of(beta, MARIE)
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    client = visit(server, good)
    before = ledger_state(beta)
    plain = httpx.Client(base_url=server, follow_redirects=False)
    payload, mac = good.removeprefix("/l/").split(".")
    forged_payload = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    for path in (f"/l/{payload}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}", f"/l/{forged_payload}.{mac}",
                 "/l/garbage", "/l/" + "a" * 300 + ".b", expired):
        response = plain.get(path)
        _refused(beta, response, 403, before)
        assert "qd_session" not in response.headers.get("set-cookie", "")
    assert "has expired" in plain.get(expired).text

    beta.ok("portal", "revoke", MARIE)
    before = ledger_state(beta)
    _refused(beta, plain.get(good), 403, before)
    assert "no longer valid" in client.get("/beta").text, "the session the link opened ended with it"
    assert client.get("/beta").status_code == 403
    visit(server, link_of(beta, MARIE))  # a new link works again


def test_forms_without_the_session_s_csrf_token_change_nothing(beta: Project, server: str) -> None:
    build = build_on_staging(beta)
    marie = visit(server, link_of(beta, MARIE))
    tom = visit(server, link_of(beta, TOM))
    toms_token = csrf(tom.get("/beta").text)
    before = ledger_state(beta)
    for path in ("/beta/signoff", "/beta/withdraw", "/beta/problems"):
        form = {"build": build, "severity": "minor", "summary": "x"}
        _refused(beta, marie.post(path, data=form), 403, before)
        _refused(beta, marie.post(path, data={**form, "csrf": "wrong"}), 403, before)
        _refused(beta, marie.post(path, data={**form, "csrf": toms_token}), 403, before)
        anonymous = httpx.post(server + path, data={**form, "csrf": toms_token}, follow_redirects=False)
        _refused(beta, anonymous, 401, before)
        as_json = marie.post(path, content=json.dumps(form), headers={"content-type": "application/json"})
        _refused(beta, as_json, 415, before)


def test_oversized_wrong_and_foreign_requests_change_nothing(beta: Project, server: str) -> None:
    build = build_on_staging(beta)
    marie = visit(server, link_of(beta, MARIE))
    token = csrf(marie.get("/beta").text)
    before = ledger_state(beta)
    huge = {"csrf": token, "build": build, "severity": "minor", "summary": "big", "details": "x" * 200_000}
    _refused(beta, marie.post("/beta/problems", data=huge), 413, before)

    def chunks() -> Iterator[bytes]:
        yield f"csrf={token}&build={build}&severity=minor&summary=big&details=".encode()
        for _ in range(200):
            yield b"x" * 1024

    streamed = marie.post("/beta/problems", content=chunks(),
                          headers={"content-type": "application/x-www-form-urlencoded"})
    _refused(beta, streamed, 413, before)
    bad = {"csrf": token, "build": build, "severity": "catastrophic", "summary": "x"}
    _refused(beta, marie.post("/beta/problems", data=bad), 400, before)
    two_lines = {**bad, "severity": "minor", "summary": "a\nb"}
    _refused(beta, marie.post("/beta/problems", data=two_lines), 400, before)
    _refused(beta, marie.post("/beta/signoff", data={"csrf": token, "build": "2025.1.0+1"}), 400, before)

    jose = visit(server, link_of(beta, JOSE))
    jose_token = csrf(jose.get("/beta").text)
    before = ledger_state(beta)
    # Bayou is not enrolled: it cannot sign off, and naming Acadia in the form changes nothing.
    _refused(beta, jose.post("/beta/signoff", data={"csrf": jose_token, "build": build, "org": ACADIA}),
             409, before)
    marie.post("/beta/problems", data={"csrf": token, "build": build, "severity": "minor",
                                       "summary": "Census export fails"})
    assert marie.get("/beta").text.count("Census export fails") == 2, "known in the build, and theirs"
    bayou_page = jose.get("/beta").text
    assert "Acadia" not in bayou_page, "a problem another organisation reported shows without its name"
    assert bayou_page.count("Census export fails") == 1, "it is known in the build, not reported by Bayou"


def test_a_contact_asks_to_join_and_the_release_manager_approves(beta: Project, server: str) -> None:
    jose = visit(server, link_of(beta, JOSE))
    page = jose.get("/beta").text
    assert "Bayou Palliative is not enrolled" in page and 'id="sign-off"' not in page
    not_asked = beta.run("beta", "approve", BAYOU)
    assert not_asked.code == 1 and "has not asked to join" in not_asked.err
    token = csrf(page)
    assert jose.post("/beta/join", data={"csrf": token}).status_code == 303
    assert "Bayou Palliative asked to join on 2026-10-05" in jose.get("/beta").text
    before = ledger_state(beta)
    again = jose.post("/beta/join", data={"csrf": token})
    _refused(beta, again, 400, before)
    marie = visit(server, link_of(beta, MARIE))
    before = ledger_state(beta)
    _refused(beta, marie.post("/beta/join", data={"csrf": csrf(marie.get("/beta").text)}), 400, before)

    approved = beta.ok("beta", "approve", BAYOU)
    assert f"as {JOSE} asked on" in approved.out
    assert 'id="sign-off"' in jose.get("/beta").text
    trail = [(e["action"], e["actor"]) for e in beta.ok("log", "--json").json()
             if e["action"].startswith("beta.") and e["subject"] == f"org:{BAYOU}"]
    assert trail[0] == ("beta.join-request", JOSE)
    assert [action for action, _ in trail[1:]] == ["beta.enroll", "beta.join-approve"]


def test_the_session_cookie_is_secure_behind_tls(beta: Project) -> None:
    def secure(*args: str, headers: dict[str, str] | None = None) -> bool:
        with serving(beta, *args) as base:
            opened = httpx.get(base + link_of(beta, MARIE), headers=headers, follow_redirects=False)
            assert opened.status_code == 303
            cookie = opened.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
            return "; secure" in cookie

    forwarded = {"x-forwarded-proto": "https"}
    assert not secure(headers=forwarded), "an untrusted proxy's word is not taken"
    assert secure("--secure-cookies")
    set_portal(beta, trust_proxy="true")
    assert secure(headers=forwarded)
    assert not secure()


def test_the_page_lists_the_builds_training_in_the_contacts_own_time(
        beta: Project, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    build = build_on_staging(beta)
    beta.ok("training", "add", build, "--at", "2026-10-20 14:00", "--link", "https://training.example.org/charts",
            "--title", "Charting <b>changes</b>")
    monkeypatch.setenv("QUARTERDECK_NOW", "2026-09-28T12:00:00+00:00")  # recorded before it was held
    beta.ok("training", "add", build, "--at", "2026-10-01 10:00", "--link", "https://training.example.org/kick-off",
            "--title", "Kick-off")
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    page = visit(server, link_of(beta, MARIE)).get("/beta").text
    section = page[page.index('<section id="training">'):page.index('<section id="signoff">')]
    # 14:00 in Chicago (the project's zone) is 15:00 in New York, Marie's.
    upcoming, held = section.split("Already held")
    assert "Tuesday 20 October 2026, 15:00 EDT (Tuesday 20 October 2026, 14:00 CDT)" in upcoming
    assert "Charting &lt;b&gt;changes&lt;/b&gt;" in upcoming and "<b>changes" not in page
    assert 'href="https://training.example.org/charts"' in upcoming
    assert "Kick-off" in held and "Thursday 1 October 2026, 11:00 EDT" in held and "Kick-off" not in upcoming

    jose = visit(server, link_of(beta, JOSE)).get("/beta").text  # in the project's own zone: one time
    jose_section = jose[jose.index('<section id="training">'):jose.index('<section id="signoff">')]
    assert "Tuesday 20 October 2026, 14:00 CDT</li>" in jose_section and "EDT" not in jose_section


def test_the_page_says_when_no_training_is_planned(beta: Project, server: str) -> None:
    page = visit(server, link_of(beta, MARIE)).get("/beta").text
    assert "No training sessions are planned for this build." in page


def test_a_sign_off_waiting_for_the_ledger_does_not_hold_up_other_visitors(
        beta: Project, server: str) -> None:
    """While another process holds the ledger's write lock (a notice run, a rollout), a form waits
    for it; every other visitor's page is still answered at once."""
    import threading

    import pipeline
    from releases.records.ledger import Actor, Ledger

    build = build_on_staging(beta)
    marie, tom = visit(server, link_of(beta, MARIE)), visit(server, link_of(beta, TOM))
    token = csrf(marie.get("/beta").text)
    answers: list[int] = []
    other = Ledger(beta.ledger_url, pipeline.ledger_schemas(), actor=Actor("rm@example.org", "pytest"))
    try:
        with other.write():  # the write lock, held as another quarterdeck process would hold it
            sending = threading.Thread(target=lambda: answers.append(marie.post(
                "/beta/signoff", data={"csrf": token, "build": build}, timeout=90).status_code))
            sending.start()
            time.sleep(1)  # the sign-off is now waiting for the lock
            page = tom.get("/beta", timeout=10)
            assert page.status_code == 200 and "Tom Baxter" in page.text
            assert answers == [] and sending.is_alive(), "the sign-off waits for the lock"
        sending.join(timeout=90)
    finally:
        other.close()
    assert answers == [303]
    assert beta.query("SELECT signed_by FROM signoffs") == [(MARIE,)]


def test_the_page_and_the_beta_notice_give_the_same_sign_off_deadline(beta: Project, server: str) -> None:
    """Before the push is scheduled the deadline is the next quarterly push's advance-notice
    deadline (14 days before the window, 22:00 in Chicago), in the reader's own time, on the
    page as in the notice."""
    import email
    import email.policy

    build = build_on_staging(beta)
    beta.ok("notes", "approve", build, "--audience", "beta", "--yes")
    beta.ok("notice", "send", "beta-available", build, "--yes")
    texts = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
             for path in (beta.root / ".quarterdeck" / "outbox" / "new").iterdir()]
    [to_marie] = [m for m in texts if MARIE in str(m["To"])]
    body = to_marie.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    said = " ".join(body.split())
    assert "Please sign off or report problems by Saturday 31 October 2026, 23:00 EDT" in said

    page = visit(server, link_of(beta, MARIE)).get("/beta").text
    section = page[page.index('<section id="build">'):page.index('<section id="notes">')]
    assert ("The production push is not scheduled yet; the next quarterly window is "
            "<strong>2026-11-14 23:00–03:00 next day America/New_York</strong>.") in section
    assert "Please sign off or report problems before <strong>2026-10-31 23:00 EDT</strong>." in section
