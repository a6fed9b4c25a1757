"""What a moved or cancelled push owes its readers: the schedule command's offer to send it.

channels cannot import notify, so `schedule` reaches this through the App's
`after_schedule_change` hook. Which notice is due is `content.planning`'s rule
(the one `tick` follows); sending it is `notices.send_notice`, shown as
`notice send` shows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape

from releases.errors import UsageRefused

if TYPE_CHECKING:
    from notify.app import NotifyApp


def announce_schedule_change(app: NotifyApp, build: Any, send: bool | None) -> dict[str, object] | None:
    """Say which notice a moved or cancelled push now owes its readers, and send it when `send` is
    True (or, when None, when the release manager says yes on a terminal); the JSON of what was due
    and done, None when nothing is due."""
    from notify.commands import send_summary
    from notify.content.planning import due_after_change
    from notify.notices import send_notice
    from notify.progress import progress

    with app.ledger.read() as conn:
        due = due_after_change(conn, build.id, app.clock(), app.calendar_rule())
    if due is None:
        return None
    command = f"quarterdeck notice send {due.kind} {build.id}"
    if not app.json:
        app.out.print(f"the [bold]{due.kind}[/bold] notice is now due ({escape(due.why)}); its readers "
                      "see the --reason after \"Why:\"")
    if send is None and not app.json:
        try:
            send = app.confirm(f"Send the {due.kind} notice of {build.id} now?", False)
        except UsageRefused:
            send = False  # no terminal to ask on: say how, below
    if not send:
        if not app.json:
            app.out.print(f"  send it with: {escape(command)}  (or pass --send-notice to schedule)")
        return {"due": due.as_dict(), "sent": None}
    bar, started, advanced = progress(app, f"{due.kind} {build.id}")
    with bar:
        report = send_notice(app, due.kind, build, event=due.event, progress=advanced, on_start=started)
    if not app.json:
        send_summary(app, report)
    if report.stopped is not None:
        raise report.stopped
    return {"due": due.as_dict(), "sent": report.as_dict()}
