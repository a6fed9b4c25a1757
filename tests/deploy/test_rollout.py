"""A build across a tier: real sshd hosts and local hosts, failures in the middle included."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from releases.hosts.hostspec import HostSpec
from releases.hosts.install import Commands
from releases.hosts.remote import ConnectSettings
from releases.hosts.rollout import DeployPlan, RolloutResult, TierTarget, preview, roll_out, rollout_order
from releases.hosts.unpack import CheckedArtifact
from tests.support.sshd import SshdCluster

from .helpers import HostFactory

B1, B2, B3 = "2026.4.0+b1", "2026.4.0+b2", "2026.4.0+b3"
MakeArtifact = Callable[..., CheckedArtifact]


class Events:
    """Every on_step call, with the time it was made."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str, str, str]] = []
        self.hooks: list[Callable[[HostSpec, str, str], None]] = []
        self.lock = threading.Lock()

    def __call__(self, host: HostSpec, step: str, state: str) -> None:
        with self.lock:  # the rollout promises one call at a time; make a broken promise visible
            self.calls.append((time.monotonic(), host.url, step, state))
        for hook in self.hooks:
            hook(host, step, state)

    def of(self, host: HostSpec) -> list[tuple[str, str]]:
        return [(step, state) for _, url, step, state in self.calls if url == host.url]

    def first(self, host: HostSpec, step: str, state: str | None = None) -> float:
        return min(t for t, url, s, st in self.calls if url == host.url and s == step and state in (None, st))

    def last(self, host: HostSpec, step: str, state: str | None = None) -> float:
        return max(t for t, url, s, st in self.calls if url == host.url and s == step and state in (None, st))


def deploy(hosts: list[HostSpec], built: CheckedArtifact, build_id: str, connect: ConnectSettings, *,
           events: Events | None = None, **options: Any) -> RolloutResult:
    commands = Commands(**{k: options.pop(k) for k in ("pre_activate", "post_activate", "health_check")
                           if k in options}, timeout=30)
    extra = {k: options.pop(k) for k in ("excluded", "already_verified") if k in options}
    target = TierTarget("staging", tuple(hosts), commands=commands, connect=connect, **options)
    return roll_out(DeployPlan(target, build_id, built, **extra), on_step=events)


def current(host: HostSpec) -> str:
    return os.readlink(Path(host.path, "current")).removeprefix("releases/")


def test_happy_path_on_two_ssh_hosts_and_a_local_one(
        ssh_host: HostFactory, local_host: HostFactory, connect: ConnectSettings,
        artifact: MakeArtifact) -> None:
    hosts = [ssh_host(0), ssh_host(1), local_host()]
    built = artifact(B1)
    events = Events()
    result = deploy(hosts, built, B1, connect, events=events, parallel=2,
                    health_check=f'grep -qx "$QUARTERDECK_BUILD" VERSION && test "$QUARTERDECK_BUILD" = {B1}')
    assert result.ok and result.failed_hosts == ()
    assert [(h.host, h.state, h.current) for h in result.hosts] == [(h, "verified", B1) for h in hosts]
    for host in hosts:
        assert current(host) == B1
        assert Path(host.path, "current", "VERSION").read_text() == f"{B1}\n"
        stored = Path(host.path, "artifacts", f"{built.sha256}.tar.gz").read_bytes()
        assert hashlib.sha256(stored).hexdigest() == built.sha256  # the same bytes everywhere
        assert events.of(host)[-1] == ("done", "verified")
    assert [(p.host, p.removed, p.error) for p in result.pruned] == [(h, (), None) for h in hosts]


def test_standbys_are_verified_before_any_primary_activates(ssh_host: HostFactory, local_host: HostFactory,
                                                            connect: ConnectSettings,
                                                            artifact: MakeArtifact) -> None:
    primary_ssh, standby_ssh = ssh_host(0), ssh_host(1, role="standby")
    primary_local, standby_local = local_host("p"), local_host("s", role="standby")
    hosts = [primary_ssh, standby_ssh, primary_local, standby_local]
    assert rollout_order(tuple(hosts)) == (standby_ssh, standby_local, primary_ssh, primary_local)
    events = Events()
    result = deploy(hosts, artifact(B1), B1, connect, events=events, parallel=4,
                    pre_activate="true", health_check="sleep 0.3")
    assert result.ok, [h.error for h in result.hosts]
    assert [h.host for h in result.hosts] == [standby_ssh, standby_local, primary_ssh, primary_local]
    standbys_verified = max(events.first(h, "done", "verified") for h in (standby_ssh, standby_local))
    for primary in (primary_ssh, primary_local):
        assert events.first(primary, "pre-activate") > standbys_verified
        assert events.first(primary, "connect") < standbys_verified  # they prepared in the meantime


def test_parallel_hosts_really_overlap(ssh_host: HostFactory, connect: ConnectSettings,
                                       artifact: MakeArtifact) -> None:
    hosts = [ssh_host(0), ssh_host(1), ssh_host(2)]
    events = Events()
    result = deploy(hosts, artifact(B1), B1, connect, events=events, parallel=3, health_check="sleep 1.5")
    assert result.ok
    starts = [events.first(h, "health-check", "switched") for h in hosts]
    ends = [events.last(h, "health-check", "switched") for h in hosts]
    assert max(starts) < min(ends)  # all three health checks ran at the same time


def test_one_sshd_stopped_mid_rollout_rolls_back_the_switched_hosts(
        cluster: SshdCluster, ssh_host: HostFactory, connect: ConnectSettings,
        artifact: MakeArtifact) -> None:
    hosts = [ssh_host(0), ssh_host(1), ssh_host(2)]
    assert deploy(hosts, artifact(B1), B1, connect).ok
    events = Events()

    def pull_the_plug(host: HostSpec, step: str, state: str) -> None:
        if host == hosts[1] and step == "pre-activate" and state == "uploading":
            cluster.servers[1].stop()
    events.hooks.append(pull_the_plug)
    result = deploy(hosts, artifact(B2), B2, connect, events=events, parallel=1, pre_activate="true")
    assert not result.ok
    assert [h.host for h in result.failed_hosts] == [hosts[1]]
    first, failed, never = result.hosts
    assert (first.state, first.current) == ("rolled-back", B1)
    assert first.error == "rolled back because another host failed"
    assert [t.name for t in first.steps][-4:] == ["rollback:connect", "rollback:switch",
                                                 "rollback:post-activate", "rollback:health-check"]
    assert (failed.state, failed.failed_step) == ("failed", "pre-activate")
    unreachable = f"{re.escape(hosts[1].name)}: .*(connection dropped|cannot reach the host)"
    assert re.match(unreachable, failed.error or "")
    assert (never.state, never.error) == ("not-started", "not started: another host of the rollout failed")
    assert events.of(hosts[2]) == [("done", "not-started")]
    cluster.servers[1].start()
    assert [current(h) for h in hosts] == [B1, B1, B1]
    assert sorted(os.listdir(Path(hosts[2].path, "releases"))) == [B1]  # never touched


def test_halt_leaves_switched_hosts_and_resume_finishes_the_rest(
        cluster: SshdCluster, ssh_host: HostFactory, local_host: HostFactory, connect: ConnectSettings,
        artifact: MakeArtifact) -> None:
    hosts = [local_host(), ssh_host(1), ssh_host(2)]
    assert deploy(hosts, artifact(B1), B1, connect).ok
    cluster.servers[1].stop()
    halted = deploy(hosts, artifact(B2), B2, connect, parallel=1, on_failure="halt")
    assert [h.state for h in halted.hosts] == ["verified", "failed", "not-started"]
    assert halted.hosts[1].failed_step == "connect"
    assert "cannot reach the host" in (halted.hosts[1].error or "")
    assert [current(h) for h in (hosts[0], hosts[2])] == [B2, B1]
    cluster.servers[1].start()
    events = Events()
    resumed = deploy(hosts, artifact(B2), B2, connect, events=events, parallel=1,
                     already_verified={hosts[0].url: halted.hosts[0].previous})
    assert resumed.ok
    assert [(h.state, h.current) for h in resumed.hosts] == [("verified", B2)] * 3
    assert events.of(hosts[0]) == [("done", "verified")]  # not touched again
    assert [current(h) for h in hosts] == [B2, B2, B2]


def test_a_failing_standby_stops_the_primaries_before_they_activate(
        ssh_host: HostFactory, local_host: HostFactory, connect: ConnectSettings,
        artifact: MakeArtifact) -> None:
    standby, primary = ssh_host(0, role="standby"), local_host()
    hosts = [primary, standby]
    assert deploy(hosts, artifact(B1), B1, connect).ok
    result = deploy(hosts, artifact(B2), B2, connect, parallel=2, pre_activate="touch pre-ran",
                    health_check=f'test "$QUARTERDECK_BUILD" != {B2} || test "$(hostname)" = nowhere')
    assert [(h.host, h.state) for h in result.hosts] == [(standby, "rolled-back"), (primary, "cancelled")]
    assert result.hosts[1].error == "stopped before activation: another host of the rollout failed"
    assert [current(h) for h in hosts] == [B1, B1]
    assert not Path(primary.path, "releases", B2, "pre-ran").exists()


def test_excluded_hosts_are_left_alone_and_reported(local_host: HostFactory, connect: ConnectSettings,
                                                    artifact: MakeArtifact) -> None:
    kept, left = local_host("a"), local_host("b")
    plan_hosts = [kept, left]
    result = deploy(plan_hosts, artifact(B1), B1, connect, excluded={left.url: "disk being replaced"})
    assert result.ok
    assert [(h.state, h.error) for h in result.hosts] == [("verified", None), ("excluded", None)]
    assert os.listdir(left.path) == []
    target = TierTarget("staging", (kept, left))
    planned = preview(DeployPlan(target, B1, artifact(B1), excluded={left.url: "disk being replaced"}))
    assert [(p.host, p.action, p.note) for p in planned] == [(kept, "install", ""),
                                                             (left, "excluded", "disk being replaced")]


def test_a_first_rollout_cannot_roll_back_and_says_so(local_host: HostFactory, connect: ConnectSettings,
                                                      artifact: MakeArtifact) -> None:
    good, bad = local_host("good"), local_host("bad")
    result = deploy([good, bad], artifact(B1), B1, connect,
                    health_check='test "$(basename "$(dirname "$(dirname "$PWD")")")" = good')
    assert [h.state for h in result.hosts] == ["verified", "failed"]
    assert result.hosts[0].error == f"not rolled back: {good.name} had no earlier release"
    assert not result.ok and result.pruned == ()


def test_retention_runs_after_a_successful_rollout(local_host: HostFactory, connect: ConnectSettings,
                                                   artifact: MakeArtifact) -> None:
    host = local_host()
    for build in (B1, B2, B3):
        result = deploy([host], artifact(build), build, connect, keep=2)
        assert result.ok
    assert sorted(os.listdir(Path(host.path, "releases"))) == [B2, B3]
    assert [(p.kept, p.removed) for p in result.pruned] == [((B3, B2), (B1,))]
