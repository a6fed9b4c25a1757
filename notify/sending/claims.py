"""The commits of a sending run: settle the last row's outcome and claim the next row, once a message.

Through `Ledger.write()` and SQLAlchemy's execute, that commit cost more CPU
than the database work itself, and a large share of the send loop (see
BENCHMARKS.md): a pooled connection checked out and reset, BEGIN emitted
through an event, an execution context built for each statement.

So on a SQLite ledger the run holds one connection (`Ledger.hold_sqlite`, set
up as every ledger connection is), the statements of notify.store_writes (CLAIM,
SETTLE, HEARTBEAT) are compiled once for it (`releases.records.ledger.Compiled`, the
ledger's one way to run a statement on the driver's connection), and each
commit runs them in `HeldSqlite.commit`, begun and ended as `Ledger.write()`
does. Same statements, same values, same transaction boundaries, and each
commit as durable (the ledger syncs at every commit). Anything else (another
database or driver) goes through `Ledger.write()`; so does a commit that
fails directly, to be retried or to raise the ledger's own error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement

from notify.store_writes import CLAIM, HEARTBEAT, SETTLE, claim_params
from notify.vocabulary import State
from releases.records.ledger import Compiled, HeldSqlite


@dataclass(frozen=True)
class Settlement:
    """An attempt's outcome waiting to be written, with the claim of the next row (one commit)."""

    delivery_id: int
    state: State
    attempts: int
    code: int | None
    reply: str
    phase: str | None
    next_attempt_at: datetime | None
    queue_id: str | None = None   # the server's id for the message it accepted

    def params(self, now: datetime) -> dict[str, object]:
        """The values of store.SETTLE."""
        return {"did": self.delivery_id, "new_state": self.state.value, "tries": self.attempts,
                "reply_code": self.code, "reply_text": self.reply, "at_phase": self.phase,
                "retry_at": self.next_attempt_at, "now": now,
                "sent": now if self.state is State.SENT else None, "queue": self.queue_id}


class Claims:
    """One run's commits; `close()` returns the held connection."""

    def __init__(self, ledger: Any, run_id: int) -> None:
        self._ledger, self.run_id = ledger, run_id
        self._direct = _Direct.open(ledger)

    def commit(self, done: Settlement | None, claim_id: int | None, now: datetime, *,
               beat: bool = False, message_id: str | None = None) -> bool:
        """Settle `done`, claim `claim_id` for the message `message_id`, refresh the heartbeat, all in
        one transaction.

        Returns whether the claim was taken (True when there is none to take); a row another run
        took or a person settled meanwhile is refused, and the rest still commits.
        """
        steps: list[tuple[ClauseElement, dict[str, object]]] = []
        if done is not None:
            steps.append((SETTLE, done.params(now)))
        claim_step = len(steps)
        if claim_id is not None:
            steps.append((CLAIM, claim_params(claim_id, self.run_id, now, message_id)))
        if beat:
            steps.append((HEARTBEAT, {"run": self.run_id, "now": now}))
        if not steps:
            return True
        counts = self._direct.run(steps) if self._direct is not None else None
        if counts is None:
            with self._ledger.write() as conn:
                counts = [_execute(conn, statement, params) for statement, params in steps]
        return claim_id is None or counts[claim_step] == 1

    def close(self) -> None:
        if self._direct is not None:
            self._direct.close()
            self._direct = None


def _execute(conn: Connection, statement: ClauseElement, params: dict[str, object]) -> int:
    return conn.execute(statement, params).rowcount  # type: ignore[call-overload, no-any-return]


class _Direct:
    """The run's own SQLite connection and the statements compiled for it (see the module docstring)."""

    @classmethod
    def open(cls, ledger: Any) -> _Direct | None:
        hold = getattr(ledger, "hold_sqlite", None)
        held = hold() if hold is not None else None
        if held is None:
            return None
        try:
            statements: dict[ClauseElement, Compiled] = {s: held.compile(s)
                                                         for s in (CLAIM, SETTLE, HEARTBEAT)}
        except ValueError:
            held.close()
            return None
        return cls(held, statements)

    def __init__(self, held: HeldSqlite, statements: dict[ClauseElement, Compiled]) -> None:
        self._held, self._statements = held, statements

    def run(self, steps: Sequence[tuple[ClauseElement, dict[str, object]]]) -> list[int] | None:
        """Row counts of the steps, committed; None if SQLite refused (nothing is committed then)."""
        return self._held.commit([(self._statements[statement], params) for statement, params in steps])

    def close(self) -> None:
        self._held.close()
