"""A dry run composes each message the way the send will (from the zone's stencil where that renders
the same, else rendered in full) and refuses exactly what the send could not compose."""

from __future__ import annotations

import pytest

from notify.errors import NotifyError
from notify.notices import send_notice
from notify.vocabulary import State
from tests.notify.factories import PASSWORD_ENV, settings_for
from tests.notify.test_delivery_support import (
    BuildValue,
    Clock,
    Person,
    add_people,
    add_schedule,
    make_env,
    open_ledger,
    people,
)
from tests.support.smtp import SMTP_PASSWORD, SmtpServer

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
BUILD = BuildValue()

# Values notify.mail.stencil will not fill in (markup specials, quotes, a non-breaking space) next to plain
# and non-ASCII ones it will: the dry run must pass both kinds, rendering the first in full.
AWKWARD = [Person("R&D <Team>", 'Maria "Mia" Lopez', "mia@example.org", time_zone="America/Chicago"),
           Person("St Mary's & Co", "NBSP\u00a0Name", "nbsp@example.org", time_zone="Asia/Kolkata"),
           Person("Ærø Hospice", "Zoë Ångström", "zoe@example.org", time_zone="Pacific/Chatham"),
           Person("Acadia Hospice", "", "first.last+tag@sub.example.org")]


@pytest.fixture(autouse=True)
def smtp_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)


def _ledger(ledger_url: str, persons: list[Person]):  # type: ignore[no-untyped-def]
    ledger = open_ledger(ledger_url, Clock())
    add_people(ledger, persons)
    add_schedule(ledger, BUILD.id)
    return ledger


def test_a_dry_run_passes_what_the_send_then_delivers(ledger_url: str, smtp_server: SmtpServer) -> None:
    ledger = _ledger(ledger_url, [*people(5), *AWKWARD])
    try:
        env = make_env(ledger, settings_for(smtp_server))
        plan = send_notice(env, "advance", BUILD, dry_run=True)
        assert plan.dry_run and plan.planned == 9 and plan.notice is None
        assert smtp_server.handler.received == []
        report = send_notice(env, "advance", BUILD)
        assert report.counts is not None and report.counts[State.SENT] == 9 and report.counts.complete
        assert len(smtp_server.handler.accepted) == 9
    finally:
        ledger.close()


@pytest.mark.parametrize(("person", "named"), [
    (Person("Acadia Hospice", "Zed", "zed@example.org", time_zone="Mars/Olympus_Mons"), "Mars/Olympus_Mons"),
    (Person("Acadia Hospice", "Umlaut", "ü@example.org"), "ü@example.org"),
    (Person("R&D <Team>", "Both & Bad", "ünd@example.org"), "ünd@example.org"),
])
def test_a_dry_run_refuses_a_recipient_the_send_could_not_compose(ledger_url: str, smtp_server: SmtpServer,
                                                                    person: Person, named: str) -> None:
    ledger = _ledger(ledger_url, [*people(3), person, *people(5)[3:]])
    try:
        env = make_env(ledger, settings_for(smtp_server))
        with pytest.raises(NotifyError, match=named):
            send_notice(env, "advance", BUILD, dry_run=True)
        report = send_notice(env, "advance", BUILD)  # the send fails that one recipient alone
        failed = [p.email for p in report.problems if p.state == State.FAILED]
        assert failed == [person.email]
    finally:
        ledger.close()
