"""Each beta contact's own link in the beta-available notice: written by the zone stencil exactly as
rendering the templates for them would write it, the same link again when the send resumes or a
recipient is sent it again, and only a stand-in in previews.

The links are made by channels' own signer (channels.portal.access.ContactLinks), here from grants
written out (the oracle tests) or from a real ledger through `contact_links` (the resumed sends).
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

import pipeline
from channels.portal.access import ContactLinks, contact_links
from channels.portal.links import LINK, LinkSigner, contact_tag, verify
from channels.portal.settings import PortalSettings
from channels.store import org_key
from notify.content.compose import Composer, NoticeKind, Recipient
from notify.errors import NotifyError
from notify.notices import resend, send_notice
from notify.store import State
from releases.records.ledger import Actor, Ledger
from tests.notify.factories import NOW, PASSWORD_ENV, context, settings_for
from tests.notify.test_delivery_support import BuildValue, Clock, Person, add_people, add_schedule, make_env
from tests.notify.test_wire import (
    EMAILS,
    NAMES,
    SETTINGS,
    assert_is_their_notice,
    boundary_free,
    composed_in_full,
)
from tests.support.smtp import SMTP_PASSWORD, SmtpServer

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
SECRET = b"notice-links-test-secret-0123456789abcdef"
SECRET_ENV = "QD_TEST_PORTAL_SECRET"
SIGNER = LinkSigner("https://beta.carenotes.example.org", 30, SECRET)
ORGS = ["Acadia Hospice", "Ærø Hospice", "St Mary's Care", "", "Hospice " * 30]
ZONES = ["America/Chicago", "", "Asia/Kolkata", "Mars/Olympus"]
KEY = "2026.1.0-b3/beta-available/build/1"
UNTIL = {"": "Sunday 22 March 2026, 09:30 GMT", "America/Chicago": "Sunday 22 March 2026, 04:30 CDT",
         "Asia/Kolkata": "Sunday 22 March 2026, 15:00 IST"}


def links_for(recipients: list[Recipient], issued_at: datetime = NOW) -> ContactLinks:
    """Links for every other recipient (the rest are not contacts: no link), as the ledger's
    contacts would give them: their own contact id and organisation, generation 0 or 2."""
    grants = {}
    for n, r in enumerate(recipients):
        if n % 2 == 0:
            key = (org_key(r.organisation), r.email.lower())
            grants[key] = SIGNER.grant(1000 + n, contact_tag(n, r.email.lower()), 2 * (n % 3 == 0), issued_at)
    return ContactLinks(SIGNER, issued_at, grants)


def parts(data: bytes) -> tuple[str, str]:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def link_in(text: str) -> str | None:
    found = re.findall(r"Your own beta page: (\S+)", text)
    assert len(found) <= 1
    return found[0] if found else None


@pytest.mark.parametrize("kind", [NoticeKind.BETA_AVAILABLE, NoticeKind.ADVANCE])
def test_each_contact_gets_their_own_link_from_the_stencil_byte_for_byte(kind: NoticeKind) -> None:
    from notify.mail.wire import Letters

    values = ((name, org, zone) for name in NAMES for org in ORGS for zone in ZONES)
    recipients = [Recipient(name, EMAILS[n % len(EMAILS)], org, zone)
                  for n, (name, org, zone) in enumerate(values)]
    recipients = [r for n, r in enumerate(recipients) if n % 3 == 0]  # every address with every kind of value
    links = links_for(recipients)
    beta = kind is NoticeKind.BETA_AVAILABLE
    prepared = Composer().prepare(context(kind, window=None) if beta else context(kind), links)
    letters = Letters(SETTINGS, KEY, prepared)
    assert letters.contents.enabled
    linked = stencilled = 0
    for recipient in recipients:
        expected = links.url(recipient.organisation, recipient.email)
        try:
            data = letters.outgoing(recipient, NOW).data
        except NotifyError:
            with pytest.raises(NotifyError) as full:
                composed_in_full(prepared, KEY, recipient)
            assert "Mars/Olympus" in str(full.value) or "address" in str(full.value)
            continue
        assert_is_their_notice(data, prepared, KEY, recipient)
        assert boundary_free(data) == boundary_free(composed_in_full(prepared, KEY, recipient))
        text, html = parts(data)
        assert link_in(text) == expected, recipient
        if expected is None:
            assert "It works until" not in text and "/l/" not in html
            continue
        linked += 1
        stencilled += letters.contents.stencil(recipient) is not None
        assert f'<a href="{expected}"' in html
        grant = verify(SECRET, LINK, expected.removeprefix(SIGNER.base_url + "/l/"), NOW)
        assert grant.expires == datetime(2026, 3, 22, 9, 30, tzinfo=UTC)  # 30 days after the notice
        assert "The link is personal: please do not forward it." in " ".join(text.split())
        until = UNTIL[recipient.time_zone]   # in the reader's own time
        assert f"It works until {until}." in " ".join(text.split()) and f"It works until {until}." in html
    assert linked > 50 and stencilled > linked / 2, "most links went through the stencil's fast path"


def test_a_notice_without_links_reads_as_before_and_only_beta_and_advance_carry_one() -> None:
    recipient = Recipient("Maria Lopez", "maria@bayou.example.org", "Bayou Palliative", "America/New_York")
    plain = Composer().prepare(context(NoticeKind.BETA_AVAILABLE, window=None)).render(recipient)
    assert "beta page" not in plain.text and "/l/" not in plain.html
    links = links_for([recipient])
    real = links.url(recipient.organisation, recipient.email)
    assert real is not None
    advance = Composer().prepare(context(NoticeKind.ADVANCE), links).render(recipient)
    assert "TRY NEW VERSIONS EARLY" in advance.text and link_in(advance.text) == real
    assert f'href="{real}"' in advance.html
    bare = Composer().prepare(context(NoticeKind.ADVANCE)).render(recipient)
    assert "TRY NEW VERSIONS EARLY" not in bare.text and "/l/" not in bare.html
    for kind in (NoticeKind.REMINDER, NoticeKind.COMPLETED):
        other = Composer().prepare(context(kind), links).render(recipient)
        assert "beta page" not in other.text and "/l/" not in other.text + other.html, kind


def test_previews_and_test_copies_show_a_stand_in_never_a_link() -> None:
    recipient = Recipient("Maria Lopez", "maria@bayou.example.org", "Bayou Palliative", "America/New_York")
    links = links_for([recipient])
    real = links.url(recipient.organisation, recipient.email)
    assert real is not None
    shown = Composer().prepare(context(NoticeKind.BETA_AVAILABLE, window=None), links.withhold())
    for someone in (recipient, Recipient("", "rm@carenotes.example.org", "", "")):
        composed = shown.render(someone)
        assert link_in(composed.text) == SIGNER.stand_in and real not in composed.html
    assert "secret" not in repr(SIGNER) and repr(SECRET) not in repr(links)


# -- a resumed send and a resend write the same message, link included ------------------------------

BUILD = BuildValue()
ANN, BO = "ann@acadia.example.org", "bo@acadia.example.org"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(ledger_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    ledger = Ledger(ledger_url, pipeline.ledger_schemas(), actor=Actor("rm@carenotes.example.org", "pytest"),
                    clock=clock)
    add_people(ledger, [Person("Acadia Hospice", "Ann Lee", ANN, time_zone="America/New_York"),
                        Person("Acadia Hospice", "Bo Stone", BO)], enroll=["Acadia Hospice"])
    add_schedule(ledger, BUILD.id)
    yield ledger
    ledger.close()


def env_with_links(ledger: Ledger, server: SmtpServer):  # type: ignore[no-untyped-def]
    """The NoticeEnv pipeline builds: its personal_links hook is channels' contact_links."""
    settings = PortalSettings(base_url=SIGNER.base_url, secret_env=SECRET_ENV, link_days=30,
                              trust_proxy=False)
    return make_env(ledger, settings_for(server),
                    personal_links=lambda conn, issued_at: contact_links(conn, settings, issued_at))


def copies(server: SmtpServer, address: str) -> list[bytes]:
    return [r.content for r in server.handler.received if address in r.rcpt_tos]


def same_message(data: bytes) -> bytes:
    """A message but its MIME boundaries and its Date line, which are new at every attempt."""
    return re.sub(rb"(?m)^Date: .*\r?\n", b"", boundary_free(data))


def test_a_resumed_send_and_a_resend_write_each_recipient_the_same_message(
        ledger: Ledger, smtp_server: SmtpServer, clock: Clock) -> None:
    env = env_with_links(ledger, smtp_server)
    smtp_server.handler.data_replies[ANN] = "451 4.3.0 try again later"
    first = send_notice(env, "beta-available", BUILD)
    assert first.notice is not None and first.counts is not None and first.counts[State.TEMP_FAILED] == 1
    created = first.notice.created_at

    clock.advance(minutes=30)   # the run is resumed later: the link still dates from the notice
    smtp_server.handler.data_replies[ANN] = "550 5.7.1 mailbox full"
    resumed = send_notice(env, "beta-available", BUILD)
    assert resumed.counts is not None and resumed.counts[State.FAILED] == 1

    clock.advance(days=2)
    del smtp_server.handler.data_replies[ANN]
    again = resend(env, "beta-available", BUILD, failed=True)
    assert again.counts is not None and again.counts[State.SENT] == 2

    anns = copies(smtp_server, ANN)
    assert len(anns) == 3 and len({same_message(c) for c in anns}) == 1, "the same message each time"
    links = {link_in(parts(c)[0]) for c in anns}
    [bos] = copies(smtp_server, BO)
    bo_link = link_in(parts(bos)[0])
    assert len(links) == 1 and None not in links and bo_link is not None and bo_link not in links
    grant = verify(SECRET, LINK, links.pop().removeprefix(SIGNER.base_url + "/l/"), clock.now)
    assert grant.expires == (created + timedelta(days=30)).replace(microsecond=0)
    assert grant.generation == 0


def test_without_the_link_secret_the_notice_goes_out_without_links(
        ledger: Ledger, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV)
    report = send_notice(env_with_links(ledger, smtp_server), "beta-available", BUILD)
    assert report.counts is not None and report.counts[State.SENT] == 2
    for received in smtp_server.handler.received:
        text, html = parts(received.content)
        assert "beta page" not in text and "/l/" not in html
        assert "A new beta build of CareNotes is ready for testing" in text
