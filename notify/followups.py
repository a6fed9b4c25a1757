"""What follows a successful rollout (the beta announcement, or on the last tier the release
tag, the changelog and the completion notice), what follows a reported blocker (the release
team's alert), and the notices `tick` finds due.

A failure here is reported but does not undo the rollout or the report, which already
happened: the release manager is told what to send or tag by hand, and the rest still runs.
An alert that could not be sent stays owed, and `tick` sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from channels.calendar.duepushes import DueAction
from notify.app import NotifyApp

if TYPE_CHECKING:
    from channels.gates.beta import ProblemRecord
    from notes.app import NotesApp
    from releases.artifacts.buildview import Build

    class FollowUpApp(NotifyApp, NotesApp, Protocol):
        """The App as both notify and notes see it: the release tag is notes' work."""


def after_promotion(app: FollowUpApp, build: Build, tier: str,
                    errors: tuple[type[Exception], ...]) -> None:
    """Run each follow-up of the rollout; `errors` are the ones reported as a warning."""
    from rich.markup import escape

    from notify.notices import send_notice

    channel = app.config.tier(tier).channel
    steps: list[tuple[str, Callable[[], Any]]] = []
    if channel == "beta":
        steps.append(("beta-available notice", lambda: send_notice(app, "beta-available", build)))
    if tier == app.config.tiers[-1].name:
        from notes.review.workflow import publish_release

        steps.append(("release tag", lambda: publish_release(app, build)))
        steps.append(("completed notice", lambda: send_notice(app, "completed", build)))
    for label, step in steps:
        try:
            outcome = step()
        except errors as exc:
            app.err.print(f"[yellow]warning:[/yellow] {label} for {build.id}: {escape(str(exc))}")
            hint = getattr(exc, "hint", None)
            if hint:
                app.err.print(f"  [dim]hint:[/dim] {escape(hint)}")
            continue
        for line in outcome_lines(label, outcome):
            app.err.print(escape(line))


def alert_release_team(app: NotifyApp, problem: ProblemRecord,
                       errors: tuple[type[Exception], ...]) -> None:
    """After a report's transaction committed: a new blocker's alert to the release team (nothing
    for other severities, or when no address is configured: `config check` and `serve` say so).
    Its outcome is one line on stderr; `errors` are reported as a warning, never raised, since
    the report is filed whatever happens to its alert."""
    from rich.markup import escape

    from notify.alerts import BLOCKER, alert_event
    from notify.notices import send_notice
    from notify.vocabulary import State

    if problem.severity != BLOCKER:
        return
    label, owed = f"problem alert for #{problem.id}", "; `quarterdeck tick` sends it when it can"
    try:
        if not app.notify_settings().release_team:
            return
        report = send_notice(app, "problem-alert", app.resolve_build(problem.build),
                             event=alert_event(problem.id))
    except errors as exc:
        hint = getattr(exc, "hint", None)
        app.err.print(f"[yellow]warning:[/yellow] {label}: {escape(str(exc))}"
                      + (f" ({escape(hint)})" if hint else "") + owed)
        return
    for attempt in report.attempts:
        if attempt.state == State.SENT:
            app.err.print(f"{label}: sent to {escape(attempt.email)}")
        else:
            app.err.print(f"[yellow]warning:[/yellow] {label} to {escape(attempt.email)}: {attempt.state} "
                          f"({escape(attempt.reply)}){owed}")
    if report.stopped is not None:
        app.err.print(f"[yellow]warning:[/yellow] {label}: {escape(str(report.stopped))}{owed}")


def outcome_lines(label: str, outcome: Any) -> list[str]:
    """One or two lines about what a follow-up did, for the release manager."""
    if hasattr(outcome, "lines"):
        return [str(line) for line in outcome.lines()]
    counts = getattr(outcome, "counts", None)
    if counts is not None:
        states = {k: v for k, v in counts.as_dict().items() if k != "recipients"}  # said once, before
        summary = ", ".join(f"{v} {k}" for k, v in states.items() if v)
        return [f"{label}: {outcome.recipients} recipients ({summary or 'nothing to send'})"]
    return [f"{label}: done"]


def send_due_notices(app: NotifyApp) -> list[DueAction]:
    """`tick`'s notices: each one due sent or resumed, reported as one line each."""
    from notify.notices import send_due

    actions = []
    for result in send_due(app, app.resolve_build, app.clock()):
        what = f"{result.due.kind} notice for {result.due.build_id}"
        if result.error is not None:
            actions.append(DueAction(what, "failed", str(result.error)))
        else:
            line = outcome_lines(what, result.report)[0]
            actions.append(DueAction(what, "done", line.split(": ", 1)[-1]))
    return actions
