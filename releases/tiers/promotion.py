"""Promotion and rollback: decided from the ledger, done under the tier's lock, recorded as it happens.

What may happen is decided first, from ledger facts and nothing else: the
plan (which hosts to install, which a resumed deployment already verified,
which are left out and why); the tier order and the gates are the promotion
API's (releases.tiers.promote), which calls what is here. Then, holding the
tier's lock (its lease renewed by a thread for as long as the rollout runs),
the rollout of releases.hosts.rollout does the work while every step it reports
becomes one short write transaction, so that a process killed half-way
leaves a ledger that tells the truth and can be resumed. At the end each
host's own final report (what `current` points at) corrects the record.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Connection

from releases.artifacts.buildview import artifact_digests
from releases.errors import DeployError, ReleasesError
from releases.hosts.hostspec import HostSpec, labels
from releases.hosts.install import HostResult, StepCallback, rollback_host
from releases.hosts.remote import open_remote
from releases.hosts.rollout import DeployPlan, HostOpener, RolloutResult, TierTarget, roll_out, rollout_order
from releases.hosts.unpack import CheckedArtifact
from releases.records.ledger import Ledger
from releases.records.reads import rows_of
from releases.tiers.deployments import (
    build_before,
    deployment_hosts,
    finish_deployment,
    host_statuses,
    interrupt_running,
    latest_deployment,
    start_deployment,
    succeeded_on,
)
from releases.tiers.lease import LedgerRecorder, TierLease
from releases.tiers.tierview import Deployment, HostStatus

RUNNING_STATES = ("verified", "rolled-back")  # a host in one of these passed its health check on its build


class PromotionRefused(ReleasesError):
    """The tier order, the resume rule or the rollback rule forbids what was asked; nothing changed."""


class PromotionFailed(DeployError):
    """A rollout or rollback failed on at least one host; the per-host table says where (exit 1)."""

    @classmethod
    def of(cls, outcome: Outcome, target: TierTarget) -> PromotionFailed:
        result, names = outcome.result, labels(target.hosts)
        causes = result.failed_hosts or tuple(h for h in result.hosts if h.state != "verified")
        where = ", ".join(f"{names[h.host.url]} at {h.failed_step or h.state}" for h in causes)
        action = ("rollback" if outcome.kind == "rollback"
                  else "resumed promotion" if outcome.kind == "resume" else "promotion")
        text = f"the {action} of {result.build_id} on {target.name} failed on {where}"
        if outcome.kind != "rollback":
            text += "; " + aftermath(result, names, halted=target.on_failure == "halt")
            again = f"`quarterdeck promote {result.build_id} --to {target.name} --resume`"
        else:
            again = f"`quarterdeck rollback {target.name} --to {result.build_id}`"
        return cls(text, hint=f"the table says what happened on each host; fix the cause, then {again}")


def aftermath(result: RolloutResult, names: Mapping[str, str], *, halted: bool) -> str:
    """Where a failed rollout left the tier, read from each host's own outcome (the table's rows), so
    the summary never claims a host was put back that the table shows still on the new build."""
    back = [names[h.host.url] for h in result.hosts if h.state == "rolled-back"]
    left = [names[h.host.url] for h in result.hosts
            if h.current == result.build_id and h.state != "rolled-back"]
    said = [f"put back on the earlier release: {', '.join(back)}"] if back else []
    if left:
        said.append(f"still on {result.build_id}: {', '.join(left)} "
                    f"({'on_failure = halt left them' if halted else 'not put back: see the table'})")
    return "; ".join(said) or f"no host was left on {result.build_id}"


# ---------------------------------------------------------------- deciding (ledger reads only)

def previous_release(status: HostStatus | None, build_id: str) -> str | None:
    """What a host should go back to if installing `build_id` fails: the last release other than it."""
    if status is None:
        return None
    if status.build_id and status.build_id != build_id:
        return status.build_id
    if status.last_good_build and status.last_good_build != build_id:
        return status.last_good_build
    return None


@dataclass(frozen=True)
class PromotionPlan:
    """Which hosts of the tier a promotion installs, which are done already, which are left out."""

    build_id: str
    tier: str
    kind: str  # promote | resume
    previous: Mapping[str, str | None]  # every host, in rollout order → the release it ran before
    excluded: Mapping[str, str]  # host → reason, from this command line
    carried: frozenset[str]  # hosts verified on this build already (by the resumed deployment, or before)
    resumed_from: Deployment | None = None
    digests: Mapping[str, str] = field(default_factory=dict)  # build id → artifact sha256, for retention

    @property
    def todo(self) -> tuple[str, ...]:
        return tuple(h for h in self.previous if h not in self.carried and h not in self.excluded)

    @property
    def unfinished(self) -> bool:
        """A resume of a deployment that was never closed as succeeded: killed after its last host was
        verified, it still needs closing (and retention, and what follows a promotion), even with
        no host left to install."""
        return self.resumed_from is not None and self.resumed_from.state != "succeeded"

    @property
    def nothing_to_do(self) -> bool:
        return not self.todo and not self.unfinished

    def rollout(self, target: TierTarget, artifact: CheckedArtifact) -> DeployPlan:
        return DeployPlan(target, self.build_id, artifact, excluded=dict(self.excluded),
                          already_verified={h: self.previous[h] for h in self.carried},
                          previous=dict(self.previous), digests=self.digests)


def plan_promotion(conn: Connection, target: TierTarget, build_id: str, *, resume: bool,
                   exclude: Mapping[str, str]) -> PromotionPlan:
    """The plan for `promote` (every host again) or `promote --resume` (only hosts not verified).

    A plain promotion of a build that every host not excluded already runs
    healthy gets an empty `todo`: it changes nothing. A resume whose hosts are all
    verified still has work when the resumed deployment was left unfinished
    (`unfinished`): it is closed by a rollout that installs nothing.
    """
    order = [h.url for h in rollout_order(target.hosts)]
    statuses = {s.host: s for s in host_statuses(conn, target.name)}
    previous = {url: previous_release(statuses.get(url), build_id) for url in order}
    included = [url for url in order if url not in exclude]
    digests = artifact_digests(rows_of(conn))
    if not resume:
        everywhere = all((s := statuses.get(url)) is not None and s.build_id == build_id
                         and s.state in RUNNING_STATES for url in included)
        return PromotionPlan(build_id, target.name, "promote", previous, dict(exclude),
                             frozenset(included) if everywhere else frozenset(), digests=digests)
    last = latest_deployment(conn, target.name)
    if last is None:
        raise PromotionRefused(
            f"there is nothing to resume on {target.name}: no rollout was ever started there",
            hint=f"promote without --resume: `quarterdeck promote {build_id} --to {target.name}`")
    if last.kind == "rollback":
        raise PromotionRefused(f"the last change on {target.name} was a rollback to {last.build_id} "
                               f"(deployment #{last.id}); only a promotion can be resumed",
                               hint="run the rollback again, or promote without --resume")
    if last.build_id != build_id:
        raise PromotionRefused(
            f"the last rollout on {target.name} was of {last.build_id} "
            f"(deployment #{last.id}, {last.state}), not {build_id}",
            hint=f"resume that one (`quarterdeck promote {last.build_id} --to {target.name} --resume`) "
                 f"or promote {build_id} without --resume")
    rows = {row.host: row for row in deployment_hosts(conn, last.id)}
    for url, row in rows.items():
        if url in previous:
            previous[url] = row.previous_build
    carried = frozenset(url for url in included if url in rows and rows[url].state == "verified")
    return PromotionPlan(build_id, target.name, "resume", previous, dict(exclude), carried, last, digests)


@dataclass(frozen=True)
class RollbackPlan:
    tier: str
    to_build: str
    previous: Mapping[str, str | None]  # every host, in rollout order → what the ledger says it runs now
    nothing_to_do: bool


def plan_rollback(conn: Connection, target: TierTarget, to_build: str | None) -> RollbackPlan:
    """Where `rollback` goes: the named build, else the one promoted to the tier before the running one."""
    order = [h.url for h in rollout_order(target.hosts)]
    statuses = {s.host: s for s in host_statuses(conn, target.name)}
    running = {b for u in order if u in statuses and (b := statuses[u].build_id)}
    if to_build is None:
        if not running:
            raise PromotionRefused(f"nothing runs on {target.name} yet, so there is nothing to roll back")
        if len(running) > 1:
            raise PromotionRefused(f"{target.name} is mixed ({', '.join(sorted(running))})",
                                   hint="name the release to return to with --to BUILD")
        current = next(iter(running))
        to_build = build_before(conn, target.name, current)
        if to_build is None:
            raise PromotionRefused(f"no release was promoted to {target.name} before {current}",
                                   hint="name one with --to BUILD")
    elif not succeeded_on(conn, to_build, target.name):
        raise PromotionRefused(
            f"{to_build} never completed a promotion to {target.name}; "
            "a rollback only returns to a release that ran there",
            hint=f"promote it instead: `quarterdeck promote {to_build} --to {target.name}`")
    done = all((s := statuses.get(u)) is not None and s.build_id == to_build and s.state in RUNNING_STATES
               for u in order)
    return RollbackPlan(target.name, to_build, {u: statuses[u].build_id if u in statuses else None
                                                for u in order}, done)


def releases_missing(target: TierTarget, build_id: str,
                     open_host: HostOpener | None = None) -> list[tuple[HostSpec, str]]:
    """Hosts on which `build_id`'s release directory is not there (or that cannot be asked)."""
    opener = open_host or (lambda h: open_remote(h, target.connect))
    problems = []
    for host in rollout_order(target.hosts):
        try:
            remote = opener(host)
            try:
                if remote.kind(remote.layout.release(build_id)) != "dir":
                    problems.append((host, f"releases/{build_id} is no longer on {host.name} "
                                           f"(retention keeps {target.keep})"))
            finally:
                remote.close()
        except Exception as err:
            problems.append((host, str(err) or type(err).__name__))
    return problems


@dataclass(frozen=True)
class Outcome:
    deployment_id: int
    kind: str
    result: RolloutResult
    ok: bool
    interrupted: tuple[int, ...]  # unfinished deployments of the tier this one marked interrupted


def _abandon(ledger: Ledger, deployment_id: int) -> None:
    """The rollout itself raised (Ctrl-C, the ledger gone): say so, if the ledger still listens."""
    try:
        with ledger.write() as conn:
            finish_deployment(ledger, conn, deployment_id, "interrupted")
    except ReleasesError:
        pass


def _open(ledger: Ledger, tier: str, build_id: str, kind: str, previous: Mapping[str, str | None], *,
          plan: PromotionPlan | None = None, forced_reason: str | None = None) -> tuple[int, tuple[int, ...]]:
    """Start the deployment; any unfinished one on the tier is dead (we hold the lock): mark it so."""
    with ledger.write() as conn:
        interrupted = tuple(interrupt_running(ledger, conn, tier))
        deployment_id = start_deployment(
            ledger, conn, build_id=build_id, tier=tier, kind=kind, previous=previous,
            carried=plan.carried if plan else (), excluded=plan.excluded if plan else None,
            resumed_from=plan.resumed_from.id if plan and plan.resumed_from else None,
            forced_reason=forced_reason)
        return deployment_id, interrupted


def execute_promotion(ledger: Ledger, target: TierTarget, plan: PromotionPlan, artifact: CheckedArtifact, *,
                      lease: TierLease | None, forced_reason: str | None = None,
                      on_step: StepCallback | None = None, open_host: HostOpener | None = None) -> Outcome:
    """Roll the plan out, recording every step; call it holding `lease` (the tier's lock)."""
    deployment_id, interrupted = _open(ledger, target.name, plan.build_id, plan.kind, plan.previous,
                                       plan=plan, forced_reason=forced_reason)
    recorder = LedgerRecorder(ledger, deployment_id, lease, on_step)
    try:
        result = roll_out(plan.rollout(target, artifact), on_step=recorder, open_host=open_host,
                          clock=ledger.clock)
    except BaseException:
        _abandon(ledger, deployment_id)
        raise
    recorder.close(result, "succeeded" if result.ok else "failed")
    return Outcome(deployment_id, plan.kind, result, result.ok, interrupted)


def execute_rollback(ledger: Ledger, target: TierTarget, plan: RollbackPlan, *, lease: TierLease | None,
                     on_step: StepCallback | None = None, open_host: HostOpener | None = None) -> Outcome:
    """Switch every host back to `plan.to_build`, standbys first, with the tier's health check.

    Every host is attempted even when one fails: going back is the repair, so
    stopping half-way would leave more hosts on the release being left.
    """
    deployment_id, interrupted = _open(ledger, target.name, plan.to_build, "rollback", plan.previous)
    recorder = LedgerRecorder(ledger, deployment_id, lease, on_step)
    opener: HostOpener = open_host or (lambda h: open_remote(h, target.connect))

    def one(host: HostSpec) -> HostResult:
        remote = opener(host)
        try:
            return rollback_host(remote, plan.to_build, commands=target.commands, on_step=recorder,
                                 clock=ledger.clock)
        finally:
            remote.close()

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=target.parallel,
                                thread_name_prefix=f"rollback-{target.name}") as pool:
            results = tuple(pool.map(one, rollout_order(target.hosts)))
    except BaseException:
        _abandon(ledger, deployment_id)
        raise
    result = RolloutResult(target.name, plan.to_build, results, seconds=time.perf_counter() - started)
    ok = all(h.state == "rolled-back" for h in results)
    recorder.close(result, "succeeded" if ok else "failed")
    return Outcome(deployment_id, "rollback", result, ok, interrupted)
