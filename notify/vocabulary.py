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


class State(StrEnum):
    """A delivery row's state (the ledger's words, shared with notify.sending.transport.Delivery)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    TEMP_FAILED = "temp-failed"
    FAILED = "failed"
    UNKNOWN = "unknown"
