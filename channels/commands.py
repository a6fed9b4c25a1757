"""The channels package's commands, registered with pipeline's command line.

Grouped by concept in three modules: audiences (`orgs`, `channels`, `beta`),
the beta programme's evidence (`signoff`, `problem`) and the calendar and
gates (`calendar`, `schedule`, `hold`, `release-hold`, `gates`).
"""

from __future__ import annotations

from . import commands_audience, commands_calendar, commands_evidence
from .cli import Add


def register(add: Add) -> None:
    commands_audience.register(add)
    commands_evidence.register(add)
    commands_calendar.register(add)
