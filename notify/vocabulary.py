"""The words notices and deliveries are named by, apart from the code that renders and stores them.

The command line needs these names to build its choices and colours on every start, so they live
where importing them costs nothing: no Jinja2, no SQLAlchemy.
"""

from __future__ import annotations

from enum import StrEnum


class NoticeKind(StrEnum):
    BETA_AVAILABLE = "beta-available"
    ADVANCE = "advance"
    REMINDER = "reminder"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    PROBLEM_ALERT = "problem-alert"   # to the release team, not to readers: a blocker was reported


def refusal_is_final(kind: str) -> bool:
    """Whether a 5xx for a recipient ends their delivery (`failed`, resent only on request). A reader's
    address the server refuses stays refused; the release team's own address refusing its alert
    means the mail set-up is wrong, which someone fixes, so the alert stays owed and is retried
    (temp-failed) until its deadline."""
    return kind != NoticeKind.PROBLEM_ALERT


class State(StrEnum):
    """A delivery row's state (the ledger's words, shared with notify.sending.transport.Delivery)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    TEMP_FAILED = "temp-failed"
    FAILED = "failed"
    UNKNOWN = "unknown"
