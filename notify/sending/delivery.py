"""Sending a notice exactly once per recipient, across crashes, kills and reruns.

The state machine of a delivery row (see notify.store):

1. The notice and every recipient's `pending` row are committed in one
   transaction before anything is sent; the recipients are frozen there.
2. Each attempt claims its row (`sending`, with the run's id) in a committed
   transaction before any of its message is handed to the server, and
   records the outcome (sent, temp-failed with its next retry, failed,
   unknown) after the reply, in the commit that claims the next row. A
   crash can therefore leave at most one row `sending`: the one message
   whose fate nobody knows. (notify.sending.attempts runs that commit while the
   server works on the next MAIL FROM; notify.sending.claims makes it cheap.)
3. A later run finds the dead run (same host: its pid is gone; elsewhere:
   no heartbeat for STALE_RUN) and marks its `sending` row `unknown` for a
   person to confirm, or `pending` again when the run wrote to the Maildir
   outbox, which files a message once whatever happens.
4. A rerun attempts only `pending` and `temp-failed` rows; `sent`, `failed`
   and `unknown` ones are left alone until a person asks (`resend`,
   `confirm`). A run that cannot reach the server stops, and the rows it
   did not reach stay pending.

Only one run holds a notice at a time: a second `notice send` while a live
run holds it is refused instead of racing it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from channels.settings import CalendarRule
from notify.content.compose import Composer, PersonalLinks, PreparedNotice, Recipient
from notify.content.notes_input import NoticeNotes
from notify.errors import NotifyError
from notify.mail.message import notice_message
from notify.sending.attempts import Attempt, Sender
from notify.sending.runs import RunRecord, finish_run, open_runs
from notify.sending.transport import Transport, open_transport
from notify.settings import NotifySettings
from notify.store_records import (
    Counts,
    DeliveryRecord,
    NoticeRecord,
    counts,
    get_delivery,
    rows_in,
    sending_by_run,
)
from notify.store_writes import set_state
from notify.vocabulary import State
from releases.records.ledger import Ledger

if TYPE_CHECKING:
    from notify.app import NotifyApp


STALE_RUN = timedelta(minutes=15)  # longer than the longest wait for an SMTP reply (10 min)


class NoticeBusy(NotifyError):
    """Another live `notice send` holds this notice."""


@dataclass(frozen=True)
class RetryPolicy:
    """When temp-failed recipients are tried again: growing delays, never past the deadline."""

    first_delay: timedelta = timedelta(minutes=5)
    factor: float = 3.0
    max_delay: timedelta = timedelta(hours=2)
    deadline: timedelta = timedelta(hours=24)  # after the notice is created; capped by its window

    def delay(self, failures: int) -> timedelta:
        """The wait after the `failures`-th failed attempt (1-based)."""
        seconds = self.first_delay.total_seconds() * self.factor ** max(failures - 1, 0)
        return min(timedelta(seconds=seconds), self.max_delay)


def no_links(conn: Connection, issued_at: datetime) -> PersonalLinks | None:
    """Notices without personal links (the portal is not set up)."""
    return None


@dataclass(frozen=True)
class NoticeEnv:
    """Everything sending needs, as values: built by `env_from_app` or directly by tests and tools."""

    ledger: Ledger
    settings: NotifySettings
    project: str
    timezone: str
    rule: CalendarRule
    notes: Callable[[Any, str], NoticeNotes]      # pipeline's notice_notes(build, audience) hook
    production_channel: str = "everyone"
    support_contact: str = ""
    downtime: str = ""                            # [notify].downtime: the unavailability sentence
    beta_url: str = ""                            # the beta tier's `url`
    personal_links: Callable[[Connection, datetime], PersonalLinks | None] = no_links  # the App's hook
    retry: RetryPolicy = RetryPolicy()
    open_transport: Callable[[NotifySettings], Transport] = open_transport
    sleep: Callable[[float], None] = time.sleep
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)

    def now(self) -> datetime:
        return self.ledger.clock()


def env_from_app(app: NotifyApp | NoticeEnv) -> NoticeEnv:
    """The NoticeEnv of pipeline's App (configuration, ledger and the notice_notes hook)."""
    if isinstance(app, NoticeEnv):
        return app
    config = app.config
    section = config.section("notify")
    beta = config.tier_serving("beta")
    return NoticeEnv(ledger=app.ledger, settings=app.notify_settings(), project=config.project_name,
                     timezone=config.timezone, rule=app.calendar_rule(), notes=app.notice_notes,
                     production_channel=config.tiers[-1].channel if config.tiers else "everyone",
                     support_contact=str(section["support_contact"]), downtime=str(section["downtime"]),
                     beta_url=beta.url if beta is not None else "", personal_links=app.personal_links)


@dataclass(frozen=True)
class RunResult:
    attempts: tuple[Attempt, ...]
    stopped: NotifyError | None


def transport_label(settings: NotifySettings) -> str:
    endpoint = settings.endpoint
    return endpoint.display if endpoint is not None else f"outbox:{settings.outbox}"


# -- runs: one holder per notice, dead ones cleared -------------------------------------------------

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_alive(run: RunRecord, *, host: str, now: datetime,
              pid_alive: Callable[[int], bool] = _pid_alive) -> bool:
    """Whether a run that has not finished may still be sending.

    On this host the process table answers; for a run on another host only
    its heartbeat can, so a run silent for STALE_RUN counts as dead.
    """
    if run.host == host:
        return pid_alive(run.pid)
    return now - run.heartbeat_at <= STALE_RUN


def clear_dead_runs(conn: Connection, env: NoticeEnv, notice: NoticeRecord, now: datetime) -> int:
    """Refuse if a live run holds the notice; settle what dead ones left `sending`. Returns rows settled."""
    settled = 0
    for run in open_runs(conn, notice.id):
        if run_alive(run, host=env.host, now=now):
            raise NoticeBusy(f"the {notice.label} of {notice.build_id} is being sent by pid {run.pid} "
                             f"on {run.host} (started {run.started_at:%Y-%m-%d %H:%M} UTC)",
                             hint="wait for it to finish; `quarterdeck notice status` shows its progress")
        held = sending_by_run(conn, [notice.id]).get(run.id, [])
        if held and run.transport.startswith("outbox:"):
            set_state(conn, held, State.PENDING, now,
                      reply="the run stopped during this attempt; the outbox files a message only once, "
                            "so it is simply tried again")
        elif held:
            set_state(conn, held, State.UNKNOWN, now,
                      reply=f"the sending process (pid {run.pid} on {run.host}) stopped during this attempt; "
                            "the message may or may not have been delivered")
        finish_run(conn, run.id, "interrupted", now)
        env.ledger.record(conn, "notice.interrupted", f"{notice.build_id}:{notice.kind}:{notice.event}",
                          detail={"run": run.id, "pid": run.pid, "host": run.host, "unknown": len(held)})
        settled += len(held)
    orphans = sending_by_run(conn, [notice.id]).get(None, [])
    if orphans:
        set_state(conn, orphans, State.UNKNOWN, now, reply="claimed by no recorded run; may have been sent")
    return settled + len(orphans)


def effective_counts(conn: Connection, notice_list: Sequence[NoticeRecord], *, host: str,
                     now: datetime) -> dict[int, Counts]:
    """Counts as `notice status` shows them: a `sending` row of a dead run is already `unknown`."""
    found = counts(conn, notice_list)
    held = sending_by_run(conn, [n.id for n in notice_list])
    if not held:
        return found
    runs = {r.id: r for r in open_runs(conn, run_ids=[r for r in held if r is not None])}
    for run_id, ids in held.items():
        run = runs.get(run_id) if run_id is not None else None
        if run is not None and run_alive(run, host=host, now=now):
            continue
        rows = [get_delivery(conn, i) for i in ids]
        for row in rows:
            if row is None:
                continue
            by_state = dict(found[row.notice_id].by_state)
            by_state[State.SENDING] -= 1
            by_state[State.UNKNOWN] = by_state.get(State.UNKNOWN, 0) + 1
            found[row.notice_id] = replace(found[row.notice_id], by_state=by_state)
    return found


# -- the run ------------------------------------------------------------------------------------------

def deliver(env: NoticeEnv, notice: NoticeRecord, prepared: PreparedNotice, run_id: int,
            scope: Sequence[DeliveryRecord], *, wait: timedelta = timedelta(0),
            progress: Callable[[Attempt], None] | None = None) -> RunResult:
    """Attempt the rows in `scope` (in order), then retry temp-failed ones that fall due within `wait`.

    Always finishes the run: normally, `stopped` when the server could not
    be reached (the rows not reached stay pending), or `interrupted` when an
    exception (Ctrl-C) ends it.
    """
    attempts: list[Attempt] = []
    stopped: NotifyError | None = None
    result = "interrupted"
    started = time.monotonic()
    queue = list(scope)
    sender: Sender | None = None
    try:
        with env.open_transport(env.settings) as transport:
            sender = Sender(env, transport, notice, prepared, run_id)
            while queue:
                for row, upcoming in zip(queue, [*queue[1:], None], strict=True):
                    attempt = sender.attempt(row, upcoming)
                    if attempt is not None:
                        attempts.append(attempt)
                        if progress is not None:
                            progress(attempt)
                sender.flush()  # the retry schedule is read back from the ledger
                queue = _due_retries(env, notice, [r.id for r in scope], started, wait)
        result = "finished"
    except NotifyError as err:
        stopped, result = err, "stopped"
    finally:
        if sender is not None:
            try:
                sender.flush()
            finally:
                sender.close()
        with env.ledger.write() as conn:
            finish_run(conn, run_id, result, env.now())
            tally: dict[str, int] = {}
            for attempt in attempts:
                tally[attempt.state] = tally.get(attempt.state, 0) + 1
            env.ledger.record(conn, "notice.send", f"{notice.build_id}:{notice.kind}:{notice.event}",
                              detail={"notice": notice.key, "run": run_id, "result": result,
                                      "attempted": tally, "stopped": str(stopped) if stopped else None})
    return RunResult(tuple(attempts), stopped)


def _due_retries(env: NoticeEnv, notice: NoticeRecord, scope: Sequence[int], started: float,
                 wait: timedelta) -> list[DeliveryRecord]:
    """Sleep until the next temp-failed row of `scope` is due, if that is within the run's `wait`."""
    if wait <= timedelta(0):
        return []
    wanted = set(scope)
    with env.ledger.read() as conn:
        rows = [r for r in rows_in(conn, notice.id, [State.TEMP_FAILED]) if r.id in wanted]
    now = env.now()
    if not rows or now >= notice.retry_deadline:
        return []
    soonest = min((r.next_attempt_at or now) for r in rows)
    delay = max((soonest - now).total_seconds(), 0.0)
    if time.monotonic() - started + delay > wait.total_seconds():
        return []
    env.sleep(delay)
    return [r for r in rows if (r.next_attempt_at or now) <= soonest]


def composer_for(env: NoticeEnv) -> Composer:
    return Composer(env.settings.templates)


def message_for_test(env: NoticeEnv, notice_key: str, prepared: PreparedNotice, recipient: Recipient,
                     now: datetime) -> EmailMessage:
    """A `--test-to` copy: the real rendering, marked [TEST], with a Message-ID of its own."""
    content = prepared.render(recipient)
    marked = replace(content, subject=f"[TEST] {content.subject}")
    return notice_message(env.settings, notice_id=f"test/{notice_key}/{now.isoformat()}", recipient=recipient,
                          content=marked, date=now)
