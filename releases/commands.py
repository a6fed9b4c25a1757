"""The build and status commands: what a release manager runs to make builds and see where they run.

Handlers get a `Context` from pipeline.py (configuration values, the ledger,
consoles, and hooks such as the next push date that need other packages), so
this package never imports channels or notify.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Protocol

from .errors import ReleasesError


class UnknownBuild(ReleasesError):
    """A BUILD argument names no build in the ledger."""


class Context(Protocol):
    config: Any
    ledger: Any
    out: Any
    json: bool

    def emit_json(self, payload: Any) -> None: ...

    def confirm(self, question: str, yes: bool) -> bool: ...

    def next_push(self) -> Any: ...

    def clock(self) -> Any: ...


Add = Callable[..., None]


def _setup_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON on stdout and nothing else")



def _setup_build(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ref", help="branch, tag or commit to build (default: [project].branch)")
    _setup_json(p)


def cmd_build(app: Context, args: argparse.Namespace) -> int:
    from releases.artifact import ArtifactStore
    from releases.builds import BuildRecipe, make_build
    from releases.gitrepo import AppRepo

    cfg = app.config
    window = app.next_push()
    outcome = make_build(
        app.ledger, ArtifactStore(cfg.artifacts_dir), AppRepo(cfg.repo),
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
                      f"sha256 {build.sha256[:16]}… {_size(build.size)}")
    else:
        app.out.print(f"[yellow]already built[/yellow]: {build.commit[:12]} ({build.ref}) is "
                      f"[bold]{build.id}[/bold] (sha256 {build.sha256[:16]}…); nothing new was made")
    return 0


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def released_versions(app: Context) -> list[Any]:
    """Versions that completed a rollout on the last tier: shipped, so a hotfix goes above them."""
    from releases.builds import get_build
    from releases.deployments import builds_released_on
    from releases.version import Version

    with app.ledger.read() as conn:
        ids = builds_released_on(conn, app.config.tiers[-1].name)
        return [Version.parse(b.version) for b in (get_build(conn, i) for i in ids) if b]


def resolve_build(app: Context, spec: str) -> Any:
    """BUILD on the command line: a build id, a sha256 prefix, `latest`, or `@TIER`."""
    from releases.builds import find_by_sha_prefix, get_build, latest_build
    from releases.deployments import host_statuses

    with app.ledger.read() as conn:
        if spec == "latest":
            build = latest_build(conn)
            if build is None:
                raise UnknownBuild("there are no builds yet", hint="run `quarterdeck build`")
            return build
        if spec.startswith("@"):
            tier = app.config.tier(spec[1:]).name
            running = {s.build_id for s in host_statuses(conn, tier) if s.build_id}
            if not running:
                raise UnknownBuild(f"no build runs on {tier}")
            if len(running) > 1:
                raise UnknownBuild(f"{tier} is mixed ({', '.join(sorted(running))}); name the build")
            found = get_build(conn, running.pop())
            if found is None:
                raise UnknownBuild(f"the build running on {tier} is not in the ledger")
            return found
        build = get_build(conn, spec)
        if build is not None:
            return build
        if len(spec) >= 6 and all(c in "0123456789abcdefABCDEF" for c in spec):
            matches = find_by_sha_prefix(conn, spec)
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
    _setup_json(p)


def cmd_builds(app: Context, args: argparse.Namespace) -> int:
    from rich.table import Table

    from releases.builds import list_builds

    with app.ledger.read() as conn:
        items = list_builds(conn, limit=args.limit)
    if app.json:
        app.emit_json([b.to_json() for b in items])
        return 0
    table = Table(title="Builds", title_justify="left")
    for col in ("build", "commit", "ref", "sha256", "size", "created"):
        table.add_column(col)
    for b in items:
        table.add_row(b.id, b.commit[:12], b.ref, b.sha256[:12], _size(b.size),
                      f"{b.created_at:%Y-%m-%d %H:%M} {b.created_by}")
    if not items:
        app.out.print("no builds yet: run [bold]quarterdeck build[/bold]")
    else:
        app.out.print(table)
    return 0


def _setup_show(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", metavar="BUILD", help="build id, sha256 prefix, latest or @TIER")
    _setup_json(p)


def cmd_show(app: Context, args: argparse.Namespace) -> int:
    from releases.deployments import host_statuses

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


def cmd_status(app: Context, args: argparse.Namespace) -> int:
    from releases.deployments import active_exclusions, host_statuses

    cfg = app.config
    with app.ledger.read() as conn:
        states = {(s.tier, s.host): s for s in host_statuses(conn)}
        excluded = active_exclusions(conn)
    window = app.next_push()
    tiers = []
    for tier in cfg.tiers:
        hosts = []
        for host in tier.hosts:
            s = states.get((tier.name, host.url))
            state = "excluded" if (tier.name, host.url) in excluded else (s.state if s else "empty")
            hosts.append({"url": host.url, "role": host.role, "build": s.build_id if s else None,
                          "state": state})
        running = {h["build"] for h in hosts if h["build"]}
        tiers.append({"name": tier.name, "channel": tier.channel,
                      "build": running.pop() if len(running) == 1 else None,
                      "mixed": len(running) > 1, "hosts": hosts})
    payload = {"tiers": tiers, "next_push": window.start.isoformat() if window else None}
    if app.json:
        app.emit_json(payload)
        return 0
    from rich.table import Table

    table = Table(title=f"{cfg.project_name}: status", title_justify="left")
    for col in ("tier", "channel", "build", "host", "role", "state"):
        table.add_column(col)
    for tier in tiers:
        label = tier["build"] or ("[red]mixed[/red]" if tier["mixed"] else "[dim]empty[/dim]")
        for i, host in enumerate(tier["hosts"]):
            table.add_row(tier["name"] if i == 0 else "", tier["channel"] if i == 0 else "",
                          label if i == 0 else "", host["url"], host["role"],
                          _state_style(host["state"]), end_section=i == len(tier["hosts"]) - 1)
    app.out.print(table)
    if window:
        app.out.print(f"next quarterly push: [bold]{window.start:%a %Y-%m-%d %H:%M}[/bold] "
                      f"{cfg.timezone} ({window.start_utc:%Y-%m-%d %H:%M} UTC)")
    return 0


def _state_style(state: str) -> str:
    colour = {"verified": "green", "failed": "red", "rolled-back": "yellow", "excluded": "magenta",
              "empty": "dim"}.get(state, "cyan")
    return f"[{colour}]{state}[/{colour}]"


def register(add: Add) -> None:
    add('build', 'make an immutable, checksummed build of a commit', cmd_build, _setup_build)
    add('builds', 'list builds, newest first', cmd_builds, _setup_builds)
    add('show', 'show one build and where it runs', cmd_show, _setup_show)
    add('status', 'which build runs on which tier and host, and the next push', cmd_status, _setup_json)
