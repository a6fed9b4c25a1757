"""What hospice staff read (issue 16): every notice kind, sent through the real commands to the
Maildir outbox, parsed back as a mail client reads it, for three contacts: one who gave a time
zone, one who gave none, one whose name is not in Latin letters.

One push is told in full: the beta build, its advance notice and reminder, a move (first only
said to be due, then sent by `schedule --send-notice`), a cancellation, a new date announced by a
new advance notice, and the completion after the window. The calendar entries are read back with
icalendar, the library that wrote them.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from datetime import datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import icalendar
import pytest

import pipeline
from notify.content.notes_input import NoticeNotes
from notify.content.wording import DEFAULT_USER_ACTION
from tests.conftest import Project
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
BUILD = "2026.4.0+b1"
PROJECT = "CareNotes Clinical Documentation Suite"   # long enough that every subject must fold
CONTACT = "CareNotes service desk, +1 555 0100, help@carenotes.example.org"
BETA_URL = "https://beta.carenotes.example.org/"
ACTION = ("Exports no longer have the old visit columns", "Update scripts that read the old export columns")
ANN = "ann@acadia.example.org"        # gave America/New_York
BOB = "bob@acadia.example.org"        # gave no time zone
HANAKO = "hanako@sakura.example.org"  # 佐藤 花子, gave Asia/Tokyo
CONTACTS = f"""organisation,name,email,role,time_zone
Acadia Hospice,Ann Lee,{ANN},nurse,America/New_York
Acadia Hospice,Bob Stone,{BOB},nurse,
Sakura Care,佐藤 花子,{HANAKO},nurse,Asia/Tokyo
"""
CALENDAR_KINDS = ("advance", "reminder", "rescheduled", "cancelled")
MAX_HTML = 102 * 1024   # Gmail clips a message whose HTML is larger


def notes_with_action(build: object, audience: str) -> NoticeNotes:
    """Pipeline's notice_notes hook as the notes package fills it: approved notes with one
    action-required item."""
    markdown = f"## Action required\n\n- {ACTION[0]}\n    - What to do: {ACTION[1]}\n"
    text = f"ACTION REQUIRED\n  * {ACTION[0]}\n      What to do: {ACTION[1]}\n"
    html = f"<h2>Action required</h2><ul><li>{ACTION[0]}<ul><li>What to do: {ACTION[1]}</li></ul></li></ul>"
    return NoticeNotes(markdown, text, html, hashlib.sha256(markdown.encode()).hexdigest(), True, (ACTION,))


class _Balanced(HTMLParser):
    """Every element opened is closed in order (void elements aside): the HTML part is well formed."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()


def well_formed(html: str) -> list[str]:
    checker = _Balanced()
    checker.feed(html)
    checker.close()
    return checker.problems + [f"<{tag}> never closed" for tag in checker.open]


@pytest.fixture
def push(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setattr(pipeline.App, "notice_notes", lambda self, build, audience:
                        notes_with_action(build, audience), raising=False)
    text = project.config.read_text()
    text = re.sub(r'(?m)^(\[project\]\n(?:.*\n)*?)name = ".*"', rf'\1name = "{PROJECT}"', text, count=1)
    text = text.replace('url = ""                      # the beta system',
                        f'url = "{BETA_URL}"  # the beta system')
    text = re.sub(r'(?m)^support_contact = "".*$', f'support_contact = "{CONTACT}"', text)
    project.config.write_text(text)
    monkeypatch.setenv("QUARTERDECK_NOW", "2026-10-16T15:00:00+00:00")
    assert project.ok("build", "--json").json()["id"] == BUILD  # type: ignore[index]
    csv = project.root / "contacts.csv"
    csv.write_text(CONTACTS, encoding="utf-8")
    project.ok("orgs", "import", str(csv))
    project.ok("beta", "enroll", "Acadia Hospice")
    project.ok("beta", "enroll", "Sakura Care")
    project.ok("training", "add", BUILD, "--at", "2026-10-20 15:00", "--link",
               "https://training.carenotes.example.org/exports", "--title", "The new exports")
    return project


def outbox(project: Project) -> list[tuple[bytes, EmailMessage]]:
    found = []
    for path in sorted((project.root / ".quarterdeck" / "outbox" / "new").iterdir(),
                       key=lambda p: p.stat().st_mtime_ns):
        data = path.read_bytes()
        found.append((data, email.message_from_bytes(data, policy=email.policy.default)))
    return found  # type: ignore[return-value]


def sent_since(project: Project, before: int) -> dict[str, tuple[bytes, EmailMessage]]:
    """The messages written since `before` were in the outbox, by recipient."""
    return {str(msg["To"].addresses[0].addr_spec): (data, msg) for data, msg in outbox(project)[before:]}


def window_of(project: Project) -> tuple[datetime, datetime]:
    current = project.ok("schedule", "show", BUILD, "--json").json()["current"]  # type: ignore[index]
    return datetime.fromisoformat(current["start"]), datetime.fromisoformat(current["end"])


def at(monkeypatch: pytest.MonkeyPatch, moment: str) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", moment)


def check_reader_rules(kind: str, messages: dict[str, tuple[bytes, EmailMessage]],
                       window: tuple[datetime, datetime] | None) -> list[icalendar.Calendar]:
    """Every rule of issue 16 on one notice's three parsed messages; their calendar entries."""
    assert set(messages) == {ANN, BOB, HANAKO}, kind
    calendars = []
    for address, (data, msg) in messages.items():
        head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
        subject = msg["Subject"]
        assert subject == subject.strip() and PROJECT in subject, (kind, subject)
        assert len(f"Subject: {subject}") > 78 and re.search(r"(?m)^Subject: \S", head), (kind, head)
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert len(html.encode("utf-8")) < MAX_HTML and well_formed(html) == [], (kind, address)
        for part in (text, html):
            assert CONTACT in part, (kind, address)          # whom to contact
            assert "this is a bug" not in part
        # how long the application is unavailable (or that it is not)
        expected = {"beta-available": "itself is not affected", "cancelled": "stays available",
                    "completed": "available again"}.get(kind, f"{PROJECT} is unavailable for up to 4 hours")
        assert expected in text and expected in html, (kind, address)
        # "your time zone" only to those who gave one
        if address == BOB:
            assert "your time zone" not in text and "your time zone" not in html, kind
            assert "team's time zone, America/Chicago" in text, kind
        else:
            zone = "America/New_York" if address == ANN else "Asia/Tokyo"
            assert f"Times are in your time zone, {zone}" in text, kind
        if address == HANAKO:
            assert msg["To"].addresses[0].display_name == "佐藤 花子"
            assert "Hello 佐藤 花子," in text and "<bdi>佐藤 花子</bdi>" in html
        if kind in ("advance", "reminder", "rescheduled"):
            assert "WHAT YOU NEED TO DO" in text and DEFAULT_USER_ACTION not in text, kind
            assert f"- {ACTION[0]}\n  What to do: {ACTION[1]}" in text
            assert f"<li>{ACTION[0]}<br>" in html and DEFAULT_USER_ACTION not in html
        if kind == "beta-available":
            assert f"Open the beta system: {BETA_URL}" in text and f'<a href="{BETA_URL}"' in html
            assert "Please sign off or report problems by " in text
        calendar_parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
        if kind not in CALENDAR_KINDS:
            assert calendar_parts == [], kind
            continue
        [part] = calendar_parts
        assert part.get_content_disposition() == "attachment"
        assert part.get_filename() == "maintenance-window.ics"
        calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True))
        method = "CANCEL" if kind == "cancelled" else "PUBLISH"
        assert calendar["METHOD"] == method and part.get_param("method") == method
        [event] = calendar.walk("VEVENT")
        assert window is not None
        assert (event.decoded("DTSTART"), event.decoded("DTEND")) == window, kind
        assert str(event["STATUS"]) == ("CANCELLED" if kind == "cancelled" else "CONFIRMED")
        calendars.append(calendar)
    return calendars


def entry(calendars: list[icalendar.Calendar]) -> tuple[str, int]:
    """The UID and SEQUENCE the three copies of one notice share."""
    found = {(str(e["UID"]), int(e["SEQUENCE"])) for c in calendars for e in c.walk("VEVENT")}
    assert len(found) == 1, found
    return found.pop()


def test_every_notice_kind_tells_each_reader_what_they_need(push: Project,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    project = push
    seen: dict[str, tuple[str, int]] = {}

    def send(kind: str, *extra: str) -> list[icalendar.Calendar]:
        before = len(outbox(project))
        project.ok("notice", "send", kind, BUILD, "--yes", *extra)
        window = window_of(project) if kind != "beta-available" else None
        return check_reader_rules(kind, sent_since(project, before), window)

    send("beta-available")
    project.ok("schedule", BUILD, "--next-window")
    seen["advance"] = entry(send("advance"))
    at(monkeypatch, "2026-11-08T12:00:00+00:00")  # the 7-day reminder is due
    seen["reminder"] = entry(send("reminder"))

    # a move only says what is due when nobody is asked and no flag says to send
    before = len(outbox(project))
    moved = project.ok("schedule", BUILD, "--at", "2026-11-21 22:00",
                       "--reason", "the data centre moves racks")
    assert "the rescheduled notice is now due" in moved.out
    assert f"quarterdeck notice send rescheduled {BUILD}" in moved.out
    assert len(outbox(project)) == before
    moved = project.ok("schedule", BUILD, "--at", "2026-11-28 22:00", "--reason", "the racks move later",
                       "--send-notice")
    assert "sent the rescheduled notice" in moved.out
    seen["rescheduled"] = entry(check_reader_rules("rescheduled", sent_since(project, before),
                                                   window_of(project)))
    before = len(outbox(project))
    cancelled = project.ok("schedule", "cancel", BUILD, "--reason", "a blocker was found in beta testing",
                           "--send-notice", "--json").json()
    assert cancelled["notice"]["sent"]["counts"]["sent"] == 3  # type: ignore[index]
    seen["cancelled"] = entry(check_reader_rules("cancelled", sent_since(project, before),
                                                 window_of(project)))

    project.ok("schedule", BUILD, "--at", "2026-12-12 22:00")  # a new date: announced afresh
    seen["again"] = entry(send("advance"))
    at(monkeypatch, "2026-12-13T12:00:00+00:00")  # the window is over; the training was in October
    completed = send("completed")
    assert completed == []

    uids = {uid for uid, _ in seen.values()}
    assert uids == {f"push.{BUILD}@localhost"}, "one calendar entry for the push, updated in place"
    assert {kind: sequence for kind, (_, sequence) in seen.items()} == {
        "advance": 0, "reminder": 0, "rescheduled": 1, "cancelled": 2, "again": 3}

    # the training of 20 October: upcoming in the advance notice, held (with its link) in the completion
    messages = outbox(project)
    first_advance = next(m for _, m in messages if m["Subject"].startswith(f"{PROJECT} will be updated"))
    text = first_advance.get_body(("plain",)).get_content()
    assert "TRAINING\n* The new exports\n  Tuesday 20 October 2026" in text
    [done] = [m.get_body(("plain",)).get_content() for _, m in messages[-3:]
              if m["To"].addresses[0].addr_spec == BOB]
    assert "TRAINING\n" not in done
    assert "TRAINING ALREADY HELD\n* The new exports (held Tuesday 20 October" in done
    assert "Recording or materials: https://training.carenotes.example.org/exports" in done


def test_schedule_help_says_the_reason_is_sent_to_customers(project: Project,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        project.run("schedule", "--help")
    shown = " ".join(capsys.readouterr().out.split())
    assert "SENT WORD FOR WORD to every customer" in shown and "--send-notice" in shown


def test_no_action_items_means_nothing_to_do_and_a_contact_still(tmp_path: Path) -> None:
    from notify.content.compose import Composer, Recipient
    from tests.notify.factories import context

    composed = Composer().prepare(context(support_contact="")).render(
        Recipient("Bob Stone", BOB, "Acadia Hospice"))
    assert "WHAT YOU NEED TO DO\n" + DEFAULT_USER_ACTION in composed.text
    assert "QUESTIONS OR PROBLEMS\nReply to this email." in composed.text
    assert "Times are in the CareNotes team's time zone, Europe/London." in composed.text


def test_the_calendar_entry_arrives_over_smtp_as_sent(push: Project, smtp_server: SmtpServer,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Through a real SMTP server the same entry arrives, with the window's times, for each reader."""
    from tests.notify.test_cli import use_smtp

    use_smtp(push, smtp_server, monkeypatch)
    push.ok("schedule", BUILD, "--next-window")
    push.ok("notice", "send", "advance", BUILD, "--yes")
    received = {r.rcpt_tos[0]: r.message() for r in smtp_server.handler.accepted}
    assert set(received) == {ANN, BOB, HANAKO}
    window = window_of(push)
    for message in received.values():
        [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        [event] = icalendar.Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")
        assert (str(event["UID"]), int(event["SEQUENCE"])) == (f"push.{BUILD}@localhost", 0)
        assert (event.decoded("DTSTART"), event.decoded("DTEND")) == window
