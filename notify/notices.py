"""The operations on notices that pipeline and the commands call: send, resend, confirm, preview, status.

Each operation works out the notice first (planning), checks that its
content can be composed for every recipient before anything is written, then
commits the notice, its frozen recipients and the run in one transaction and
hands over to the delivery state machine. A dry run goes through the same
planning and rendering and stops before the first write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from notify.content.compose import PreparedNotice, Recipient
from notify.content.notes_input import NoticeNotes
from notify.content.planning import (
    DueNotice,
    NoticeRefused,
    Target,
    due_notices,
    parse_kind,
    plan_target,
    target_of,
)
from notify.content.preparing import notes_for, prepare
from notify.errors import NotifyError
from notify.mail.wire import Letters
from notify.sending.attempts import Attempt
from notify.sending.delivery import (
    NoticeEnv,
    clear_dead_runs,
    deliver,
    effective_counts,
    env_from_app,
    transport_label,
)
from notify.sending.recipients import recipients, resumable, send_question
from notify.sending.runs import start_run
from notify.store import TO_SEND
from notify.store_records import (
    Counts,
    DeliveryRecord,
    NoticeRecord,
    build_notices,
    find_recipient,
    latest_notice,
    rows_in,
)
from notify.store_writes import insert_notice, set_state, supersede
from notify.vocabulary import NoticeKind, State

if TYPE_CHECKING:
    from notify.app import NotifyApp


SHOWN_PROBLEMS = 200  # failed/unknown recipients listed per notice in reports


@dataclass(frozen=True)
class SendReport:
    """What a send, resume or resend did, and where the notice stands after it."""

    notice: NoticeRecord | None   # None only for a dry run of a notice not created yet
    target: Target
    dry_run: bool
    created: bool
    recipients: int
    planned: int                  # rows this run set out to attempt
    attempts: tuple[Attempt, ...]
    counts: Counts | None
    problems: tuple[DeliveryRecord, ...]  # failed, unknown and temp-failed rows, for the summary
    recovered: int                # rows a dead run had left `sending`, settled now
    stopped: NotifyError | None
    declined: bool = False        # the question before the send was answered no: nothing was written

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": str(self.target.kind), "build": self.target.build_id, "event": self.target.event,
            "generation": self.notice.generation if self.notice else 1, "dry_run": self.dry_run,
            "created": self.created, "recipients": self.recipients, "planned": self.planned,
            "attempted": len(self.attempts), "counts": self.counts.as_dict() if self.counts else None,
            "problems": [problem_dict(p) for p in self.problems], "recovered": self.recovered,
            "stopped": str(self.stopped) if self.stopped else None, "declined": self.declined,
        }


def problem_dict(row: DeliveryRecord) -> dict[str, object]:
    return {"email": row.email, "name": row.name, "organisation": row.organisation, "state": row.state,
            "code": row.code, "reply": row.reply, "attempts": row.attempts, "message_id": row.message_id,
            "queue_id": row.queue_id}


def _deadline(env: NoticeEnv, target: Target, now: datetime) -> datetime:
    deadline = now + env.retry.deadline
    if target.window is not None and target.kind is not NoticeKind.COMPLETED:
        deadline = min(deadline, target.window.start)
    return max(deadline, now)


def _create(env: NoticeEnv, conn: Connection, target: Target, notes: NoticeNotes | None,
            previous: NoticeRecord | None, recipients: Sequence[Any], now: datetime,
            reason: str | None) -> NoticeRecord:
    window, before = target.window, target.previous_window
    notice = insert_notice(conn, {
        "kind": target.kind.value, "build_id": target.build_id, "event": target.event,
        "generation": previous.generation + 1 if previous else 1, "channel": target.channel,
        "notes_sha256": notes.sha256 if notes else None,
        "window_start": window.start if window else None, "window_end": window.end if window else None,
        "previous_start": before.start if before else None, "previous_end": before.end if before else None,
        "reason": target.reason or None, "retry_deadline": _deadline(env, target, now),
        "created_at": now, "created_by": env.ledger.actor.who,
    }, recipients, env.timezone, now)
    if previous is not None:
        supersede(conn, previous.id, notice.id)
    env.ledger.record(conn, "notice.create", f"{target.build_id}:{target.kind}:{target.event}", reason=reason,
                      detail={"notice": notice.key, "channel": target.channel, "recipients": len(recipients),
                              "notes_sha256": notice.notes_sha256,
                              "window": [window.start.isoformat(), window.end.isoformat()]
                              if window else None})
    return notice


def _report(env: NoticeEnv, notice: NoticeRecord, target: Target, *, created: bool, planned: int,
            attempts: tuple[Attempt, ...], recovered: int, stopped: NotifyError | None) -> SendReport:
    with env.ledger.read() as conn:
        count = effective_counts(conn, [notice], host=env.host, now=env.now())[notice.id]
        problems = rows_in(conn, notice.id, [State.FAILED, State.UNKNOWN, State.TEMP_FAILED],
                           limit=SHOWN_PROBLEMS)
    return SendReport(notice, target, False, created, notice.recipients, planned, attempts, count,
                      tuple(problems), recovered, stopped)


def _locate(env: NoticeEnv, conn: Connection, kind: NoticeKind, build: Any, event: str | None,
            offset: timedelta | None, now: datetime) -> tuple[Target, NoticeRecord | None]:
    """The notice's target and its newest existing generation, if any."""
    existing = latest_notice(conn, kind, build.id, event) if event else None
    if existing is not None:
        return target_of(existing, build.version), existing
    target = plan_target(conn, kind, build, now=now, rule=env.rule, production_channel=env.production_channel,
                         event=event, offset=offset)
    return target, latest_notice(conn, kind, build.id, target.event)


def _recover(env: NoticeEnv, notice: NoticeRecord | None, now: datetime) -> int:
    """Settle what a dead run left behind, committed on its own so that a refusal after it keeps it."""
    if notice is None:
        return 0
    with env.ledger.write() as conn:
        return clear_dead_runs(conn, env, notice, now)


def send_notice(app: NotifyApp | NoticeEnv, kind: NoticeKind | str, build: Any, *, event: str | None = None,
                offset: timedelta | None = None, again: bool = False, dry_run: bool = False,
                reason: str | None = None, wait: timedelta = timedelta(0),
                progress: Callable[[Attempt], None] | None = None,
                on_start: Callable[[int], None] | None = None,
                confirm: Callable[[str], bool] | None = None) -> SendReport:
    """Send (or resume) the `kind` notice of `build`; with `again`, a new notice to everyone.

    `event` picks the notice when the caller knows it (tick's due notices,
    `deployment:3` for a completion); otherwise it follows from the schedule.
    `confirm` is asked `send_question` before anything is written (`notice
    send` on a terminal); a no returns a report with `declined` set. `tick`
    and the notices that follow a promotion pass none: they were decided when
    the push was scheduled or the promotion confirmed.
    """
    env, kind = env_from_app(app), parse_kind(str(kind))
    notes = notes_for(env, kind, build, require_approved=True)
    now = env.now()
    recovered = 0
    if not dry_run:
        with env.ledger.read() as conn:
            target, found = _locate(env, conn, kind, build, event, offset, now)
            question = send_question(target, *recipients(env, conn, target, found, notes, again=again,
                                                          now=now)) if confirm is not None else ""
        if confirm is not None and not confirm(question):
            return SendReport(found, target, False, False, found.recipients if found else 0, 0, (), None, (),
                              0, None, declined=True)
        recovered = _recover(env, found, now)
    with (env.ledger.read() if dry_run else env.ledger.write()) as conn:
        target, existing = _locate(env, conn, kind, build, event, offset, now)
        if existing is not None and not dry_run:
            clear_dead_runs(conn, env, existing, now)  # a live run holding it refuses this one
        resume, rows = recipients(env, conn, target, existing, notes, again=again, now=now)
        prepared = (prepare(env, conn, target, notes, existing.created_at, existing.id) if resume and existing
                    else prepare(env, conn, target, notes, now))
        if dry_run:
            _check_renders(env, existing if resume else None, target, prepared, rows, now)
            resumed = effective_counts(conn, [existing], host=env.host, now=now)[existing.id] \
                if resume and existing is not None else None
            return SendReport(existing if resume else None, target, True, not resume,
                              existing.recipients if resume and existing else len(rows), len(rows), (),
                              resumed, (), 0, None)
        notice = existing if resume else _create(env, conn, target, notes, existing, rows, now, reason)
        assert notice is not None
        scope = rows_in(conn, notice.id, TO_SEND)
        run_id = start_run(conn, notice.id, env.host, env.pid, transport_label(env.settings), now)
    if on_start is not None:
        on_start(len(scope))
    result = deliver(env, notice, prepared, run_id, scope, wait=wait, progress=progress)
    return _report(env, notice, target, created=not resume, planned=len(scope), attempts=result.attempts,
                   recovered=recovered, stopped=result.stopped)


def _check_renders(env: NoticeEnv, existing: NoticeRecord | None, target: Target, prepared: PreparedNotice,
                   rows: Sequence[Any], now: datetime) -> None:
    """A dry run composes every message it would send, so a bad address or zone shows now (the way
    the send composes them, so it refuses exactly what the send could not write)."""
    key = existing.key if existing else f"{target.build_id}/{target.kind}/{target.event}/dry-run"
    letters = Letters(env.settings, key, prepared)
    for row in rows:
        letters.outgoing(Recipient(row.name, row.email, row.organisation, row.time_zone), now)


def _newest(conn: Connection, kind: NoticeKind, build: Any) -> NoticeRecord:
    notice = latest_notice(conn, kind, build.id)
    if notice is None:
        raise NoticeRefused(f"no {kind} notice of {build.id} has been sent",
                            hint=f"send it first: quarterdeck notice send {kind} {build.id}")
    return notice


def resend(app: NotifyApp | NoticeEnv, kind: NoticeKind | str, build: Any, *, failed: bool = False,
           unknown: bool = False,
           emails: Sequence[str] = (), reason: str | None = None,
           progress: Callable[[Attempt], None] | None = None,
           on_start: Callable[[int], None] | None = None) -> SendReport:
    """Try again, on request, recipients the normal rerun leaves alone: failed (5xx) or unknown ones."""
    env, kind = env_from_app(app), parse_kind(str(kind))
    states = [s for s, wanted in ((State.FAILED, failed), (State.UNKNOWN, unknown)) if wanted]
    if not states and not emails:
        raise NotifyError("say whom to resend to: --failed, --unknown or --email ADDRESS")
    notes = notes_for(env, kind, build, require_approved=True)
    now = env.now()
    with env.ledger.read() as conn:
        found = _newest(conn, kind, build)
    recovered = _recover(env, found, now)
    with env.ledger.write() as conn:
        notice = _newest(conn, kind, build)
        clear_dead_runs(conn, env, notice, now)
        count = effective_counts(conn, [notice], host=env.host, now=now)[notice.id]
        resumable(notice, notes, count, want_rows=False)
        rows = rows_in(conn, notice.id, states or [State.FAILED, State.UNKNOWN, *TO_SEND],
                       emails=emails or None)
        if emails:
            missing = sorted({e.lower() for e in emails} - {r.email.lower() for r in rows})
            if missing:
                raise NoticeRefused(f"not failed or unknown recipients of the {notice.label}: "
                                    f"{', '.join(missing)}", hint="`notice status BUILD` lists them")
        if not rows:
            raise NoticeRefused(f"the {notice.label} of {build.id} has no "
                                f"{' or '.join(states)} recipients to resend to")
        target = target_of(notice, build.version)
        prepared = prepare(env, conn, target, notes, notice.created_at, notice.id)
        set_state(conn, [r.id for r in rows], State.PENDING, now, reply="resend requested")
        scope = [replace(r, state=State.PENDING.value) for r in rows]
        env.ledger.record(conn, "notice.resend", f"{build.id}:{kind}:{notice.event}", reason=reason,
                          detail={"notice": notice.key, "count": len(rows),
                                  "recipients": [r.email for r in rows][:SHOWN_PROBLEMS]})
        run_id = start_run(conn, notice.id, env.host, env.pid, transport_label(env.settings), now)
    if on_start is not None:
        on_start(len(scope))
    result = deliver(env, notice, prepared, run_id, scope, progress=progress)
    return _report(env, notice, target, created=False, planned=len(scope), attempts=result.attempts,
                   recovered=recovered, stopped=result.stopped)


def confirm(app: NotifyApp | NoticeEnv, kind: NoticeKind | str, build: Any, email: str, *, delivered: bool,
            reason: str | None = None) -> DeliveryRecord:
    """A person's verdict on an `unknown` recipient: delivered (sent) or not (pending, for the next send)."""
    env, kind = env_from_app(app), parse_kind(str(kind))
    now = env.now()
    with env.ledger.read() as conn:
        found = _newest(conn, kind, build)
    _recover(env, found, now)
    with env.ledger.write() as conn:
        notice = _newest(conn, kind, build)
        clear_dead_runs(conn, env, notice, now)
        row = find_recipient(conn, notice.id, email)
        if row is None:
            raise NoticeRefused(f"{email} is not a recipient of the {notice.label} of {build.id}")
        if row.state != State.UNKNOWN:
            raise NoticeRefused(f"{email} is {row.state}, not unknown, for the {notice.label} of "
                                f"{build.id}; only unknown deliveries are confirmed")
        who = env.ledger.actor.who
        if delivered:
            set_state(conn, [row.id], State.SENT, now, reply=f"confirmed delivered by {who}",
                      sent_at=row.last_attempt_at or now)
        else:
            set_state(conn, [row.id], State.PENDING, now,
                      reply=f"confirmed not delivered by {who}; the next `notice send` sends it")
        env.ledger.record(conn, "notice.confirm", f"{build.id}:{kind}:{notice.event}", reason=reason,
                          detail={"notice": notice.key, "email": row.email, "delivered": delivered})
        delivery = find_recipient(conn, notice.id, email)
    assert delivery is not None  # it was found above, in the same transaction
    return delivery


@dataclass(frozen=True)
class NoticeStatus:
    notice: NoticeRecord
    counts: Counts
    problems: tuple[DeliveryRecord, ...]

    def as_dict(self) -> dict[str, object]:
        n = self.notice
        return {"kind": n.kind, "event": n.event, "generation": n.generation, "channel": n.channel,
                "created_at": n.created_at.isoformat(), "superseded": n.superseded_by is not None,
                "notes_sha256": n.notes_sha256,
                "window": [n.window_start.isoformat(), n.window_end.isoformat()]
                if n.window_start and n.window_end else None,
                **self.counts.as_dict(), "problems": [problem_dict(p) for p in self.problems]}


def status(app: NotifyApp | NoticeEnv, build: Any, *, limit: int = SHOWN_PROBLEMS,
           email: str | None = None) -> list[NoticeStatus]:
    """Every notice of the build with its counts and its failed, temp-failed and unknown recipients
    (with `email`: that recipient's delivery, whatever its state)."""
    env = env_from_app(app)
    with env.ledger.read() as conn:
        found = build_notices(conn, build.id)
        counted = effective_counts(conn, found, host=env.host, now=env.now())
        return [NoticeStatus(n, counted[n.id], tuple(filter(None, [find_recipient(conn, n.id, email)]))
                             if email is not None else
                             tuple(rows_in(conn, n.id, [State.FAILED, State.UNKNOWN, State.TEMP_FAILED],
                                           limit=limit)))
                for n in found]


@dataclass(frozen=True)
class DueResult:
    due: DueNotice
    report: SendReport | None
    error: NotifyError | None


def send_due(app: NotifyApp | NoticeEnv, resolve_build: Callable[[str], Any],
             now: datetime | None = None) -> list[DueResult]:
    """What `tick` runs: every due notice sent or resumed; one failing notice does not stop the others."""
    env = env_from_app(app)
    alerts = env.retry.deadline if env.settings.release_team else None
    with env.ledger.read() as conn:
        due = due_notices(conn, now or env.now(), env.rule, alerts_within=alerts)
    results = []
    for item in due:
        try:
            report = send_notice(env, item.kind, resolve_build(item.build_id), event=item.event,
                                 offset=item.offset)
        except NotifyError as err:
            results.append(DueResult(item, None, err))
        else:
            results.append(DueResult(item, report, report.stopped))
    return results
