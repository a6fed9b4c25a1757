"""The release team's alert when a blocker is reported: a notice of its own kind, to one address.

A blocker reported on the beta page, through the intake API or with `problem report` stops
the push, so the release team hears of it at once rather than at the next `gates`. The alert
is a notice like any other (kind `problem-alert`, event `problem:ID`): its notice row and its
one delivery row are written before the attempt and claimed and settled by the same delivery
state machine, so a killed process or a rerun never sends it twice, and a server that refuses
or cannot be reached leaves it owed. `tick` sends what is owed: an alert still pending or due
a retry, and the alert of an open blocker reported within the retry deadline that has none yet
(the process that filed it stopped before it could write the notice).

Its readers are the release team, so it speaks their words (problem id, build id, the
organisation and the reporter); everything the reporter wrote is data for the templates,
escaped in the HTML part and kept out of the subject (the ledger's words only: the problem,
the organisation, the build), since the mail library decodes anything that looks like an
RFC 2047 encoded word in a header's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from channels.audience.contacts import Contact
from channels.gates.beta import get_problem
from channels.gates.gates import OPEN
from channels.store import problems
from notify.content.wording import format_moment
from notify.errors import NotifyError
from notify.settings import NotifySettings
from notify.store import notices
from notify.vocabulary import NoticeKind

ALERT_CHANNEL = "release-team"   # the notice row's channel: not an audience of contacts
BLOCKER = "blocker"
_EVENT = "problem:"


def alert_event(problem_id: int) -> str:
    """The alert's event key: one alert per problem, whoever reported it and however often."""
    return f"{_EVENT}{problem_id}"


def alerted_problem(event: str) -> int:
    """The problem an alert's event names (NotifyError for any other event)."""
    number = event.removeprefix(_EVENT)
    if not event.startswith(_EVENT) or not number.isdigit():
        raise NotifyError(f"{event!r} is not a problem alert's event",
                          hint="a problem alert is sent by itself when a blocker is reported; "
                               "`quarterdeck tick` sends any still owed")
    return int(number)


def release_team(settings: NotifySettings) -> Contact | None:
    """The alert's one recipient, frozen in its delivery row; None when no address is configured."""
    address = settings.release_team_address
    if address is None:
        return None
    return Contact(organisation="", name=address.display_name or "Release team", email=address.addr_spec,
                   role="release team", time_zone="")


@dataclass(frozen=True)
class ProblemAlert:
    """What the alert tells the release team about the problem, as the ledger has it."""

    id: int
    build: str
    organisation: str
    severity: str
    summary: str
    details: str
    reported_by: str
    reported_at: datetime
    status: str

    def view(self, zone: ZoneInfo) -> dict[str, object]:
        """The templates' `problem`: plain values, escaped by the HTML templates like every other."""
        return {"id": self.id, "build": self.build, "organisation": self.organisation,
                "severity": self.severity, "summary": self.summary, "details": self.details,
                "reported_by": self.reported_by, "reported_at": format_moment(self.reported_at, zone),
                "open": self.status == OPEN}


def problem_alert(conn: Connection, event: str) -> ProblemAlert:
    """The alert's content, read when it is prepared (a resumed alert says what the ledger says)."""
    problem = get_problem(conn, alerted_problem(event))
    return ProblemAlert(problem.id, problem.build, problem.organisation, problem.severity, problem.summary,
                        problem.details or "", problem.reported_by, problem.reported_at, problem.status)


def unalerted_blockers(conn: Connection, now: datetime, deadline: timedelta) -> list[tuple[int, str]]:
    """(problem id, build) of the open blockers reported within `deadline` of `now` that have no
    alert yet: owed to the release team. Older ones are left alone, so configuring an address
    later does not mail the team about every blocker of the past."""
    found = conn.execute(select(problems.c.id, problems.c.build_id)
                         .where(problems.c.severity == BLOCKER, problems.c.status == OPEN,
                                problems.c.reported_at > now - deadline)
                         .order_by(problems.c.id)).all()
    if not found:
        return []
    alerted = set(conn.execute(select(notices.c.event).where(
        notices.c.kind == NoticeKind.PROBLEM_ALERT.value,
        notices.c.event.in_([alert_event(row.id) for row in found]))).scalars())
    return [(row.id, row.build_id) for row in found if alert_event(row.id) not in alerted]
