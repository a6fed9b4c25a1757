"""A send's progress as the release manager watches it: one bar, drawn only once the send
knows how many it will attempt, so a refused send or the send's question is never covered."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from notify.vocabulary import State

if TYPE_CHECKING:
    from notify.app import NotifyApp
    from notify.sending.attempts import Attempt

# Each delivery state's colour, wherever deliveries are shown.
STYLE = {State.SENT: "green", State.PENDING: "cyan", State.SENDING: "cyan", State.TEMP_FAILED: "yellow",
         State.FAILED: "red", State.UNKNOWN: "magenta"}


def progress(app: NotifyApp, label: str, *, quiet: bool = False
              ) -> tuple[Any, Callable[[int], None], Callable[[Attempt], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    hidden = app.json or quiet
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[last]}"), console=app.err, disable=hidden)
    task = bar.add_task(escape(label), total=None, last="")
    shown = Shown(bar, task)

    def started(total: int) -> None:
        shown.start(total)

    def advanced(attempt: Attempt) -> None:
        shown.advance(attempt)

    # A hidden bar (--json) is never drawn: nothing to update per message.
    return shown, started, (_ignore if hidden else advanced)


def _ignore(attempt: Attempt) -> None:
    pass


class Shown:
    """The bar, told about attempts at most every SHOW_EVERY seconds.

    `Progress.update` (its lock, its speed samples, the markup of the last recipient) would
    run for every message, on the path between the server's reply and the next MAIL FROM; the
    bar is only drawn 10 times a second, so updating it more often would show nothing more. A failed or
    unknown attempt is shown at once, and the count is brought up to date when the bar stops.

    The bar is drawn from `start`, once the send knows how many it will attempt: a send that is
    refused (already sent, nobody to reach, another run holds it) draws nothing before its error.
    """

    SHOW_EVERY = 0.1

    def __init__(self, bar: Any, task: Any) -> None:
        self.bar, self.task = bar, task
        self.pending = 0
        self.next_show = 0.0
        self.drawn = False

    def start(self, total: int) -> None:
        self.bar.update(self.task, total=total)
        if not self.drawn:
            self.drawn = True
            self.bar.start()

    def advance(self, attempt: Attempt) -> None:
        self.pending += 1
        now = time.monotonic()
        if now < self.next_show and attempt.state == State.SENT:
            return
        self.next_show = now + self.SHOW_EVERY
        colour = STYLE.get(attempt.state, "white")
        self.flush(last=f"[{colour}]{attempt.state}[/{colour}] {escape(attempt.email)}")

    def flush(self, **fields: str) -> None:
        if self.pending or fields:
            self.bar.update(self.task, advance=self.pending, **fields)
            self.pending = 0

    def begin(self) -> None:
        """Draw the bar once the send has its recipients: not while `notice send` asks its question."""
        if not self.drawn:
            self.drawn = True
            self.bar.start()

    def __enter__(self) -> Shown:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()
        if self.drawn:
            self.bar.stop()
