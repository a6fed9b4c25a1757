"""The Maildir outbox: complete RFC 5322 files, written once."""

from __future__ import annotations

import email
import email.policy
import mailbox
from pathlib import Path

import pytest

from notify.content.compose import Recipient
from notify.errors import OutboxError
from notify.sending.outbox import MaildirOutbox
from notify.sending.transport import Delivery, Phase, open_transport
from tests.notify.factories import NEW_YORK_NURSE, email_for, outbox_settings, people


def test_a_message_is_a_complete_file_any_client_opens(tmp_path: Path) -> None:
    settings = outbox_settings(tmp_path / "outbox")
    message = email_for(settings, NEW_YORK_NURSE)
    with open_transport(settings) as outbox:
        assert isinstance(outbox, MaildirOutbox)
        outcome = outbox.send(message, NEW_YORK_NURSE.email)
    assert (outcome.delivery, outcome.phase) == (Delivery.SENT, Phase.OUTBOX)
    files = list((tmp_path / "outbox" / "new").iterdir())
    assert len(files) == 1 and str(files[0]) in outcome.text
    with open(files[0], "rb") as handle:
        parsed = email.message_from_binary_file(handle, policy=email.policy.default)
    assert parsed["Message-ID"] == message["Message-ID"]
    assert parsed["To"].addresses[0].addr_spec == "maria@bayou.example.org"
    text, html = parsed.iter_parts()
    assert "Saturday 14 March 2026, 18:00–22:00 EDT" in text.get_content()
    assert "<html" in html.get_content()
    assert b"\r\n" not in files[0].read_bytes()  # local files use LF
    assert list((tmp_path / "outbox" / "tmp").iterdir()) == []
    stored = mailbox.Maildir(tmp_path / "outbox", create=False)
    assert [m["Message-ID"] for m in stored] == [message["Message-ID"]]


def test_storing_the_same_message_again_adds_no_copy(tmp_path: Path) -> None:
    settings = outbox_settings(tmp_path)
    outbox = MaildirOutbox(tmp_path)
    message = email_for(settings, NEW_YORK_NURSE)
    first = outbox.send(message, NEW_YORK_NURSE.email)
    again = outbox.send(email_for(settings, NEW_YORK_NURSE), NEW_YORK_NURSE.email)  # rebuilt after a crash
    assert first.delivery is again.delivery is Delivery.SENT
    assert again.text.startswith("already in outbox")
    assert len(list((tmp_path / "new").iterdir())) == 1


def test_a_message_a_client_has_read_is_still_found(tmp_path: Path) -> None:
    settings = outbox_settings(tmp_path)
    outbox = MaildirOutbox(tmp_path)
    message = email_for(settings, NEW_YORK_NURSE)
    outbox.send(message, NEW_YORK_NURSE.email)
    stored = outbox.path_for(message)
    stored.rename(tmp_path / "cur" / f"{stored.name}:2,S")  # what a mail client does once read
    assert outbox.send(message, NEW_YORK_NURSE.email).text.startswith("already in outbox")
    assert list((tmp_path / "new").iterdir()) == []


def test_each_recipient_and_notice_gets_its_own_file(tmp_path: Path) -> None:
    settings = outbox_settings(tmp_path)
    outbox = MaildirOutbox(tmp_path)
    for r in people(3):
        outbox.send(email_for(settings, r, notice_id="advance-1"), r.email)
        outbox.send(email_for(settings, r, notice_id="reminder-1"), r.email)
    assert len(mailbox.Maildir(tmp_path, create=False)) == 6


def test_unwritable_outbox_is_an_outbox_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OutboxError, match="cannot create the Maildir outbox"):
        MaildirOutbox(blocker / "outbox")


def test_message_without_id_is_refused(tmp_path: Path) -> None:
    message = email_for(outbox_settings(tmp_path), Recipient("A", "a@example.org"))
    del message["Message-ID"]
    with pytest.raises(OutboxError, match="no Message-ID"):
        MaildirOutbox(tmp_path).send(message, "a@example.org")
