"""`quarterdeck promote` and `rollback` through the CLI, on real sshd hosts and local hosts."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import pytest

import pipeline
from tests.conftest import Project
from tests.support.sshd import SshdCluster

from .test_promote_support import B1, B2, B3, Deploy, flat, make_deploy


@pytest.fixture
def deploy(project: Project, cluster: SshdCluster, monkeypatch: pytest.MonkeyPatch) -> Deploy:
    return make_deploy(project, cluster, monkeypatch)


def test_one_artifact_across_three_tiers_of_two_hosts(deploy: Deploy) -> None:
    build = deploy.build()
    sha = deploy.sha256(build)
    dev = deploy.project.ok("promote", build, "--to", "dev")  # an internal tier: no question asked
    assert f"promote {build} → dev: succeeded" in dev.out
    deploy.project.ok("promote", build, "--to", "staging", "--yes")
    prod = deploy.project.ok("promote", build, "--to", "production", "--yes")
    assert f"promote {build} → production: succeeded" in prod.out
    for tier in ("dev", "staging", "production"):
        assert deploy.current(tier) == [build, build]
        assert deploy.version(tier) == [f"BUILD={build}"] * 2
        assert deploy.stored_digests(tier, sha) == [sha, sha]  # byte for byte the same artifact
        status = deploy.status(tier)
        assert status["build"] == build and not status["mixed"]
        assert [(h["state"], h["build"]) for h in status["hosts"]] == [("verified", build)] * 2
        assert status["deployment"]["state"] == "succeeded" and status["lock"] is None
    assert len(deploy.audit("host.verified")) == 6
    assert [s for s, _ in deploy.audit("deploy.succeeded")] == [f"deployment:{n}" for n in (1, 2, 3)]
    assert len(deploy.audit("lock.acquire")) == len(deploy.audit("lock.release")) == 3
    # production's standby (second in the configuration) went first
    rows = deploy.query("SELECT host FROM host_states WHERE deployment_id = 3 ORDER BY position")
    assert [r[0] for r in rows] == [deploy.urls["production"][1], deploy.urls["production"][0]]


def test_skipping_a_tier_is_refused_even_with_force(deploy: Deploy) -> None:
    build = deploy.build()
    refused = deploy.project.run("promote", build, "--to", "production", "--yes")
    assert refused.code == 1
    said = flat(refused.err)
    assert f"{build} cannot go to production: it has not completed a promotion to staging" in said
    assert f"promote it to dev, then staging first (`quarterdeck promote {build} --to dev`)" in said
    forced = deploy.project.run("promote", build, "--to", "production", "--yes", "--force",
                                "--reason", "hurry")
    assert forced.code == 1 and "never the tier order" in flat(forced.err)
    deploy.project.ok("promote", build, "--to", "dev")
    again = deploy.project.run("promote", build, "--to", "production", "--yes")
    assert again.code == 1 and "promote it to staging first" in flat(again.err)
    assert deploy.current("production") == [None, None]
    assert deploy.deployments("production") == [] and deploy.audit("lock.acquire") == [("tier:dev", None)]


def test_the_build_already_running_changes_nothing(deploy: Deploy) -> None:
    build = deploy.build()
    deploy.project.ok("promote", build, "--to", "dev")
    before = deploy.query("SELECT count(*) FROM audit")
    again = deploy.project.ok("promote", build, "--to", "dev")
    assert f"{build} already runs on every host of dev, verified; nothing was changed" in again.out
    assert deploy.project.ok("promote", build, "--to", "dev", "--json").json() == {
        "build": build, "tier": "dev", "kind": "promote", "outcome": "already-running", "deployment": None,
        "hosts": [{"url": url, "state": "verified"} for url in deploy.urls["dev"]]}
    assert deploy.query("SELECT count(*) FROM audit") == before
    assert len(deploy.deployments("dev")) == 1


def test_dry_run_changes_nothing_and_says_what_would_happen(deploy: Deploy) -> None:
    build = deploy.build()
    deploy.project.ok("promote", build, "--to", "dev")
    before = deploy.query("SELECT count(*) FROM audit")
    dry = deploy.project.ok("promote", build, "--to", "staging", "--dry-run")  # no --yes needed either
    assert f"Dry run: promote {build} → staging" in dry.out and "dry run: nothing was changed" in dry.out
    shown = deploy.project.ok("promote", build, "--to", "staging", "--dry-run", "--json").json()
    assert isinstance(shown, dict) and all(g["passed"] for g in shown.pop("gates"))
    assert shown == {"build": build, "tier": "staging", "kind": "promote", "outcome": "dry-run",
                     "deployment": None, "overridden": [], "locked_by": None, "resumes": None,
                     "hosts": [{"url": url, "role": role, "action": "install", "note": ""}
                               for url, role in zip(deploy.urls["staging"], ["standby", "primary"],
                                                    strict=True)]}
    assert deploy.query("SELECT count(*) FROM audit") == before
    assert [sorted(os.listdir(root)) for root in deploy.roots["staging"]] == [[], []]
    assert deploy.deployments("staging") == []


def test_a_tier_with_outside_users_asks_first(deploy: Deploy) -> None:
    build = deploy.build()
    deploy.project.ok("promote", build, "--to", "dev")
    asked = deploy.project.run("promote", build, "--to", "staging")
    assert asked.code == 2 and "needs confirmation and there is no terminal" in flat(asked.err)
    assert deploy.current("staging") == [None, None] and deploy.deployments("staging") == []


def test_json_reports_every_host(deploy: Deploy) -> None:
    build = deploy.build()
    report = deploy.project.ok("promote", build, "--to", "dev", "--json").json()
    assert isinstance(report, dict)
    assert set(report) == {"build", "tier", "kind", "outcome", "deployment", "interrupted", "gates",
                           "overridden", "hosts", "pruned"}
    assert (report["build"], report["tier"], report["kind"], report["outcome"]) == (build, "dev", "promote",
                                                                                      "succeeded")
    assert report["deployment"] == 1 and report["interrupted"] == [] and report["overridden"] == []
    assert [set(g) for g in report["gates"]] == [{"gate", "passed", "detail"}] * len(report["gates"])
    for host, url in zip(report["hosts"], deploy.urls["dev"], strict=True):
        assert set(host) == {"url", "name", "role", "state", "step", "error", "previous", "current",
                             "seconds"}
        assert (host["url"], host["state"], host["step"], host["error"]) == (url, "verified", "health-check",
                                                                             None)
        assert (host["previous"], host["current"]) == (None, build) and host["seconds"] > 0
    assert [(p["url"], p["removed"], p["archives_removed"], p["error"]) for p in report["pruned"]] == [
        (url, [], [], None) for url in deploy.urls["dev"]]


class WatchedApp(pipeline.App):
    """The real App; only which build each successful promotion handed to after_promotion is noted."""

    after: ClassVar[list[tuple[str, str]]] = []

    def after_promotion(self, build: Any, tier: str) -> None:
        self.after.append((build.id, tier))
        super().after_promotion(build, tier)


def test_failing_gates_refuse_with_exit_3_until_forced_with_a_reason(
        deploy: Deploy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "App", WatchedApp)
    monkeypatch.setattr(WatchedApp, "after", [])
    deploy.configure(gates={"production": {"soak_days": 7}})
    build = deploy.build()
    deploy.project.ok("promote", build, "--to", "dev")
    deploy.project.ok("promote", build, "--to", "staging", "--yes")
    refused = deploy.project.run("promote", build, "--to", "production", "--yes")
    assert refused.code == 3
    assert "soak" in refused.out and "FAIL" in refused.out
    assert f"the gates refuse {build} on production: soak" in flat(refused.err)
    as_json = deploy.project.run("promote", build, "--to", "production", "--yes", "--json")
    assert as_json.code == 3
    gates = as_json.json()
    assert isinstance(gates, list) and [set(g) for g in gates] == [{"gate", "passed", "detail"}] * len(gates)
    assert [g["gate"] for g in gates if not g["passed"]] == ["soak"]
    no_reason = deploy.project.run("promote", build, "--to", "production", "--yes", "--force")
    assert no_reason.code == 2 and "--force needs --reason TEXT" in flat(no_reason.err)
    assert deploy.current("production") == [None, None] and deploy.deployments("production") == []
    assert deploy.audit("gates.override") == []
    assert WatchedApp.after == [(build, "dev"), (build, "staging")]

    forced = deploy.project.ok("promote", build, "--to", "production", "--yes", "--force",
                               "--reason", "CAB approved the early push")
    assert "overridden gates (recorded): soak" in forced.out
    assert deploy.audit("gates.override") == [(f"{build}@production", "CAB approved the early push")]
    assert deploy.query("SELECT forced_reason FROM deployments WHERE tier = 'production'") == [
        ("CAB approved the early push",)]
    assert deploy.current("production") == [build, build]
    assert WatchedApp.after[2:] == [(build, "production")]


def test_rollback_returns_to_the_release_before_and_records_it(deploy: Deploy) -> None:
    first, second = deploy.build(), deploy.build()
    for build in (first, second):
        deploy.project.ok("promote", build, "--to", "dev")
        deploy.project.ok("promote", build, "--to", "staging", "--yes")
    assert deploy.current("staging") == [second, second]
    asked = deploy.project.run("rollback", "staging")
    assert asked.code == 2 and deploy.current("staging") == [second, second]
    back = deploy.project.ok("rollback", "staging", "--yes", "--json").json()
    assert (back["kind"], back["build"], back["outcome"]) == ("rollback", first, "succeeded")
    assert [(h["state"], h["previous"], h["current"]) for h in back["hosts"]] == [
        ("rolled-back", second, first)] * 2
    assert deploy.current("staging") == [first, first] and deploy.version("staging") == [f"BUILD={first}"] * 2
    status = deploy.status("staging")
    assert status["build"] == first and [h["state"] for h in status["hosts"]] == ["rolled-back"] * 2
    assert deploy.deployments("staging")[-1][1:4] == (first, "rollback", "succeeded")
    nothing_before = deploy.project.run("rollback", "staging", "--yes")
    assert nothing_before.code == 1
    assert f"no release was promoted to staging before {first}" in flat(nothing_before.err)
    deploy.project.ok("rollback", "staging", "--to", second, "--yes")
    assert deploy.current("staging") == [second, second]
    never = deploy.build()
    refused = deploy.project.run("rollback", "staging", "--to", never, "--yes")
    assert refused.code == 1 and f"{never} never completed a promotion to staging" in flat(refused.err)
    # a rollback does not count as the build having been tested on staging
    assert deploy.project.run("promote", never, "--to", "staging", "--yes").code == 1


def test_rollback_refuses_a_release_retention_removed_and_changes_nothing(deploy: Deploy) -> None:
    deploy.configure(dev={"keep": 1})
    first, second = deploy.build(), deploy.build()
    deploy.project.ok("promote", first, "--to", "dev")
    deploy.project.ok("promote", second, "--to", "dev")
    assert [sorted(os.listdir(root / "releases")) for root in deploy.roots["dev"]] == [[second], [second]]
    refused = deploy.project.run("rollback", "dev", "--yes")
    assert refused.code == 1
    assert f"cannot roll dev back to {first}: releases/{first} is no longer on" in flat(refused.err)
    assert "nothing was changed" in flat(refused.err)
    assert deploy.current("dev") == [second, second] and len(deploy.deployments("dev")) == 2


def test_an_excluded_host_is_left_out_shown_and_caught_up_later(deploy: Deploy) -> None:
    build = deploy.build()
    deploy.project.ok("promote", build, "--to", "dev")
    away = deploy.urls["staging"][0]
    assert deploy.project.run("promote", build, "--to", "staging", "--yes", "--exclude", away).code == 2
    unknown = deploy.project.run("promote", build, "--to", "staging", "--yes", "--exclude", "nope",
                                 "--reason", "x")
    assert unknown.code == 2 and "staging has no such host" in flat(unknown.err)
    out = deploy.project.ok("promote", build, "--to", "staging", "--yes", "--exclude", away,
                            "--reason", "disk being replaced")
    assert "excluded" in out.out
    assert deploy.current("staging") == [None, build]
    hosts = deploy.status("staging")["hosts"]
    assert [(h["state"], h["excluded"]) for h in hosts] == [("excluded", "disk being replaced"),
                                                            ("verified", None)]
    shown = deploy.project.ok("status")
    assert "excluded: disk being replaced" in shown.out
    assert deploy.audit("host.exclude") == [(f"staging:{away}", "disk being replaced")]

    caught_up = deploy.project.ok("promote", build, "--to", "staging", "--yes", "--resume", "--json").json()
    assert [h["state"] for h in caught_up["hosts"]] == ["verified", "verified"]
    assert deploy.current("staging") == [build, build]
    hosts = deploy.status("staging")["hosts"]
    assert [(h["state"], h["excluded"]) for h in hosts] == [("verified", None)] * 2
    assert deploy.audit("host.caught-up") == [(f"staging:{away}", None)]
    # the host verified the first time was carried over, not installed again
    subjects = [s for s, _ in deploy.audit("host.verified")]
    assert subjects.count(f"{build}@staging:{deploy.urls['staging'][1]}") == 1
    assert deploy.query("SELECT host, carried FROM host_states WHERE deployment_id = ? ORDER BY position",
                        caught_up["deployment"]) == [(away, 0), (deploy.urls["staging"][1], 1)]


def test_after_a_rollback_the_newer_build_can_go_again_and_keeps_releases(deploy: Deploy) -> None:
    builds = [deploy.build() for _ in range(3)]
    assert builds == [B1, B2, B3]
    for build in builds:
        deploy.project.ok("promote", build, "--to", "dev")
    deploy.project.ok("rollback", "dev", "--yes")
    deploy.project.ok("rollback", "dev", "--yes")  # two back: B3 → B2 → B1
    assert deploy.current("dev") == [B1, B1]
    deploy.project.ok("promote", B3, "--to", "dev")
    assert deploy.current("dev") == [B3, B3]
    assert [sorted(os.listdir(root / "releases")) for root in deploy.roots["dev"]] == [[B1, B2, B3]] * 2


def test_retention_removes_the_uploaded_archives_of_the_releases_it_removes(deploy: Deploy) -> None:
    """Over sshd and on a local host: keep = 2 leaves two releases and their two archives."""
    deploy.configure(staging={"keep": 2})
    builds = [deploy.build() for _ in range(4)]
    for build in builds:
        deploy.project.ok("promote", build, "--to", "dev")
        report = deploy.project.ok("promote", build, "--to", "staging", "--yes", "--json").json()
    kept = {f"{deploy.sha256(b)}.tar.gz" for b in builds[-2:]}
    for root in deploy.roots["staging"]:
        assert sorted(os.listdir(root / "releases")) == sorted(builds[-2:])
        assert set(os.listdir(root / "artifacts")) == kept
    assert [p["archives_removed"] for p in report["pruned"]] == [  # type: ignore[index]
        [f"{deploy.sha256(builds[1])}.tar.gz"]] * 2
