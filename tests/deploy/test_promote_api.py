"""The promotion API called with typed values, as `tick` and the demo call it: no command line.

A real project (git repository, `build`, SQLite ledger) and local hosts; the
gates, the override record, the question and the reporter are plain callables
handed in, the way channels and notify contribute them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import pipeline
from channels.gates.gates import GateResult
from channels.store import record_override
from pipeline import exit_code
from releases.artifacts.artifact import ArtifactStore
from releases.artifacts.builds import get_build
from releases.artifacts.buildview import Build
from releases.errors import GatesRefused, UsageRefused
from releases.hosts.hostspec import HostSpec, parse_host
from releases.hosts.install import Commands, HostState, StepCallback
from releases.hosts.rollout import TierTarget
from releases.records.ledger import Actor, Ledger
from releases.tiers.promote import PromotionRequest, promote
from releases.tiers.promotion import PromotionRefused
from tests.conftest import Project

ORDER = ("dev", "staging", "production")
AUTHOR = "ada@example.org"
BROKEN = "test ! -e ../../broken"  # run in the new release: a host whose root holds `broken` is unhealthy


@dataclass
class Seen:
    """What the reporter and the question were told, in order."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    answer: bool = True

    def gates(self, request: PromotionRequest, verdicts: Sequence[Any], failing: Sequence[str], *,
              refused: bool) -> None:
        self.events.append(("gates", request.tier, [v.gate for v in verdicts], tuple(failing), refused))

    @contextlib.contextmanager
    def progress(self, target: TierTarget) -> Iterator[StepCallback]:
        def step(host: HostSpec, name: str, state: HostState) -> None:
            self.events.append(("done", host.url, state) if name == "done" else ("step", host.url))
        self.events.append(("rollout", target.name))
        yield step

    def confirm(self, question: str) -> bool:
        self.events.append(("asked", question))
        return self.answer


@dataclass
class Setting:
    project: Project
    ledger: Ledger
    store: ArtifactStore
    build: Build

    def hosts(self, tier: str, count: int = 2) -> tuple[HostSpec, ...]:
        made = []
        for n in range(1, count + 1):
            root = self.project.root / "api-hosts" / f"{tier}-{n}"
            root.mkdir(parents=True, exist_ok=True)
            made.append(parse_host(f"local:{root}", role="primary"))
        return tuple(made)

    def target(self, tier: str, **options: Any) -> TierTarget:
        return TierTarget(tier, self.hosts(tier), commands=Commands(health_check=BROKEN), **options)

    def request(self, tier: str, channel: str = "internal", target: TierTarget | None = None,
                **options: Any) -> PromotionRequest:
        return PromotionRequest(self.build, target or self.target(tier), ORDER, channel, **options)

    def current(self, tier: str) -> list[str | None]:
        links = [Path(h.path) / "current" for h in self.hosts(tier)]
        return [os.readlink(p).removeprefix("releases/") if p.is_symlink() else None for p in links]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.ledger.read() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql)]


@pytest.fixture
def setting(project: Project) -> Iterator[Setting]:
    build_id = project.ok("build", "--json").json()["id"]  # type: ignore[index]
    config = pipeline.load_config(project.config)
    ledger = Ledger(config.ledger_url, pipeline.ledger_schemas(), actor=Actor(AUTHOR, "test_promote_api"))
    with ledger.read() as conn:
        build = get_build(conn, build_id)
    assert build is not None
    yield Setting(project, ledger, ArtifactStore(config.artifacts_dir), build)
    ledger.close()


def failing_gate() -> list[GateResult]:
    return [GateResult("hold", True, "not held"), GateResult("signoffs", False, "0 of 2 sign-offs: none yet")]


def test_a_promotion_to_an_internal_tier_installs_every_host_without_a_question(setting: Setting) -> None:
    seen = Seen()
    request = setting.request("dev")
    outcome = promote(setting.ledger, setting.store, request,
                      gates=[lambda: [GateResult("hold", True, "ok")]], confirm=seen.confirm,
                      report=seen)
    assert (outcome.status, outcome.ok, outcome.overridden) == ("succeeded", True, ())
    assert outcome.rollout is not None and outcome.rollout.kind == "promote"
    first, second = (h.url for h in request.target.hosts)
    assert [e for e in seen.events if e[0] != "step"] == [
        ("gates", "dev", ["hold"], (), False), ("rollout", "dev"),
        ("done", first, "verified"), ("done", second, "verified")]
    assert setting.current("dev") == [setting.build.id] * 2
    assert setting.query("SELECT tier, build_id, kind, state, forced_reason FROM deployments") == [
        ("dev", setting.build.id, "promote", "succeeded", None)]

    again = promote(setting.ledger, setting.store, setting.request("dev"), confirm=seen.confirm, report=seen)
    assert (again.status, again.ok, again.rollout) == ("already-running", True, None)
    assert len(setting.query("SELECT id FROM deployments")) == 1


def test_the_tier_order_and_the_question_come_before_any_change(setting: Setting) -> None:
    seen = Seen(answer=False)
    with pytest.raises(PromotionRefused, match="has not completed a promotion to dev"):
        promote(setting.ledger, setting.store, setting.request("staging", "beta"), confirm=seen.confirm,
                report=seen)
    promote(setting.ledger, setting.store, setting.request("dev"), confirm=seen.confirm, report=seen)
    declined = promote(setting.ledger, setting.store, setting.request("staging", "beta"),
                       confirm=seen.confirm, report=seen)
    assert (declined.status, declined.ok) == ("declined", False)
    assert ("asked", f"promote {setting.build.id} to staging (beta; 2 host(s))?") in seen.events
    assert setting.current("staging") == [None, None]
    assert [r[0] for r in setting.query("SELECT tier FROM deployments")] == ["dev"]


def test_a_failing_gate_refuses_with_exit_code_3_and_changes_nothing(setting: Setting) -> None:
    seen = Seen()
    promote(setting.ledger, setting.store, setting.request("dev"), confirm=seen.confirm, report=seen)
    seen.events.clear()
    with pytest.raises(GatesRefused) as refused:
        promote(setting.ledger, setting.store, setting.request("staging", "beta"), gates=[failing_gate],
                confirm=seen.confirm, report=seen)
    assert exit_code(refused.value) == 3  # what the command line exits with
    assert str(refused.value) == f"the gates refuse {setting.build.id} on staging: signoffs"
    assert [v.gate for v in refused.value.verdicts] == ["hold", "signoffs"]
    assert seen.events == [("gates", "staging", ["hold", "signoffs"], ("signoffs",), True)]  # never asked
    assert setting.current("staging") == [None, None]
    assert setting.query("SELECT tier FROM deployments WHERE tier = 'staging'") == []
    assert setting.query("SELECT * FROM gate_overrides") == []


def test_an_override_needs_a_reason_and_is_recorded_with_its_author(setting: Setting) -> None:
    seen = Seen()
    promote(setting.ledger, setting.store, setting.request("dev"), confirm=seen.confirm, report=seen)
    with pytest.raises(UsageRefused, match="--force needs --reason TEXT"):
        setting.request("staging", "beta", force=True)
    with pytest.raises(UsageRefused, match="--reason explains --force or --exclude"):
        setting.request("staging", "beta", reason="why not")

    def record(gates: Sequence[str], reason: str) -> None:
        with setting.ledger.write() as conn:
            record_override(setting.ledger, conn, setting.build.id, "staging", list(gates), reason)

    seen.events.clear()
    request = setting.request("staging", "beta", force=True, reason="  signed off by phone, forms follow  ")
    outcome = promote(setting.ledger, setting.store, request, gates=[failing_gate], record_override=record,
                      confirm=seen.confirm, report=seen)
    assert (outcome.status, outcome.overridden) == ("succeeded", ("signoffs",))
    assert seen.events[:2] == [("gates", "staging", ["hold", "signoffs"], ("signoffs",), False),
                               ("asked", f"promote {setting.build.id} to staging (beta; 2 host(s))?")]
    assert setting.query("SELECT gates, reason, overridden_by FROM gate_overrides") == [
        ('["signoffs"]', "signed off by phone, forms follow", AUTHOR)]
    assert setting.query("SELECT forced_reason FROM deployments WHERE tier = 'staging'") == [
        ("signed off by phone, forms follow",)]
    assert setting.query("SELECT actor, subject, reason FROM audit WHERE action = 'gates.override'") == [
        (AUTHOR, f"{setting.build.id}@staging", "signed off by phone, forms follow")]


def test_a_failed_rollout_is_resumed_redoing_only_the_hosts_not_verified(setting: Setting) -> None:
    seen = Seen()
    target = setting.target("dev", on_failure="halt")
    (Path(target.hosts[1].path) / "broken").write_text("", encoding="utf-8")
    failed = promote(setting.ledger, setting.store, setting.request("dev", target=target),
                     confirm=seen.confirm, report=seen)
    assert (failed.status, failed.ok) == ("failed", False)
    assert failed.rollout is not None
    assert [h.state for h in failed.rollout.result.hosts] == ["verified", "failed"]

    (Path(target.hosts[1].path) / "broken").unlink()
    seen.events.clear()
    resumed = promote(setting.ledger, setting.store, setting.request("dev", target=target, resume=True),
                      confirm=seen.confirm, report=seen)
    assert (resumed.status, resumed.plan.kind) == ("succeeded", "resume")
    assert resumed.plan.carried == frozenset({target.hosts[0].url})
    assert {e[1] for e in seen.events if e[0] == "step"} == {target.hosts[1].url}  # only it was worked on
    assert setting.query("SELECT host, state, carried FROM host_states WHERE deployment_id = 2 "
                         "ORDER BY position") == [(target.hosts[0].url, "verified", 1),
                                                  (target.hosts[1].url, "verified", 0)]
    assert setting.current("dev") == [setting.build.id] * 2
    assert setting.query("SELECT id, kind, state, resumed_from FROM deployments") == [
        (1, "promote", "failed", None), (2, "resume", "succeeded", 1)]



def test_a_dry_run_judges_the_gates_checks_the_artifact_and_changes_nothing(setting: Setting) -> None:
    seen = Seen()
    request = setting.request("dev", dry_run=True)
    with pytest.raises(GatesRefused):  # the gates judge a dry run as they judge the real one
        promote(setting.ledger, setting.store, request, gates=[failing_gate], confirm=seen.confirm,
                report=seen)
    seen.events.clear()
    outcome = promote(setting.ledger, setting.store, request, gates=[lambda: failing_gate()[:1]],
                      confirm=seen.confirm, report=seen)
    assert (outcome.status, outcome.ok, outcome.locked_by, outcome.rollout) == ("dry-run", True, None, None)
    assert outcome.artifact is not None and outcome.artifact.sha256 == setting.build.sha256
    assert outcome.plan.todo == tuple(h.url for h in request.target.hosts)
    assert seen.events == [("gates", "dev", ["hold"], (), False)]  # never asked, never rolled out
    assert setting.current("dev") == [None, None]
    assert setting.query("SELECT id FROM deployments") == []
