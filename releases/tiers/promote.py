"""Promotion as a function of typed values: what `promote` decides and does, apart from how it is asked.

`promote` takes a PromotionRequest (the build, the tier's target, what the
release manager allows) and what the other packages contribute, as plain
callables: the gates (channels' gates and the notice gates, judged only once
the plan shows there is work), the recorder of an override, the question
before a tier with outside users changes, and a reporter for what a person
watches (the verdicts before that question, each host's steps during the
rollout). It returns a PromotionOutcome. The CLI, `tick` and the demo build
a request and show the outcome; none of them decides anything itself.

The order, each step of which can end the promotion: the tier order and the
plan (ledger reads); nothing to do; the gates (GatesRefused unless overridden
with a reason); the artifact's bytes; the dry run; the pre-flight check of
every host to install (PreflightFailed, audited); the confirmation; then,
holding the tier's lock, the plan again, the override's record and the
rollout, recorded step by step (releases.tiers.promotion).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection

from releases.artifacts.artifact import ArtifactStore
from releases.artifacts.buildview import Build
from releases.errors import GatesRefused, ReleasesError, UsageRefused
from releases.hosts.hostspec import labels
from releases.hosts.install import StepCallback
from releases.hosts.preflight import PreflightFailed, preflight
from releases.hosts.rollout import HostOpener, TierTarget, rollout_order
from releases.hosts.unpack import CheckedArtifact, check_archive
from releases.records.ledger import Ledger
from releases.tiers.deployments import current_lock, succeeded_on
from releases.tiers.lease import TierLease
from releases.tiers.promotion import (
    Outcome,
    PromotionPlan,
    PromotionRefused,
    execute_promotion,
    plan_promotion,
)
from releases.tiers.tierview import Lock

INTERNAL = "internal"  # the channel of staff only: a tier on it changes without a question

ALREADY_RUNNING, DRY_RUN, DECLINED, SUCCEEDED, FAILED = (
    "already-running", "dry-run", "declined", "succeeded", "failed")


class GateVerdict(Protocol):
    """One gate's result as promotion needs it (channels.gates.gates.GateResult is one)."""

    @property
    def gate(self) -> str: ...

    @property
    def passed(self) -> bool: ...

    @property
    def detail(self) -> str: ...


Gate = Callable[[], Iterable[GateVerdict]]  # judges the build for the tier when called
RecordOverride = Callable[[Sequence[str], str], None]  # (the failing gates, the reason) → recorded
Confirm = Callable[[str], bool]  # the question → may the tier change?


class PromotionReport(Protocol):
    """What a person watching a promotion sees while it runs (the outcome is shown after)."""

    def gates(self, request: PromotionRequest, verdicts: Sequence[GateVerdict], failing: Sequence[str], *,
              refused: bool) -> None:
        """The verdicts, before the promotion is refused or the confirmation is asked."""

    def progress(self, target: TierTarget) -> AbstractContextManager[StepCallback | None]:
        """Around the rollout: a callback told each host's steps as they happen, or None."""


def outside_users(channel: str) -> bool:
    """Whether to confirm first: the tier's channel reaches people outside staff (beta, everyone).

    An internal tier (dev, the first tier by default) changes without a
    question, so that putting a fresh build in front of staff stays one step.
    """
    return channel != INTERNAL


def check_reasons(*, force: bool, exclude: bool, reason: str | None) -> None:
    """An override (`--force`) and a left-out host (`--exclude`) each need a reason, and a reason
    needs one of them: it is recorded in the ledger with the author's name."""
    needs = [flag for flag, on in (("--force", force), ("--exclude", exclude)) if on]
    if needs and not (reason or "").strip():
        raise UsageRefused(f"{' and '.join(needs)} need{'s' if len(needs) == 1 else ''} --reason TEXT",
                           hint="say why: the reason is recorded in the ledger with your name")
    if reason and not needs:
        raise UsageRefused("--reason explains --force or --exclude, and neither was given")


@dataclass(frozen=True)
class PromotionRequest:
    """Promote `build` to the tier of `target`, the next tier in `tier_order` after one it completed.

    `channel` is the tier's audience: any but the internal one asks `confirm`
    first. `exclude` names hosts (URL or name) left out until they catch up;
    `force` overrides failing gates. Both need `reason`.
    """

    build: Build
    target: TierTarget
    tier_order: tuple[str, ...]
    channel: str
    resume: bool = False
    exclude: tuple[str, ...] = ()
    force: bool = False
    reason: str | None = None
    dry_run: bool = False

    def __post_init__(self) -> None:
        check_reasons(force=self.force, exclude=bool(self.exclude), reason=self.reason)

    @property
    def tier(self) -> str:
        return self.target.name

    @property
    def outside_users(self) -> bool:
        return outside_users(self.channel)

    def exclusions(self) -> dict[str, str]:
        """The left-out hosts by URL, each with the reason; refused if one is unknown or none is left."""
        found, shown = {}, labels(self.target.hosts)
        for name in self.exclude:  # as configured, or as the tables label it
            match = [h for h in self.target.hosts if name in (h.url, h.name, shown[h.url])]
            if not match:
                raise UsageRefused(f"--exclude {name}: {self.tier} has no such host",
                                   hint="its hosts are " + ", ".join(h.url for h in self.target.hosts))
            found[match[0].url] = (self.reason or "").strip()
        if found and len(found) == len(self.target.hosts):
            raise UsageRefused(f"--exclude leaves no host of {self.tier} to install")
        return found


@dataclass(frozen=True)
class PromotionOutcome:
    """How a promotion ended: `status` is one of already-running, dry-run, declined, succeeded, failed.

    `plan` is the last one made (under the lock when the rollout ran);
    `artifact` and `locked_by` are set from the dry run on; `rollout` is the
    recorded deployment, when one ran.
    """

    status: str
    request: PromotionRequest
    plan: PromotionPlan
    gates: tuple[GateVerdict, ...] = ()
    overridden: tuple[str, ...] = ()
    artifact: CheckedArtifact | None = None
    locked_by: Lock | None = None
    rollout: Outcome | None = None

    @property
    def ok(self) -> bool:
        """Nothing failed and nothing was declined: the tier runs, or would run, the build."""
        return self.status in (ALREADY_RUNNING, DRY_RUN, SUCCEEDED)


def missing_steps(tier_names: Sequence[str], target: str, succeeded: Iterable[str]) -> list[str]:
    """The tiers a build must still pass through, in order, before it may enter `target` (pure)."""
    done = set(succeeded)
    index = list(tier_names).index(target)
    missing: list[str] = []
    for name in reversed(tier_names[:index]):
        if name in done:
            break
        missing.append(name)
    return list(reversed(missing))


def check_tier_order(conn: Connection, tier_names: Sequence[str], build_id: str, target: str) -> None:
    """Refuse a promotion that skips a tier, naming the step that is missing. --force never gets here."""
    succeeded = {t for t in tier_names if succeeded_on(conn, build_id, t)}
    missing = missing_steps(tier_names, target, succeeded)
    if missing:
        path = ", then ".join(missing)
        raise PromotionRefused(
            f"{build_id} cannot go to {target}: it has not completed a promotion to {missing[-1]}, "
            f"the tier before {target}",
            hint=f"promote it to {path} first (`quarterdeck promote {build_id} --to {missing[0]}`); "
                 f"--force overrides gates, never the tier order")


def judge(gates: Sequence[Gate]) -> tuple[GateVerdict, ...]:
    """Every contributed gate's verdicts, in the order the gates were given."""
    return tuple(verdict for gate in gates for verdict in gate())


def check_hosts(ledger: Ledger, request: PromotionRequest, plan: PromotionPlan, artifact: CheckedArtifact,
                open_host: HostOpener | None = None) -> None:
    """The pre-flight check of every host the plan installs, before the question and before any host
    changes; a host that fails it stops the promotion here, recorded in the audit trail."""
    target = request.target
    hosts = [h for h in rollout_order(target.hosts) if h.url in plan.todo]
    checks = preflight(hosts, artifact, request.build.id, connect=target.connect, open_host=open_host)
    if all(c.ok for c in checks):
        return
    with ledger.write() as conn:
        ledger.record(conn, "deploy.preflight-failed", f"{request.build.id}@{target.name}",
                      detail={c.host.url: list(c.problems) for c in checks if not c.ok})
    raise PreflightFailed.of(target.name, request.build.id, checks)


def promote(ledger: Ledger, store: ArtifactStore, request: PromotionRequest, *, gates: Sequence[Gate] = (),
            record_override: RecordOverride | None = None, confirm: Confirm, report: PromotionReport,
            open_host: HostOpener | None = None) -> PromotionOutcome:
    """Promote as `request` asks, or refuse before anything changes; see the module's docstring."""
    build, target = request.build, request.target
    exclude = request.exclusions()
    with ledger.read() as conn:
        check_tier_order(conn, request.tier_order, build.id, target.name)
        plan = plan_promotion(conn, target, build.id, resume=request.resume, exclude=exclude)
        lock = current_lock(conn, target.name)
    if plan.nothing_to_do:
        return PromotionOutcome(ALREADY_RUNNING, request, plan)
    verdicts = judge(gates)
    failing = tuple(v.gate for v in verdicts if not v.passed)
    if failing and not request.force:
        report.gates(request, verdicts, failing, refused=True)
        raise GatesRefused(f"the gates refuse {build.id} on {target.name}: {', '.join(failing)}",
                           hint="each gate's detail says what is missing; fix it, or override with "
                                "--force --reason TEXT (recorded with your name)", verdicts=verdicts)
    if failing and record_override is None:
        raise ReleasesError(f"overriding {', '.join(failing)} of {build.id} on {target.name} cannot be "
                            "recorded here, so it is not done")
    artifact = check_archive(store.verified(build.sha256), build.sha256)
    report.gates(request, verdicts, failing, refused=False)
    if request.dry_run:
        return PromotionOutcome(DRY_RUN, request, plan, verdicts, failing, artifact, lock)
    check_hosts(ledger, request, plan, artifact, open_host)
    if request.outside_users and not confirm(
            f"promote {build.id} to {target.name} ({request.channel}; {len(plan.todo)} host(s))?"):
        return PromotionOutcome(DECLINED, request, plan, verdicts, failing, artifact, lock)
    with TierLease(ledger, target.name) as lease:
        with ledger.read() as conn:  # again, now that nobody else can change the tier
            plan = plan_promotion(conn, target, build.id, resume=request.resume, exclude=exclude)
        if plan.nothing_to_do:
            return PromotionOutcome(ALREADY_RUNNING, request, plan, verdicts, failing, artifact)
        reason = (request.reason or "").strip() if failing else None
        if failing and record_override is not None and reason is not None:
            record_override(failing, reason)
        with report.progress(target) as on_step:
            rollout = execute_promotion(ledger, target, plan, artifact, lease=lease, on_step=on_step,
                                        forced_reason=reason, open_host=open_host)
    return PromotionOutcome(SUCCEEDED if rollout.ok else FAILED, request, plan, verdicts, failing, artifact,
                            rollout=rollout)
