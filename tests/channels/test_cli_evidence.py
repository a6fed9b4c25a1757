"""`signoff` and `problem` through the CLI: the beta programme's rules and problems tracked to resolution."""

from __future__ import annotations

import pytest

from tests.channels.cli_support import NOW, audit_log, make_build, row_counts, sample_file, stage
from tests.conftest import Project

ACADIA, BAYOU = "Acadia Hospice", "Bayou Palliative"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)


@pytest.fixture
def beta(project: Project) -> Project:
    """Contacts imported, Acadia enrolled in the beta programme."""
    project.ok("orgs", "import", sample_file(project))
    project.ok("beta", "enroll", ACADIA)
    return project


def problems(project: Project, *args: str) -> list[dict[str, object]]:
    found = project.ok("problem", "list", "--json", *args).json()
    assert isinstance(found, list)
    return found


# ---------------------------------------------------------------- sign-offs

def test_signoff_rules_only_enrolled_only_staged_once_per_build(beta: Project) -> None:
    build = make_build(beta)
    before = row_counts(beta)
    not_staged = beta.run("signoff", build, "--org", ACADIA, "--by", "mh.theriault@acadia-hospice.example")
    assert not_staged.code == 1 and f"{build} has not reached staging" in not_staged.err

    stage(beta, build, tier="dev")
    assert beta.run("signoff", build, "--org", ACADIA, "--by", "mh@acadia-hospice.example").code == 1, \
        "dev is not the beta tier"
    stage(beta, build)
    not_enrolled = beta.run("signoff", build, "--org", BAYOU, "--by", "jose.nunez@bayou-palliative.example")
    assert not_enrolled.code == 1 and "Bayou Palliative is not enrolled" in not_enrolled.err
    assert 'quarterdeck beta enroll "Bayou Palliative"' in not_enrolled.err
    unknown = beta.run("signoff", build, "--org", "Acadia Hospise", "--by", "mh@acadia-hospice.example")
    assert unknown.code == 1 and "did you mean 'Acadia Hospice'" in unknown.err
    bad_by = beta.run("signoff", build, "--org", ACADIA, "--by", "Marie <mh@acadia-hospice.example>")
    assert bad_by.code == 1 and "--by" in bad_by.err
    counts = row_counts(beta)
    assert counts["signoffs"] == before["signoffs"] == 0

    signed = beta.ok("signoff", "latest", "--org", "ACADIA HOSPICE",
                     "--by", "mh.theriault@acadia-hospice.example",
                     "--note", "charting and MAR checked on two wards", "--json").json()
    assert signed == {"build": build, "organisation": ACADIA, "by": "mh.theriault@acadia-hospice.example",
                      "at": NOW, "signoffs": [ACADIA]}
    again = beta.run("signoff", build, "--org", ACADIA, "--by", "it@acadia-hospice.example")
    assert again.code == 1 and f"Acadia Hospice already signed off {build}" in again.err
    assert row_counts(beta)["signoffs"] == 1

    beta.ok("beta", "enroll", BAYOU)
    text = beta.ok("signoff", build, "--org", BAYOU, "--by", "jose.nunez@bayou-palliative.example")
    assert "sign-offs now 2: Acadia Hospice, Bayou Palliative" in text.out
    entries = audit_log(beta, "signoff.add")
    assert [e["subject"] for e in entries] == [f"{build}:{ACADIA}", f"{build}:{BAYOU}"]
    assert entries[0]["detail"] == {"by": "mh.theriault@acadia-hospice.example",
                                    "note": "charting and MAR checked on two wards"}


def test_signoff_of_a_later_build_is_its_own(beta: Project) -> None:
    first = make_build(beta)
    stage(beta, first)
    beta.ok("signoff", first, "--org", ACADIA, "--by", "mh.theriault@acadia-hospice.example")
    second = make_build(beta, "charting crash")
    stage(beta, second)
    beta.ok("signoff", second, "--org", ACADIA, "--by", "mh.theriault@acadia-hospice.example")
    assert row_counts(beta)["signoffs"] == 2


# ---------------------------------------------------------------- problems

def test_a_problem_applies_to_later_builds_until_resolved(beta: Project) -> None:
    b1 = make_build(beta)
    b2 = make_build(beta, "second")
    reported = beta.ok("problem", "report", b2, "--org", BAYOU, "--severity", "blocker",
                       "--summary", "Medikamentenplan speichert nicht", "--json").json()
    assert reported["id"] == 1 and reported["status"] == "open" and reported["build"] == b2  # type: ignore[index]
    b3 = make_build(beta, "third")

    assert problems(beta, "--build", b1) == [], "an earlier build is not blamed"
    [carried] = problems(beta, "--build", b3)
    assert carried["id"] == 1 and carried["applies"] is True and carried["build"] == b2
    assert [p["id"] for p in problems(beta, "--open")] == [1]

    too_early = beta.run("problem", "resolve", "1", "--resolution", "fixed", "--fixed-in", b1)
    assert too_early.code == 1 and f"--fixed-in {b1} is not later than {b2}" in too_early.err
    beta.ok("problem", "resolve", "#1", "--resolution", "save retried on timeout", "--fixed-in", b3)
    [still] = problems(beta, "--build", b2)
    assert still["applies"] is True and still["status"] == "resolved" and still["fixed_in"] == b3
    assert problems(beta, "--build", b3) == [], "the build with the fix is clear"
    assert problems(beta, "--open") == []
    again = beta.run("problem", "resolve", "1", "--resolution", "twice")
    assert again.code == 1 and "already resolved" in again.err

    beta.ok("problem", "reopen", "1", "--reason", "seen again at Bayou")
    [reopened] = problems(beta, "--build", b3)
    assert reopened["status"] == "open" and reopened["fixed_in"] is None and reopened["resolution"] is None
    beta.ok("problem", "resolve", "1", "--resolution", "was a network fault")
    assert problems(beta, "--build", b2) == [{**problems(beta)[0], "applies": False}], \
        "resolved without --fixed-in: listed against its own build but applies nowhere"
    assert problems(beta, "--build", b3) == []

    entries = audit_log(beta, "problem.report", "problem.resolve", "problem.reopen")
    assert [(e["action"], e["reason"]) for e in entries] == [
        ("problem.report", None), ("problem.resolve", "save retried on timeout"),
        ("problem.reopen", "seen again at Bayou"), ("problem.resolve", "was a network fault")]
    assert entries[2]["detail"]["resolution"] == "save retried on timeout"  # type: ignore[index]


def test_problem_report_details_and_refusals(beta: Project) -> None:
    build = make_build(beta)
    details = beta.root / "details.txt"
    details.write_text("Steps:\n1. open the MAR\n2. save → spinner forever\n", encoding="utf-8")
    beta.ok("problem", "report", build, "--org", ACADIA, "--severity", "major", "--summary", "MAR save hangs",
            "--details", str(details))
    [listed] = problems(beta)
    assert listed["details"] == "Steps:\n1. open the MAR\n2. save → spinner forever"
    assert listed["organisation"] == ACADIA and listed["severity"] == "major"
    assert set(listed) == {"id", "build", "organisation", "severity", "summary", "details", "status",
                           "reported_at", "reported_by", "resolved_at", "resolved_by", "resolution",
                           "fixed_in"}

    before = row_counts(beta)
    severity = beta.run("problem", "report", build, "--org", ACADIA, "--severity", "critical",
                        "--summary", "x")
    assert severity.code == 2 and "critical" in severity.err
    newline = beta.run("problem", "report", build, "--org", ACADIA, "--severity", "minor",
                       "--summary", "two\nlines")
    assert newline.code == 1 and "--summary contains a line break" in newline.err
    missing = beta.run("problem", "report", build, "--org", ACADIA, "--severity", "minor", "--summary", "x",
                       "--details", str(beta.root / "nope.txt"))
    assert missing.code == 1 and "nope.txt" in missing.err
    unknown_build = beta.run("problem", "report", "2099.1.0+b1", "--org", ACADIA, "--severity", "minor",
                             "--summary", "x")
    assert unknown_build.code == 1 and "no build '2099.1.0+b1'" in unknown_build.err
    no_such = beta.run("problem", "resolve", "42", "--resolution", "x")
    assert no_such.code == 1 and "there is no problem #42" in no_such.err
    assert beta.run("problem", "reopen", "1").code == 1  # still open
    assert beta.run("problem", "resolve", "one", "--resolution", "x").code == 2
    assert row_counts(beta) == before

    text = beta.ok("problem", "list").out
    assert "MAR save hangs" in text and "major" in text and "open" in text


def test_signoff_and_report_by_name_a_contact_of_the_organisation(beta: Project) -> None:
    build = make_build(beta)
    stage(beta, build)
    before = row_counts(beta)
    outsider = beta.run("signoff", build, "--org", ACADIA, "--by", "jose.nunez@bayou-palliative.example")
    assert outsider.code == 1
    assert "--by: Acadia Hospice has no contact 'jose.nunez@bayou-palliative.example'" in outsider.err
    report = beta.run("problem", "report", build, "--org", ACADIA, "--severity", "minor", "--summary", "x",
                      "--by", "someone@acadia-hospice.example")
    assert report.code == 1 and "--by: Acadia Hospice has no contact" in report.err
    assert row_counts(beta) == before

    beta.ok("signoff", build, "--org", ACADIA, "--by", "MH.Theriault@acadia-hospice.example")
    assert beta.query("SELECT signed_by FROM signoffs") == [("mh.theriault@acadia-hospice.example",)]
    found = beta.ok("problem", "report", build, "--org", ACADIA, "--severity", "minor", "--summary", "slow",
                    "--by", "it@acadia-hospice.example", "--json").json()
    assert isinstance(found, dict) and found["reported_by"] == "it@acadia-hospice.example"


def test_signoff_withdraw_by_the_same_contact_before_the_push(beta: Project) -> None:
    build = make_build(beta)
    stage(beta, build)
    marie = "mh.theriault@acadia-hospice.example"
    beta.ok("signoff", build, "--org", ACADIA, "--by", marie, "--note", "wards checked")
    before = row_counts(beta)
    other = beta.run("signoff", "withdraw", build, "--org", ACADIA, "--by", "it@acadia-hospice.example")
    assert other.code == 1 and f"given by {marie}" in other.err
    assert "only the contact who signed off" in other.err
    usage = beta.run("signoff", "again", build, "--org", ACADIA, "--by", marie)
    assert usage.code == 2 and "give one BUILD, or `withdraw BUILD`" in usage.err
    assert row_counts(beta) == before

    withdrawn = beta.ok("signoff", "withdraw", build, "--org", ACADIA, "--by", marie)
    assert f"Acadia Hospice's sign-off of {build}" in withdrawn.out
    assert beta.query("SELECT count(*) FROM signoffs") == [(0,)]
    (entry,) = audit_log(beta, "signoff.withdraw")
    assert entry["detail"] == {"by": marie, "note": "wards checked", "signed_at": NOW}
    nothing = beta.run("signoff", "withdraw", build, "--org", ACADIA, "--by", marie)
    assert nothing.code == 1 and "has not signed off" in nothing.err

    beta.ok("signoff", build, "--org", ACADIA, "--by", marie)
    stage(beta, build, tier="production")
    pushed = beta.run("signoff", "withdraw", build, "--org", ACADIA, "--by", marie)
    assert pushed.code == 1 and "already on production" in pushed.err
    assert beta.query("SELECT count(*) FROM signoffs") == [(1,)]
