"""What the beta page and the intake API do, apart from HTTP: each a ledger transaction with the
visitor (or the token) as actor, through the same functions the command line uses.

A new problem report is followed, once its transaction committed, by `after_report` (serve
passes the App's `after_problem_report`: a blocker's alert to the release team), on a thread
of its own: the answer does not wait for the mail server, and a send that fails leaves the
alert owed for `tick` without touching the report."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection

from channels.errors import ChannelsError
from channels.gates.beta import ProblemRecord, add_signoff, report_problem, withdraw_signoff
from channels.gates.gates import SignOff
from channels.portal.access import TokenHolder, Visitor, open_link, session_visitor, token_holder
from channels.portal.intake import Filed, IntakeReport, file_report
from channels.portal.joining import JoinRequest, request_join
from channels.portal.page import BetaPage, beta_page
from channels.settings import CalendarRule
from releases.records.ledger import Ledger
from releases.tiers.deployments import build_on


class NotesView(Protocol):
    """What the page needs of a build's notes (notify's NoticeNotes has it)."""

    @property
    def html(self) -> str: ...

    @property
    def approved(self) -> bool: ...


@dataclass(frozen=True)
class PageContent:
    """What the beta page shows a visitor: the page read for their organisation, the approved
    beta notes' HTML (None until approved) and the build's training sessions in their zone
    (notify's reader view: title, local, project, link, linkable, past)."""

    page: BetaPage
    notes: str | None
    trainings: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class PortalService:
    """The portal's actions on one ledger; `notes(build_id)` gives a build's beta notes and
    `trainings(build_id, zone)` its training sessions as a reader in `zone` sees them."""

    ledger: Ledger
    secret: bytes
    beta_tier: str
    push_tier: str | None
    default_zone: str
    rule: CalendarRule  # the quarterly calendar: the sign-off deadline is its advance-notice deadline
    notes: Callable[[str], NotesView]
    trainings: Callable[[str, str], Sequence[Mapping[str, Any]]]
    after_report: Callable[[ProblemRecord], None] | None = None

    def now(self) -> datetime:
        return self.ledger.clock()

    def open_link(self, value: str) -> tuple[Visitor, str]:
        with self.ledger.write() as conn:
            return open_link(self.ledger, conn, self.secret, value)

    def visitor(self, session: str) -> Visitor:
        with self.ledger.read() as conn:
            return session_visitor(conn, self.secret, session, self.now())

    def page(self, visitor: Visitor) -> PageContent:
        with self.ledger.read() as conn:
            page = beta_page(conn, visitor, beta_tier=self.beta_tier, push_tier=self.push_tier,
                             default_zone=self.default_zone, rule=self.rule, now=self.now())
        if page.build is None:
            return PageContent(page, None, ())
        notes = self.notes(page.build)
        return PageContent(page, notes.html if notes.approved else None,
                           tuple(self.trainings(page.build, page.zone)))

    def _on_beta(self, conn: Connection, build: str) -> None:
        """The form's build is the one on the beta tier now: a page left open over a promotion
        must not sign off (or report against) a build the contact no longer sees."""
        if build != build_on(conn, self.beta_tier):
            raise ChannelsError(f"{build} is no longer the build on {self.beta_tier}",
                                hint="reload the page and try again")

    def sign_off(self, visitor: Visitor, build: str, note: str | None) -> SignOff:
        with self.ledger.write() as conn:
            self._on_beta(conn, build)
            return add_signoff(visitor.acting(self.ledger), conn, build_id=build, org_name=visitor.org,
                               by=visitor.email, note=note, beta_tier=self.beta_tier)

    def withdraw(self, visitor: Visitor, build: str) -> SignOff:
        with self.ledger.write() as conn:
            self._on_beta(conn, build)
            return withdraw_signoff(visitor.acting(self.ledger), conn, build_id=build, org_name=visitor.org,
                                    by=visitor.email, push_tier=self.push_tier)

    def join(self, visitor: Visitor) -> JoinRequest:
        with self.ledger.write() as conn:
            return request_join(visitor.acting(self.ledger), conn, visitor)

    def token_holder(self, token: str) -> TokenHolder:
        with self.ledger.read() as conn:
            return token_holder(conn, token)

    def intake(self, holder: TokenHolder, report: IntakeReport) -> Filed:
        with self.ledger.write() as conn:
            filed = file_report(self.ledger, conn, holder, report)
        if filed.new:  # one more occurrence of an open problem is not news
            self._reported(filed.problem)
        return filed

    def report(self, visitor: Visitor, build: str, severity: str, summary: str,
               details: str | None) -> ProblemRecord:
        with self.ledger.write() as conn:
            self._on_beta(conn, build)
            problem = report_problem(visitor.acting(self.ledger), conn, build_id=build, org_name=visitor.org,
                                     severity=severity, summary=summary, details=details, by=visitor.email)
        self._reported(problem)
        return problem

    def _reported(self, problem: ProblemRecord) -> None:
        """Run `after_report` for a committed report, beside the request (see the module docstring).
        Not a daemon: a server told to stop finishes the alert it began."""
        if self.after_report is not None:
            threading.Thread(target=self.after_report, args=(problem,),
                             name=f"after-report-{problem.id}").start()
