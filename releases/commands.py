"""The build and status commands: what a release manager runs to make builds and see where they run.

Handlers get pipeline's App as a `releases.app.ReleasesApp` (configuration values, the
ledger, consoles, and hooks such as the next push date that need other packages), so
this package never imports channels or notify.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from releases.errors import ReleasesError

if TYPE_CHECKING:
    from releases.app import BetaSummary, ReleasesApp
    from releases.artifacts.buildview import Build


class UnknownBuild(ReleasesError):
    """A BUILD argument names no build in the ledger."""


Add = Callable[..., None]



def _setup_build(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ref", help="branch, tag or commit to build (default: [project].branch)")


def cmd_build(app: ReleasesApp, args: argparse.Namespace) -> int:
    from releases.artifacts.artifact import size_text
    from releases.artifacts.builds import BuildRecipe, make_build
    from releases.artifacts.gitrepo import AppRepo

    cfg = app.config
    window = app.next_push()
    outcome = make_build(
        app.ledger, app.store, AppRepo(cfg.repo),
        ref=args.ref or cfg.branch,
        next_push=window.start.date() if window else app.clock().date(),
        recipe=BuildRecipe(cfg.build_command or None, cfg.build_output),
        released=released_versions(app),
    )
    build = outcome.build
    if app.json:
        app.emit_json({**build.to_json(), "created": outcome.created})
    elif outcome.created:
        app.out.print(f"built [bold]{build.id}[/bold] from {build.commit[:12]} ({build.ref}) "
                      f"sha256 {build.sha256[:16]}… {size_text(build.size)}")
    else:
        app.out.print(f"[yellow]already built[/yellow]: {build.commit[:12]} ({build.ref}) is "
                      f"[bold]{build.id}[/bold] (sha256 {build.sha256[:16]}…); nothing new was made")
    return 0


def released_versions(app: ReleasesApp) -> list[Any]:
    """Versions that completed a rollout on the last tier: shipped, so a hotfix goes above them."""
    from releases.artifacts.builds import get_build
    from releases.artifacts.version import Version
    from releases.tiers.deployments import builds_released_on

    with app.ledger.read() as conn:
        ids = builds_released_on(conn, app.config.tiers[-1].name)
        return [Version.parse(b.version) for b in (get_build(conn, i) for i in ids) if b]


def resolve_build(app: ReleasesApp, spec: str) -> Build:
    """BUILD on the command line: a build id, a sha256 prefix, `latest`, or `@TIER`."""
    from releases.artifacts.buildview import find_by_sha_prefix, get_build, latest_build
    from releases.tiers.tierview import host_statuses

    with app.ledger_rows() as rows:  # no SQLAlchemy on a SQLite ledger: BUILD comes before most commands
        if spec == "latest":
            build = latest_build(rows)
            if build is None:
                raise UnknownBuild("there are no builds yet", hint="run `quarterdeck build`")
            return build
        if spec.startswith("@"):
            tier = app.config.tier(spec[1:]).name
            running = {s.build_id for s in host_statuses(rows, tier) if s.build_id}
            if not running:
                raise UnknownBuild(f"no build runs on {tier}")
            if len(running) > 1:
                raise UnknownBuild(f"{tier} is mixed ({', '.join(sorted(running))}); name the build")
            found = get_build(rows, running.pop())
            if found is None:
                raise UnknownBuild(f"the build running on {tier} is not in the ledger")
            return found
        build = get_build(rows, spec)
        if build is not None:
            return build
        if len(spec) >= 6 and all(c in "0123456789abcdefABCDEF" for c in spec):
            matches = find_by_sha_prefix(rows, spec)
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise UnknownBuild(f"sha256 prefix {spec!r} matches {len(matches)} builds",
                                 hint="give more characters")
    raise UnknownBuild(f"no build {spec!r}",
                     hint="give a build id (2026.4.0+b7), a sha256 prefix, latest or @TIER; "
                          "`quarterdeck builds` lists them")


def _setup_builds(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", type=int, default=50, help="newest N builds (default 50)")


def cmd_builds(app: ReleasesApp, args: argparse.Namespace) -> int:
    from rich.table import Table

    from releases.artifacts.artifact import size_text
    from releases.artifacts.builds import list_builds

    with app.ledger.read() as conn:
        items = list_builds(conn, limit=args.limit)
    if app.json:
        app.emit_json([b.to_json() for b in items])
        return 0
    table = Table(title="Builds", title_justify="left")
    for col in ("build", "commit", "ref", "sha256", "size", "created"):
        table.add_column(col)
    for b in items:
        table.add_row(b.id, b.commit[:12], b.ref, b.sha256[:12], size_text(b.size),
                      f"{b.created_at:%Y-%m-%d %H:%M} UTC {b.created_by}")  # the ledger's times are UTC
    if not items:
        app.out.print("no builds yet: run [bold]quarterdeck build[/bold]")
    else:
        app.out.print(table)
    return 0


def _setup_show(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", metavar="BUILD", help="build id, sha256 prefix, latest or @TIER")


def cmd_show(app: ReleasesApp, args: argparse.Namespace) -> int:
    from releases.tiers.deployments import host_statuses

    build = resolve_build(app, args.build)
    with app.ledger.read() as conn:
        running = [{"tier": s.tier, "host": s.host, "state": s.state}
                   for s in host_statuses(conn) if s.build_id == build.id]
    if app.json:
        app.emit_json({**build.to_json(), "running_on": running})
        return 0
    from rich.table import Table

    table = Table(show_header=False, title=f"Build {build.id}", title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in build.to_json().items():
        table.add_row(key, "" if value is None else str(value))
    where = ", ".join(f"{r['tier']}:{r['host']} ({r['state']})" for r in running) or "nowhere"
    table.add_row("running on", where)
    app.out.print(table)
    return 0


def _tier_status(rows: Any, tier: Any, states: dict[tuple[str, str], Any],
                 excluded: dict[tuple[str, str], str], now: Any) -> dict[str, Any]:
    """One tier for `status`: what each host runs, and the newest rollout if it did not succeed."""
    from releases.tiers.tierview import build_unknown, current_lock, deployment_hosts, latest_deployment

    last = latest_deployment(rows, tier.name)
    progress = {r.host: r for r in deployment_hosts(rows, last.id)} if last else {}
    lock = current_lock(rows, tier.name)
    unfinished = last is not None and last.state == "running"
    alive = unfinished and lock is not None and not lock.holder_gone() and lock.lease_until >= now
    died = last is not None and (last.state == "interrupted" or (unfinished and not alive))
    hosts = []
    for host in tier.hosts:
        s, row = states.get((tier.name, host.url)), progress.get(host.url)
        state = s.state if s else "empty"
        if unfinished and row is not None and row.state != "verified":
            state = row.state  # the rollout in flight (or killed) is the news
        if (tier.name, host.url) in excluded:
            state = "excluded"
        unknown = died and row is not None and last is not None and build_unknown(last.kind, row)
        hosts.append({"url": host.url, "role": host.role,
                      "build": None if unknown or not s else s.build_id, "build_unknown": unknown,
                      "state": state,
                      "step": row.step if row and last and last.state != "succeeded" else None,
                      "error": row.error if row else None,
                      "excluded": excluded.get((tier.name, host.url))})
    running = {h["build"] for h in hosts if h["build"]}
    unknown_any = any(h["build_unknown"] for h in hosts)
    deployment = None
    if last is not None:
        deployment = {"id": last.id, "kind": last.kind, "build": last.build_id, "state": last.state,
                      "started_at": last.started_at.isoformat(), "started_by": last.started_by,
                      "finished_at": last.finished_at.isoformat() if last.finished_at else None,
                      "resumed_from": last.resumed_from, "alive": alive}
    return {"name": tier.name, "channel": tier.channel,
            "build": running.pop() if len(running) == 1 and not unknown_any else None,
            "mixed": len(running) > 1, "build_unknown": unknown_any,
            "hosts": hosts, "deployment": deployment,
            "lock": None if lock is None else {"owner": lock.owner, "since": lock.acquired_at.isoformat(),
                                               "lease_until": lock.lease_until.isoformat(),
                                               "command": lock.command, "holder": lock.holder}}


def cmd_status(app: ReleasesApp, args: argparse.Namespace) -> int:
    from releases.tiers.tierview import active_exclusions, host_statuses

    cfg = app.config
    now = app.clock()
    with app.ledger_rows() as rows:
        states = {(s.tier, s.host): s for s in host_statuses(rows)}
        excluded = active_exclusions(rows)
        tiers = [_tier_status(rows, tier, states, excluded, now) for tier in cfg.tiers]
    window = app.next_push()
    beta = app.beta_summary()
    payload = {"tiers": tiers, "next_push": window.start.isoformat() if window else None,
               "beta": None if beta is None else beta_json(beta)}
    if app.json:
        app.emit_json(payload)
        return 0
    from rich.markup import escape

    from releases.hosts.hostspec import labels
    from releases.terminal import table

    lines: list[tuple[str, ...]] = []
    ends: list[int] = []
    for tier, configured in zip(tiers, cfg.tiers, strict=True):
        label = tier["build"] or ("[red]mixed[/red]" if tier["mixed"] else
                                  "[yellow]unknown until checked[/yellow]" if tier["build_unknown"] else
                                  "[dim]empty[/dim]")
        names = labels(configured.hosts)  # short, and the same as promote's tables
        for i, host in enumerate(tier["hosts"]):
            note = f"excluded: {host['excluded']}" if host["excluded"] else host["error"] or (
                f"build unknown until checked (stopped in {host['step']})" if host["build_unknown"] else "")
            lines.append((tier["name"] if i == 0 else "", tier["channel"] if i == 0 else "",
                         label if i == 0 else "", escape(names[host["url"]]), host["role"],
                         state_style(host["state"]), host["step"] or "", escape(note)))
        ends.append(len(lines) - 1)
    app.out.print(table(f"{cfg.project_name}: status",
                        ("tier", "channel", "build", "host", "role", "state", "step", "note"), lines,
                        sections=ends))
    for tier in tiers:
        for line in _tier_notes(tier):
            app.out.print(line)
    for line in beta_lines(beta) if beta is not None else ():
        app.out.print(line)
    if window:
        app.out.print(f"next quarterly push: [bold]{window.start:%a %Y-%m-%d %H:%M}[/bold] "
                      f"{cfg.timezone} ({window.start_utc:%Y-%m-%d %H:%M} UTC)")
    return 0


def _tier_notes(tier: dict[str, Any]) -> list[str]:
    """Lines under the status table for what needs attention: unfinished rollouts and locks."""
    from rich.markup import escape

    lines = []
    dep, lock, name = tier["deployment"], tier["lock"], tier["name"]
    if dep and dep["state"] != "succeeded":
        what = f"{name}: {dep['kind']} of {dep['build']} (#{dep['id']}, started {dep['started_at'][:16]} " \
               f"by {dep['started_by']})"
        if dep["state"] == "running" and dep["alive"]:
            lines.append(f"[cyan]{escape(what)} is running[/cyan]")
        elif dep["state"] in ("running", "interrupted"):
            again = (f"quarterdeck rollback {name} --to {dep['build']}" if dep["kind"] == "rollback"
                     else f"quarterdeck promote {dep['build']} --to {name} --resume")
            lines.append(f"[red]{escape(what)} was interrupted[/red]: finish it with [bold]{again}[/bold]")
        else:
            lines.append(f"[red]{escape(what)} {dep['state']}[/red]")
    if lock:
        lines.append(f"{name} is locked by {escape(lock['owner'])} since {lock['since'][:19]} "
                     f"({escape(lock['command'])})")
    return lines


def beta_json(beta: BetaSummary) -> dict[str, Any]:
    """`status --json`'s "beta": the beta build's sign-offs, who is still awaited, and its problems."""
    return {"tier": beta.tier, "build": beta.build,
            "signed_off": [{"organisation": s.org, "by": s.by, "at": s.at.isoformat()}
                           for s in beta.signed_off],
            "waiting_for": list(beta.waiting_for),
            "open_problems": dict(beta.open_problems),
            "blockers": [{"id": p.id, "build": p.build, "organisation": p.organisation, "summary": p.summary,
                          "status": p.status, "fixed_in": p.fixed_in} for p in beta.blockers]}


def beta_lines(beta: BetaSummary) -> list[str]:
    """Lines under the status table for the beta: who signed its build off, who has not yet, and
    the problems counting against it, each blocker by number (as `problem list` names it)."""
    from rich.markup import escape

    if beta.build is None:
        return [f"beta on {beta.tier}: [dim]no build yet[/dim]"]
    signed = ", ".join(s.org for s in beta.signed_off)
    waiting = ", ".join(beta.waiting_for)
    counts = ", ".join(f"{severity} {count}" for severity, count in beta.open_problems.items())
    lines = [f"beta on {beta.tier}: [bold]{beta.build}[/bold]",
             f"  signed off: {f'[green]{escape(signed)}[/green]' if signed else 'nobody yet'}",
             f"  waiting for: {f'[yellow]{escape(waiting)}[/yellow]' if waiting else 'nobody'}",
             f"  open problems: {counts}"]
    for p in beta.blockers:
        where = "" if p.build == beta.build else f", reported against {p.build}"
        fixed = f", fixed only in the later build {p.fixed_in}" if p.fixed_in else ""
        lines.append(f"  [red]blocker #{p.id}[/red] {escape(p.summary)} "
                     f"({escape(p.organisation)}{where}{fixed})")
    return lines


def state_style(state: str) -> str:
    colour = {"verified": "green", "failed": "red", "rolled-back": "yellow", "excluded": "magenta",
              "empty": "dim"}.get(state, "cyan")
    return f"[{colour}]{state}[/{colour}]"
