"""What a contact's beta page shows, read from the ledger for their organisation only.

The build on the beta tier, the push it waits for (in the contact's own time zone), their
organisation's sign-off, the problems that count against the build and those the organisation
reported. No other organisation or contact is named: a problem another hospice reported shows
its summary, severity and state, never who reported it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from channels.calendar.calendar import format_window, next_pushes
from channels.calendar.scheduling import signoff_deadline
from channels.gates.beta import ProblemRecord, all_problems, signoffs_for
from channels.gates.betaview import counting_against
from channels.gates.evidence import build_order
from channels.gates.gates import OPEN, SignOff
from channels.portal.access import Visitor
from channels.portal.joining import pending_request
from channels.settings import CalendarRule, zone_of
from channels.store import CANCELLED, current_schedule, enrolled_org_names
from releases.tiers.deployments import build_on, succeeded_on


@dataclass(frozen=True)
class ProblemLine:
    id: int
    severity: str
    summary: str
    state: str
    build: str
    fixed_in: str | None


@dataclass(frozen=True)
class BetaPage:
    org: str
    contact: str
    zone: str
    build: str | None
    enrolled: bool
    push_window: str | None  # the scheduled push's window, else the next quarterly window
    push_scheduled: bool
    signoff_deadline: str | None
    signed: SignOff | None
    can_withdraw: bool  # the visitor gave the sign-off and the build has not been pushed yet
    known: tuple[ProblemLine, ...]
    reported: tuple[ProblemLine, ...]
    join_requested: str | None = None  # when the organisation (not enrolled) asked to join


def beta_page(conn: Connection, visitor: Visitor, *, beta_tier: str, push_tier: str | None,
              default_zone: str, rule: CalendarRule, now: datetime) -> BetaPage:
    zone = visitor.time_zone or default_zone
    build = build_on(conn, beta_tier)
    enrolled = visitor.org in enrolled_org_names(conn)
    waiting = None if enrolled else pending_request(conn, visitor.org_id)
    window = deadline = None
    scheduled = False
    signed: SignOff | None = None
    known: list[ProblemLine] = []
    records = all_problems(conn)
    if build is not None:
        schedule = current_schedule(conn, build)
        scheduled = schedule is not None and schedule.state != CANCELLED
        if schedule is not None and scheduled:
            window = format_window(schedule.window_start, schedule.window_end, zone)
        else:  # not scheduled yet: the next quarterly window it is waiting for
            upcoming = next_pushes(rule, now, 1)
            window = format_window(upcoming[0].start, upcoming[0].end, zone) if upcoming else None
        by = signoff_deadline(conn, build, rule, now)  # the date the beta notice gave
        deadline = f"{by.astimezone(zone_of(zone)):%Y-%m-%d %H:%M %Z}" if by is not None else None
        signed = next((s for s in signoffs_for(conn, build) if s.org == visitor.org), None)
        known = [_line(r) for r in counting_against(records, build_order(conn), build)]
    pushed = build is not None and push_tier is not None and succeeded_on(conn, build, push_tier)
    return BetaPage(
        org=visitor.org, contact=visitor.name, zone=zone, build=build, enrolled=enrolled,
        push_window=window, push_scheduled=scheduled, signoff_deadline=deadline, signed=signed,
        can_withdraw=signed is not None and signed.by.lower() == visitor.email.lower() and not pushed,
        known=tuple(known), reported=tuple(_line(r) for r in records if r.organisation == visitor.org),
        join_requested=f"{waiting.requested_at.astimezone(zone_of(zone)):%Y-%m-%d}" if waiting else None)


def _line(record: ProblemRecord) -> ProblemLine:
    state = "open" if record.status == OPEN else "resolved"
    return ProblemLine(record.id, record.severity, record.summary, state, record.build, record.fixed_in)
