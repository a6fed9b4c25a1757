"""`status` shows the beta: who signed its build off, who has not yet, the problems counting against it."""

from __future__ import annotations

import json

import pytest

from tests.channels.cli_support import NOW, make_build, sample_file
from tests.conftest import Project
from tests.foundation.test_tierview import NOT_FOR_STATUS, _fresh

ACADIA, BAYOU = "Acadia Hospice", "Bayou Palliative"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)


@pytest.fixture
def evidence(project: Project) -> str:
    """Acadia and Bayou enrolled, a build on staging that Acadia signed off; Bayou's blocker and
    Acadia's major problem open, Acadia's blocker resolved. Returns the build."""
    project.ok("orgs", "import", sample_file(project))
    project.ok("beta", "enroll", ACADIA)
    project.ok("beta", "enroll", BAYOU)
    build = make_build(project)
    project.ok("promote", build, "--to", "dev", "--yes")
    project.ok("promote", build, "--to", "staging", "--yes")
    project.ok("signoff", build, "--org", ACADIA, "--by", "mh.theriault@acadia-hospice.example")
    project.ok("problem", "report", build, "--org", BAYOU, "--severity", "blocker",
               "--summary", "Medication plan does not save [ward 3]")
    project.ok("problem", "report", build, "--org", ACADIA, "--severity", "major",
               "--summary", "Printing the MAR is slow")
    project.ok("problem", "report", build, "--org", ACADIA, "--severity", "blocker",
               "--summary", "Login loops after the upgrade")
    project.ok("problem", "resolve", "3", "--resolution", "a proxy setting at Acadia")
    return build


def test_status_shows_the_beta_sign_offs_and_the_blockers_but_not_a_resolved_problem(
        project: Project, evidence: str, monkeypatch: pytest.MonkeyPatch) -> None:
    build = evidence
    shown = project.ok("status", "--json").json()
    assert shown["beta"] == {  # type: ignore[index]
        "tier": "staging", "build": build,
        "signed_off": [{"organisation": ACADIA, "by": "mh.theriault@acadia-hospice.example", "at": NOW}],
        "waiting_for": [BAYOU],
        "open_problems": {"blocker": 1, "major": 1, "minor": 0},
        "blockers": [{"id": 1, "build": build, "organisation": BAYOU, "status": "open", "fixed_in": None,
                      "summary": "Medication plan does not save [ward 3]"}]}

    monkeypatch.setenv("COLUMNS", "80")
    text = project.ok("status").out
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), text
    assert [line.rstrip() for line in lines[lines.index(f"beta on staging: {build}"):][:5]] == [
        f"beta on staging: {build}",
        f"  signed off: {ACADIA}",
        f"  waiting for: {BAYOU}",
        "  open problems: blocker 1, major 1, minor 0",
        f"  blocker #1 Medication plan does not save [ward 3] ({BAYOU})"]
    assert "Login loops" not in text, "a resolved problem no longer counts against the build"
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("┏")) + 1]
    assert [cell.strip() for cell in table.strip("┃").split("┃")] == [
        "tier", "channel", "build", "host", "role", "state"], "the table is not wrapped at 80 columns"


def test_status_before_a_build_reaches_the_beta_tier(project: Project) -> None:
    project.ok("orgs", "import", sample_file(project))
    project.ok("beta", "enroll", ACADIA)
    build = make_build(project)
    project.ok("promote", build, "--to", "dev", "--yes")
    assert project.ok("status", "--json").json()["beta"] == {  # type: ignore[index]
        "tier": "staging", "build": None, "signed_off": [], "waiting_for": [],
        "open_problems": {"blocker": 0, "major": 0, "minor": 0}, "blockers": []}
    assert "beta on staging: no build yet" in project.ok("status").out


@pytest.mark.backends("sqlite")  # the sqlite3 route: SQLite's own
def test_status_reads_the_beta_without_sqlalchemy_or_the_gates(project: Project, evidence: str) -> None:
    in_process = project.ok("status", "--json").json()["beta"]  # type: ignore[index]
    config = ["--config", str(project.config)]
    codes, found, _, out = _fresh([[*config, "status", "--json"]], project.root, NOT_FOR_STATUS)
    assert (codes, found) == ([0], [])
    assert json.loads(out)["beta"] == in_process and in_process["build"] == evidence  # type: ignore[index]
    codes, found, _, out = _fresh([[*config, "status"]], project.root, ("json", *NOT_FOR_STATUS))
    assert (codes, found) == ([0], [])
    assert f"blocker #1 Medication plan does not save [ward 3] ({BAYOU})" in out
