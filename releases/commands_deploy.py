"""The deployment commands: promote, rollback and unlock, with their live progress and tables.

Kept apart from the build commands because this is where the rollout is
watched host by host; both take pipeline's App as a releases.app.ReleasesApp.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from releases.app import ReleasesApp
from releases.commands import state_style

if TYPE_CHECKING:
    from releases.artifacts.buildview import Build
    from releases.tiers.promote import GateVerdict, PromotionOutcome, PromotionRequest


def _setup_promote(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", metavar="BUILD", help="build id, sha256 prefix, latest or @TIER")
    p.add_argument("--to", required=True, metavar="TIER", dest="tier", help="the tier to install it on")
    p.add_argument("--dry-run", action="store_true", help="show what would happen; change nothing")
    p.add_argument("--yes", action="store_true", help="do not ask before changing a tier with outside users")
    p.add_argument("--force", action="store_true", help="override failing gates (needs --reason; recorded)")
    p.add_argument("--reason", help="why --force or --exclude: recorded in the ledger with your name")
    p.add_argument("--resume", action="store_true",
                   help="finish an interrupted or failed rollout: redo only the hosts not verified")
    p.add_argument("--exclude", action="append", default=[], metavar="HOST",
                   help="leave HOST (its URL, or its label in the tables) out, until it catches up; "
                        "repeatable; needs --reason")


def _tier_target(app: ReleasesApp, tier: Any) -> Any:
    from releases.hosts.install import Commands
    from releases.hosts.rollout import TierTarget

    return TierTarget(tier.name, tuple(tier.hosts), parallel=tier.parallel, on_failure=tier.on_failure,
                      keep=tier.keep, shared=tuple(tier.shared),
                      commands=Commands(tier.pre_activate, tier.post_activate, tier.health_check),
                      connect=app.connect_settings())


def promotion_request(app: ReleasesApp, build: Build, tier: Any, **options: Any) -> PromotionRequest:
    """The PromotionRequest of `build` to the configured `tier`; `options` as PromotionRequest takes them."""
    from releases.tiers.promote import PromotionRequest

    return PromotionRequest(build, _tier_target(app, tier), tuple(app.config.tier_names()), tier.channel,
                            **options)


def cmd_promote(app: ReleasesApp, args: argparse.Namespace) -> int:
    from releases.tiers.promote import check_reasons

    check_reasons(force=args.force, exclude=bool(args.exclude), reason=args.reason)
    tier = app.config.tier(args.tier)
    build = app.resolve_build(args.build)
    request = promotion_request(app, build, tier, resume=args.resume, exclude=tuple(args.exclude),
                                force=args.force, reason=args.reason, dry_run=args.dry_run)
    return run_promotion(app, request, yes=args.yes)


def run_promotion(app: ReleasesApp, request: PromotionRequest, *, yes: bool) -> int:
    """Promote through releases.tiers.promote with the app's gates, override record and question, and show
    what happened as `promote` does; `tick` and the demo promote through here too."""
    from releases.commands_check import show_checks
    from releases.hosts.preflight import PreflightFailed
    from releases.tiers.promote import promote

    build, tier = request.build, request.tier
    try:
        outcome = promote(app.ledger, app.store, request, gates=[lambda: app.promotion_gates(build, tier)],
                          record_override=lambda gates, reason: app.record_override(build, tier, list(gates),
                                                                                    reason),
                          confirm=lambda question: app.confirm(question, yes), report=_Report(app))
    except PreflightFailed as failed:
        show_checks(app, failed.checks, f"Pre-flight check of {tier} for {build.id}: FAILED")
        raise
    return show_promotion(app, outcome)


def show_promotion(app: ReleasesApp, outcome: PromotionOutcome) -> int:
    """The outcome for people or --json; a failed rollout raises PromotionFailed after its table,
    a successful one is followed by what follows it (app.after_promotion)."""
    from releases.tiers.promotion import PromotionFailed

    request, plan = outcome.request, outcome.plan
    if outcome.status == "already-running":
        return _already_running(app, request.build.id, request.target, plan)
    if outcome.status == "dry-run":
        return _show_dry_run(app, plan, request.target, outcome.artifact, list(outcome.gates),
                             list(outcome.overridden), outcome.locked_by)
    if outcome.status == "declined":
        app.err.print("nothing was promoted")
        return 1
    rollout = outcome.rollout
    assert rollout is not None  # succeeded or failed: a deployment ran
    _show_outcome(app, rollout, request.target, gates=list(outcome.gates),
                  overridden=list(outcome.overridden))
    if not outcome.ok:
        raise PromotionFailed.of(rollout, request.target)
    app.after_promotion(request.build, request.tier)
    return 0


class _Report:
    """What `promote` shows while it runs: the gate table, then each host's live progress."""

    def __init__(self, app: ReleasesApp) -> None:
        self.app = app

    def gates(self, request: PromotionRequest, verdicts: Sequence[GateVerdict], failing: Sequence[str], *,
              refused: bool) -> None:
        title = f"Gates for {request.build.id} → {request.tier}"
        from releases.terminal import gate_table

        if refused and self.app.json:
            self.app.emit_json([_gate_json(g) for g in verdicts])
        elif refused:
            self.app.out.print(gate_table(verdicts, title))
        elif verdicts and not self.app.json:
            overridden = " (overridden with --force)" if failing else ""
            self.app.out.print(gate_table(verdicts, title + overridden))

    def progress(self, target: Any) -> Any:
        return _progress(self.app, target)


def _gate_json(gate: Any) -> dict[str, Any]:
    return {"gate": gate.gate, "passed": bool(gate.passed), "detail": gate.detail}


def _already_running(app: ReleasesApp, build_id: str, target: Any, plan: Any) -> int:
    others = f" (except the excluded {', '.join(plan.excluded)})" if plan.excluded else ""
    if app.json:
        app.emit_json({"build": build_id, "tier": target.name, "kind": plan.kind,
                       "outcome": "already-running", "deployment": None,
                       "hosts": [{"url": url, "state": "verified"} for url in plan.previous
                                 if url in plan.carried]})
    else:
        app.out.print(f"[yellow]{build_id} already runs on every host of {target.name}{others}[/yellow], "
                      "verified; nothing was changed")
    return 0


def _show_dry_run(app: ReleasesApp, plan: Any, target: Any, artifact: Any, gates: list[Any],
                  failing: list[str], lock: Any) -> int:
    from releases.hosts.rollout import preview

    planned = preview(plan.rollout(target, artifact))
    locked = None if lock is None else f"{lock.owner} since {lock.acquired_at.isoformat()} ({lock.command})"
    if app.json:
        app.emit_json({"build": plan.build_id, "tier": target.name, "kind": plan.kind, "outcome": "dry-run",
                       "deployment": None, "gates": [_gate_json(g) for g in gates], "overridden": failing,
                       "locked_by": locked,
                       "resumes": plan.resumed_from.id if plan.resumed_from else None,
                       "hosts": [{"url": p.host.url, "role": p.host.role, "action": p.action, "note": p.note}
                                 for p in planned]})
        return 0
    from rich.markup import escape

    from releases.hosts.hostspec import labels
    from releases.terminal import table

    names = labels(target.hosts)
    app.out.print(table(f"Dry run: {plan.kind} {plan.build_id} → {target.name} "
                        f"(sha256 {artifact.sha256[:16]}…, checked)", ("host", "role", "would"),
                        [(names[p.host.url], p.host.role,
                          escape(p.action + (f": {p.note}" if p.note else ""))) for p in planned]))
    if locked:
        app.out.print(f"[red]{target.name} is locked by {locked}[/red]: the promotion would be refused")
    app.out.print("dry run: nothing was changed")
    return 0


class Watch:
    """What a person watching a rollout sees: per host, the step it is in, then how it ended.

    One column for both, so that a state and a step can never disagree
    ("uploading" beside "pre-activate"); hosts are labelled as in the table
    that follows (releases.hosts.hostspec.labels).
    """

    def __init__(self, target: Any, clock: Callable[[], float]) -> None:
        from releases.hosts.hostspec import labels

        self.target, self.clock, self.names = target, clock, labels(target.hosts)
        # per host: [the step it is in, or its final state once done; done?; started; ended]
        self.rows: dict[str, list[Any]] = {h.url: ["pending", False, None, None] for h in target.hosts}

    def update(self, host: Any, step: str, state: str) -> str | None:
        """Note a step (or "done" with the final state); the line to print where nothing is redrawn."""
        row = self.rows[host.url]
        if step != "done":
            row[0], row[2] = step, row[2] or self.clock()
            return None
        row[0], row[1], row[3] = state, True, self.clock() if row[2] is not None else None
        return f"  {self.names[host.url]}: {state}"

    def render(self) -> Any:
        from releases.terminal import Col, table

        lines = []
        for host in self.target.hosts:
            now, done, started, ended = self.rows[host.url]
            seconds = "" if started is None else f"{(ended or self.clock()) - started:.0f}"
            shown = state_style(now) if done else f"[cyan]{now}[/cyan]"
            lines.append((self.names[host.url], host.role, shown, seconds))
        return table(self.target.name, ("host", "role", "state", Col("s", "right")), lines, box=None)


def _progress(app: ReleasesApp, target: Any) -> Any:
    """The live display of a rollout on a terminal (a line per finished host elsewhere); the callback."""
    import contextlib
    import time

    @contextlib.contextmanager
    def live() -> Iterator[Callable[..., None] | None]:
        if app.json:
            yield None
            return
        watch = Watch(target, time.monotonic)

        def update(host: Any, step: str, state: str) -> None:
            line = watch.update(host, step, state)
            if line is not None and not app.err.is_terminal:
                app.err.print(line)

        if not app.err.is_terminal:
            yield update
            return
        from rich.live import Live

        with Live(watch.render(), console=app.err, transient=True, refresh_per_second=4,
                  get_renderable=watch.render):
            yield update

    return live()


def _host_json(h: Any) -> dict[str, Any]:
    return {"url": h.host.url, "name": h.host.name, "role": h.host.role, "state": h.state,
            "step": h.failed_step or (h.steps[-1].name if h.steps else None), "error": h.error,
            "previous": h.previous, "current": h.current,
            "seconds": round(sum(t.seconds for t in h.steps), 3)}


def _show_outcome(app: ReleasesApp, outcome: Any, target: Any, *, gates: Sequence[Any] = (),
                  overridden: Sequence[str] = ()) -> None:
    result = outcome.result
    hosts = [_host_json(h) for h in result.hosts]
    if app.json:
        app.emit_json({"build": result.build_id, "tier": target.name, "kind": outcome.kind,
                       "outcome": "succeeded" if outcome.ok else "failed",
                       "deployment": outcome.deployment_id,
                       "interrupted": list(outcome.interrupted), "gates": [_gate_json(g) for g in gates],
                       "overridden": list(overridden), "hosts": hosts,
                       "pruned": [{"url": p.host.url, "removed": list(p.removed),
                                   "archives_removed": list(p.archives_removed), "error": p.error}
                                  for p in result.pruned]})
        return
    from rich.markup import escape

    from releases.hosts.hostspec import labels
    from releases.terminal import Col, table

    names = labels(target.hosts)
    verdict = "[green]succeeded[/green]" if outcome.ok else "[red]FAILED[/red]"
    rows = [(names[h["url"]], h["role"], state_style(h["state"]), escape(failed.failed_step or ""),
             h["current"] or "?", f"{h['seconds']:.1f}", escape(h["error"] or ""))
            for h, failed in zip(hosts, result.hosts, strict=True)]
    app.out.print(table(f"{outcome.kind} {result.build_id} → {target.name}: {verdict} "
                        f"(deployment #{outcome.deployment_id}, {result.seconds:.1f}s)",
                        ("host", "role", "state", "step", "now runs", Col("s", "right"), "error"), rows))
    if outcome.interrupted:
        app.out.print(f"marked interrupted: deployment #{', #'.join(map(str, outcome.interrupted))}")
    if overridden:
        app.out.print(f"[yellow]overridden gates (recorded): {', '.join(overridden)}[/yellow]")
    removed = sum(len(p.removed) for p in result.pruned)
    archives = sum(len(p.archives_removed) for p in result.pruned)
    if removed or archives:
        app.out.print(f"retention removed {removed} old release(s) and {archives} uploaded archive(s); "
                      f"keeping {target.keep} per host")
    for p in result.pruned:
        if p.error:
            app.out.print(f"[yellow]retention on {names[p.host.url]} failed: {escape(p.error)}[/yellow]")


def _setup_rollback(p: argparse.ArgumentParser) -> None:
    p.add_argument("tier", metavar="TIER", help="the tier to roll back")
    p.add_argument("--to", metavar="BUILD", dest="to_build",
                   help="the release to return to (default: the one promoted before the running one)")
    p.add_argument("--yes", action="store_true", help="do not ask before changing a tier with outside users")


def cmd_rollback(app: ReleasesApp, args: argparse.Namespace) -> int:
    from releases.tiers.lease import TierLease
    from releases.tiers.promote import outside_users
    from releases.tiers.promotion import (
        PromotionFailed,
        PromotionRefused,
        execute_rollback,
        plan_rollback,
        releases_missing,
    )

    tier = app.config.tier(args.tier)
    target = _tier_target(app, tier)
    wanted = app.resolve_build(args.to_build).id if args.to_build else None
    with app.ledger.read() as conn:
        plan = plan_rollback(conn, target, wanted)
    if plan.nothing_to_do:
        app.out.print(f"[yellow]{tier.name} already runs {plan.to_build} on every host[/yellow]; "
                      "nothing was changed")
        return 0
    missing = releases_missing(target, plan.to_build)
    if missing:
        raise PromotionRefused(f"cannot roll {tier.name} back to {plan.to_build}: "
                               + "; ".join(problem for _, problem in missing),
                               hint="nothing was changed; name a release still on every host with --to BUILD")
    if outside_users(tier.channel) and not app.confirm(
            f"roll {tier.name} back to {plan.to_build} ({len(plan.previous)} host(s))?", args.yes):
        app.err.print("nothing was rolled back")
        return 1
    with TierLease(app.ledger, tier.name) as lease:
        with app.ledger.read() as conn:
            plan = plan_rollback(conn, target, plan.to_build)
        with _progress(app, target) as on_step:
            outcome = execute_rollback(app.ledger, target, plan, lease=lease, on_step=on_step)
    _show_outcome(app, outcome, target)
    if not outcome.ok:
        raise PromotionFailed.of(outcome, target)
    return 0


def _setup_unlock(p: argparse.ArgumentParser) -> None:
    p.add_argument("tier", metavar="TIER", help="the tier whose deploy lock to break")
    p.add_argument("--reason", required=True, help="why the lock is stale: recorded in the audit trail")


def cmd_unlock(app: ReleasesApp, args: argparse.Namespace) -> int:
    from releases.errors import UsageRefused
    from releases.tiers.deployments import break_lock

    tier = app.config.tier(args.tier)
    reason = args.reason.strip()
    if not reason:
        raise UsageRefused("--reason is empty", hint="say why the lock is stale; it is recorded")
    now = app.clock()
    lock = break_lock(app.ledger, tier.name, reason)
    if app.json:
        app.emit_json({"tier": tier.name, "broken": None if lock is None else {
            "owner": lock.owner, "since": lock.acquired_at.isoformat(), "command": lock.command,
            "holder": lock.holder, "lease_until": lock.lease_until.isoformat()}})
        return 0
    if lock is None:
        app.out.print(f"{tier.name} is not locked; nothing was changed")
        return 0
    app.out.print(f"broke the lock on {tier.name} held by {lock.owner} since "
                  f"{lock.acquired_at:%Y-%m-%d %H:%M:%S} UTC ({lock.command}); recorded with your reason")
    if lock.lease_until >= now and not lock.holder_gone():
        app.out.print(f"[yellow]its lease ran until {lock.lease_until:%H:%M:%S} UTC: if that rollout is "
                      "still running it stops at its next step[/yellow]")
    return 0
