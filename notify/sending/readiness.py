"""Whether a message may go: the sender's `ready` (a ledger commit), asked while the server talks.

An attempt at one message asks the caller's `ready` once: it commits the recipient's claim
to the ledger, and a message is sent only when that commit succeeded (exactly once, even
across a crash). The SMTP transport asks it in the background, so that the disk write and
the server's answers to MAIL FROM and RCPT TO overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class ReadyGate:
    """The caller's `ready`, asked at most once per message (a retry on a new connection reuses it).

    Asked in the background: started once MAIL FROM has gone out, it runs on the transport's
    worker thread while the server answers MAIL FROM and RCPT TO, and is waited for before DATA
    and whenever the transaction ends earlier. The caller's `ready` is a ledger commit synced
    to disk; in the foreground every message's MAIL FROM round trip would wait for the disk as
    well, and the SQLite driver releases the GIL while it waits (BENCHMARKS.md, notices).
    """

    def __init__(self, ready: Callable[[], bool] | None, worker: Callable[[], ThreadPoolExecutor]) -> None:
        self._ready = ready
        self._worker = worker
        self._pending: Future[bool] | None = None
        self.answer: bool | None = None if ready is not None else True

    def start(self) -> None:
        if self.answer is None and self._pending is None:
            assert self._ready is not None
            self._pending = self._worker().submit(self._ready)

    def ask(self) -> None:
        """The answer, waited for (or asked now, if never started); `ready`'s error is raised here."""
        if self.answer is not None:
            return
        pending, self._pending = self._pending, None
        if pending is None:
            assert self._ready is not None
            self.answer = bool(self._ready())
        else:
            self.answer = bool(pending.result())

    def wait(self) -> None:
        """Let a started `ready` finish before the transaction is left (its caller reads its outcome)."""
        if self._pending is not None:
            self.ask()

    @property
    def refused(self) -> bool:
        return self.answer is False
