"""Footers are found in one pass over a message's paragraphs (issue 16, item 9).

The measure is the work done, not a time: how many lines the footer rule is
tried on. On a message of 8,000 `Refs: N` paragraphs and one prose paragraph,
every `Refs:` paragraph used to start a new attempt that read to the end.
"""

from __future__ import annotations

import re
import time

import pytest

from notes.commits import parsing
from notes.commits.parsing import parse_message


class CountingPattern:
    """FOOTER_RE, counting the lines it is tried on."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.calls = 0

    def fullmatch(self, text: str) -> re.Match[str] | None:
        self.calls += 1
        return self.pattern.fullmatch(text)


def refs_then_prose(paragraphs: int) -> str:
    return "fix: x\n\n" + "\n\n".join(f"Refs: {n}" for n in range(paragraphs)) + "\n\nSome prose at the end."


def lines_tried(message: str, monkeypatch: pytest.MonkeyPatch) -> int:
    counting = CountingPattern(parsing.FOOTER_RE)
    with monkeypatch.context() as patch:
        patch.setattr(parsing, "FOOTER_RE", counting)
        parse_message(message)
    return counting.calls


@pytest.mark.parametrize("make", [
    refs_then_prose,
    lambda n: "fix: x\n\nBREAKING CHANGE: y\n\n" + "\n\n".join(f"Refs: {k}" for k in range(n)) + "\n\nprose",
    lambda n: "fix: x\n\n" + "\n\n".join(f"Refs: {k}\nwith a second line" for k in range(n)),
], ids=["refs-then-prose", "breaking-refs-prose", "two-line-footers"])
def test_footer_work_grows_with_the_message_not_its_square(make: object,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    small = lines_tried(make(1_000), monkeypatch)  # type: ignore[operator]
    large = lines_tried(make(8_000), monkeypatch)  # type: ignore[operator]
    assert large <= 3 * 8_000 + 10  # a few tries per paragraph, whatever the length
    assert large <= 9 * small


def test_the_issues_message_parses_at_once_and_is_all_body() -> None:
    message = refs_then_prose(8_000)
    assert 90_000 < len(message) < 100_000  # the 95 KB message of the issue
    started = time.perf_counter()
    parsed = parse_message(message)
    assert time.perf_counter() - started < 1.0  # a generous bound: the work is counted above
    # The prose paragraph at the end makes every `Refs:` paragraph body text, as before.
    assert parsed.footers == () and parsed.tickets == ()
    assert parsed.body.startswith("Refs: 0\n\nRefs: 1") and parsed.body.endswith("Some prose at the end.")
