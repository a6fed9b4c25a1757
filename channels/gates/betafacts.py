"""The beta programme's facts as the gates judge them: sign-offs, problem reports, and which
problems count against a build.

Pure values and one rule, apart from the gates themselves, because `status` shows the same
facts (the beta's sign-offs and the problems counting against its build) and must start
without the gates' own imports (contacts, the calendar's wording).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from channels.errors import ChannelsError

SEVERITIES = ("blocker", "major", "minor")
OPEN, RESOLVED = "open", "resolved"


def aware(moment: datetime, what: str) -> datetime:
    """The moment itself, refused (naming `what`) unless it carries a time zone."""
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ChannelsError(f"{what}: {moment!r} must be an aware datetime (with a time zone)")
    return moment


@dataclass(frozen=True)
class SignOff:
    """A beta organisation's statement that a build works for them."""

    org: str
    by: str
    at: datetime


@dataclass(frozen=True)
class Problem:
    """A problem report as the gates need it.

    `build_seq` orders builds (the ledger's build row id: any number that
    grows with each new build); `fixed_in_seq` is the build a resolution says
    carries the fix, if it said so.
    """

    id: int
    severity: str
    status: str
    opened_at: datetime
    summary: str
    org: str
    build: str
    build_seq: int
    fixed_in: str | None = None
    fixed_in_seq: int | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ChannelsError(f"problem #{self.id}: severity {self.severity!r} is not one of "
                                f"{', '.join(SEVERITIES)}")
        if self.status not in (OPEN, RESOLVED):
            raise ChannelsError(f"problem #{self.id}: status {self.status!r} is not {OPEN} or {RESOLVED}")
        aware(self.opened_at, f"problem #{self.id} opened_at")
        if (self.fixed_in is None) != (self.fixed_in_seq is None):
            raise ChannelsError(f"problem #{self.id}: give both fixed_in and fixed_in_seq, or neither")


def applicable_problems(problems: Iterable[Problem], build_seq: int) -> list[Problem]:
    """The problems that count against the build numbered `build_seq`, in report order.

    A problem reported against a build applies to that build and every later
    one until it is resolved: nobody fixed it, so the next build has it too.
    A resolution naming the build with the fix (`--fixed-in`) keeps the
    problem against the builds before the fix, so resolving a blocker does
    not wave through an older build that still has it. A resolution without
    --fixed-in clears it everywhere. Earlier builds are not blamed for a
    problem first seen in a later one.
    """
    def applies(problem: Problem) -> bool:
        if problem.build_seq > build_seq:
            return False
        if problem.status == OPEN:
            return True
        return problem.fixed_in_seq is not None and build_seq < problem.fixed_in_seq

    return sorted((p for p in problems if applies(p)), key=lambda p: p.id)
