"""The email itself: structure, headers, unicode, header injection, line lengths."""

from __future__ import annotations

import email
import email.policy
import quopri
import random
import re
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest

from notify.content.compose import Composed, Composer, NoticeKind, Recipient
from notify.errors import NotifyError
from notify.mail.message import (
    MAX_LINE_OCTETS,
    Envelope,
    Header,
    build_message,
    message_bytes,
    message_id_for,
    notice_message,
    quoted_printable,
    recipient_address,
    shared_header,
    single_line,
)
from notify.sending.smtp import SmtpTransport
from notify.sending.transport import Delivery
from tests.notify.factories import NOW, context, email_for, environ_for, outbox_settings, settings_for
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")

UNICODE_NAME = "Zoë Ångström-Núñez 山田花子 مريم الحسيني 🎉"
UNICODE_ORG = "Hospice Saint-Éloi · 東京ホスピス · بيت الرحمة"


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def crlf_to_lf(text: str) -> str:
    """Text parts decode with the wire's CRLF line ends; compare them with what was composed."""
    return text.replace("\r\n", "\n")


def simple(name: str = "Ana", subject: str = "Hello", text: str = "text", html: str = "<p>html</p>",
           reply_to: bool = True) -> EmailMessage:
    settings = outbox_settings(Path("unused-outbox"), reply_to="Desk <desk@example.org>" if reply_to else "")
    envelope = Envelope(settings.sender_address, recipient_address(name, "ana@example.org"),
                        settings.reply_to_address)
    return build_message(envelope=envelope, subject=subject, text=text, html=html,
                         message_id=message_id_for("n-1", "ana@example.org", "example.org"), date=NOW)


def test_structure_and_headers() -> None:
    msg = parse(message_bytes(simple()))
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"].datetime == NOW
    assert msg["Message-ID"] == message_id_for("n-1", "ana@example.org", "example.org")
    assert msg["Reply-To"].addresses[0].addr_spec == "desk@example.org"
    assert msg["From"].addresses[0].addr_spec == "releases@carenotes.example.org"
    assert msg["MIME-Version"] == "1.0"
    assert "Reply-To" not in parse(message_bytes(simple(reply_to=False)))


def test_whole_message_is_7bit_with_crlf() -> None:
    data = message_bytes(simple(name=UNICODE_NAME, subject=UNICODE_ORG, text=UNICODE_NAME, html=UNICODE_ORG))
    assert data.isascii()
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_message_id_is_deterministic_per_notice_and_recipient() -> None:
    one = message_id_for("notice-7", "Ana@Example.org", "carenotes.example.org")
    assert one == message_id_for("notice-7", "ana@example.org ", "carenotes.example.org")
    assert one != message_id_for("notice-8", "ana@example.org", "carenotes.example.org")
    assert one != message_id_for("notice-7", "bob@example.org", "carenotes.example.org")
    assert one.startswith("<n.") and one.endswith("@carenotes.example.org>")
    header = f"Message-ID: {message_id_for('n-1', 'ana@example.org', 'example.org')}\r\n"
    assert header.encode() in message_bytes(simple())  # on one line: not folded
    with pytest.raises(NotifyError, match="not a valid domain"):
        message_id_for("n", "a@b.c", "bad domain\r\nX-Evil: 1")


def test_unicode_survives_both_parts_and_headers(smtp_server: SmtpServer) -> None:
    settings = settings_for(smtp_server)
    recipient = Recipient(UNICODE_NAME, "zoe@example.org", UNICODE_ORG, "Asia/Tokyo")
    ctx = context(project="CareNotes ✓ ケア", notes_text="* Ünïcödé 漢字 עברית 🚑\n",
                  notes_html="<ul><li>Ünïcödé 漢字 עברית 🚑</li></ul>")
    with SmtpTransport(settings, environ=environ_for(smtp_server)) as t:
        outcome = t.send(email_for(settings, recipient, ctx), recipient.email)
    assert outcome.delivery is Delivery.SENT
    received = smtp_server.handler.accepted[0].message()
    assert received["To"].addresses[0].display_name == UNICODE_NAME
    assert "CareNotes ✓ ケア" in received["Subject"]
    text, html = (part.get_content() for part in received.iter_parts())
    for expected in (UNICODE_NAME, UNICODE_ORG, "Ünïcödé 漢字 עברית 🚑", "CareNotes ✓ ケア"):
        assert expected in text
    for expected in (f"<bdi>{UNICODE_NAME}</bdi>", f"<bdi>{UNICODE_ORG}</bdi>", "Ünïcödé 漢字 עברית 🚑"):
        assert expected in html


@pytest.mark.parametrize("brk", ["\r\n", "\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c",
                                 "\x00"])
def test_a_line_break_in_a_name_or_subject_cannot_add_a_header(brk: str) -> None:
    hostile = f"Eve{brk}Bcc: victim@evil.example{brk}{brk}body"
    data = message_bytes(simple(name=hostile, subject=f"Update{brk}Bcc: victim@evil.example"))
    msg = parse(data)
    assert msg["Bcc"] is None and msg.defects == []
    assert sorted(msg.keys()) == sorted(["From", "To", "Reply-To", "Subject", "Date", "Message-ID",
                                         "Auto-Submitted", "MIME-Version", "Content-Type"])
    assert msg["To"].addresses[0].display_name == "Eve Bcc: victim@evil.example body"
    assert msg["To"].addresses[0].addr_spec == "ana@example.org"
    assert msg["Subject"] == "Update Bcc: victim@evil.example"


def test_crlf_in_contact_fields_cannot_add_a_header_or_recipient_on_the_wire(smtp_server: SmtpServer) -> None:
    settings = settings_for(smtp_server)
    eve = Recipient("Eve\r\nBcc: victim@evil.example", "eve@example.org",
                    "Org\r\nX-Injected: 1", "America/Chicago")
    ctx = context(project="CareNotes\r\nBcc: other@evil.example")
    with SmtpTransport(settings, environ=environ_for(smtp_server)) as t:
        assert t.send(email_for(settings, eve, ctx), eve.email).delivery is Delivery.SENT
    [received] = smtp_server.handler.received
    assert received.rcpt_tos == ("eve@example.org",)
    msg = received.message()
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert msg["To"].addresses[0].display_name == "Eve Bcc: victim@evil.example"
    assert msg["Subject"].startswith("CareNotes Bcc: other@evil.example will be updated")


@pytest.mark.parametrize("address", ["ana@example.org\r\nBcc: x@evil.example", "ana@exämple.org",
                                     "not an address"])
def test_bad_recipient_addresses_are_rejected(address: str) -> None:
    with pytest.raises(NotifyError, match="recipient address"):
        recipient_address("Ana", address)


def test_single_line() -> None:
    assert single_line("  a\r\n\tb\u2028c  ") == "a b c"
    assert single_line("Zoë 山田") == "Zoë 山田"


def test_one_megabyte_of_notes_keeps_every_line_within_998_octets() -> None:
    one_line = "x" * 1_000_000                         # a single 1 MB line of text
    cjk = ("漢字かなカナ한국어" * 20_000 + "\n") * 3       # long multi-byte lines
    html = "<p>" + "é" * 1_000_000 + "</p>"
    data = message_bytes(simple(text=one_line + "\n" + cjk, html=html))
    assert max(len(line) for line in data.split(b"\r\n")) <= MAX_LINE_OCTETS
    text, html_part = parse(data).iter_parts()
    assert crlf_to_lf(text.get_content()) == one_line + "\n" + cjk
    assert crlf_to_lf(html_part.get_content()).rstrip("\n") == html


def test_one_megabyte_notice_through_a_real_server(smtp_server: SmtpServer) -> None:
    """aiosmtpd refuses lines over 1000 octets (500 Line too long), so this fails if one slips through."""
    settings = settings_for(smtp_server)
    notes = ("* " + "A long release note entry that goes on. " * 40 + "\n") * 700
    assert len(notes) > 1_000_000
    ctx = context(notes_text=notes, notes_html="<ul>" + "<li>é</li>" * 100_000 + "</ul>")
    recipient = Recipient("Ana", "ana@example.org", "Acadia", "UTC")
    with SmtpTransport(settings, environ=environ_for(smtp_server)) as t:
        outcome = t.send(email_for(settings, recipient, ctx), recipient.email)
    assert outcome.delivery is Delivery.SENT, outcome
    text = next(smtp_server.handler.accepted[0].message().iter_parts()).get_content()
    assert notes.strip() in crlf_to_lf(text)


def test_dot_at_line_start_survives_transparency(smtp_server: SmtpServer) -> None:
    settings = settings_for(smtp_server)
    msg = simple(text=".\n..\n.leading dot\n", html="<p>x</p>")
    with SmtpTransport(settings, environ=environ_for(smtp_server)) as t:
        assert t.send(msg, "ana@example.org").delivery is Delivery.SENT
    text = next(smtp_server.handler.accepted[0].message().iter_parts()).get_content()
    assert crlf_to_lf(text) == ".\n..\n.leading dot\n"


def test_naive_date_is_refused() -> None:
    with pytest.raises(NotifyError, match="no time zone"):
        build_message(envelope=Envelope(recipient_address("a", "a@b.org"), recipient_address("b", "b@b.org")),
                      subject="s", text="t", html="h", message_id="<x@y.z>", date=datetime(2026, 1, 1))


def test_date_header_is_utc() -> None:
    eastern = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
    envelope = Envelope(recipient_address("a", "a@b.org"), recipient_address("b", "b@b.org"))
    msg = build_message(envelope=envelope, subject="s", text="t", html="h", message_id="<x@y.z>",
                        date=eastern)
    assert msg["Date"].endswith("17:00:00 +0000")


def test_notice_message_wires_settings_recipient_and_content(tmp_path) -> None:
    settings = outbox_settings(tmp_path, reply_to="Desk <desk@example.org>")
    recipient = Recipient("Ana Pérez", "ana@example.org")
    msg = notice_message(settings, notice_id="n-42", recipient=recipient,
                         content=Composed("Subject ✓", "plain", "<p>rich</p>"), date=NOW)
    assert msg["Message-ID"] == message_id_for("n-42", "ana@example.org", "carenotes.example.org")
    assert str(msg["To"]) == "Ana Pérez <ana@example.org>"
    assert msg["Subject"] == "Subject ✓"


# every kind of byte quoted-printable treats apart: "=", space and tab (kept inside, encoded at the end),
# printable ASCII at both ends of the range, ".", controls, DEL, CR, LF, and UTF-8 bytes
QP_ALPHABET = ["=", " ", "\t", "!", "~", "<", ">", "a", ".", "\x00", "\x1f", "\x7f", "\r", "\n", "é", "山",
               "🎉"]


@pytest.mark.parametrize("length", [0, 1, 2, 3, 74, 75, 76, 77, 78, 79, 80, 153])
def test_quoted_printable_bodies_are_short_7bit_lines_that_decode_to_the_text(length: int) -> None:
    rng = random.Random(length)
    texts = {"a" * length, "a" * max(length - 1, 0) + " ", " " * length, "." * length, "=" * length}
    texts.update("".join(rng.choice(QP_ALPHABET) for _ in range(length)) for _ in range(300))
    for text in texts:
        encoded = quoted_printable(text)
        lines = encoded.split("\n")
        assert lines[-1] == "" and all(len(line) <= 78 for line in lines), text  # as set_content writes
        assert all(line.replace("\t", " ").isascii() and line.replace("\t", " ").isprintable()
                   and not line.endswith((" ", "\t")) for line in lines), text  # tabs only inside lines
        normal = b"".join(line + b"\n" for line in text.encode().splitlines()) or b"\n"
        assert quopri.decodestring(encoded.encode("ascii")) == normal, text


def test_a_shared_header_folds_as_the_registry_folds_it() -> None:
    for name, value in (("From", "Zoë Ångström-Núñez 山田花子 <releases@example.org>"),
                        ("Subject", "CareNotes ✓ will be updated " + "on a long day " * 8),
                        ("Content-Type", 'text/plain; charset="utf-8"')):
        header = shared_header(name, value)
        made = email.policy.SMTP.header_factory(name, value)
        assert header == str(made) and header.name == name
        for policy in (email.policy.SMTP, email.policy.SMTP.clone(linesep="\n")):
            assert header.fold(policy=policy) == made.fold(policy=policy)
    assert shared_header("MIME-Version", "1.0") is shared_header("MIME-Version", "1.0")


def test_header_text_is_written_as_it_is_when_it_fits_and_refolded_by_the_registry_when_not() -> None:
    short = "<n.0123456789abcdef01234567@carenotes.example.org>"
    assert Header("Message-ID", short).fold(policy=email.policy.SMTP) == f"Message-ID: {short}\r\n"
    long = f"<n.0123456789abcdef01234567@{'a' * 60}.example.org>"
    registry = email.policy.SMTP.header_factory("Message-ID", long).fold(policy=email.policy.SMTP)
    assert Header("Message-ID", long).fold(policy=email.policy.SMTP) == registry
    for bad in ("<a@b>\r\nBcc: x@evil.example", "<a@b>\nX: 1", "<ä@b>", "a\x00b"):
        with pytest.raises(ValueError, match="not one line of ASCII"):
            Header("Message-ID", bad)


@pytest.mark.parametrize("kind, project", [
    (NoticeKind.RESCHEDULED, "CareNotes"), (NoticeKind.REMINDER, "CareNotes"),
    (NoticeKind.CANCELLED, "CareNotes Clinical Documentation Suite"),
    (NoticeKind.ADVANCE, "Santé à domicile " * 3),
    (NoticeKind.ADVANCE, "x" * 90),
])
def test_a_long_subject_folds_after_its_first_word_and_reads_back_exactly(kind: NoticeKind,
                                                                         project: str) -> None:
    """Issue 16: the stdlib moved a long ASCII subject such as "New date: …" to a line of its own
    after `Subject:`, so parsers read it back with a leading space."""
    ctx = context(kind, project=project)
    subject = Composer().prepare(ctx).render(Recipient("Ann", "ann@example.org")).subject
    assert len(f"Subject: {subject}") > 78
    data = message_bytes(email_for(outbox_settings(Path("unused")), Recipient("Ann", "ann@example.org"), ctx))
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert re.search(r"(?m)^Subject: \S", head)
    assert email.message_from_bytes(data, policy=email.policy.default)["Subject"] == subject
