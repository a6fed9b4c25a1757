"""The `notice` and `training` commands: preview, send, status, resend, confirm; add and list trainings.

Handlers only parse, call notify.notices / notify.content.preview and render; the
rules live there. The App is used through the Context protocol, so this
package never imports pipeline (or releases: builds come from
`app.resolve_build`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from notify.errors import NotifyError
from notify.progress import STYLE as _STYLE
from notify.progress import progress
from notify.vocabulary import NoticeKind, State

if TYPE_CHECKING:  # the implementation modules load SQLAlchemy and Jinja2: handlers import them on call
    from notify.app import NotifyApp
    from notify.notices import NoticeStatus, SendReport
    from notify.store_records import Counts, DeliveryRecord

KINDS = [k.value for k in NoticeKind]
Add = Callable[..., None]


def _kind_build(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", metavar="KIND", choices=KINDS, help=f"one of: {', '.join(KINDS)}")
    p.add_argument("build", metavar="BUILD", help="build id, sha256 prefix, latest or @TIER")


# -- preview ---------------------------------------------------------------------------------

def _setup_preview(p: argparse.ArgumentParser) -> None:
    _kind_build(p)
    p.add_argument("--to", metavar="EMAIL", help="the recipient to render for (default: the first one)")


def cmd_preview(app: NotifyApp, args: argparse.Namespace) -> int:
    from notify.content.preview import preview

    build = app.resolve_build(args.build)
    shown = preview(app, args.kind, build, args.to)
    message = shown.message
    names = ("From", "To", "Reply-To", "Subject", "Date", "Message-ID")
    headers = {name: str(message[name]) for name in names if message[name] is not None}
    zone = shown.recipient.time_zone or app.config.timezone
    given = bool(shown.recipient.time_zone)
    calendar = shown.composed.invitation
    if app.json:
        app.emit_json({"kind": args.kind, "build": build.id, "event": shown.target.event,
                       "notice": shown.notice.key if shown.notice else None, "to": shown.recipient.email,
                       "time_zone": zone, "time_zone_given": given, "notes_approved": shown.notes_approved,
                       "headers": headers, "text": shown.composed.text, "html": shown.composed.html,
                       "calendar": calendar.ics.decode("utf-8") if calendar else None})
        return 0
    if not shown.notes_approved:
        app.err.print("[yellow]warning:[/yellow] the release notes are not approved yet; "
                      "`notice send` will refuse until they are")
    state = "already exists" if shown.notice else "not sent yet"
    unknown = "" if given else ", the project zone: they gave none"
    who = f"{escape(shown.recipient.email)} ({escape(zone)}{unknown})"
    app.err.print(f"[dim]{args.kind} notice of {escape(build.id)} ({escape(shown.target.event)}, {state}), "
                  f"as {who} receives it[/dim]")
    head = "\n".join(f"{name}: {value}" for name, value in headers.items())
    app.out.out(f"{head}\n\n----- text/plain -----\n{shown.composed.text}\n"
                f"----- text/html -----\n{shown.composed.html}"
                + (f"\n----- text/calendar ({calendar.filename}) -----\n{calendar.ics.decode('utf-8')}"
                   if calendar else ""), highlight=False)
    return 0


# -- send --------------------------------------------------------------------------------------

def _setup_send(p: argparse.ArgumentParser) -> None:
    _kind_build(p)
    p.add_argument("--dry-run", action="store_true", help="plan and render every message; send nothing")
    p.add_argument("--yes", action="store_true",
                   help="do not ask before emailing the channel's contacts (for scripts)")
    p.add_argument("--test-to", metavar="EMAIL", help="send one copy marked [TEST] to EMAIL only")
    p.add_argument("--again", action="store_true", help="send a new notice to everyone although this one "
                                                        "was sent (e.g. after the notes changed)")
    p.add_argument("--offset", help="reminder: which one (e.g. 7d); default: the last one that came due")
    p.add_argument("--event", help="the event the notice is about, when not the current schedule "
                                   "(e.g. deployment:3)")
    p.add_argument("--reason", help="why (recorded in the audit trail)")
    p.add_argument("--wait", type=float, default=0.0, metavar="MINUTES",
                   help="keep retrying temporarily failed recipients for up to MINUTES (default 0)")


def cmd_send(app: NotifyApp, args: argparse.Namespace) -> int:
    from notify.content.planning import parse_offset
    from notify.content.preview import send_test
    from notify.notices import send_notice

    build = app.resolve_build(args.build)
    if args.test_to:
        outcome = send_test(app, args.kind, build, args.test_to)
        if app.json:
            app.emit_json({"to": args.test_to, "delivery": str(outcome.delivery), "reply": outcome.reply})
        else:
            app.out.print(f"test copy to {escape(args.test_to)}: {escape(outcome.describe())}")
        return 0 if outcome.delivery == "sent" else 1
    offset = parse_offset(args.offset) if args.offset else None
    if args.wait < 0:
        raise NotifyError(f"--wait {args.wait}: must be 0 or more minutes")
    bar, started, advanced = progress(app, f"{args.kind} {build.id}", quiet=args.dry_run)

    def ask(question: str) -> bool:
        return app.confirm(question, args.yes)

    with bar:
        report = send_notice(app, args.kind, build, event=args.event, offset=offset, again=args.again,
                             dry_run=args.dry_run, reason=args.reason, wait=timedelta(minutes=args.wait),
                             progress=advanced, on_start=started, confirm=ask)
    if report.declined:
        app.err.print("nothing was sent")
        return 1
    if app.json:
        app.emit_json(report.as_dict())
    else:
        send_summary(app, report)
    if report.stopped is not None:
        raise report.stopped
    return 0


def send_summary(app: NotifyApp, report: SendReport) -> None:
    target = report.target
    if report.dry_run:
        if report.created:
            app.out.print(f"dry run: would create the {target.kind} notice of {escape(target.build_id)} "
                          f"({escape(target.event)}) for {report.recipients} recipients in the "
                          f"{target.channel} channel; every message renders")
        else:
            app.out.print(f"dry run: would resume the {target.kind} notice of {escape(target.build_id)}: "
                          f"{report.planned} of {report.recipients} recipients still to send; every message "
                          "renders")
        return
    if report.recovered:
        app.out.print(f"[magenta]{report.recovered} delivery left in flight by a stopped run is now unknown"
                      "[/magenta]")
    c = report.counts
    assert c is not None and report.notice is not None
    verb = "sent" if report.created else "resumed"
    app.out.print(f"{verb} the {escape(report.notice.label)} of {escape(target.build_id)}: "
                  f"attempted {len(report.attempts)} of {report.planned}")
    app.out.print(f"  {c.recipients} recipients: {_deliveries(c)}")
    _problems(app, report.problems)
    if c[State.UNKNOWN]:
        app.out.print(f"  confirm unknown ones: quarterdeck notice confirm {target.kind} "
                      f"{escape(target.build_id)} --email ADDRESS --delivered|--not-delivered "
                      "(or resend them with --unknown)")
    if c[State.FAILED]:
        app.out.print(f"  retry failed ones: quarterdeck notice resend {target.kind} "
                      f"{escape(target.build_id)} --failed")
    if c[State.TEMP_FAILED]:
        app.out.print("  temporarily failed ones are retried by `quarterdeck tick` and by running "
                      "`notice send` again")


def _problems(app: NotifyApp, rows: Sequence[DeliveryRecord]) -> None:
    """Recipients with their server's words, and what to look for in the mail server's log: the
    message's Message-ID and, once a server accepted it, its queue id (folded, never cut short)."""
    if not rows:
        return
    table = Table(show_header=True, box=None, padding=(0, 2))
    table.add_column("recipient")
    table.add_column("state")
    table.add_column("server reply, Message-ID, queue id", overflow="fold")
    for row in rows:
        colour = _STYLE.get(State(row.state), "white")
        lines = [row.reply, row.message_id and f"Message-ID {row.message_id}",
                 row.queue_id and f"queue id {row.queue_id}"]
        table.add_row(escape(row.email), f"[{colour}]{row.state}[/{colour}]",
                      "\n".join(escape(line) for line in lines if line))
    app.out.print(table)


# -- status, resend, confirm -----------------------------------------------------------------

def _setup_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", metavar="BUILD", help="build id, sha256 prefix, latest or @TIER")
    p.add_argument("--email", metavar="ADDRESS",
                   help="list this recipient's delivery of each notice, whatever its state, instead of "
                        "the failed and unknown ones")


def cmd_status(app: NotifyApp, args: argparse.Namespace) -> int:
    from notify.notices import status

    build = app.resolve_build(args.build)
    found = status(app, build, email=args.email)
    if app.json:
        app.emit_json({"build": build.id, "notices": [s.as_dict() for s in found]})
        return 0
    if not found:
        app.out.print(f"no notices for {escape(build.id)} yet")
        return 0
    from releases.terminal import Col, table

    rows = []
    for item in found:  # the event under the notice's name: four columns fit 80 without splitting a time
        n, c = item.notice, item.counts
        label = n.kind + (f" #{n.generation}" if n.generation > 1 else "") + (" (superseded)"
                                                                              if n.superseded_by else "")
        rows.append((f"{label}\n[dim]{escape(n.event)}[/dim]", f"{n.created_at:%Y-%m-%d %H:%M}",
                     str(c.recipients), _deliveries(c)))
    app.out.print(table(f"Notices of {escape(build.id)}",
                        ("notice", "created", Col("recipients", "right"), "deliveries"), rows))
    for item in _with_problems(found):
        app.out.print(f"[bold]{escape(item.notice.label)}[/bold]")
        _problems(app, item.problems)
    if args.email and not _with_problems(found):
        app.out.print(f"{escape(args.email)} is not a recipient of any notice of {escape(build.id)}")
    return 0


def _deliveries(c: Counts) -> str:
    """A notice's deliveries by state, as `notice send` and `notice status` say them: "3 sent, 1 failed"."""
    return ", ".join(f"[{_STYLE[s]}]{c[s]} {s}[/{_STYLE[s]}]" for s in State if c[s] or s is State.SENT)


def _with_problems(found: list[NoticeStatus]) -> list[NoticeStatus]:
    return [item for item in found if item.problems]


def _setup_resend(p: argparse.ArgumentParser) -> None:
    _kind_build(p)
    p.add_argument("--failed", action="store_true", help="the recipients the server refused (5xx)")
    p.add_argument("--unknown", action="store_true", help="the recipients whose delivery is unknown")
    p.add_argument("--email", action="append", default=[], metavar="ADDRESS",
                   help="this recipient (repeatable)")
    p.add_argument("--reason", help="why (recorded in the audit trail)")


def cmd_resend(app: NotifyApp, args: argparse.Namespace) -> int:
    from notify.notices import resend

    build = app.resolve_build(args.build)
    bar, started, advanced = progress(app, f"resend {args.kind} {build.id}")
    with bar:
        report = resend(app, args.kind, build, failed=args.failed, unknown=args.unknown, emails=args.email,
                        reason=args.reason, progress=advanced, on_start=started)
    if app.json:
        app.emit_json(report.as_dict())
    else:
        send_summary(app, report)
    if report.stopped is not None:
        raise report.stopped
    return 0


def _setup_confirm(p: argparse.ArgumentParser) -> None:
    _kind_build(p)
    p.add_argument("--email", required=True, metavar="ADDRESS",
                   help="the recipient whose delivery is unknown")
    verdict = p.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--delivered", action="store_true", help="it arrived: count it as sent")
    verdict.add_argument("--not-delivered", action="store_true", help="it did not: the next send sends it")
    p.add_argument("--reason", help="how you know (recorded in the audit trail)")


def cmd_confirm(app: NotifyApp, args: argparse.Namespace) -> int:
    from notify.notices import confirm

    build = app.resolve_build(args.build)
    row = confirm(app, args.kind, build, args.email, delivered=args.delivered, reason=args.reason)
    app.out.print(f"{escape(row.email)}: {row.state} ({escape(row.reply or '')})")
    return 0


# -- trainings ---------------------------------------------------------------------------------

def _setup_training_add(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", metavar="BUILD", help="build id, sha256 prefix, latest or @TIER")
    p.add_argument("--at", required=True, metavar="'YYYY-MM-DD HH:MM'", help="when, in --tz")
    p.add_argument("--tz", help="IANA time zone of --at (default: the project's)")
    p.add_argument("--link", required=True, metavar="URL", help="where to join")
    p.add_argument("--title", required=True, help="what the session is about")


def cmd_training_add(app: NotifyApp, args: argparse.Namespace) -> int:
    from notify.content.training import add_training, check_training

    build = app.resolve_build(args.build)
    now = app.ledger.clock()
    at, link, title = check_training(at_text=args.at, zone=args.tz or app.config.timezone, link=args.link,
                                     title=args.title, now=now)
    with app.ledger.write() as conn:
        record = add_training(conn, build.id, at=at, link=link, title=title, now=now, by=app.ledger.actor.who)
        app.ledger.record(conn, "training.add", f"{build.id}:training:{record.id}",
                          detail=record.as_dict())
    if app.json:
        app.emit_json(record.as_dict())
    else:
        app.out.print(f"training #{record.id} for {escape(build.id)}: {escape(title)}, "
                      f"{_local(record.at, app.config.timezone)}; notices created from now on list it")
    return 0


def _local(moment: Any, zone: str) -> str:
    from channels.settings import zone_of

    return f"{moment.astimezone(zone_of(zone)):%a %Y-%m-%d %H:%M} {zone}"


def cmd_training_list(app: NotifyApp, args: argparse.Namespace) -> int:
    from notify.content.training import list_trainings

    build = app.resolve_build(args.build)
    with app.ledger.read() as conn:
        records = list_trainings(conn, build.id)
    if app.json:
        app.emit_json([r.as_dict() for r in records])
        return 0
    if not records:
        app.out.print(f"no trainings for {escape(build.id)}")
        return 0
    table = Table(title=f"Trainings of {escape(build.id)}", title_justify="left")
    for column in ("#", "when", "title", "link"):
        table.add_column(column)
    for r in records:
        table.add_row(str(r.id), _local(r.at, app.config.timezone), escape(r.title), escape(r.link))
    app.out.print(table)
    return 0


def _setup_build_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", metavar="BUILD", help="build id, sha256 prefix, latest or @TIER")
