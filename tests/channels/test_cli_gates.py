"""`gates BUILD --to TIER` and channels.gates.evidence.promotion_gates against a real ledger
and a pinned clock.

`gates` asks pipeline's App.promotion_gates, the same hook `promote` uses; the
lead wires it to channels.gates.evidence.promotion_gates (plus the notice gates,
turned off here with advance_notice = false so that these tests are about
the channels gates alone).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

import pipeline
from channels import store
from channels.errors import ChannelsError
from channels.gates.evidence import promotion_gates
from tests.channels.cli_support import (
    NOW,
    audit_log,
    make_build,
    row_counts,
    sample_file,
    set_production_gates,
    stage,
)
from tests.conftest import Project

ACADIA, BAYOU = "Acadia Hospice", "Bayou Palliative"
IN_THE_WINDOW = "2026-11-15T05:00:00+00:00"  # Saturday 2026-11-14 23:00 CST, an hour into the push
GATES = ["hold", "soak", "signoffs", "blockers", "window"]


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)


@pytest.fixture
def beta(project: Project) -> Project:
    set_production_gates(project, ["soak_days = 7", "min_signoffs = 2", "no_open_blockers = true",
                                   "require_window = true", "advance_notice = false"])
    project.ok("orgs", "import", sample_file(project))
    project.ok("beta", "enroll", ACADIA)
    project.ok("beta", "enroll", BAYOU)
    return project


def gates(project: Project, build: str, tier: str, *, code: int) -> dict[str, dict[str, object]]:
    result = project.run("gates", build, "--to", tier, "--json")
    assert result.code == code, result.err
    listed = result.json()
    assert isinstance(listed, list)
    for item in listed:
        assert set(item) == {"gate", "passed", "detail"}
        assert isinstance(item["passed"], bool) and isinstance(item["detail"], str) and item["detail"]
    return {item["gate"]: item for item in listed}


def test_production_gates_fail_then_pass_with_the_facts_behind_them(beta: Project,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    build = make_build(beta)
    stage(beta, build, tier="dev")
    stage(beta, build)
    found = gates(beta, build, "production", code=3)
    assert list(found) == GATES
    assert found["hold"] == {"gate": "hold", "passed": True, "detail": "not held"}
    assert found["soak"] == {"gate": "soak", "passed": False,
                             "detail": "soaked 0 minutes on staging, needs 7 days"}
    assert found["signoffs"] == {"gate": "signoffs", "passed": False, "detail": "0 of 2 sign-offs: none yet"}
    assert found["blockers"] == {"gate": "blockers", "passed": True, "detail": "no open blockers"}
    assert found["window"] == {"gate": "window", "passed": False,
                               "detail": "no push is scheduled for this build"}
    text = beta.run("gates", build, "--to", "production")
    assert text.code == 3 and "FAIL" in text.out and "0 of 2 sign-offs: none yet" in text.out
    assert f"{build} does not pass 3 of 5 gates for production: soak, signoffs, window" in text.err

    for org, person in ((BAYOU, "jose.nunez@bayou-palliative.example"),
                        (ACADIA, "mh.theriault@acadia-hospice.example")):
        beta.ok("signoff", build, "--org", org, "--by", person)
    beta.ok("schedule", build, "--next-window")
    beta.ok("problem", "report", build, "--org", BAYOU, "--severity", "major", "--summary", "slow chart")

    monkeypatch.setenv("QUARTERDECK_NOW", IN_THE_WINDOW)
    passing = gates(beta, build, "production", code=0)
    assert all(g["passed"] for g in passing.values())
    assert str(passing["soak"]["detail"]).startswith("soaked 40 days 17 hours on staging")
    assert passing["signoffs"]["detail"] == "2 of 2 sign-offs: Acadia Hospice, Bayou Palliative"
    assert passing["blockers"]["detail"] == "no open blockers (1 major open)"
    assert passing["window"]["detail"] == ("now is inside the window 2026-11-14 22:00–02:00 next day "
                                          "America/Chicago")
    assert "all 5 gates pass" in beta.ok("gates", build, "--to", "production").out

    beta.ok("problem", "report", build, "--org", ACADIA, "--severity", "blocker", "--summary", "MAR lost")
    blocked = gates(beta, build, "production", code=3)
    assert blocked["blockers"]["detail"] == "blocker #2 open since 2026-11-14 (Acadia Hospice: MAR lost)"
    assert [g for g, item in blocked.items() if not item["passed"]] == ["blockers"]

    monkeypatch.setenv("QUARTERDECK_NOW", "2026-11-15T08:00:00+00:00")
    beta.ok("problem", "resolve", "2", "--resolution", "restored from the export")
    closed = gates(beta, build, "production", code=3)
    assert closed["window"]["detail"] == ("now is outside the window 2026-11-14 22:00–02:00 next day "
                                          "America/Chicago; it closed 0 minutes ago")


def test_a_blocker_carries_forward_until_fixed(beta: Project) -> None:
    first = make_build(beta)
    beta.ok("problem", "report", first, "--org", ACADIA, "--severity", "blocker", "--summary", "MAR lost")
    second = make_build(beta, "keep the MAR")
    stage(beta, first)
    stage(beta, second)
    carried = gates(beta, second, "production", code=3)["blockers"]
    assert carried["passed"] is False
    assert carried["detail"] == (f"blocker #1 open since 2026-10-05, reported against {first} "
                                 "(Acadia Hospice: MAR lost)")

    beta.ok("problem", "resolve", "1", "--resolution", "fixed", "--fixed-in", second)
    assert gates(beta, second, "production", code=3)["blockers"]["passed"] is True
    older = gates(beta, first, "production", code=3)["blockers"]
    assert older["passed"] is False and f"fixed only in the later build {second}" in str(older["detail"])


def test_a_hold_vetoes_every_tier_and_other_tiers_have_only_their_gates(beta: Project) -> None:
    build = make_build(beta)
    not_held = {"gate": "hold", "passed": True, "detail": "not held"}
    assert gates(beta, build, "dev", code=0) == {"hold": not_held}
    beta.ok("hold", build, "--reason", "wrong tenant data in the export")
    for tier in ("dev", "staging", "production"):
        held = gates(beta, build, tier, code=3)["hold"]
        assert held["passed"] is False
        assert str(held["detail"]).endswith("since 2026-10-05: wrong tenant data in the export")
    assert list(gates(beta, build, "staging", code=3)) == ["hold"], "no [gates.staging]: only the hold"
    beta.ok("release-hold", build)
    assert gates(beta, build, "staging", code=0)["hold"]["passed"] is True


def test_gates_refuses_an_unknown_tier_or_build(beta: Project) -> None:
    build = make_build(beta)
    tier = beta.run("gates", build, "--to", "prod")
    assert tier.code == 1 and "there is no tier 'prod'" in tier.err and "dev, staging, production" in tier.err
    missing = beta.run("gates", "2099.1.0+b1", "--to", "production")
    assert missing.code == 1 and "no build '2099.1.0+b1'" in missing.err
    assert beta.run("gates", build).code == 2


@pytest.fixture
def app(beta: Project) -> Iterator[pipeline.App]:
    """pipeline's App on the test project, as `promote` would have it."""
    application = pipeline.App(argparse.Namespace(config=str(beta.config), json=False), [])
    yield application
    application.close()


def test_promotion_gates_reads_the_tier_before_and_a_cancelled_schedule(beta: Project,
                                                                        app: pipeline.App) -> None:
    build = make_build(beta)
    stage(beta, build, tier="dev")
    beta.ok("schedule", build, "--next-window")
    beta.ok("schedule", "cancel", build, "--reason", "moved to February")
    results = {r.gate: r for r in promotion_gates(app, build, "production")}
    assert list(results) == GATES
    assert results["soak"].detail == "never reached staging, needs 7 days"
    assert results["window"].passed is False
    assert results["window"].detail == ("the push in the window 2026-11-14 22:00–02:00 next day "
                                        "America/Chicago was cancelled")
    staging = promotion_gates(app, build, "staging")
    assert [r.gate for r in staging] == ["hold"]
    from channels.gates.gates import GateResult

    extra = GateResult("advance-notice", False, "no advance notice yet")
    with_extra = promotion_gates(app, build, "dev", extra=[extra])
    assert with_extra == [GateResult("hold", True, "not held"), extra]


def test_an_override_is_recorded_with_its_reason_and_author(beta: Project, app: pipeline.App) -> None:
    build = make_build(beta)
    with pytest.raises(ChannelsError, match="needs a reason"), app.ledger.write() as conn:
        store.record_override(app.ledger, conn, build, "production", ["soak"], "  ")
    before = row_counts(beta)["gate_overrides"]
    with app.ledger.write() as conn:
        store.record_override(app.ledger, conn, build, "production", ["soak", "window"],
                              "security fix, approved by the clinical safety officer")
    assert row_counts(beta)["gate_overrides"] == before + 1
    [entry] = audit_log(beta, "gates.override")
    assert entry["subject"] == f"{build}@production"
    assert entry["reason"] == "security fix, approved by the clinical safety officer"
    assert entry["detail"] == {"gates": ["soak", "window"]}
    assert entry["actor"] == app.ledger.actor.who
