"""The spliced messages of notify.wire are byte for byte the ones composed in full, or not made at all."""

from __future__ import annotations

import random
import re
import smtplib
from email.quoprimime import body_encode
from pathlib import Path

import pytest

from notify.compose import Composer, NoticeKind, Recipient
from notify.message import POLICY, header_line, message_bytes, notice_message, recipient_address
from notify.outbox import MaildirOutbox
from notify.settings import NotifySettings
from notify.smtp import _quoted
from notify.stencil import substitutable
from notify.wire import Letters, qp_line, to_line
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


def _boundary_free(data: bytes) -> bytes:
    """The MIME boundary is random per message, in the stdlib as here: compare around it."""
    found = re.search(rb'boundary="([^"]+)"', data)
    assert found is not None
    return data.replace(found.group(1), b"BOUNDARY")


def _composed_in_full(prepared, notice_key: str, recipient: Recipient) -> bytes | None:  # type: ignore[no-untyped-def]
    try:
        return message_bytes(notice_message(SETTINGS, notice_id=notice_key, recipient=recipient,
                                            content=prepared.render(recipient), date=NOW))
    except Exception:
        return None


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_spliced_messages_equal_composed_ones_for_varied_recipients(kind: NoticeKind) -> None:
    prepared = Composer().prepare(context(kind))
    letters = Letters(SETTINGS, "2026.1.0-b3/advance/schedule:1/1", prepared)
    assert letters.enabled
    spliced = 0
    for n, (name, org, zone) in enumerate((n, o, z) for n in NAMES for o in ORGS for z in ZONES):
        recipient = Recipient(name, EMAILS[n % len(EMAILS)], org, zone)
        fast = letters.outgoing(recipient, NOW)
        if fast is None:
            continue
        spliced += 1
        full = _composed_in_full(prepared, letters.notice_key, recipient)
        assert full is not None, f"spliced a message that cannot be composed: {recipient}"
        assert _boundary_free(fast.data) == _boundary_free(full), recipient
        assert fast.message_id == notice_message(SETTINGS, notice_id=letters.notice_key, recipient=recipient,
                                                 content=prepared.render(recipient), date=NOW)["Message-ID"]
    assert spliced > 150  # of 792: the rest have an unsafe value, an unknown zone or a bad address


def test_plain_recipients_are_spliced_and_unsafe_values_are_not() -> None:
    letters = Letters(SETTINGS, "k", Composer().prepare(context()))
    plain = Recipient("Maria Lopez", "maria@bayou.example.org", "Bayou Palliative", "America/New_York")
    assert letters.outgoing(plain, NOW) is not None
    assert letters.outgoing(Recipient("Zoë O'Brien", plain.email, "Ærø Hospice", ""), NOW) is not None
    name, email, org, zone = plain.name, plain.email, plain.organisation, plain.time_zone
    for unsafe in ("R&D", "<Maria>", 'Maria "Mia"', "NBSP\u00a0Name", letters.prepared.token):
        assert letters.outgoing(Recipient(unsafe, email, org, zone), NOW) is None
        assert letters.outgoing(Recipient(name, email, unsafe, zone), NOW) is None
    assert letters.outgoing(Recipient(name, email, org, "Mars/Olympus"), NOW) is None
    assert letters.outgoing(Recipient(name, "", org, ""), NOW) is None


def _override(tmp_path: Path, base_html: str) -> Composer:
    source = Path(__file__).resolve().parents[2] / "notify" / "templates" / "base.html"
    (tmp_path / "base.html").write_text(source.read_text().replace(
        "<p>Hello{% if recipient_name %} <bdi>{{ recipient_name }}</bdi>{% endif %},</p>", base_html))
    return Composer(tmp_path)


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
def test_templates_that_transform_the_personal_values_are_composed_in_full(tmp_path: Path,
                                                                           greeting: str) -> None:
    prepared = _override(tmp_path, greeting).prepare(context())
    assert not substitutable(prepared)
    letters = Letters(SETTINGS, "k", prepared)
    assert letters.outgoing(Recipient("Maria Lopez", "maria@bayou.example.org", "Bayou", ""), NOW) is None


@pytest.mark.parametrize("greeting", [
    "<p title=\"{{ recipient_name }}\">Dear {{ recipient_name }} of {{ organisation }} ({{ email }}),</p>",
    "<p>Hello{% if organisation %} from {{ organisation }}{% else %} there{% endif %}</p>",
])
def test_templates_that_only_print_them_are_spliced_exactly(tmp_path: Path, greeting: str) -> None:
    prepared = _override(tmp_path, greeting).prepare(context())
    assert substitutable(prepared)
    letters = Letters(SETTINGS, "k", prepared)
    for recipient in (Recipient("Maria O'Lopez", "maria@bayou.example.org", "Bayou", "Asia/Kolkata"),
                      Recipient("", "ann@example.org", "", ""), Recipient("Zoë", "z@example.org", "Ærø", "")):
        fast = letters.outgoing(recipient, NOW)
        assert fast is not None
        assert _boundary_free(fast.data) == _boundary_free(_composed_in_full(prepared, "k", recipient) or b"")


def test_to_header_lines_are_the_stdlib_ones() -> None:
    rng = random.Random(8)
    atoms = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'-"
    for _ in range(3000):
        name = " ".join("".join(rng.choice(atoms) for _ in range(rng.randint(1, 12)))
                        for _ in range(rng.randint(0, 6)))
        local = ".".join("".join(rng.choice("abcxyz019_+-") for _ in range(rng.randint(1, 8)))
                         for _ in range(rng.randint(1, 3)))
        email = f"{local}@{rng.choice(['example.org', 'a-b.example.co.uk', 'x'])}"
        assert to_line(name, email) == header_line("To", recipient_address(name, email)), (name, email)
    for name in ("Zoë Ångström", "Lopez, Maria", 'Say "hi"', "=?utf-8?q?x?=", "Dr. Who", "x" * 90):
        assert to_line(name, "a@example.org") == header_line("To", recipient_address(name, "a@example.org"))


def test_quoted_printable_lines_are_the_stdlib_encoding() -> None:
    rng = random.Random(5)
    alphabet = "aZ =\t.-ü€日\U0001F600=3D"
    for _ in range(500):
        lines = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
                 for _ in range(rng.randint(1, 5))]
        text = "\n".join(lines) + "\n"
        whole = body_encode(text.encode().decode("latin-1"), POLICY.max_line_length).replace("\n", "\r\n")
        assert b"".join(qp_line(line.encode()) + b"\r\n" for line in lines) == whole.encode("ascii")


def test_plain_envelope_addresses_are_quoted_as_smtplib_quotes_them() -> None:
    for address in ("maria@bayou.example.org", "first.last+tag@sub.example.org", "a_b-c@x",
                    "o'hara@example.org", '"quoted"@example.org', "Maria <maria@example.org>",
                    "weird..dots@example.org"):
        assert _quoted(address) == smtplib.quoteaddr(address)


def test_a_spliced_message_files_into_the_outbox_as_a_composed_one_would(tmp_path: Path) -> None:
    prepared = Composer().prepare(context())
    letters = Letters(SETTINGS, "k", prepared)
    recipient = Recipient("Maria Lopez", "maria@bayou.example.org", "Bayou Palliative", "America/New_York")
    fast = letters.outgoing(recipient, NOW)
    assert fast is not None
    outbox = MaildirOutbox(tmp_path / "outbox")
    outbox.send(fast, recipient.email)
    stored = outbox.path_for(fast).read_bytes()
    full = notice_message(SETTINGS, notice_id="k", recipient=recipient, content=prepared.render(recipient),
                          date=NOW)
    assert outbox.path_for(fast) == outbox.path_for(full)
    assert _boundary_free(stored) == _boundary_free(message_bytes(full, linesep="\n"))
    assert b"\r" not in stored


def test_header_line_is_what_the_generator_writes() -> None:
    recipient = Recipient("Zoë Ångström " * 5, "z@example.org")
    full = notice_message(SETTINGS, notice_id="k", recipient=recipient,
                          content=Composer().prepare(context()).render(recipient), date=NOW)
    line = header_line("To", recipient_address(recipient.name, recipient.email))
    assert line.startswith(b"To: =?utf-8?") and b"\r\n " in line  # encoded and folded
    assert line in message_bytes(full)


def test_single_line_shortcut_agrees_with_the_full_cleaning() -> None:
    from notify.message import _BREAKS_AND_CONTROLS, _SPACES, single_line

    def full(value: str) -> str:
        return _SPACES.sub(" ", _BREAKS_AND_CONTROLS.sub(" ", value)).strip()

    for code in range(0x110000):  # every character, alone, inside a name and next to a space
        value = f"{chr(code)}a{chr(code)} {chr(code)}"
        assert single_line(value) == full(value), hex(code)
    for value in ("", " ", "  Maria   Lopez  ", "Maria\u00a0 Lopez", "a\tb", "a \u3000b"):
        assert single_line(value) == full(value)


def test_every_spliced_line_is_within_the_limit_and_a_huge_address_is_composed_in_full() -> None:
    prepared = Composer().prepare(context(notes_text="x" * 5000, notes_html="<p>" + "y" * 5000 + "</p>"))
    letters = Letters(SETTINGS, "k", prepared)
    fast = letters.outgoing(Recipient("Maria Lopez", "maria@bayou.example.org", "Bayou", ""), NOW)
    assert fast is not None and max(map(len, fast.data.split(b"\r\n"))) <= 78
    huge = Recipient("Zoë", "a" * 1000 + "@example.org", "Bayou", "")
    assert letters.outgoing(huge, NOW) is None
