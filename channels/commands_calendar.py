"""`calendar`, `schedule`, `hold`, `release-hold` and `gates`: when a build may go, and whether it may."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING, Any

from channels.app import ChannelsApp
from channels.calendar.calendar import (
    PushWindow,
    format_window,
    next_pushes,
    parse_local_datetime,
    window_starting,
)
from channels.cli import esc, iso, local, table, utc_text
from channels.gates.gates import failing
from channels.settings import zone_of
from releases.errors import UsageRefused

if TYPE_CHECKING:
    from channels.store import Schedule
    from releases.artifacts.buildview import Build

MAX_COUNT = 40

# ---------------------------------------------------------------- calendar


def _setup_calendar(p: argparse.ArgumentParser) -> None:
    p.add_argument("--count", type=int, default=4, help=f"how many pushes to show (1-{MAX_COUNT}, default 4)")


def _both(moment: datetime, zone: str) -> str:
    return f"{local(moment, zone)}\n[dim]{utc_text(moment)}[/dim]"


def cmd_calendar(app: ChannelsApp, args: argparse.Namespace) -> int:
    if not 1 <= args.count <= MAX_COUNT:
        raise UsageRefused(f"--count {args.count} must be between 1 and {MAX_COUNT}")
    rule = app.calendar_rule()
    windows = next_pushes(rule, app.clock(), args.count, include_open=True)
    if app.json:
        app.emit_json([w.as_dict() for w in windows])
        return 0
    from releases.terminal import table as fitted

    # Four columns, each cell a few short lines, so that at 80 columns no time is split: the window
    # in the project's zone over its UTC times, then each milestone in both zones.
    rows = [(f"{w.start:%a} {w.label}\n[dim]{format_window(w.start_utc, w.end_utc, 'UTC')}[/dim]",
             _both(w.freeze, w.timezone), _both(w.beta_start, w.timezone),
             _both(w.notice_deadline, w.timezone)) for w in windows]
    app.out.print(fitted(f"Quarterly pushes: {rule.describe()}",
                         ("push window", "code freeze", "beta start", "notice deadline"), rows,
                         sections=range(len(rows))))
    for w in windows:
        if w.note:
            app.out.print(f"[yellow]note[/yellow] {w.date}: {esc(w.note)}")
    return 0


# ---------------------------------------------------------------- schedule

def _setup_schedule(p: argparse.ArgumentParser) -> None:
    p.usage = ("quarterdeck schedule BUILD (--at 'YYYY-MM-DD HH:MM' [--tz ZONE] | --next-window) "
               "[--reason TEXT]\n       quarterdeck schedule cancel BUILD --reason TEXT\n"
               "       quarterdeck schedule show BUILD")
    p.add_argument("first", metavar="BUILD", help="the build to schedule, or `cancel` / `show` then BUILD")
    p.add_argument("build", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--at", metavar="'YYYY-MM-DD HH:MM'", help="window start, wall time in --tz")
    p.add_argument("--tz", metavar="ZONE", help="IANA zone of --at (default: the project's)")
    p.add_argument("--next-window", action="store_true", help="the next quarterly push window")
    p.add_argument("--reason", help="why (required to move or cancel a scheduled push); SENT WORD FOR WORD "
                                    "to every customer in the rescheduled or cancelled notice, after "
                                    "\"Why:\", and kept in the audit trail")
    p.add_argument("--send-notice", action=argparse.BooleanOptionalAction, default=None,
                   help="after a move or cancellation of an announced push, send the rescheduled or "
                        "cancelled notice now (--no-send-notice: only say it is due); default: ask on "
                        "a terminal, else only say it is due")


def _schedule_dict(s: Schedule | None, zone: str) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"id": s.id, "state": s.state, "start": iso(s.window_start), "end": iso(s.window_end),
            "start_local": s.window_start.astimezone(zone_of(zone)).isoformat(),
            "end_local": s.window_end.astimezone(zone_of(zone)).isoformat(),
            "reason": s.reason, "at": iso(s.created_at), "by": s.created_by}


def _label(s: Schedule, zone: str) -> str:
    return f"{format_window(s.window_start, s.window_end, zone)} ({utc_text(s.window_start)})"


def cmd_schedule(app: ChannelsApp, args: argparse.Namespace) -> int:
    action, spec = (args.first, args.build) if args.first in ("cancel", "show") and args.build \
        else ("set", args.first)
    if args.build and action == "set":
        raise UsageRefused(f"unexpected {args.build!r} after BUILD",
                           hint="quarterdeck schedule BUILD --at ...; schedule cancel BUILD; "
                                "schedule show BUILD")
    if spec in ("cancel", "show"):
        raise UsageRefused(f"schedule {spec} needs BUILD", hint=f"quarterdeck schedule {spec} BUILD")
    if action != "set" and (args.at or args.next_window or args.tz):
        raise UsageRefused(f"schedule {action} takes no --at, --tz or --next-window")
    if action == "show" and args.send_notice is not None:
        raise UsageRefused("schedule show takes no --send-notice")
    build = app.resolve_build(spec)
    if action == "show":
        return _show_schedule(app, build.id)
    if action == "cancel":
        return _cancel(app, build, args.reason, args.send_notice)
    return _set(app, build, args)


def _window(app: ChannelsApp, args: argparse.Namespace) -> PushWindow:
    if bool(args.at) == bool(args.next_window):
        raise UsageRefused("give either --at 'YYYY-MM-DD HH:MM' or --next-window",
                           hint="quarterdeck schedule BUILD --next-window")
    if args.tz and not args.at:
        raise UsageRefused("--tz goes with --at")
    rule, now = app.calendar_rule(), app.clock()
    if args.next_window:
        return next_pushes(rule, now, 1)[0]
    start = parse_local_datetime(args.at, args.tz or app.config.timezone, now=now)
    return window_starting(rule, start)


def _set(app: ChannelsApp, build: Build, args: argparse.Namespace) -> int:
    from channels.calendar.scheduling import set_schedule

    build_id = build.id
    window = _window(app, args)
    zone = app.config.timezone
    with app.ledger.write() as conn:
        change = set_schedule(app.ledger, conn, build_id, start=window.start, end=window.end,
                              reason=args.reason, timezone=zone)
    if app.json:
        notice = app.after_schedule_change(build, args.send_notice) if change.kind == "moved" else None
        app.emit_json({"build": build_id, "result": change.kind,
                       "schedule": _schedule_dict(change.schedule, zone),
                       "previous": _schedule_dict(change.previous, zone) if change.changed else None,
                       "notice_deadline": iso(window.notice_deadline), "notice": notice})
        return 0
    now_in_force = _label(change.schedule, zone)
    if change.kind == "unchanged":
        app.out.print(f"[yellow]nothing changed[/yellow]: {build_id} is already scheduled for {now_in_force}")
        return 0
    if change.kind == "moved" and change.previous is not None:
        app.out.print(f"moved the push of [bold]{build_id}[/bold] from {_label(change.previous, zone)} "
                      f"to [bold]{now_in_force}[/bold]: {esc(change.schedule.reason or '')}")
    else:
        app.out.print(f"scheduled [bold]{build_id}[/bold] for [bold]{now_in_force}[/bold]")
    deadline = window.notice_deadline
    if deadline <= app.clock():
        app.out.print(f"[yellow]warning[/yellow]: the advance-notice deadline ({local(deadline, zone)}) "
                      "has already passed for this window")
    else:
        app.out.print(f"advance notice due by {local(deadline, zone)}")
    if change.kind == "moved":
        app.after_schedule_change(build, args.send_notice)
    return 0


def _cancel(app: ChannelsApp, build: Build, reason: str | None, send: bool | None) -> int:
    from channels.calendar.scheduling import cancel_schedule

    build_id = build.id
    if not reason or not reason.strip():
        raise UsageRefused("schedule cancel needs --reason TEXT",
                           hint="the cancellation notice tells everyone why")
    with app.ledger.write() as conn:
        cancelled = cancel_schedule(app.ledger, conn, build_id, reason=reason)
    if app.json:
        app.emit_json({"build": build_id, "result": "cancelled",
                       "schedule": _schedule_dict(cancelled, app.config.timezone),
                       "notice": app.after_schedule_change(build, send)})
        return 0
    app.out.print(f"cancelled the push of [bold]{build_id}[/bold] in "
                  f"{_label(cancelled, app.config.timezone)}: {esc(cancelled.reason or '')}")
    app.after_schedule_change(build, send)
    return 0


def _show_schedule(app: ChannelsApp, build_id: str) -> int:
    from channels.store import active_hold, schedule_history

    zone = app.config.timezone
    with app.ledger.read() as conn:
        history = schedule_history(conn, build_id)
        hold = active_hold(conn, build_id)
    current = history[-1] if history else None
    if app.json:
        app.emit_json({"build": build_id, "current": _schedule_dict(current, zone),
                       "history": [_schedule_dict(s, zone) for s in history],
                       "held": {"reason": hold.reason, "by": hold.held_by, "at": iso(hold.held_at)}
                       if hold else None})
        return 0
    if current is None:
        app.out.print(f"{build_id} has no scheduled push: quarterdeck schedule {build_id} --next-window")
    else:
        state = "[red]cancelled[/red]" if not current.active else "[green]scheduled[/green]"
        app.out.print(f"{build_id}: {state} {_label(current, zone)}")
        grid = table("Schedule history", "#", "state", "window", "reason", "when", "by")
        for s in history:
            grid.add_row(str(s.id), s.state, _label(s, zone), esc(s.reason or ""), local(s.created_at, zone),
                         esc(s.created_by))
        app.out.print(grid)
    if hold:
        app.out.print(f"[red]held[/red] by {esc(hold.held_by)} since {local(hold.held_at, zone)}: "
                      f"{esc(hold.reason)}")
    return 0


# ---------------------------------------------------------------- holds

def _setup_hold(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", metavar="BUILD", help="build id, sha256 prefix, latest or @TIER")
    p.add_argument("--reason", required=True, help="why the build must not go anywhere")


def cmd_hold(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.calendar.scheduling import hold_build
    from channels.store import current_schedule

    build = app.resolve_build(args.build)
    with app.ledger.write() as conn:
        hold = hold_build(app.ledger, conn, build.id, reason=args.reason, timezone=app.config.timezone)
        schedule = current_schedule(conn, build.id)
    app.out.print(f"[red]held[/red] {build.id}: {esc(hold.reason)}; it cannot be promoted anywhere until "
                  f"`quarterdeck release-hold {build.id}`")
    if schedule is not None and schedule.active:
        app.out.print(f"[yellow]note[/yellow]: its push is still scheduled for "
                      f"{_label(schedule, app.config.timezone)}; cancel it with "
                      f"`quarterdeck schedule cancel {build.id} --reason TEXT` if it will not go")
    return 0


def _setup_release_hold(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", metavar="BUILD", help="build id, sha256 prefix, latest or @TIER")
    p.add_argument("--reason", help="why the hold no longer applies (kept in the audit log)")


def cmd_release_hold(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.calendar.scheduling import release_hold

    build = app.resolve_build(args.build)
    with app.ledger.write() as conn:
        hold = release_hold(app.ledger, conn, build.id, reason=args.reason)
    app.out.print(f"released the hold on {build.id} (held by {esc(hold.held_by)} since "
                  f"{local(hold.held_at, app.config.timezone)}: {esc(hold.reason)})")
    return 0


# ---------------------------------------------------------------- gates

def _setup_gates(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", metavar="BUILD", help="build id, sha256 prefix, latest or @TIER")
    p.add_argument("--to", required=True, metavar="TIER", help="the tier the build would enter")


def cmd_gates(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.gates.evidence import tier_before

    build = app.resolve_build(args.build)
    tier_before(app.config.tiers, args.to)  # names the tiers when --to is not one
    results = app.promotion_gates(build, args.to)
    if app.json:
        app.emit_json([r.as_dict() for r in results])
    else:
        from releases.terminal import gate_table

        app.out.print(gate_table(results, f"Gates for {build.id} → {args.to}"))
    failed = [r.gate for r in failing(results)]
    if failed:
        from releases.errors import GatesRefused

        raise GatesRefused(f"{build.id} does not pass {len(failed)} of {len(results)} gates for "
                           f"{args.to}: {', '.join(failed)}",
                           hint="fix what the gates name, or promote with --force --reason TEXT "
                                "(the override is recorded)", verdicts=results)
    if not app.json:
        app.out.print(f"[green]all {len(results)} gates pass[/green]: {build.id} may enter {args.to}")
    return 0
