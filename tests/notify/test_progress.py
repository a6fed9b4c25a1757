"""The send's progress bar is updated at most ten times a second, yet ends on the exact count and
shows a failure at once."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from notify.progress import progress as _progress
from notify.sending.attempts import Attempt
from notify.vocabulary import State


@dataclass
class _App:
    json: bool = False
    err: Any = field(default_factory=lambda: Console(file=io.StringIO(), force_terminal=True, width=120))


def test_the_bar_ends_on_the_exact_count_and_shows_failures_at_once() -> None:
    app = _App()
    shown, started, advanced = _progress(app, "advance 2026.4.0+b3")  # type: ignore[arg-type]
    task = shown.bar.tasks[0]
    shown.SHOW_EVERY = 3600.0  # so that what is held back does not depend on the machine's speed
    with shown:
        started(1000)
        for n in range(998):
            advanced(Attempt(f"user{n}@example.org", State.SENT, "250 OK"))
        assert task.completed == 1  # the first is shown, the rest held back …
        advanced(Attempt("bad@example.org", State.FAILED, "550 no such user"))
        assert "bad@example.org" in task.fields["last"] and task.completed == 999  # … but not this one
        advanced(Attempt("user999@example.org", State.SENT, "250 OK"))
    assert task.completed == 1000 and task.total == 1000
    assert "1000/1000" in app.err.file.getvalue()


def test_a_hidden_bar_takes_no_updates() -> None:
    app = _App(json=True)
    shown, started, advanced = _progress(app, "advance 2026.4.0+b3")  # type: ignore[arg-type]
    with shown:
        started(3)
        for n in range(3):
            advanced(Attempt(f"user{n}@example.org", State.SENT, "250 OK"))
    assert app.err.file.getvalue() == ""


def test_a_send_refused_before_it_starts_draws_no_bar() -> None:
    app = _App()
    shown, _started, _advanced = _progress(app, "advance 2026.4.0+b3")  # type: ignore[arg-type]
    try:
        with shown:
            raise RuntimeError("the advance notice was already sent")  # before `started`: the refusal
    except RuntimeError:
        pass
    assert app.err.file.getvalue() == ""  # not an empty "0/?" bar above the error
