"""What the channels package needs of the application that runs it, stated once.

It is what releases needs (releases.app.ReleasesApp: the configuration, the
ledger, consoles, the build a BUILD argument names) and the two values built
from channels' own part of the configuration, which pipeline builds because
only it reads the file. notify extends this Protocol (notify.app.NotifyApp).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from releases.app import ReleasesApp

if TYPE_CHECKING:
    from channels.gates.beta import ProblemRecord
    from channels.gates.gates import GateResult, GateSettings
    from channels.settings import CalendarRule
    from releases.artifacts.buildview import Build


class ChannelsApp(ReleasesApp, Protocol):
    """What channels' commands and gates use of pipeline's App."""

    def calendar_rule(self) -> CalendarRule: ...

    def gate_settings(self, tier: str) -> GateSettings: ...

    def promotion_gates(self, build: Build, tier: str) -> Sequence[GateResult]:
        """Every gate's verdict for the build entering the tier, the notice gates included."""
        ...

    def after_schedule_change(self, build: Build, send: bool | None) -> dict[str, object] | None:
        """Called after `schedule` moved or cancelled a push: says which notice is now due and sends
        it when `send` is True (None: asks on a terminal); what was due and done, for --json."""
        ...

    def after_problem_report(self, problem: ProblemRecord) -> None:
        """Called after a problem report's transaction committed (page, intake API, `problem report`):
        a new blocker's alert to the release team. Never raises for a failed send: the alert
        stays owed and `tick` sends it."""
        ...

    def problem_alert_gap(self) -> str | None:
        """Why a reported blocker would email nobody (no release team address), or None."""
        ...
