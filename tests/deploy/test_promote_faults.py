"""Promotions that go wrong: a host dies, the process is killed, two promote at once, a lock goes stale."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

import pipeline
from releases.records.ledger import Actor, Ledger
from releases.records.schema import SCHEMA
from releases.tiers.deployments import acquire_lock, break_lock, current_lock
from releases.tiers.lease import TierLease
from tests.conftest import Project
from tests.support.sshd import SshdCluster, _descendants

from .test_promote_support import CHECK, Deploy, flat, make_deploy

SLOW_CHECK = f"sleep 1 && {CHECK}"


@pytest.fixture
def deploy(project: Project, cluster: SshdCluster, monkeypatch: pytest.MonkeyPatch) -> Deploy:
    return make_deploy(project, cluster, monkeypatch)


def test_an_sshd_stopped_mid_rollout_stops_it_and_puts_the_switched_host_back(
        deploy: Deploy, cluster: SshdCluster) -> None:
    hosts = [("ssh", 0, "primary"), ("ssh", 1, "standby"), ("local", "dev-3", "primary")]
    deploy.configure([{"name": "dev", "channel": "internal", "hosts": hosts}])
    first, second = deploy.build(), deploy.build()
    deploy.project.ok("promote", first, "--to", "dev")
    deploy.configure([{"name": "dev", "channel": "internal", "hosts": hosts,
                       "settings": {"pre_activate": "sleep 1"}}])
    doomed = deploy.urls["dev"][0]  # the first primary; the standby goes before it

    def pull_the_plug() -> None:
        deploy.wait_for("SELECT 1 FROM host_states WHERE deployment_id = 2 AND host = ? "
                        "AND step = 'pre-activate'", doomed)
        cluster.servers[0].stop()

    plug = threading.Thread(target=pull_the_plug)
    plug.start()
    result = deploy.project.run("promote", second, "--to", "dev")
    plug.join()
    cluster.servers[0].start()
    assert result.code == 1
    said = flat(result.err)
    assert f"the promotion of {second} on dev failed on 127.0.0.1:{cluster.servers[0].port}" in said
    assert f"at pre-activate; put back on the earlier release: 127.0.0.1:{cluster.servers[1].port}" in said
    assert f"{second} → dev: FAILED" in result.out
    assert deploy.current("dev") == [first, first, first]
    assert deploy.deployments("dev")[-1][1:4] == (second, "promote", "failed")
    hosts = {h["url"]: h for h in deploy.status("dev")["hosts"]}
    standby, local = deploy.urls["dev"][1], deploy.urls["dev"][2]
    assert (hosts[doomed]["state"], hosts[doomed]["build"], hosts[doomed]["step"]) == ("failed", first,
                                                                                        "pre-activate")
    assert "cannot reach the host" in hosts[doomed]["error"] or "connection dropped" in hosts[doomed]["error"]
    assert (hosts[standby]["state"], hosts[standby]["build"]) == ("rolled-back", first)
    assert hosts[standby]["error"] == "rolled back because another host failed"
    assert (hosts[local]["state"], hosts[local]["build"]) == ("verified", first)  # never started
    assert deploy.query("SELECT state FROM host_states WHERE deployment_id = 2 AND host = ?", local) == [
        ("not-started",)]


def test_a_promotion_killed_mid_rollout_is_shown_and_resumed_without_redoing_verified_hosts(
        deploy: Deploy) -> None:
    deploy.configure(staging={"health_check": SLOW_CHECK})
    first, second = deploy.build(), deploy.build()
    for build in (first, second):
        deploy.project.ok("promote", build, "--to", "dev")
    deploy.project.ok("promote", first, "--to", "staging", "--yes")
    standby, primary = deploy.urls["staging"]
    with deploy.watch_current("staging") as missing:
        victim = deploy.spawn("promote", second, "--to", "staging", "--yes")
        deploy.wait_for("SELECT 1 FROM host_states WHERE deployment_id = 4 AND host = ? "
                        "AND step = 'health-check'", primary)
        victim.send_signal(signal.SIGKILL)
        victim.communicate()
        assert deploy.current("staging") == [second, second]  # the primary switched, never verified
        status = deploy.status("staging")
        assert status["deployment"]["state"] == "running" and status["deployment"]["alive"] is False
        assert [(h["state"], h["step"]) for h in status["hosts"]] == [("verified", "health-check"),
                                                                      ("switched", "health-check")]
        shown = deploy.project.ok("status").out
        assert f"promote of {second} (#4" in shown and "was interrupted" in shown
        assert f"quarterdeck promote {second} --to staging --resume" in shown

        assert deploy.status("staging")["lock"]["holder"].endswith(f":{victim.pid}")
        resumed = deploy.project.ok("promote", second, "--to", "staging", "--yes", "--resume",
                                    "--json").json()
    assert missing == []  # every read of current/VERSION on every host succeeded throughout
    assert (resumed["kind"], resumed["outcome"], resumed["interrupted"]) == ("resume", "succeeded", [4])
    assert [(h["state"], h["previous"]) for h in resumed["hosts"]] == [("verified", first)] * 2
    assert deploy.current("staging") == [second, second]
    assert deploy.version("staging") == [f"BUILD={second}"] * 2
    assert deploy.deployments("staging")[-2:] == [(4, second, "promote", "interrupted", None),
                                                  (5, second, "resume", "succeeded", 4)]
    verified = [s for s, _ in deploy.audit("host.verified") if s.startswith(f"{second}@staging")]
    assert sorted(verified) == sorted([f"{second}@staging:{standby}", f"{second}@staging:{primary}"])
    rows = deploy.query("SELECT host, state, carried FROM host_states WHERE deployment_id = 5 "
                        "ORDER BY position")
    assert rows == [(standby, "verified", 1), (primary, "verified", 0)]
    # the killed process's lock was taken over, not broken by hand, and the trail says so
    assert deploy.audit("lock.break") == []
    assert deploy.audit("lock.takeover") == [
        ("tier:staging", f"its holder, process {socket.gethostname()}:{victim.pid} on this machine, "
                         "is no longer running")]
    status = deploy.status("staging")
    assert status["lock"] is None and status["deployment"]["state"] == "succeeded"
    assert deploy.project.ok("log", "verify", "--json").json()["ok"] is True  # type: ignore[index]


def test_a_promotion_killed_after_every_host_was_verified_is_closed_by_its_resume(
        deploy: Deploy, cluster: SshdCluster) -> None:
    """Killed between the last host's health check and the deployment's close (while retention
    waits on a host that hangs): the resume closes it, takes over the dead process's lock, and
    the next promotion finds the tier free."""
    deploy.configure(staging={"health_check": SLOW_CHECK})
    first, second, third = deploy.build(), deploy.build(), deploy.build()
    for build in (first, second, third):
        deploy.project.ok("promote", build, "--to", "dev")
    deploy.project.ok("promote", first, "--to", "staging", "--yes")
    primary = deploy.urls["staging"][1]  # the standby (first) is on sshd server 0, the primary local
    victim = deploy.spawn("promote", second, "--to", "staging", "--yes")
    deploy.wait_for("SELECT 1 FROM host_states WHERE deployment_id = 5 AND host = ? "
                    "AND step = 'health-check'", primary)
    with cluster.servers[0].frozen():  # retention on the standby, after the primary, hangs
        deploy.wait_for("SELECT 1 FROM host_states WHERE deployment_id = 5 AND host = ? "
                        "AND state = 'verified'", primary)
        assert deploy.deployments("staging")[-1] == (5, second, "promote", "running", None)
        victim.send_signal(signal.SIGKILL)
        victim.communicate()
    assert deploy.current("staging") == [second, second]
    status = deploy.status("staging")
    assert status["deployment"]["state"] == "running" and status["lock"] is not None
    assert [h["state"] for h in status["hosts"]] == ["verified", "verified"]

    resumed = deploy.project.ok("promote", second, "--to", "staging", "--yes", "--resume",
                                "--json").json()
    assert (resumed["kind"], resumed["outcome"], resumed["interrupted"]) == ("resume", "succeeded", [5])
    assert [h["state"] for h in resumed["hosts"]] == ["verified", "verified"]
    assert deploy.deployments("staging")[-2:] == [(5, second, "promote", "interrupted", None),
                                                  (6, second, "resume", "succeeded", 5)]
    assert [s for s, _ in deploy.audit("lock.takeover")] == ["tier:staging"]
    status = deploy.status("staging")
    assert status["lock"] is None and status["deployment"]["state"] == "succeeded"
    assert "interrupted" not in deploy.project.ok("status").out
    again = deploy.project.ok("promote", second, "--to", "staging", "--yes", "--resume")
    assert "nothing was changed" in again.out  # closed: a second resume has nothing left
    deploy.project.ok("promote", third, "--to", "staging", "--yes")
    assert deploy.current("staging") == [third, third]
    assert deploy.project.ok("log", "verify", "--json").json()["ok"] is True  # type: ignore[index]


def test_a_second_promotion_to_a_locked_tier_is_refused_naming_the_holder(deploy: Deploy) -> None:
    deploy.configure(staging={"health_check": SLOW_CHECK})
    build = deploy.build()
    deploy.project.ok("promote", build, "--to", "dev")
    first = deploy.spawn("promote", build, "--to", "staging", "--yes")
    deploy.wait_for("SELECT 1 FROM tier_locks WHERE tier = 'staging'")
    second = deploy.spawn("promote", build, "--to", "staging", "--yes")
    second_out, second_err = second.communicate(timeout=60)
    _, first_err = first.communicate(timeout=60)
    assert first.returncode == 0, first_err
    assert second.returncode == 1, second_out + second_err
    assert "tier staging is locked by ada@example.org since 2026-10-05 12:00:00 UTC" in flat(second_err)
    assert f"promote {build} --to staging --yes" in flat(second_err)
    assert [d[1:4] for d in deploy.deployments("staging")] == [(build, "promote", "succeeded")]
    assert deploy.current("staging") == [build, build]


def test_a_stale_lock_is_broken_only_with_a_reason_and_the_break_is_audited(deploy: Deploy) -> None:
    build = deploy.build()
    an_hour_ago = datetime(2026, 10, 5, 11, 0, tzinfo=UTC)
    ledger = Ledger(deploy.project.ledger_url, pipeline.ledger_schemas(), clock=lambda: an_hour_ago,
                    actor=Actor("grace@example.org", "quarterdeck promote 2026.4.0+b1 --to dev"))
    acquire_lock(ledger, "dev", timedelta(minutes=2))
    ledger.close()
    refused = deploy.project.run("promote", build, "--to", "dev")
    assert refused.code == 1
    assert "tier dev is locked by grace@example.org since 2026-10-05 11:00:00 UTC" in flat(refused.err)
    assert "its lease ran out at 11:02:00 UTC, so its holder seems gone" in flat(refused.err)
    assert "quarterdeck unlock dev --reason TEXT" in flat(refused.err)
    assert deploy.deployments("dev") == [] and deploy.current("dev") == [None, None]
    assert "dev is locked by grace@example.org" in deploy.project.ok("status").out

    assert deploy.project.run("unlock", "dev").code == 2  # the reason is required
    assert deploy.project.run("unlock", "dev", "--reason", "  ").code == 2
    broken = deploy.project.ok("unlock", "dev", "--reason", "grace's laptop died mid-promotion",
                               "--json").json()
    assert broken == {"tier": "dev", "broken": {
        "owner": "grace@example.org", "since": "2026-10-05T11:00:00+00:00",
        "command": "quarterdeck promote 2026.4.0+b1 --to dev", "holder": broken["broken"]["holder"],
        "lease_until": "2026-10-05T11:02:00+00:00"}}
    log = deploy.project.ok("log", "--json").json()
    entry = next(e for e in log if e["action"] == "lock.break")
    assert (entry["actor"], entry["subject"], entry["reason"]) == (
        "ada@example.org", "tier:dev", "grace's laptop died mid-promotion")
    assert entry["detail"]["owner"] == "grace@example.org"
    assert "dev is not locked; nothing was changed" in deploy.project.ok("unlock", "dev", "--reason", "x").out
    deploy.project.ok("promote", build, "--to", "dev")
    assert deploy.current("dev") == [build, build]


def test_a_rollout_whose_lock_is_broken_stops_and_puts_the_tier_back(deploy: Deploy) -> None:
    first, second = deploy.build(), deploy.build()
    deploy.project.ok("promote", first, "--to", "dev")
    deploy.configure(dev={"health_check": SLOW_CHECK})
    leading = deploy.urls["dev"][0]
    running = deploy.spawn("promote", second, "--to", "dev")
    deploy.wait_for("SELECT 1 FROM host_states WHERE deployment_id = 2 AND host = ? "
                    "AND step = 'health-check'", leading)
    deploy.project.ok("unlock", "dev", "--reason", "taking over: the release manager's VPN dropped")
    out, err = running.communicate(timeout=60)
    assert running.returncode == 1, out + err
    assert "the deploy lock on dev was broken while this rollout ran" in flat(out)
    assert deploy.current("dev") == [first, first]
    assert deploy.deployments("dev")[-1][1:4] == (second, "promote", "failed")
    rows = deploy.query("SELECT state FROM host_states WHERE deployment_id = 2 ORDER BY position")
    assert rows == [("rolled-back",), ("not-started",)]
    assert deploy.status("dev")["lock"] is None  # the process did not release what was no longer its lock


def test_the_lease_is_renewed_while_held_and_never_released_once_lost(ledger_url: str) -> None:
    url = ledger_url
    ours = Ledger(url, [SCHEMA], actor=Actor("ada@example.org", "promote"), clock=lambda: datetime.now(UTC))
    theirs = Ledger(url, [SCHEMA], actor=Actor("grace@example.org", "promote"),
                    clock=lambda: datetime.now(UTC))
    try:
        with TierLease(ours, "dev", lease=timedelta(seconds=0.4)) as lease:
            assert lease.lock is not None
            time.sleep(0.5)
            with ours.read() as conn:
                renewed = current_lock(conn, "dev")
            assert renewed is not None and renewed.lease_until > lease.lock.lease_until
            assert not lease.lost
            break_lock(theirs, "dev", "stale")
            acquire_lock(theirs, "dev", timedelta(minutes=2))
            deadline = time.monotonic() + 5
            while not lease.lost and time.monotonic() < deadline:
                time.sleep(0.02)
            assert lease.lost
        with theirs.read() as conn:
            kept = current_lock(conn, "dev")
        assert kept is not None and kept.owner == "grace@example.org"
    finally:
        ours.close()
        theirs.close()


def test_a_host_killed_while_being_put_back_shows_its_build_as_unknown_until_checked(deploy: Deploy) -> None:
    """The health check fails, the old release is switched back, and the process is killed while
    its post-activate runs: the host runs the first build, the record says the second."""
    tier = [{"name": "dev", "channel": "internal", "hosts": [("local", "dev-1", "primary")]}]
    deploy.configure(tier)
    first, second = deploy.build(), deploy.build()
    deploy.project.ok("promote", first, "--to", "dev")
    slow_on_the_first = f'if [ "$QUARTERDECK_BUILD" = "{first}" ]; then sleep 60; fi'
    deploy.configure(tier, dev={"health_check": f'grep -qx "BUILD={first}" VERSION',
                                "post_activate": slow_on_the_first})
    victim = deploy.spawn("promote", second, "--to", "dev")
    deploy.wait_for("SELECT 1 FROM host_states WHERE deployment_id = 2 AND step = 'rollback-post-activate'")
    children = _descendants(victim.pid)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    for pid in children:  # the post-activate shell and its sleep
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert deploy.current("dev") == [first]
    status = deploy.status("dev")
    host = status["hosts"][0]
    assert (host["build"], host["build_unknown"], host["step"]) == (None, True, "rollback-post-activate")
    assert (status["build"], status["build_unknown"]) == (None, True)
    shown = flat(deploy.project.ok("status").out)
    assert "build unknown until checked (stopped in rollback-post-activate)" in shown
    assert second not in shown.split("dev: promote of")[0]  # no host is said to run the second build
    assert deploy.project.ok("log", "verify", "--json").json()["ok"] is True  # type: ignore[index]
