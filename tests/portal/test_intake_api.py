"""The problem intake API over real HTTP: the application reports with its organisation's token."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.channels.cli_support import NOW, make_build, sample_file
from tests.conftest import Project
from tests.portal.server import SECRET, ledger_state, serving

ACADIA = "Acadia Hospice"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    monkeypatch.setenv("QUARTERDECK_PORTAL_SECRET", SECRET)


@pytest.fixture
def app_side(project: Project) -> Iterator[tuple[Project, str, str, str]]:
    """The project, a build, Acadia's token and the server's URL."""
    project.ok("orgs", "import", sample_file(project))
    build = make_build(project)
    token = project.ok("portal", "token", ACADIA).out.strip()
    with serving(project) as base:
        yield project, build, token, base


def post(base: str, token: str | None, body: object, **headers: str) -> httpx.Response:
    sent = {"content-type": "application/json", **headers}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(base + "/api/v1/problems", content=content, headers=sent, timeout=10)


def test_a_report_is_filed_once_and_counted_when_repeated(app_side: tuple[Project, str, str, str]) -> None:
    project, build, token, base = app_side
    report = {"build": build, "severity": "major", "summary": "Export to CSV times out",
              "details": "after 30 s", "diagnostics": {"memory_mb": 512, "request": "a1"}}
    first = post(base, token, report)
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer == {"id": answer["id"], "status": "open", "occurrences": 1, "duplicate": False}
    again = post(base, token, {**report, "diagnostics": {"memory_mb": 640, "request": "b2"}})
    assert again.status_code == 200 and again.json() == {**answer, "occurrences": 2, "duplicate": True}
    assert project.query("SELECT id, org_id, reported_by FROM problems") == [
        (answer["id"], project.query("SELECT id FROM organisations WHERE name = ?", ACADIA)[0][0],
         "api-token:1")]
    assert project.query("SELECT diagnostics FROM portal_intake_reports ORDER BY id") == [
        ('{"memory_mb": 512, "request": "a1"}',), ('{"memory_mb": 640, "request": "b2"}',)]
    actions = [(e["action"], e["actor"]) for e in project.ok("log", "--json").json()
               if e["action"].startswith("problem.")]
    assert sorted(actions) == [("problem.repeat", "api-token:1"), ("problem.report", "api-token:1")]

    project.ok("problem", "resolve", str(answer["id"]), "--resolution", "index added")
    regression = post(base, token, report)
    assert regression.status_code == 201 and regression.json()["id"] != answer["id"], \
        "a resolved problem coming back is a new report"

    described = httpx.get(base + "/api/v1/openapi.json").json()
    assert described["openapi"].startswith("3.")
    body = described["paths"]["/api/v1/problems"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["build", "severity", "summary"]


def test_bad_reports_are_refused_and_change_nothing(app_side: tuple[Project, str, str, str]) -> None:
    project, build, token, base = app_side
    good = {"build": build, "severity": "minor", "summary": "x"}
    before = ledger_state(project)
    cases: list[tuple[int, httpx.Response]] = [
        (401, post(base, None, good)),
        (401, post(base, "qdp_wrong", good)),
        (401, post(base, token + "x", good)),
        (415, post(base, token, good, **{"content-type": "text/plain"})),
        (400, post(base, token, b"{not json")),
        (400, post(base, token, b"\xff\xfe")),
        (422, post(base, token, [good])),
        (422, post(base, token, {**good, "org": "Bayou Palliative"})),
        (422, post(base, token, {"build": build, "severity": "minor"})),
        (422, post(base, token, {**good, "severity": "fatal"})),
        (422, post(base, token, {**good, "summary": 12})),
        (422, post(base, token, {**good, "summary": "two\nlines"})),
        (422, post(base, token, {**good, "build": "2020.1.0+b1"})),
        (422, post(base, token, {**good, "diagnostics": "text"})),
        (422, post(base, token, {**good, "diagnostics": {"a": {"b": {"c": {"d": {"e": 1}}}}}})),
        (422, post(base, token, {**good, "diagnostics": {"log": "x" * 20_000}})),
        (413, post(base, token, {**good, "details": "x" * 200_000})),
    ]
    for status, response in cases:
        assert response.status_code == status, (status, response.text)
        assert response.headers["content-type"].startswith("application/json")
        assert "error" in response.json()
    assert cases[0][1].headers["www-authenticate"] == "Bearer"
    assert "no build '2020.1.0+b1'" in cases[12][1].json()["error"]
    assert ledger_state(project) == before


def test_the_intake_rate_limit_answers_429_per_token(app_side: tuple[Project, str, str, str]) -> None:
    project, build, token, base = app_side
    other = project.ok("portal", "token", "Bayou Palliative").out.strip()
    codes = [post(base, token, {"build": build, "severity": "minor", "summary": f"n{n}"}).status_code
             for n in range(61)]
    assert codes[:60] == [201] * 60 and codes[60] == 429
    before = ledger_state(project)
    assert post(base, token, {"build": build, "severity": "minor", "summary": "more"}).status_code == 429
    assert ledger_state(project) == before
    assert post(base, other, {"build": build, "severity": "minor", "summary": "ours"}).status_code == 201
