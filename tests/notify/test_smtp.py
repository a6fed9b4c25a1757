"""SMTP delivery against real aiosmtpd servers on 127.0.0.1: every reply and fault classified."""

from __future__ import annotations

import base64
import socket
import traceback
from collections import Counter

import pytest

from notify.content.compose import Recipient
from notify.errors import NotifySettingsError, SmtpAuthError, SmtpSetupError
from notify.mail.message import Envelope, build_message, recipient_address
from notify.sending.smtp import SmtpTransport
from notify.sending.transport import Delivery, Outcome, Phase, open_transport
from tests.notify.factories import NOW, PASSWORD_ENV, email_for, environ_for, people, settings_for
from tests.support.smtp import SMTP_PASSWORD, SMTP_USER, Fault, SmtpServer

# aiosmtpd 1.4 warns about its own deprecated attribute whenever a client logs in.
pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")


def transport(server: SmtpServer, **overrides: object) -> SmtpTransport:
    return SmtpTransport(settings_for(server, **overrides), environ=environ_for(server))


def send_all(t: SmtpTransport, recipients: list[Recipient], notice_id: str = "notice-1") -> list[Outcome]:
    settings = t._settings
    return [t.send(email_for(settings, r, notice_id=notice_id), r.email) for r in recipients]


def test_starttls_login_and_one_connection_for_a_batch(smtp_server: SmtpServer) -> None:
    recipients = people(5)
    with transport(smtp_server) as t:
        outcomes = send_all(t, recipients)
    assert [o.delivery for o in outcomes] == [Delivery.SENT] * 5
    assert all(o.code == 250 and o.phase is Phase.END_OF_DATA and o.attempts == 1 for o in outcomes)
    assert outcomes[0].text.startswith("2.0.0 OK: queued as Q")
    assert t.connections_opened == 1 and smtp_server.handler.connections == 1
    received = smtp_server.handler.received
    assert [r.rcpt_tos for r in received] == [(r.email,) for r in recipients]
    assert all(r.tls and r.mail_from == "releases@carenotes.example.org" for r in received)
    assert received[0].message()["To"].addresses[0].addr_spec == "user1@example.org"


def test_implicit_tls_server(smtps_server: SmtpServer) -> None:
    with transport(smtps_server) as t:
        outcome = send_all(t, people(1))[0]
    assert outcome.delivery is Delivery.SENT
    assert smtps_server.handler.accepted[0].tls


def test_550_is_failed_451_is_temp_and_the_batch_goes_on(smtp_server: SmtpServer) -> None:
    smtp_server.handler.rcpt_replies["user2@example.org"] = "550 5.1.1 <user2@example.org>: no such user"
    smtp_server.handler.rcpt_replies["user3@example.org"] = "451 4.7.1 greylisted, try again later"
    with transport(smtp_server) as t:
        outcomes = send_all(t, people(4))
    assert [o.delivery for o in outcomes] == [Delivery.SENT, Delivery.FAILED, Delivery.TEMP_FAILED,
                                              Delivery.SENT]
    assert outcomes[1] == Outcome(Delivery.FAILED, Phase.RCPT, 550, "5.1.1 <user2@example.org>: no such user")
    assert outcomes[1].reply == "550 5.1.1 <user2@example.org>: no such user"
    assert outcomes[2].code == 451 and outcomes[2].retriable and not outcomes[1].retriable
    assert t.connections_opened == 1  # RSET, not a new connection, after a refused recipient
    assert smtp_server.handler.accepted_for("user4@example.org") == 1


def test_replies_to_the_data_are_classified(smtp_server: SmtpServer) -> None:
    smtp_server.handler.data_replies["user1@example.org"] = "554 5.7.1 message rejected as spam"
    smtp_server.handler.data_replies["user2@example.org"] = "452 4.3.1 insufficient system storage"
    with transport(smtp_server) as t:
        outcomes = send_all(t, people(3))
    assert [(o.delivery, o.phase, o.code) for o in outcomes] == [
        (Delivery.FAILED, Phase.END_OF_DATA, 554),
        (Delivery.TEMP_FAILED, Phase.END_OF_DATA, 452),
        (Delivery.SENT, Phase.END_OF_DATA, 250),
    ]


def test_421_mid_batch_reconnects_and_carries_on(smtp_server: SmtpServer) -> None:
    smtp_server.handler.schedule(Fault.REFUSE_421_AT_MAIL, at=3)
    with transport(smtp_server) as t:
        outcomes = send_all(t, people(5))
    assert [o.delivery for o in outcomes] == [Delivery.SENT] * 5
    assert [o.attempts for o in outcomes] == [1, 1, 2, 1, 1]
    assert t.connections_opened == 2 and smtp_server.handler.connections == 2
    assert all(smtp_server.handler.accepted_for(f"user{i}@example.org") == 1 for i in range(1, 6))


def test_421_after_the_data_is_not_accepted_so_it_is_retried(smtp_server: SmtpServer) -> None:
    smtp_server.handler.schedule(Fault.REFUSE_421_AFTER_CONTENT, at=2)
    with transport(smtp_server) as t:
        outcomes = send_all(t, people(3))
    assert [(o.delivery, o.attempts) for o in outcomes] == [(Delivery.SENT, 1), (Delivery.SENT, 2),
                                                            (Delivery.SENT, 1)]
    assert smtp_server.handler.accepted_for("user2@example.org") == 1


def test_drop_before_data_is_retried_on_a_new_connection(smtp_server: SmtpServer) -> None:
    smtp_server.handler.schedule(Fault.DROP_AT_RCPT, at=2)
    with transport(smtp_server) as t:
        outcomes = send_all(t, people(3))
    assert [(o.delivery, o.attempts) for o in outcomes] == [(Delivery.SENT, 1), (Delivery.SENT, 2),
                                                            (Delivery.SENT, 1)]
    assert t.connections_opened == 2
    assert [smtp_server.handler.accepted_for(r.email) for r in people(3)] == [1, 1, 1]


def test_drop_after_the_data_is_unknown_and_never_retried(smtp_server: SmtpServer) -> None:
    smtp_server.handler.schedule(Fault.DROP_AFTER_CONTENT, at=2)
    with transport(smtp_server) as t:
        outcomes = send_all(t, people(3))
    unknown = outcomes[1]
    assert (unknown.delivery, unknown.phase, unknown.code, unknown.attempts) == (
        Delivery.UNKNOWN, Phase.END_OF_DATA, None, 1)
    assert "may or may not have been accepted" in unknown.text and not unknown.retriable
    assert outcomes[2].delivery is Delivery.SENT and t.connections_opened == 2
    # exactly one copy reached the server, unanswered; the transport did not send a second one
    copies = [r for r in smtp_server.handler.received if r.rcpt_tos == ("user2@example.org",)]
    assert [c.reply for c in copies] == [None]


def test_no_reply_to_the_data_within_the_timeout_is_unknown(smtp_server: SmtpServer) -> None:
    smtp_server.handler.schedule(Fault.SILENT_AFTER_CONTENT, at=1)
    with transport(smtp_server, end_of_data_timeout=0.5) as t:
        outcome = send_all(t, people(1))[0]
    assert (outcome.delivery, outcome.phase) == (Delivery.UNKNOWN, Phase.END_OF_DATA)
    assert "timed out" in outcome.text


def test_connection_lost_while_writing_the_data_is_retried_not_unknown(smtp_server: SmtpServer) -> None:
    """The server says 354, stops reading, and cuts the connection while the client is still writing.

    The message is large (about 12 MB; on Linux loopback 3 MB still vanish into
    the two kernels' socket buffers, 6 MB do not) so that the write really
    blocks and then fails: the case where the end of the data provably never
    reached the server, whatever the machine's load.
    """
    smtp_server.handler.schedule(Fault.DROP_IN_CONTENT, at=1)
    settings = settings_for(smtp_server, command_timeout=30.0)
    envelope = Envelope(settings.sender_address, recipient_address("Big", "big@example.org"))
    message = build_message(envelope=envelope, subject="big", text=("Lorem ipsum dolor sit amet. " * 2 + "\n")
                            * 210_000, html="<p>big</p>", message_id="<big@example.org>", date=NOW)
    with SmtpTransport(settings, environ=environ_for(smtp_server)) as t:
        outcome = t.send(message, "big@example.org")
    assert (outcome.delivery, outcome.attempts) == (Delivery.SENT, 2)
    assert smtp_server.handler.faults == {}  # the fault was played: the first attempt got its 354…
    assert smtp_server.handler.transactions == 2  # …and the retry is the only copy the server has
    assert [r.rcpt_tos for r in smtp_server.handler.received] == [("big@example.org",)]


def test_a_server_that_keeps_dropping_gives_temp_failed_after_max_attempts(smtp_server: SmtpServer) -> None:
    for at in (1, 2, 3):
        smtp_server.handler.schedule(Fault.DROP_AT_RCPT, at=at)
    with transport(smtp_server, max_attempts=3) as t:
        outcome = send_all(t, people(1))[0]
    assert (outcome.delivery, outcome.phase, outcome.code, outcome.attempts) == (
        Delivery.TEMP_FAILED, Phase.RCPT, None, 3)
    assert "gave up after 3 connections" in outcome.text
    assert smtp_server.handler.received == []


def test_faults_batch_accounts_for_every_recipient_and_a_second_run_has_no_duplicates(
        smtp_server: SmtpServer) -> None:
    handler = smtp_server.handler
    recipients = people(8)
    handler.rcpt_replies["user2@example.org"] = "550 5.1.1 no such user"
    handler.rcpt_replies["user3@example.org"] = "451 4.7.1 greylisted"
    handler.schedule(Fault.REFUSE_421_AT_MAIL, at=4)
    handler.schedule(Fault.DROP_AFTER_CONTENT, at=6)
    handler.schedule(Fault.DROP_AT_RCPT, at=8)
    with transport(smtp_server) as t:
        first = dict(zip((r.email for r in recipients), send_all(t, recipients), strict=True))
    tally = Counter(o.delivery for o in first.values())
    assert tally == {Delivery.SENT: 5, Delivery.FAILED: 1, Delivery.TEMP_FAILED: 1, Delivery.UNKNOWN: 1}
    assert sum(tally.values()) == len(recipients)

    # second run: only temp-failed recipients are retried (unknown ones wait for a person)
    del handler.rcpt_replies["user3@example.org"]
    retry = [r for r in recipients if first[r.email].retriable]
    with transport(smtp_server) as t:
        second = send_all(t, retry)
    assert [o.delivery for o in second] == [Delivery.SENT]
    for r in recipients:
        expected = 1 if first[r.email].delivery is Delivery.SENT or r in retry else 0
        assert handler.accepted_for(r.email) == expected, r.email


def test_starttls_required_but_not_offered_sends_nothing(plaintext_server: SmtpServer) -> None:
    with pytest.raises(SmtpSetupError, match="does not offer STARTTLS; refusing to send in clear text"), \
            transport(plaintext_server) as t:
        send_all(t, people(1))
    assert plaintext_server.handler.transactions == 0 and plaintext_server.handler.received == []


def test_certificate_of_an_unknown_ca_is_refused(smtp_server: SmtpServer) -> None:
    with pytest.raises(SmtpSetupError, match=r"TLS certificate .* was not accepted") as caught, \
            transport(smtp_server, ca_file=None) as t:
        send_all(t, people(1))
    assert caught.value.hint and "notify.ca_file" in caught.value.hint
    assert smtp_server.handler.transactions == 0


def test_missing_ca_file_is_a_settings_error(smtp_server: SmtpServer, tmp_path) -> None:
    with pytest.raises(NotifySettingsError, match=r"notify\.ca_file: .*nope\.pem does not exist"):
        transport(smtp_server, ca_file=tmp_path / "nope.pem")


def _secret_forms() -> list[str]:
    forms = [SMTP_PASSWORD]
    for clear in (SMTP_PASSWORD, f"\0{SMTP_USER}\0{SMTP_PASSWORD}"):
        forms.append(base64.b64encode(clear.encode()).decode().rstrip("="))
    return forms


def test_password_never_appears_in_errors_even_if_the_server_echoes_it(smtp_server: SmtpServer) -> None:
    smtp_server.handler.echo_credentials = True
    wrong = SMTP_PASSWORD + "-wrong"
    t = SmtpTransport(settings_for(smtp_server), environ={PASSWORD_ENV: wrong})
    with pytest.raises(SmtpAuthError, match="refused the login of 'quarterdeck': 535") as caught:
        send_all(t, people(1))
    shown = "".join(traceback.format_exception(caught.value)) + repr(caught.value) + str(caught.value.hint)
    assert "bad credentials" in shown  # the server's words are kept…
    for secret in (wrong, *(f.replace(SMTP_PASSWORD, wrong) for f in _secret_forms())):
        assert secret not in shown  # …without the password
    assert wrong not in repr(t) and wrong not in repr(t._settings)
    assert smtp_server.handler.transactions == 0


def test_missing_password_variable_names_the_variable(smtp_server: SmtpServer) -> None:
    t = SmtpTransport(settings_for(smtp_server), environ={})
    with pytest.raises(SmtpAuthError, match=f"environment variable {PASSWORD_ENV} is not set"):
        send_all(t, people(1))


def test_non_ascii_password_is_refused_without_showing_it(smtp_server: SmtpServer) -> None:
    t = SmtpTransport(settings_for(smtp_server), environ={PASSWORD_ENV: "pässwörd-secret"})
    with pytest.raises(SmtpAuthError, match="contains non-ASCII characters") as caught:
        send_all(t, people(1))
    assert "pässwörd" not in "".join(traceback.format_exception(caught.value))


def test_server_demanding_a_login_that_is_not_configured(smtp_server: SmtpServer) -> None:
    url_without_user = smtp_server.url.replace(f"{SMTP_USER}@", "")
    with pytest.raises(SmtpAuthError, match="refused MAIL FROM: 530") as caught, \
            transport(smtp_server, smtp_url=url_without_user) as t:
        send_all(t, people(1))
    assert caught.value.hint and PASSWORD_ENV in caught.value.hint


def test_unreachable_server_is_a_setup_error(smtp_server: SmtpServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(SmtpSetupError, match=f"cannot open an SMTP session with smtp://.*:{port}"):
            transport(smtp_server, smtp_url=f"smtp://127.0.0.1:{port}").send(
                email_for(settings_for(smtp_server), people(1)[0]), "user1@example.org")


def test_undeliverable_envelope_address_fails_without_contacting_the_server(smtp_server: SmtpServer) -> None:
    with transport(smtp_server) as t:
        outcome = t.send(email_for(t._settings, people(1)[0]),
                         "user1@example.org\r\nRCPT TO:<x@evil.example>")
    assert outcome.delivery is Delivery.FAILED and outcome.phase is Phase.RCPT
    assert smtp_server.handler.connections == 0


def test_rate_limit_spaces_messages_with_the_injected_clock(smtp_server: SmtpServer) -> None:
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(round(seconds, 6))
        now[0] += seconds

    t = SmtpTransport(settings_for(smtp_server, rate_per_second=4), environ=environ_for(smtp_server),
                      monotonic=lambda: now[0], sleep=sleep)
    with t:
        outcomes = send_all(t, people(4))
    assert [o.delivery for o in outcomes] == [Delivery.SENT] * 4
    assert sleeps == [0.25, 0.25, 0.25]


def test_open_transport_picks_smtp_when_a_url_is_set(smtp_server: SmtpServer) -> None:
    t = open_transport(settings_for(smtp_server), environ=environ_for(smtp_server))
    assert isinstance(t, SmtpTransport) and repr(t) == f"SmtpTransport({smtp_server.url})"
