"""`quarterdeck check TIER`: the pre-flight check that `promote` runs, asked on request.

Its table is the one `promote` shows when the check stops a promotion, so a
release manager reads the same words in both places.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from releases.app import ReleasesApp

if TYPE_CHECKING:
    from releases.hosts.preflight import HostCheck


def _setup_check(p: argparse.ArgumentParser) -> None:
    p.add_argument("tier", metavar="TIER", help="the tier whose hosts to check")
    p.add_argument("--build", metavar="BUILD",
                   help="count the disk space this build needs (default: the latest build, if any)")


def cmd_check(app: ReleasesApp, args: argparse.Namespace) -> int:
    from releases.errors import DeployError
    from releases.hosts.preflight import preflight
    from releases.hosts.rollout import rollout_order
    from releases.hosts.unpack import check_archive

    tier = app.config.tier(args.tier)
    build = app.resolve_build(args.build or "latest") if args.build or _has_builds(app) else None
    artifact = check_archive(app.store.verified(build.sha256), build.sha256) if build else None
    checks = preflight(rollout_order(tuple(tier.hosts)), artifact, build.id if build else None,
                       connect=app.connect_settings())
    what = f"{build.id}" if build else "a build"
    show_checks(app, checks, f"Pre-flight check of {tier.name} for {what}")
    failed = [c for c in checks if not c.ok]
    if failed:
        raise DeployError(f"{len(failed)} of {len(checks)} host{'s' if len(checks) != 1 else ''} of "
                          f"{tier.name} cannot take {what}",
                          hint=f"the table says what each lacks; fix it, then run "
                               f"`quarterdeck check {tier.name}` again")
    if not app.json:
        app.out.print(f"[green]every host of {tier.name} can take {what}[/green]")
    return 0


def _has_builds(app: ReleasesApp) -> bool:
    from releases.artifacts.buildview import latest_build

    with app.ledger_rows() as rows:
        return latest_build(rows) is not None


def show_checks(app: ReleasesApp, checks: Sequence[HostCheck], title: str) -> None:
    """Each host's answers: a table for people, a list for --json."""
    if app.json:
        app.emit_json([c.as_dict() for c in checks])
        return
    from rich.markup import escape

    from releases.artifacts.artifact import size_text
    from releases.hosts.hostspec import labels
    from releases.terminal import result_cell, table

    names = labels(c.host for c in checks)
    rows: list[Sequence[Any]] = []
    for c in checks:
        free = "" if c.free_bytes is None else size_text(c.free_bytes)
        rows.append((names[c.host.url], c.host.role, result_cell(c.ok), free,
                     escape("; ".join(c.problems))))
    app.out.print(table(title, ("host", "role", "result", "free", "problems"), rows))
