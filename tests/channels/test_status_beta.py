"""`status` shows the beta: who signed its build off, who has not yet, the problems counting against it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Connection, and_, select

from channels import store
from channels.gates import betaview
from channels.gates.betaview import ProblemRecord
from channels.gates.gates import SignOff
from releases.records.reads import Rows, rows_of, sqlite_rows
from releases.tiers.deployments import deployments
from tests.channels.cli_support import NOW, make_build, open_ledger, sample_file
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


# ---------------------------------------------------------------- the one copy of each query, checked

def _by_core(conn: Connection, build: str) -> dict[str, object]:
    """The beta programme's reads written in SQLAlchemy Core: the oracle the SQL text must agree with."""
    orgs, signoffs, problems = store.organisations, store.signoffs, store.problems
    enrollments = store.enrollments
    signed = conn.execute(select(orgs.c.name, signoffs.c.signed_by, signoffs.c.signed_at)
                          .join(orgs, orgs.c.id == signoffs.c.org_id)
                          .where(signoffs.c.build_id == build).order_by(signoffs.c.id))
    reports = conn.execute(select(problems, orgs.c.name.label("org"))
                           .join(orgs, orgs.c.id == problems.c.org_id).order_by(problems.c.id))
    enrolled = conn.execute(select(orgs.c.name).join(enrollments, enrollments.c.org_id == orgs.c.id)
                            .where(and_(enrollments.c.left_at.is_(None), orgs.c.removed_at.is_(None))))
    on_staging = conn.execute(select(deployments.c.build_id).where(
        and_(deployments.c.tier == "staging", deployments.c.state == "succeeded"))
        .order_by(deployments.c.id.desc()).limit(1)).scalar()
    every = [ProblemRecord(r.id, r.build_id, r.org, r.severity, r.summary, r.details, r.status, r.reported_at,
                           r.reported_by, r.resolved_at, r.resolved_by, r.resolution, r.fixed_in)
             for r in reports]
    return {"signoffs": [SignOff(r.name, r.signed_by, r.signed_at) for r in signed], "problems": every,
            "problem": every[2], "no_problem": None,
            "enrolled": sorted({r.name for r in enrolled}, key=str.casefold),
            "no_signoffs": [], "on_staging": on_staging, "on_production": None}


def _by_text(rows: Rows, build: str) -> dict[str, object]:
    from releases.tiers.tierview import build_on

    return {"signoffs": betaview.signoffs_for(rows, build), "problems": betaview.all_problems(rows),
            "problem": betaview.find_problem(rows, 3), "no_problem": betaview.find_problem(rows, 99),
            "enrolled": betaview.enrolled_org_names(rows),
            "no_signoffs": betaview.signoffs_for(rows, "2000.1.0+b1"),
            "on_staging": build_on(rows, "staging"), "on_production": build_on(rows, "production")}


def test_the_beta_reads_give_what_core_reads_by_either_route(project: Project, evidence: str) -> None:
    project.ok("beta", "enroll", "Cascade Hospice")
    project.ok("beta", "leave", "Cascade Hospice")  # left: no longer awaited
    project.ok("beta", "enroll", "Delta Hospice Care")
    project.ok("orgs", "remove", "Delta Hospice Care", "--yes")  # removed: no longer awaited
    ledger = open_ledger(project)
    try:
        with ledger.read() as conn:
            oracle = _by_core(conn, evidence)
            assert _by_text(rows_of(conn), evidence) == oracle
    finally:
        ledger.close()
    assert oracle["enrolled"] == [ACADIA, BAYOU] and oracle["on_staging"] == evidence
    assert [p.id for p in oracle["problems"]] == [1, 2, 3]  # type: ignore[attr-defined]
    if project.backend == "sqlite":
        with sqlite_rows(project.ledger_url, {"channels": betaview.SCHEMA_VERSION}) as fast:
            assert fast is not None and _by_text(fast, evidence) == oracle


@pytest.mark.backends("sqlite")  # the configuration file only
def test_status_without_a_beta_tier_shows_no_beta(project: Project) -> None:
    text = project.config.read_text(encoding="utf-8")
    assert 'name = "staging"\nchannel = "beta"' in text
    project.config.write_text(text.replace('name = "staging"\nchannel = "beta"', 'name = "staging"\n'
                                           'channel = "internal"'), encoding="utf-8")
    assert project.ok("status", "--json").json()["beta"] is None  # type: ignore[index]
    assert "beta on" not in project.ok("status").out


def test_a_blocker_fixed_only_in_a_later_build_still_counts_against_the_beta_build(
        project: Project, evidence: str) -> None:
    project.ok("problem", "report", evidence, "--org", BAYOU, "--severity", "blocker",
               "--summary", "Charting freezes")
    later = make_build(project, "charting freeze")
    project.ok("problem", "resolve", "4", "--resolution", "a lock taken twice", "--fixed-in", later)
    beta = project.ok("status", "--json").json()["beta"]  # type: ignore[index]
    assert beta["open_problems"]["blocker"] == 2  # type: ignore[index]
    assert [(b["id"], b["status"], b["fixed_in"]) for b in beta["blockers"]] == [  # type: ignore[index]
        (1, "open", None), (4, "resolved", later)]
    assert (f"  blocker #4 Charting freezes ({BAYOU}, fixed only in the later build {later})"
            in project.ok("status").out.splitlines())
