"""Ready-made values for the notify tests (plain functions, no fixtures)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from notify.alerts import ProblemAlert
from notify.content.compose import Composer, NoticeContext, NoticeKind, Recipient, Training, Window
from notify.mail.message import notice_message
from notify.settings import NotifySettings
from tests.support.smtp import SmtpServer

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 2, 20, 9, 30, tzinfo=UTC)
PASSWORD_ENV = "QD_TEST_SMTP_PASSWORD"

# 14 March 2026: the USA is already on summer time (since 8 March), the UK not yet (29 March),
# so New York is 4 hours behind London instead of the usual 5.
WINDOW = Window(datetime(2026, 3, 14, 22, 0, tzinfo=LONDON), datetime(2026, 3, 15, 2, 0, tzinfo=LONDON))
PREVIOUS = Window(datetime(2026, 3, 7, 22, 0, tzinfo=LONDON), datetime(2026, 3, 8, 2, 0, tzinfo=LONDON))
NOTES_TEXT = "New features\n------------\n\n* Medication charts can be printed (#41)\n"
NOTES_HTML = "<h2>New features</h2>\n<ul>\n<li>Medication charts can be printed (#41)</li>\n</ul>"
BLOCKER = ProblemAlert(7, "2026.1.0-b3", "Bayou Palliative", "blocker", "<b>Charts</b> print blank & crash",
                       "1. Open a chart\n2. Print\n<script>alert(1)</script>", "maria@bayou.example.org",
                       datetime(2026, 2, 20, 9, 0, tzinfo=UTC), "open")


def context(kind: NoticeKind = NoticeKind.ADVANCE, **overrides: object) -> NoticeContext:
    values: dict[str, object] = dict(
        kind=kind, project="CareNotes", build_id="2026.1.0-b3", version="2026.1.0",
        project_zone="Europe/London", notes_text=NOTES_TEXT, notes_html=NOTES_HTML,
        window=WINDOW, previous_window=PREVIOUS if kind is NoticeKind.RESCHEDULED else None,
        trainings=(Training("Printing charts", datetime(2026, 3, 10, 15, 0, tzinfo=LONDON),
                            "https://training.example.org/charts"),),
        reason="A blocker was found in beta testing." if kind in (NoticeKind.RESCHEDULED,
                                                                  NoticeKind.CANCELLED) else "",
        feedback="Reply to this email to sign off." if kind is NoticeKind.BETA_AVAILABLE else "",
        support_contact="support@carenotes.example.org",
        problem=BLOCKER if kind is NoticeKind.PROBLEM_ALERT else None,
    )
    values.update(overrides)
    return NoticeContext(**values)  # type: ignore[arg-type]


NEW_YORK_NURSE = Recipient("Maria Lopez", "maria@bayou.example.org", "Bayou Palliative", "America/New_York")


def settings_for(server: SmtpServer, **overrides: object) -> NotifySettings:
    values: dict[str, object] = dict(
        sender="CareNotes releases <releases@carenotes.example.org>",
        reply_to="Release desk <desk@carenotes.example.org>",
        smtp_url=server.url, password_env=PASSWORD_ENV, ca_file=server.ca_file,
        message_domain="carenotes.example.org", connect_timeout=5.0, command_timeout=5.0,
    )
    values.update(overrides)
    return NotifySettings(**values)  # type: ignore[arg-type]


def environ_for(server: SmtpServer) -> dict[str, str]:
    return {PASSWORD_ENV: server.password} if server.password else {}


def outbox_settings(directory: Path, **overrides: object) -> NotifySettings:
    values: dict[str, object] = dict(sender="Releases <releases@carenotes.example.org>", outbox=directory,
                                     message_domain="carenotes.example.org")
    values.update(overrides)
    return NotifySettings(**values)  # type: ignore[arg-type]


def email_for(settings: NotifySettings, recipient: Recipient, ctx: NoticeContext | None = None,
              notice_id: str = "notice-1") -> EmailMessage:
    composed = Composer().prepare(ctx or context()).render(recipient)
    return notice_message(settings, notice_id=notice_id, recipient=recipient, content=composed, date=NOW)


def people(count: int) -> list[Recipient]:
    return [Recipient(f"User {i}", f"user{i}@example.org", "Acadia Hospice", "America/Chicago")
            for i in range(1, count + 1)]
