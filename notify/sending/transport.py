"""What a delivery attempt can end in, and the one shape every transport has.

The outcome vocabulary is the ledger's: each (notice, recipient) row goes
from pending to exactly one of these after an attempt. The rules that decide
it are pure functions here, apart from the sockets, so the delivery state
machine and its tests can rely on them:

- `sent`: the server answered 2xx to the end of the message data (or the
  message is in the outbox). Never retried.
- `temp-failed`: the server answered 4xx, or the connection kept breaking
  BEFORE the end of the message data was written. Nothing was accepted, so
  retrying later cannot duplicate; never counted as sent.
- `failed`: the server answered 5xx. Permanent; recorded with code and text.
- `unknown`: the whole message data, terminating dot included, was written
  and then the connection broke or timed out before the final reply. The
  server may or may not have queued it: a person has to decide.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from notify.settings import NotifySettings

if TYPE_CHECKING:
    from notify.mail.message import Outgoing


class Delivery(StrEnum):
    """The state a ledger row takes after an attempt (the values are the ledger's words)."""

    SENT = "sent"
    TEMP_FAILED = "temp-failed"
    FAILED = "failed"
    UNKNOWN = "unknown"


class Phase(StrEnum):
    """Where in the SMTP dialogue the attempt ended: tells a 550 for the sender from one for the recipient."""

    CONNECT = "connect"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"              # the DATA command, before any content
    CONTENT = "content"        # writing the message data
    END_OF_DATA = "end-of-data"  # waiting for the reply to the final dot
    OUTBOX = "outbox"


@dataclass(frozen=True)
class Outcome:
    """One attempt's result for one message, precise enough to drive the ledger row."""

    delivery: Delivery
    phase: Phase
    code: int | None = None     # the SMTP reply code, None when there was no reply
    text: str = ""              # the server's reply text, or what happened instead
    attempts: int = 1           # transactions tried; more than 1 after a dropped connection or a 421

    @property
    def retriable(self) -> bool:
        """May be sent again without risking a second copy."""
        return self.delivery is Delivery.TEMP_FAILED

    @property
    def reply(self) -> str:
        """`550 5.1.1 no such user`, or the explanation when the server gave no reply."""
        return f"{self.code} {self.text}".strip() if self.code is not None else self.text

    def describe(self) -> str:
        """One line for status tables: the delivery, where it ended, and the server's words."""
        return f"{self.delivery} at {self.phase}: {self.reply}" if self.reply else str(self.delivery)

    @property
    def queue_id(self) -> str | None:
        """The server's id for the message it accepted (see `queue_id_in`); None when no server took it."""
        if self.delivery is Delivery.SENT and self.phase is Phase.END_OF_DATA:
            return queue_id_in(self.text)
        return None


# Where common servers name the message they queued in their reply to the end of the data:
# Postfix "2.0.0 Ok: queued as 4F2A1", Exim "OK id=1tKx2B-0003Zq-0s", Exchange "... Queued mail for
# delivery" names none. A pattern, not a compiled one: only a sending run needs it.
_QUEUE_ID = r"(?:queued as|\bid=)\s*([^\s;,]+)"


def queue_id_in(text: str) -> str | None:
    """What to look for in the mail server's log: the queue id its reply names, else the whole reply
    text (which is all some servers give), None for an empty reply."""
    import re

    found = re.search(_QUEUE_ID, text, flags=re.IGNORECASE)
    if found:
        return found.group(1)
    return text.strip() or None


def classify_reply(code: int, text: str, phase: Phase, attempts: int = 1) -> Outcome:
    """A server reply that ends an attempt, as an outcome.

    2xx only counts as sent in answer to the end of the data; anywhere else
    the caller carries on with the dialogue instead of calling this. A reply
    outside 2xx/4xx/5xx (a 354 where none belongs, garbage) means nothing
    was accepted, so it is a temporary failure rather than a guess.
    """
    if 200 <= code < 300 and phase is Phase.END_OF_DATA:
        return Outcome(Delivery.SENT, phase, code, text, attempts)
    if 500 <= code < 600:
        return Outcome(Delivery.FAILED, phase, code, text, attempts)
    if 400 <= code < 500:
        return Outcome(Delivery.TEMP_FAILED, phase, code, text, attempts)
    return Outcome(Delivery.TEMP_FAILED, phase, code, f"unexpected reply: {text}".strip(), attempts)


class Withheld(Exception):
    """The caller's `ready` said no: nothing of the message was handed over (not a failure)."""


class Transport(Protocol):
    """Delivers one message to one envelope recipient and says exactly how it ended.

    Errors that concern the whole session (server unreachable, TLS, login,
    STARTTLS missing) are raised as NotifyError, not returned: no message was
    attempted, every row stays pending, and the batch should stop.
    """

    def send(self, message: EmailMessage | Outgoing, recipient: str, *,
             ready: Callable[[], bool] | None = None, idle: Callable[[], None] | None = None) -> Outcome:
        """Deliver one message (an EmailMessage, or one already serialised by notify.mail.wire).

        Optional hooks let the caller work while the server does. `ready` is asked at most once,
        before anything of the message is handed over; if it says no, nothing is, and Withheld is
        raised. A transport that has nothing to wait for may not ask it at all. `idle` may be
        called once the message is handed over, while its fate is awaited.
        """

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class RateLimiter:
    """At most `per_second` messages per second, spaced evenly.

    Works on a monotonic clock (not the injected wall clock used for dates),
    because spacing must not jump when the system time is adjusted.
    """

    def __init__(self, per_second: float, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._interval = 1.0 / per_second if per_second > 0 else 0.0
        self._monotonic = monotonic
        self._sleep = sleep
        self._next: float | None = None

    def wait(self) -> float:
        """Block until the next message may go; returns how long it slept."""
        if not self._interval:
            return 0.0
        now = self._monotonic()
        delay = max(0.0, self._next - now) if self._next is not None else 0.0
        if delay:
            self._sleep(delay)
        self._next = max(now, self._next or now) + self._interval
        return delay


def open_transport(settings: NotifySettings, **kwargs: object) -> Transport:
    """SMTP when `smtp_url` is set, else the Maildir outbox. kwargs go to the SMTP transport (clocks, env)."""
    if settings.endpoint is None:
        from notify.sending.outbox import MaildirOutbox

        return MaildirOutbox(settings.outbox)
    from notify.sending.smtp import SmtpTransport

    return SmtpTransport(settings, **kwargs)  # type: ignore[arg-type]
