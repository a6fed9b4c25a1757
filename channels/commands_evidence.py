"""`signoff` and `problem`: the beta programme's evidence, recorded and tracked to resolution."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from channels.app import ChannelsApp
from channels.cli import esc, local, table
from channels.errors import ChannelsError
from channels.gates.gates import OPEN, SEVERITIES
from releases.errors import UsageRefused

if TYPE_CHECKING:
    from channels.gates.beta import ProblemRecord

# ---------------------------------------------------------------- signoff


def _setup_signoff(p: argparse.ArgumentParser) -> None:
    p.usage = "%(prog)s [withdraw] BUILD --org ORG --by EMAIL [--note NOTE] [--json]"
    p.add_argument("build", metavar="BUILD", nargs="+",
                   help="build id, sha256 prefix, latest or @TIER; `signoff withdraw BUILD` takes the "
                        "organisation's sign-off back (the same contact, before the push)")
    p.add_argument("--org", required=True, help="the enrolled organisation signing off")
    p.add_argument("--by", required=True, metavar="EMAIL",
                   help="who signed off: a contact of the organisation, by email address")
    p.add_argument("--note", help="what they tested or said")


def cmd_signoff(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.gates.beta import add_signoff, signoffs_for
    from channels.gates.evidence import beta_tier

    words = args.build
    if words[0] == "withdraw" and len(words) == 2:
        return _withdraw(app, args, words[1])
    if len(words) != 1:
        raise UsageRefused(f"signoff {' '.join(words)}: give one BUILD, or `withdraw BUILD`",
                           hint="quarterdeck signoff BUILD --org ORG --by EMAIL")
    build = app.resolve_build(words[0])
    tier = beta_tier(app.config)
    with app.ledger.write() as conn:
        signed = add_signoff(app.ledger, conn, build_id=build.id, org_name=args.org, by=args.by,
                             note=args.note, beta_tier=tier)
        everyone = sorted({s.org for s in signoffs_for(conn, build.id)}, key=str.casefold)
    if app.json:
        app.emit_json({"build": build.id, "organisation": signed.org, "by": signed.by,
                       "at": signed.at.isoformat(), "signoffs": everyone})
        return 0
    app.out.print(f"[green]signed off[/green] {build.id} for [bold]{esc(signed.org)}[/bold] "
                  f"by {esc(signed.by)}; "
                  f"sign-offs now {len(everyone)}: {esc(', '.join(everyone))}")
    return 0


def _withdraw(app: ChannelsApp, args: argparse.Namespace, spec: str) -> int:
    from channels.gates.beta import withdraw_signoff
    from channels.gates.evidence import beta_tier, tier_after

    if args.note is not None:
        raise UsageRefused("--note is for a sign-off; a withdrawal keeps the sign-off's note in the log")
    build = app.resolve_build(spec)
    push_tier = tier_after(app.config.tiers, beta_tier(app.config))
    with app.ledger.write() as conn:
        withdrawn = withdraw_signoff(app.ledger, conn, build_id=build.id, org_name=args.org, by=args.by,
                                     push_tier=push_tier)
    if app.json:
        app.emit_json({"build": build.id, "organisation": withdrawn.org, "by": withdrawn.by,
                       "withdrawn": True})
        return 0
    app.out.print(f"[yellow]withdrawn[/yellow]: {esc(withdrawn.org)}'s sign-off of {build.id} "
                  f"(given by {esc(withdrawn.by)})")
    return 0


# ---------------------------------------------------------------- problem report / list

def _problem_id(text: str) -> int:
    value = text.strip().removeprefix("#")
    if not value.isdigit() or int(value) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a problem number like 12 or #12")
    return int(value)


def _setup_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", metavar="BUILD", help="the build the problem was found in")
    p.add_argument("--org", required=True, help="the organisation reporting it")
    p.add_argument("--severity", required=True, choices=SEVERITIES,
                   help="blocker stops promotion to production until resolved")
    p.add_argument("--summary", required=True, help="one line: what goes wrong")
    p.add_argument("--details", metavar="FILE", help="a text file with steps, logs, screenshots' names")
    p.add_argument("--by", metavar="EMAIL",
                   help="the contact of the organisation who found it (default: you, typing it in)")


def _read_details(path_text: str | None) -> str | None:
    from channels.gates.beta import DETAILS_MAX

    if not path_text:
        return None
    path = Path(path_text)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ChannelsError(f"--details {path_text}: cannot read it: {err.strerror or err}",
                            hint="check the path and its permissions") from err
    if len(data) > DETAILS_MAX:
        raise ChannelsError(f"--details {path_text} is {len(data)} bytes, more than {DETAILS_MAX}",
                            hint="attach a summary of the logs, not the logs themselves")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ChannelsError(f"--details {path_text} is not UTF-8 text (byte {err.start})",
                            hint="save it as UTF-8 text") from err


def cmd_problem_report(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.gates.beta import report_problem

    build = app.resolve_build(args.build)
    details = _read_details(args.details)
    with app.ledger.write() as conn:
        problem = report_problem(app.ledger, conn, build_id=build.id, org_name=args.org,
                                 severity=args.severity, summary=args.summary, details=details, by=args.by)
    if app.json:
        app.emit_json(problem.as_dict())
    else:
        colour = "red" if problem.severity == "blocker" else "yellow"
        app.out.print(f"problem [bold]#{problem.id}[/bold] reported against {build.id}: "
                      f"[{colour}]{problem.severity}[/{colour}] {esc(problem.summary)} "
                      f"({esc(problem.organisation)}); it applies to later builds until resolved")
    app.after_problem_report(problem)  # a blocker typed in here stops the push as one from a tester
    return 0


def _setup_list(p: argparse.ArgumentParser) -> None:
    p.add_argument("--open", action="store_true", help="only problems still open")
    p.add_argument("--build", metavar="BUILD",
                   help="the problems that count against this build (also those carried from earlier builds)")


def cmd_problem_list(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.gates.beta import all_problems
    from channels.gates.betaview import counting_against
    from channels.gates.evidence import build_order

    build = app.resolve_build(args.build) if args.build else None
    with app.ledger.read() as conn:
        found = all_problems(conn)
        order = build_order(conn)
    applies: set[int] = set()
    if build is not None:
        applies = {p.id for p in counting_against(found, order, build.id)}
        found = [p for p in found if p.id in applies or p.build == build.id]
    if args.open:
        found = [p for p in found if p.status == OPEN]
    if app.json:
        app.emit_json([{**p.as_dict(), **({"applies": p.id in applies} if build else {})} for p in found])
        return 0
    if not found:
        app.out.print("no problem reports" + (f" for {build.id}" if build else "")
                      + (" open" if args.open else ""))
        return 0
    title = f"Problems counting against {build.id}" if build else "Problem reports"
    grid = table(title, "#", "build", "organisation", "severity", "status", "summary", "reported",
                 "resolution")
    for p in found:
        _problem_row(grid, p, app.config.timezone, build.id if build else None, p.id in applies)
    app.out.print(grid)
    return 0


def _problem_row(grid: Table, p: ProblemRecord, zone: str, build: str | None, applies: bool) -> None:
    colour = {"blocker": "red", "major": "yellow"}.get(p.severity, "dim")
    status = "[red]open[/red]" if p.status == OPEN else "[green]resolved[/green]"
    if build is not None and not applies:
        status += " [dim](not against this build)[/dim]"
    resolution = ""
    if p.resolution:
        resolution = esc(p.resolution) + (f" [dim](fixed in {p.fixed_in})[/dim]" if p.fixed_in else "")
    grid.add_row(str(p.id), p.build, esc(p.organisation),
                 f"[{colour}]{p.severity}[/{colour}]", status, esc(p.summary),
                 f"{local(p.reported_at, zone)} {esc(p.reported_by)}", resolution)


# ---------------------------------------------------------------- problem resolve / reopen

def _setup_resolve(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", metavar="ID", type=_problem_id, help="the problem number")
    p.add_argument("--resolution", required=True, help="what was done about it")
    p.add_argument("--fixed-in", metavar="BUILD",
                   help="the first build with the fix (earlier builds still count it)")


def cmd_problem_resolve(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.gates.beta import resolve_problem
    from channels.gates.evidence import build_order

    fixed_in = app.resolve_build(args.fixed_in).id if args.fixed_in else None
    with app.ledger.write() as conn:
        problem = resolve_problem(app.ledger, conn, args.id, resolution=args.resolution, fixed_in=fixed_in,
                                  order=build_order(conn))
    if app.json:
        app.emit_json(problem.as_dict())
        return 0
    scope = (f"; it still counts against builds before {fixed_in}" if fixed_in
             else "; it no longer counts against any build")
    app.out.print(f"problem [bold]#{problem.id}[/bold] resolved{scope}")
    return 0


def _setup_reopen(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", metavar="ID", type=_problem_id, help="the problem number")
    p.add_argument("--reason", help="why it is back (kept in the audit log)")


def cmd_problem_reopen(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.gates.beta import get_problem, reopen_problem

    with app.ledger.write() as conn:
        before = get_problem(conn, args.id)
        problem = reopen_problem(app.ledger, conn, args.id, reason=args.reason)
    if app.json:
        app.emit_json(problem.as_dict())
        return 0
    app.out.print(f"problem [bold]#{problem.id}[/bold] reopened (it was resolved by "
                  f"{esc(before.resolved_by or '')}: {esc(before.resolution or '')}); it counts against "
                  f"{problem.build} and later builds again")
    return 0
