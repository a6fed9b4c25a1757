"""Installing one build across a tier's hosts, `parallel` at a time, never leaving the tier mixed.

Hosts are visited in one fixed order: standbys first, then primaries, each in
configuration order. Primaries may upload and unpack while the standbys are
still being installed, but wait before activating until every standby has
passed its health check, so a fail-over pair never has both nodes on an
unverified release. When a host fails, no new host starts; hosts in flight
stop at their next safe point (before activation) or finish; and with
on_failure = "rollback" every host switched by this rollout is put back.
Every host appears in the result, including the ones never started.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Literal

from releases.errors import DeployError
from releases.hosts.hostspec import HostSpec
from releases.hosts.install import (
    Clock,
    Commands,
    HostResult,
    HostState,
    InstallJob,
    StepCallback,
    StepTiming,
    Timer,
    install_host,
    rollback_host,
    utc_now,
)
from releases.hosts.remote import ConnectSettings, Remote, open_remote
from releases.hosts.retention import PruneResult, prune_host
from releases.hosts.unpack import CheckedArtifact

OnFailure = Literal["rollback", "halt"]
HostOpener = Callable[[HostSpec], Remote]


@dataclass(frozen=True)
class TierTarget:
    """A tier's hosts and how to install on them (from the configuration)."""

    name: str
    hosts: tuple[HostSpec, ...]
    parallel: int = 1
    on_failure: OnFailure = "rollback"
    keep: int = 5
    shared: tuple[str, ...] = ()
    commands: Commands = field(default_factory=Commands)
    connect: ConnectSettings = field(default_factory=ConnectSettings)


@dataclass(frozen=True)
class DeployPlan:
    """One rollout: a checked artifact to a tier, minus excluded hosts and hosts already done.

    `excluded` maps host URL to the recorded reason. `already_verified` (resume)
    maps host URL to the release that host ran before this build (None if
    unknown), so that it can still be put back if the rollout fails later.
    `previous` (resume) maps host URL to the release it ran before this build,
    for hosts whose `current` may already point at the build (see install_host).
    `digests` maps build ids to their artifacts' sha256, so that retention keeps the
    uploaded archives of the releases it keeps (this build's is always known).
    """

    target: TierTarget
    build_id: str
    artifact: CheckedArtifact
    excluded: Mapping[str, str] = field(default_factory=dict)
    already_verified: Mapping[str, str | None] = field(default_factory=dict)
    previous: Mapping[str, str | None] = field(default_factory=dict)
    digests: Mapping[str, str] = field(default_factory=dict)

    def job(self) -> InstallJob:
        return InstallJob(self.build_id, self.artifact, self.target.shared, self.target.commands)


@dataclass(frozen=True)
class PlannedHost:
    host: HostSpec
    action: Literal["install", "excluded", "already-verified"]
    note: str = ""


@dataclass(frozen=True)
class RolloutResult:
    tier: str
    build_id: str
    hosts: tuple[HostResult, ...]  # every configured host, in rollout order
    pruned: tuple[PruneResult, ...] = ()
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(h.state in ("verified", "excluded") and not h.error for h in self.hosts)

    @property
    def failed_hosts(self) -> tuple[HostResult, ...]:
        """The hosts whose own install failed (the cause), not the ones put back because of them."""
        return tuple(h for h in self.hosts if h.failed_step is not None)


def rollout_order(hosts: tuple[HostSpec, ...]) -> tuple[HostSpec, ...]:
    """Standbys first, then primaries, each in configuration order: always the same order."""
    return tuple(h for h in hosts if h.role == "standby") + tuple(h for h in hosts if h.role != "standby")


def preview(plan: DeployPlan) -> tuple[PlannedHost, ...]:
    """What `roll_out` would do to each host, without touching any (the dry run)."""
    planned = []
    for host in rollout_order(plan.target.hosts):
        if host.url in plan.excluded:
            planned.append(PlannedHost(host, "excluded", plan.excluded[host.url]))
        elif host.url in plan.already_verified:
            planned.append(PlannedHost(host, "already-verified", f"verified on {plan.build_id} earlier"))
        else:
            planned.append(PlannedHost(host, "install"))
    return tuple(planned)


class _Gate:
    """Holds primaries before activation until every standby is verified; closes on any failure."""

    def __init__(self, standbys: int) -> None:
        self._cond = threading.Condition()
        self._standbys_left = standbys
        self.failed = False

    def finished(self, host: HostSpec, ok: bool) -> None:
        with self._cond:
            if host.role == "standby":
                self._standbys_left -= 1
            if not ok:
                self.failed = True
            self._cond.notify_all()

    def may_activate(self, host: HostSpec) -> bool:
        with self._cond:
            if host.role != "standby":
                self._cond.wait_for(lambda: self.failed or self._standbys_left <= 0)
            return not self.failed


def _serialised(on_step: StepCallback | None) -> StepCallback | None:
    """Workers report from several threads; the caller's callback sees one call at a time."""
    if on_step is None:
        return None
    lock = threading.Lock()

    def call(host: HostSpec, step: str, state: HostState) -> None:
        with lock:
            on_step(host, step, state)
    return call


def _prefixed(on_step: StepCallback | None, prefix: str) -> StepCallback | None:
    """Steps of a put-back, named apart; its "done" is left to the rollout, which knows the whole story."""
    if on_step is None:
        return None

    def call(host: HostSpec, step: str, state: HostState) -> None:
        if step != "done":
            on_step(host, prefix + step, state)
    return call


class _Rollout:
    def __init__(self, plan: DeployPlan, on_step: StepCallback | None, open_host: HostOpener,
                 clock: Clock, timer: Timer) -> None:
        self.plan, self.on_step, self.open_host = plan, on_step, open_host
        self.clock, self.timer = clock, timer
        self.results: dict[str, HostResult] = {}
        # The connection of each verified host stays open for the put-back or the pruning that
        # follows: a new one would cost another key exchange and login on both sides.
        self._kept: dict[str, Remote] = {}
        self._kept_lock = threading.Lock()

    def reach(self, host: HostSpec) -> Remote:
        """The host's connection kept from its install, else a new one."""
        with self._kept_lock:
            remote = self._kept.pop(host.url, None)
        return remote if remote is not None else self.open_host(host)

    def close_kept(self) -> None:
        with self._kept_lock:
            kept, self._kept = list(self._kept.values()), {}
        for remote in kept:
            remote.close()

    def notify(self, host: HostSpec, state: HostState) -> None:
        if self.on_step is not None:
            self.on_step(host, "done", state)

    def unreached(self, host: HostSpec, error: Exception, step: str) -> HostResult:
        now = self.clock()
        hint = getattr(error, "hint", None)
        text = f"{error} ({hint})" if hint else str(error) or type(error).__name__
        return HostResult(host, self.plan.build_id, "failed", failed_step=step, error=text,
                          steps=(StepTiming(step, 0.0, "failed"),), started_at=now, finished_at=now)

    def install(self, host: HostSpec, gate: _Gate) -> HostResult:
        ok = False
        try:
            try:
                remote = self.open_host(host)
            except Exception as err:
                result = self.unreached(host, err, "connect")
                self.notify(host, "failed")
                return result
            try:
                result = install_host(remote, self.plan.job(), on_step=self.on_step, clock=self.clock,
                                      timer=self.timer, before_activation=lambda: gate.may_activate(host),
                                      previous_hint=self.plan.previous.get(host.url))
                ok = result.ok
            finally:
                if ok:
                    with self._kept_lock:
                        self._kept[host.url] = remote
                else:
                    remote.close()
            return result
        finally:
            gate.finished(host, ok)

    def put_back(self, result: HostResult, previous: str | None) -> HostResult:
        """Undo this rollout on a verified host because another host failed."""
        if previous is None or previous == self.plan.build_id:
            return replace(result, error=f"not rolled back: {result.host.name} had no earlier release")
        try:
            remote = self.reach(result.host)
        except Exception as err:
            back = self.unreached(result.host, err, "rollback:connect")
        else:
            try:
                back = rollback_host(remote, previous, commands=self.plan.target.commands,
                                     on_step=_prefixed(self.on_step, "rollback:"),
                                     clock=self.clock, timer=self.timer)
            finally:
                remote.close()
        steps = result.steps + tuple(replace(t, name=f"rollback:{t.name}") for t in back.steps)
        if back.state == "rolled-back":
            return replace(result, state="rolled-back", current=back.current, steps=steps, switched=True,
                           error="rolled back because another host failed", finished_at=back.finished_at)
        return replace(result, state="failed", current=back.current, steps=steps,
                       finished_at=back.finished_at,
                       error=f"rolling back to {previous} failed at {back.failed_step}: {back.error}")


def roll_out(plan: DeployPlan, *, on_step: StepCallback | None = None, open_host: HostOpener | None = None,
             clock: Clock = utc_now, timer: Timer = time.perf_counter, prune: bool = True) -> RolloutResult:
    """Install `plan` on its tier and report every host; raises only for an invalid plan.

    `on_step(host, step, state)` is called as each step starts and ends on each
    host (one call at a time, from worker threads) and with step "done" once
    per host with its final state, so the caller can record and display it.
    If the callback raises during a step, that step fails on that host (and is
    handled like any failure); if it raises for a "done" event, roll_out raises
    once the hosts in flight have finished.
    """
    target = plan.target
    if target.parallel < 1:
        raise DeployError(f"tier {target.name}: parallel = {target.parallel}; it must be 1 or more")
    if target.on_failure not in ("rollback", "halt"):
        raise DeployError(f"tier {target.name}: on_failure = {target.on_failure!r}; use rollback or halt")
    started = timer()
    on_step = _serialised(on_step)
    rollout = _Rollout(plan, on_step, open_host or (lambda h: open_remote(h, target.connect)), clock, timer)
    order = rollout_order(target.hosts)
    todo = []
    for planned in preview(plan):
        host, now = planned.host, clock()
        if planned.action == "install":
            todo.append(host)
            continue
        state: HostState = "excluded" if planned.action == "excluded" else "verified"
        rollout.results[host.url] = HostResult(
            host, plan.build_id, state, error=None, previous=plan.already_verified.get(host.url),
            current=plan.build_id if state == "verified" else None, switched=state == "verified",
            started_at=now, finished_at=now)
        rollout.notify(host, state)
    gate = _Gate(sum(1 for h in todo if h.role == "standby"))
    try:
        pruned = _run(rollout, todo, gate, order, prune)
    finally:
        rollout.close_kept()
    return RolloutResult(target.name, plan.build_id, tuple(rollout.results[h.url] for h in order),
                         pruned, timer() - started)


def _run(rollout: _Rollout, todo: list[HostSpec], gate: _Gate, order: tuple[HostSpec, ...],
         prune: bool) -> tuple[PruneResult, ...]:
    """Install on `todo`, `parallel` at a time; then put back or prune. Fills `rollout.results`."""
    plan, target, clock = rollout.plan, rollout.plan.target, rollout.clock
    with ThreadPoolExecutor(max_workers=target.parallel, thread_name_prefix=f"deploy-{target.name}") as pool:
        running: dict[Future[HostResult], HostSpec] = {}
        for host in todo:
            while len(running) >= target.parallel:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    rollout.results[running.pop(future).url] = future.result()
            if gate.failed:
                now = clock()
                rollout.results[host.url] = HostResult(
                    host, plan.build_id, "not-started", started_at=now, finished_at=now,
                    error="not started: another host of the rollout failed")
                rollout.notify(host, "not-started")
                continue
            running[pool.submit(rollout.install, host, gate)] = host
        for future, host in running.items():
            rollout.results[host.url] = future.result()
        failed = any(r.state != "verified" for r in rollout.results.values() if r.state != "excluded")
        if failed and target.on_failure == "rollback":
            to_undo = [r for r in (rollout.results[h.url] for h in reversed(order))
                       if r.state == "verified" and r.switched]
            for result in pool.map(lambda r: rollout.put_back(r, r.previous), to_undo):
                rollout.results[result.host.url] = result
                rollout.notify(result.host, result.state)
        pruned: tuple[PruneResult, ...] = ()
        if not failed and prune:
            pruned = tuple(pool.map(lambda h: _prune(rollout, h), [h for h in order
                                                                   if h.url not in plan.excluded]))
    return pruned


def _prune(rollout: _Rollout, host: HostSpec) -> PruneResult:
    """Retention after a rollout that succeeded everywhere; a failure here is reported, not fatal."""
    try:
        remote = rollout.reach(host)
        try:
            plan = rollout.plan
            return prune_host(remote, plan.target.keep, last_verified=plan.build_id,
                              digests={**plan.digests, plan.build_id: plan.artifact.sha256})
        finally:
            remote.close()
    except Exception as err:
        return PruneResult(host, error=str(err) or type(err).__name__)
