"""Whom a send writes to, and the question a person is asked before it.

A send either resumes its notice (the recipients it has still to reach) or
creates one for the channel's members as they are now. `notice send` asks
first, from the same recipients the send then writes to, so the numbers in
the question are the numbers of the send.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from notify.alerts import release_team
from notify.content.notes_input import NoticeNotes, mandatory
from notify.content.planning import NoticeRefused, Target, channel_audience
from notify.sending.delivery import NoticeEnv, effective_counts
from notify.store import TO_SEND
from notify.store_records import Counts, NoticeRecord, rows_in
from notify.vocabulary import NoticeKind, State


def resumable(notice: NoticeRecord, notes: NoticeNotes | None, count: Counts, *, want_rows: bool) -> None:
    """Refuse a rerun that would send nothing, or other notes than its first recipients got."""
    if want_rows and count.to_send == 0:
        unknown = count[State.UNKNOWN]
        extra = f"; {unknown} unknown to confirm or resend" if unknown else ""
        raise NoticeRefused(
            f"the {notice.label} of {notice.build_id} was already sent: {count[State.SENT]} of "
            f"{notice.recipients} delivered, {count[State.FAILED]} failed{extra}",
            hint=f"`quarterdeck notice resend {notice.kind} {notice.build_id} --failed` retries the failed "
                 "ones; --again sends a new notice to everyone")
    if notes is not None and notice.notes_sha256 != notes.sha256:
        raise NoticeRefused(
            f"the release notes of {notice.build_id} changed since the {notice.label} was created "
            f"(it carries {str(notice.notes_sha256)[:12]}…, the approved notes are now {notes.sha256[:12]}…)",
            hint="--again sends a new notice with the current notes to every recipient")


def recipients(env: NoticeEnv, conn: Connection, target: Target, existing: NoticeRecord | None,
                notes: NoticeNotes | None, *, again: bool, now: datetime) -> tuple[bool, list[Any]]:
    """Whom a send writes to, and whether it resumes `existing`: the rows that notice has still to
    send (refused when none are left), else the channel's members now (refused when there are none)."""
    if existing is not None and not again:
        count = effective_counts(conn, [existing], host=env.host, now=now)[existing.id]
        resumable(existing, notes, count, want_rows=True)
        return True, list(rows_in(conn, existing.id, TO_SEND))
    if target.kind is NoticeKind.PROBLEM_ALERT:
        team = release_team(env.settings)
        if team is None:
            raise NoticeRefused(f"no release team address is configured, so the alert about "
                                f"{target.event} of {target.build_id} would reach nobody",
                                hint="set notify.release_team in quarterdeck.toml")
        return False, [team]
    rows = channel_audience(conn, target.channel, include_opted_out=mandatory(target.kind))
    if not rows:
        raise NoticeRefused(f"the {target.channel} channel has no contacts, so the {target.kind} notice of "
                            f"{target.build_id} would reach nobody",
                            hint="import contacts first (quarterdeck orgs import FILE)")
    return False, list(rows)


def send_question(target: Target, resume: bool, rows: Sequence[Any]) -> str:
    """The question before a send, in the release manager's words: which notice, how many people
    at how many organisations ("Send the advance notice of 2027.1.0 to 412 contacts at 37 organisations?")."""
    of = target.build_id if target.kind is NoticeKind.BETA_AVAILABLE else target.version
    organisations = len({row.organisation.casefold() for row in rows})
    whom = (f"{len(rows)} contact{'s' if len(rows) != 1 else ''} at {organisations} "
            f"organisation{'s' if organisations != 1 else ''}")
    if resume:
        return f"Resume the {target.kind} notice of {of}: send to the {whom} it has not reached yet?"
    return f"Send the {target.kind} notice of {of} to {whom}?"
