"""A run's messages (notify.mail.wire): one complete email per recipient, as the templates render it for them.

Each message is parsed back with the stdlib and checked for what a mail client sees: the headers,
the two parts and their decoded bodies (against `PreparedNotice.render`, the reference renderer),
short 7-bit lines, and a MIME boundary of its own. And byte for byte (but the boundary) against
the oracle: the same recipient's message made whole by `message.build_message` and serialised
by the stdlib, which is what notify.mail.wire does once per zone before filling in each recipient.
"""

from __future__ import annotations

import email
import email.policy
import random
import re
import smtplib
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from notify.content.calendar_entry import CalendarEntry
from notify.content.compose import Composer, NoticeKind, PreparedNotice, Recipient
from notify.errors import NotifyError
from notify.mail.message import (
    POLICY,
    message_bytes,
    message_id_for,
    notice_message,
    recipient_address,
    single_line,
)
from notify.mail.stencil import substitutable
from notify.mail.wire import Letters
from notify.sending.outbox import MaildirOutbox
from notify.sending.smtp import _quoted
from notify.settings import NotifySettings
from tests.notify.factories import NOW, context

SETTINGS = NotifySettings(sender="CareNotes releases <releases@carenotes.example.org>",
                          reply_to="Release desk <desk@carenotes.example.org>",
                          message_domain="carenotes.example.org")
NAMES = ["Maria Lopez", "O'Brien-Smith", "Zoë Ångström", "Lopez, Maria", 'Maria "Mia" Lopez', "a=b",
         "=?utf-8?q?Mallory?=", "", "   ", "日本語 の 名前", "Dr. Who", "Tab\tName", "Two  Spaces",
         "R&D Team", "<b>bold</b>", "x" * 75, "Wörter " * 12, "Ümlaut-Ärztin", "Ελένη Παπαδοπούλου",
         "NBSP\u00a0Name", "qdnotes", "\U0001F600 Smiley"]
ORGS = ["Acadia Hospice", "", "St Mary's & Co", "Ærø Hospice", "Hospice " * 30, "Bayou, Palliative"]
ZONES = ["America/Chicago", "", "Europe/London", "Asia/Kolkata", "Pacific/Chatham", "Mars/Olympus"]
EMAILS = ["maria@bayou.example.org", "first.last+tag@sub.example.org", '"quoted"@example.org',
          "ü@example.org", "nodomain", "o'hara@example.org"]


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def lines_of(text: str) -> str:
    """Text as a part carries it: its lines ended with LF, the last one too."""
    return "".join(line + "\n" for line in text.splitlines()) or "\n"


def boundary_free(data: bytes) -> bytes:
    """The MIME boundaries are new for every message: compare around them (the outer one of a
    message with a calendar entry first, as the inner one is a part of its text)."""
    for n, boundary in enumerate(re.findall(rb'boundary="([^"]+)"', data)):
        data = data.replace(boundary, b"BOUNDARY%d" % n)
    return data


def boundary_of(data: bytes) -> bytes:
    found = re.search(rb'boundary="([^"]+)"', data)
    assert found is not None
    return found.group(1)


def as_the_registry_writes_it(name: str, value: object) -> Any:
    """The oracle for a header: `value` as the stdlib's header registry folds it, read back.

    Mostly the value itself; the registry's own writing and reading differ for a name that is an
    encoded word ("=?utf-8?q?Mallory?=" reads "Mallory") and a subject folded before its first word
    (it reads with a leading space).
    """
    folded = POLICY.header_factory(name, value).fold(policy=POLICY)
    return parse(folded.encode("ascii") + b"\r\n")[name]


def composed_in_full(prepared: PreparedNotice, key: str, recipient: Recipient) -> bytes:
    """The reference: render the templates for this recipient, then make and serialise the message."""
    return message_bytes(notice_message(SETTINGS, notice_id=key, recipient=recipient,
                                        content=prepared.render(recipient), date=NOW))


def assert_is_their_notice(data: bytes, prepared: PreparedNotice, key: str, recipient: Recipient) -> None:
    """`data` is `recipient`'s notice: every header, part and decoded body a client would show."""
    assert data.isascii() and b"\n" not in data.replace(b"\r\n", b"")
    head, body = data.split(b"\r\n\r\n", 1)
    assert max(map(len, body.split(b"\r\n"))) <= 78, recipient  # quoted-printable lines, boundaries
    address = recipient_address(recipient.name, recipient.email)
    to_fold = POLICY.header_factory("To", address).fold(policy=POLICY)
    # folded at 78, as the registry folds; it folds some long encoded names a character over
    assert max(map(len, head.split(b"\r\n"))) <= max(78, *map(len, to_fold.splitlines())), recipient
    content = prepared.render(recipient)
    msg = parse(data)
    assert msg.defects == [] and all(not msg[name].defects for name in msg)
    [to] = msg["To"].addresses
    [oracle] = as_the_registry_writes_it("To", address).addresses
    assert (to.display_name, to.addr_spec) == (oracle.display_name, oracle.addr_spec), recipient
    assert msg["From"].addresses[0].addr_spec == "releases@carenotes.example.org"
    assert msg["Reply-To"].addresses[0].addr_spec == "desk@carenotes.example.org"
    assert msg["Subject"] == content.subject  # read back exactly: no leading space from a fold (issue 16)
    assert msg["Date"].datetime == NOW
    assert msg["Message-ID"] == message_id_for(key, recipient.email, "carenotes.example.org")
    assert msg["Auto-Submitted"] == "auto-generated" and msg["MIME-Version"] == "1.0"
    alternative = msg
    if content.invitation is not None:
        assert msg.get_content_type() == "multipart/mixed"
        alternative, attached = msg.iter_parts()
        assert attached.get_content_type() == "text/calendar"
        assert attached.get_param("method") == content.invitation.method
        assert attached.get_content_disposition() == "attachment"
        assert attached.get_payload(decode=True) == content.invitation.ics
        assert data.count(b"--" + boundary_of(data)) == 3  # the alternatives and the entry, one close
    assert alternative.get_content_type() == "multipart/alternative"
    text, html = alternative.iter_parts()
    for part, subtype, body in ((text, "plain", content.text), (html, "html", content.html)):
        assert (part.get_content_type(), part.get_content_charset()) == (f"text/{subtype}", "utf-8")
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.get_content().replace("\r\n", "\n") == lines_of(body)
    inner = alternative.get_boundary()
    assert inner is not None and data.count(b"--" + inner.encode()) == 3     # two parts opened, one close


ENTRY = CalendarEntry("push.2026.1.0-b3@carenotes.example.org", 2, NOW, "releases@carenotes.example.org")


@pytest.mark.parametrize("kind, calendar", [*((k, None) for k in NoticeKind),
                                            (NoticeKind.ADVANCE, ENTRY),
                                            (NoticeKind.CANCELLED, replace(ENTRY, cancelled=True))])
def test_every_recipient_gets_their_own_notice_or_the_error_composing_it_gives(
        kind: NoticeKind, calendar: CalendarEntry | None) -> None:
    prepared = Composer().prepare(context(kind, calendar=calendar))
    assert (prepared.invitation is not None) == (calendar is not None)
    key = "2026.1.0-b3/advance/schedule:1/1"
    letters = Letters(SETTINGS, key, prepared)
    assert letters.contents.enabled
    written = 0
    for n, (name, org, zone) in enumerate((n, o, z) for n in NAMES for o in ORGS for z in ZONES):
        recipient = Recipient(name, EMAILS[n % len(EMAILS)], org, zone)
        try:
            outgoing = letters.outgoing(recipient, NOW)
        except NotifyError as err:
            with pytest.raises(NotifyError) as full:
                composed_in_full(prepared, key, recipient)
            assert str(full.value) == str(err)
            continue
        written += 1
        assert outgoing.message_id == message_id_for(key, recipient.email, "carenotes.example.org")
        assert_is_their_notice(outgoing.data, prepared, key, recipient)
        # the oracle: the same recipient's message made and serialised whole by message.build_message
        assert boundary_free(outgoing.data) == boundary_free(composed_in_full(prepared, key, recipient))
    assert written == 396  # of 792: the rest have an unknown zone or an address that is not one


def test_every_message_has_a_boundary_of_its_own_that_no_part_contains() -> None:
    letters = Letters(SETTINGS, "k", Composer().prepare(context(notes_text="--=_ ==_ =_ " * 40)))
    recipient = Recipient("Maria Lopez", "maria@bayou.example.org", "Bayou Palliative", "America/New_York")
    messages = [letters.outgoing(recipient, NOW).data for _ in range(200)]
    boundaries = {boundary_of(data) for data in messages}
    assert len(boundaries) == len(messages)
    for data in messages:
        boundary = boundary_of(data)
        assert data.count(boundary) == 4  # the header and the three delimiter lines
        assert data.count(b"\r\n--" + boundary + b"\r\n") == 2
        assert data.endswith(b"\r\n--" + boundary + b"--\r\n")


def test_values_the_stencil_cannot_carry_are_rendered_in_full_with_the_same_result() -> None:
    prepared = Composer().prepare(context())
    letters = Letters(SETTINGS, "k", prepared)
    plain = Recipient("Maria Lopez", "maria@bayou.example.org", "Bayou Palliative", "America/New_York")
    name, email_, org, zone = plain.name, plain.email, plain.organisation, plain.time_zone
    recipients = [plain, Recipient("Zoë O'Brien", email_, "Ærø Hospice", "")]
    for unsafe in ("R&D", "<Maria>", 'Maria "Mia"', "NBSP\u00a0Name", prepared.token):
        recipients += [Recipient(unsafe, email_, org, zone), Recipient(name, email_, unsafe, zone)]
    for recipient in recipients:
        assert letters.contents.render(recipient) == prepared.render(recipient), recipient
        data = letters.outgoing(recipient, NOW).data
        assert_is_their_notice(data, prepared, "k", recipient)
        assert boundary_free(data) == boundary_free(composed_in_full(prepared, "k", recipient))
    with pytest.raises(NotifyError, match="Mars/Olympus"):
        letters.outgoing(Recipient(name, email_, org, "Mars/Olympus"), NOW)
    with pytest.raises(NotifyError, match="recipient address"):
        letters.outgoing(Recipient(name, "", org, ""), NOW)


def _override(tmp_path: Path, base_html: str) -> Composer:
    source = Path(__file__).resolve().parents[2] / "notify" / "templates" / "base.html"
    (tmp_path / "base.html").write_text(source.read_text().replace(
        "<p>Hello{% if recipient_name %} <bdi>{{ recipient_name }}</bdi>{% endif %},</p>", base_html))
    return Composer(tmp_path)


OVERRIDE_RECIPIENTS = (Recipient("Maria O'Lopez", "maria@bayou.example.org", "Bayou", "Asia/Kolkata"),
                       Recipient("Maria Lopez", "maria@bayou.example.org", "Bayou", ""),
                       Recipient("", "ann@example.org", "", ""), Recipient("Zoë", "z@example.org", "Ærø", ""))


@pytest.mark.parametrize("greeting", [
    "<p>Hello {{ recipient_name|upper }},</p>",
    "<p>Hello {{ recipient_name ~ '!' }},</p>",
    "<p>Hello{% if recipient_name == 'Maria Lopez' %} Maria{% endif %},</p>",
    "<p>Hello{% if not recipient_name %} colleague{% endif %},</p>",
    "{% set recipient_name = 'x' %}<p>Hello {{ recipient_name }},</p>",
    "{% filter upper %}<p>Hello</p>{% endfilter %}",
    "{% macro hi(n) %}<p>Hello {{ n }}</p>{% endmacro %}{{ hi(recipient_name) }}",
    "{% for c in recipient_name %}{{ c }}{% endfor %}",
    "{% autoescape false %}<p>{{ recipient_name }}</p>{% endautoescape %}",
    "<p>{{ self.body() }}</p>",
    "<p>Hello {{ recipient_name }}{% include 'notice' ~ '.css' %},</p>",  # a computed name: not followed
])
def test_templates_that_transform_the_personal_values_are_rendered_in_full(tmp_path: Path,
                                                                           greeting: str) -> None:
    prepared = _override(tmp_path, greeting).prepare(context())
    assert not substitutable(prepared)
    letters = Letters(SETTINGS, "k", prepared)
    assert not letters.contents.enabled
    for recipient in OVERRIDE_RECIPIENTS:
        data = letters.outgoing(recipient, NOW).data
        assert_is_their_notice(data, prepared, "k", recipient)
        assert boundary_free(data) == boundary_free(composed_in_full(prepared, "k", recipient))


@pytest.mark.parametrize("greeting", [
    "<p title=\"{{ recipient_name }}\">Dear {{ recipient_name }} of {{ organisation }} ({{ email }}),</p>",
    "<p>Hello{% if organisation %} from {{ organisation }}{% else %} there{% endif %}</p>",
])
def test_templates_that_only_print_them_come_from_the_stencil_exactly(tmp_path: Path, greeting: str) -> None:
    prepared = _override(tmp_path, greeting).prepare(context())
    assert substitutable(prepared)
    letters = Letters(SETTINGS, "k", prepared)
    for recipient in OVERRIDE_RECIPIENTS:
        assert letters.contents.render(recipient) == prepared.render(recipient)
        data = letters.outgoing(recipient, NOW).data
        assert_is_their_notice(data, prepared, "k", recipient)
        assert boundary_free(data) == boundary_free(composed_in_full(prepared, "k", recipient))


def test_plain_envelope_addresses_are_quoted_as_smtplib_quotes_them() -> None:
    for address in ("maria@bayou.example.org", "first.last+tag@sub.example.org", "a_b-c@x",
                    "o'hara@example.org", '"quoted"@example.org', "Maria <maria@example.org>",
                    "weird..dots@example.org"):
        assert _quoted(address) == smtplib.quoteaddr(address)


def test_a_message_files_into_the_outbox_as_the_same_message_composed_on_its_own(tmp_path: Path) -> None:
    prepared = Composer().prepare(context())
    letters = Letters(SETTINGS, "k", prepared)
    recipient = Recipient("Maria Lopez", "maria@bayou.example.org", "Bayou Palliative", "America/New_York")
    outgoing = letters.outgoing(recipient, NOW)
    outbox = MaildirOutbox(tmp_path / "outbox")
    outbox.send(outgoing, recipient.email)
    stored = outbox.path_for(outgoing).read_bytes()
    alone = notice_message(SETTINGS, notice_id="k", recipient=recipient, content=prepared.render(recipient),
                           date=NOW)
    assert outbox.path_for(outgoing) == outbox.path_for(alone)
    assert b"\r" not in stored
    assert stored == outgoing.data.replace(b"\r\n", b"\n")
    assert_is_their_notice(stored.replace(b"\n", b"\r\n"), prepared, "k", recipient)


def test_single_line_shortcut_agrees_with_the_full_cleaning() -> None:
    from notify.mail.message import _BREAKS_AND_CONTROLS, _SPACES

    def full(value: str) -> str:
        return _SPACES.sub(" ", _BREAKS_AND_CONTROLS.sub(" ", value)).strip()

    for code in range(0x110000):  # every character, alone, inside a name and next to a space
        value = f"{chr(code)}a{chr(code)} {chr(code)}"
        assert single_line(value) == full(value), hex(code)
    for value in ("", " ", "  Maria   Lopez  ", "Maria\u00a0 Lopez", "a\tb", "a \u3000b"):
        assert single_line(value) == full(value)


def test_long_notes_keep_lines_short_and_a_huge_address_is_refused() -> None:
    prepared = Composer().prepare(context(notes_text="x" * 5000, notes_html="<p>" + "y" * 5000 + "</p>"))
    letters = Letters(SETTINGS, "k", prepared)
    recipient = Recipient("Maria Lopez", "maria@bayou.example.org", "Bayou", "")
    data = letters.outgoing(recipient, NOW).data
    assert_is_their_notice(data, prepared, "k", recipient)
    assert boundary_free(data) == boundary_free(composed_in_full(prepared, "k", recipient))
    with pytest.raises(NotifyError, match="octets"):
        letters.outgoing(Recipient("Zoë", "a" * 1000 + "@example.org", "Bayou", ""), NOW)


def test_random_recipients_read_back_as_themselves() -> None:
    rng = random.Random(8)
    alphabet = "ABCabcxyz019 '-.,\"()<>@:;\\[]=?_éü山🎉\u00a0&"
    prepared = Composer().prepare(context())
    letters = Letters(SETTINGS, "k", prepared)
    for _ in range(300):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        org = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        local = ".".join("".join(rng.choice("abcxyz019_+-") for _ in range(rng.randint(1, 8)))
                         for _ in range(rng.randint(1, 3)))
        recipient = Recipient(name, f"{local}@{rng.choice(['example.org', 'a-b.example.co.uk', 'x'])}", org,
                              rng.choice(["", "Asia/Kolkata", "America/Chicago"]))
        data = letters.outgoing(recipient, NOW).data
        assert_is_their_notice(data, prepared, "k", recipient)
        assert boundary_free(data) == boundary_free(composed_in_full(prepared, "k", recipient))
