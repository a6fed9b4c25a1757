"""One run's attempts: compose, claim, hand over, settle, one delivery row after another.

The exactly-once rules (see notify.sending.delivery) ask for this order per row: its
claim (`sending`) is committed before any of its message is handed to the
server, and its outcome is settled after the reply, in the same commit that
claims the next row, so at most one row is ever `sending`.

That order is kept, but the work no longer waits for the server or the
server for it. The commit (settle the previous row, claim this one; synced
to disk) runs while the server works on this row's MAIL FROM and RCPT TO:
the transport sends MAIL FROM, starts `ready` on its worker thread (the
SQLite driver releases the GIL while the disk syncs), and waits for the
answer before DATA; a no ends the transaction with RSET. The next row's
message is composed while the server works on this row's data (`idle`),
before its reply is read. A crash before the commit lands leaves this row
`pending`, with nothing handed over; the previous row is then `sending`, as
it would have been before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from notify.content.compose import PreparedNotice, Recipient
from notify.errors import NotifyError
from notify.mail.message import Outgoing
from notify.mail.wire import Letters
from notify.sending.claims import Claims, Settlement
from notify.sending.outbox import MaildirOutbox
from notify.sending.transport import Delivery, Outcome, Transport, Withheld
from notify.store_records import DeliveryRecord, NoticeRecord
from notify.store_writes import set_state
from notify.vocabulary import State, refusal_is_final

if TYPE_CHECKING:
    from notify.sending.delivery import NoticeEnv

HEARTBEAT_EVERY = 30.0  # seconds; well inside delivery.STALE_RUN


@dataclass(frozen=True)
class Attempt:
    """One attempt of this run, for the progress bar and the summary."""

    email: str
    state: State
    reply: str


def _outcome_state(outcome: Outcome) -> State:
    return {Delivery.SENT: State.SENT, Delivery.TEMP_FAILED: State.TEMP_FAILED,
            Delivery.FAILED: State.FAILED, Delivery.UNKNOWN: State.UNKNOWN}[outcome.delivery]


class _Claim:
    """A row's commit (the previous outcome and this row's claim), done once, when first asked."""

    def __init__(self, sender: Sender, done: Settlement | None, row: DeliveryRecord, now: datetime,
                 message_id: str) -> None:
        self.sender, self.done, self.row, self.now, self.message_id = sender, done, row, now, message_id
        self.answer: bool | None = None   # None: not committed yet; False: refused, or the commit failed

    def __call__(self) -> bool:
        if self.answer is None:
            self.answer = False   # if the commit raises, its error is the answer
            self.answer = self.sender.commit(self.done, self.row.id, self.now, self.message_id)
        return self.answer


class Sender:
    """One run's attempts (see the module docstring)."""

    def __init__(self, env: NoticeEnv, transport: Transport, notice: NoticeRecord,
                 prepared: PreparedNotice, run_id: int) -> None:
        self.env, self.transport, self.notice, self.prepared, self.run_id = (
            env, transport, notice, prepared, run_id)
        self.letters = Letters(env.settings, notice.key, prepared)
        self.claims = Claims(env.ledger, run_id)
        self.unsettled: Settlement | None = None
        self.beat = 0.0
        self._composed: tuple[int, Outgoing] | None = None

    def flush(self) -> None:
        """Write the last outcome on its own (between attempts, at the end)."""
        done, self.unsettled = self.unsettled, None
        if done is not None:
            self.claims.commit(done, None, self.env.now())

    def close(self) -> None:
        self.claims.close()

    def attempt(self, row: DeliveryRecord, upcoming: DeliveryRecord | None = None) -> Attempt | None:
        """Attempt `row`; `upcoming`, the row after it, is composed while the server works."""
        env = self.env
        now = env.now()
        try:
            message = self._message(row, now)
        except NotifyError as err:  # this recipient cannot be written to (address, time zone): not sent
            self.flush()
            self.unsettled = Settlement(row.id, State.FAILED, 0, None, f"not sent: {err}", "compose", None)
            self.flush()
            return Attempt(row.email, State.FAILED, f"not sent: {err}")
        claim_row = _Claim(self, self.unsettled, row, now, message.message_id)
        self.unsettled = None
        idle = (lambda: self._compose_ahead(upcoming, now)) if upcoming is not None else None
        try:
            outcome = self.transport.send(message, row.email, ready=claim_row, idle=idle)
        except Withheld:
            return None  # settled meanwhile (a person confirmed it): the server got no DATA
        except NotifyError:
            if claim_row.answer:
                with env.ledger.write() as conn:  # the session broke before this message: not attempted
                    set_state(conn, [row.id], State(row.state), env.now())
            elif claim_row.answer is None:
                self.unsettled = claim_row.done  # never committed: the final flush writes it
            raise
        except BaseException as exc:
            if claim_row.answer:
                idempotent = isinstance(self.transport, MaildirOutbox)
                self.unsettled = Settlement(row.id, State.PENDING if idempotent else State.UNKNOWN, 1, None,
                                            f"interrupted during the attempt ({type(exc).__name__}); "
                                            "it may or may not have been delivered", None, None)
            elif claim_row.answer is None:
                self.unsettled = claim_row.done
            raise
        if not claim_row():  # not asked (ended before MAIL, or already in the outbox): claim, then settle
            return None
        state = _outcome_state(outcome)
        if state is State.FAILED and not refusal_is_final(self.notice.kind):
            state = State.TEMP_FAILED
        retry_at = now + env.retry.delay(row.attempts + outcome.attempts) \
            if state is State.TEMP_FAILED else None
        self.unsettled = Settlement(row.id, state, outcome.attempts, outcome.code, outcome.reply,
                                    str(outcome.phase), retry_at, outcome.queue_id)
        return Attempt(row.email, state, outcome.reply)

    def commit(self, done: Settlement | None, row_id: int, now: datetime, message_id: str) -> bool:
        """One commit: the previous row's outcome, and the claim of the next row for its message."""
        beat = time.monotonic() - self.beat > HEARTBEAT_EVERY
        taken = self.claims.commit(done, row_id, now, beat=beat, message_id=message_id)
        if beat:
            self.beat = time.monotonic()
        return taken

    def _message(self, row: DeliveryRecord, now: datetime) -> Outgoing:
        """The row's message (composed ahead while the server worked on the previous one, if it was);
        NotifyError for a recipient that cannot be written to."""
        composed, self._composed = self._composed, None
        if composed is not None and composed[0] == row.id:
            return composed[1]
        return self.letters.outgoing(Recipient(row.name, row.email, row.organisation, row.time_zone), now)

    def _compose_ahead(self, row: DeliveryRecord, now: datetime) -> None:
        """Compose `row`'s message now, dated with this attempt's time (a reply's wait before its own);
        a recipient that cannot be written to is left for its attempt to report."""
        try:
            self._composed = (row.id, self._message(row, now))
        except NotifyError:
            self._composed = None
