"""Looking at a notice without sending it to its recipients: `notice preview` and `--test-to`.

Both render through the same planning and composition as a real send, so
what the release manager reads is what the recipient will get (same
headers, same Message-ID for a preview); neither writes a delivery row.
A beta contact's own link is the one thing shown as a stand-in: it opens
their page to whoever holds it, so it goes only to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from notify.content.compose import Composed, PreparedNotice, Recipient
from notify.content.notes_input import NoticeNotes, mandatory
from notify.content.planning import (
    NoticeRefused,
    Target,
    channel_audience,
    parse_kind,
    plan_target,
    target_of,
)
from notify.content.preparing import notes_for, prepare
from notify.mail.message import notice_message
from notify.sending.delivery import NoticeEnv, env_from_app, message_for_test
from notify.sending.transport import Outcome
from notify.store_records import NoticeRecord, latest_notice, rows_in
from notify.vocabulary import NoticeKind, State

if TYPE_CHECKING:
    from notify.app import NotifyApp



@dataclass(frozen=True)
class Preview:
    notice: NoticeRecord | None
    target: Target
    recipient: Recipient
    composed: Composed
    message: EmailMessage
    notes_approved: bool


def _preview_parts(env: NoticeEnv, conn: Connection, kind: NoticeKind, build: Any,
                   now: datetime) -> tuple[NoticeRecord | None, Target, NoticeNotes | None, PreparedNotice]:
    notes = notes_for(env, kind, build, require_approved=False)
    notice = None
    # A reminder not due yet is previewed as the first one will read (the wording is the same).
    early = max(env.rule.reminders) if kind is NoticeKind.REMINDER and env.rule.reminders else None
    try:
        try:
            target = plan_target(conn, kind, build, now=now, rule=env.rule,
                                 production_channel=env.production_channel)
        except NoticeRefused:
            if early is None:
                raise
            target = plan_target(conn, kind, build, now=now, rule=env.rule,
                                 production_channel=env.production_channel, offset=early)
        notice = latest_notice(conn, kind, build.id, target.event)
    except NoticeRefused:
        notice = latest_notice(conn, kind, build.id)
        if notice is None:
            raise
    if notice is not None:
        target = target_of(notice, build.version)
    prepared = prepare(env, conn, target, notes, notice.created_at if notice else now,
                       notice.id if notice else None, withhold_links=True)
    return notice, target, notes, prepared


def preview(app: NotifyApp | NoticeEnv, kind: NoticeKind | str, build: Any, to: str | None = None) -> Preview:
    """Exactly what `to` (default: the first recipient) gets from this notice, without sending or writing."""
    env, kind = env_from_app(app), parse_kind(str(kind))
    now = env.now()
    with env.ledger.read() as conn:
        notice, target, notes, prepared = _preview_parts(env, conn, kind, build, now)
        if notice is not None:
            rows = rows_in(conn, notice.id, list(State), emails=[to] if to else None, limit=1)
            people = [Recipient(r.name, r.email, r.organisation, r.time_zone) for r in rows]
        else:
            audience = channel_audience(conn, target.channel, include_opted_out=mandatory(kind))
            people = [Recipient(c.name, c.email, c.organisation, c.time_zone) for c in audience
                      if to is None or c.email.lower() == to.strip().lower()]
    if not people:
        if to:
            raise NoticeRefused(f"{to} is not a recipient of the {kind} notice of {build.id} "
                                f"(the {target.channel} channel)",
                                hint="`quarterdeck channels` shows who is in it")
        people = [Recipient("Test Recipient", "test@example.org", "", env.timezone)]
    recipient = people[0]
    key = notice.key if notice else f"{build.id}/{kind}/{target.event}/1"
    composed = prepared.render(recipient)
    message = notice_message(env.settings, notice_id=key, recipient=recipient, content=composed, date=now)
    return Preview(notice, target, recipient, composed, message, bool(notes is None or notes.approved))


def send_test(app: NotifyApp | NoticeEnv, kind: NoticeKind | str, build: Any, to: str) -> Outcome:
    """One copy marked [TEST] to `to`; touches no delivery row (recorded in the audit trail)."""
    env, kind = env_from_app(app), parse_kind(str(kind))
    now = env.now()
    with env.ledger.read() as conn:
        notice, target, _notes_value, prepared = _preview_parts(env, conn, kind, build, now)
    recipient = Recipient("", to.strip(), "", env.timezone)
    key = notice.key if notice else f"{build.id}/{kind}/{target.event}"
    message = message_for_test(env, key, prepared, recipient, now)
    with env.open_transport(env.settings) as transport:
        outcome = transport.send(message, recipient.email)
    with env.ledger.write() as conn:
        env.ledger.record(conn, "notice.test", f"{build.id}:{kind}:{target.event}",
                          detail={"to": recipient.email, "outcome": outcome.describe()})
    return outcome


