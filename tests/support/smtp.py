"""Real SMTP servers (aiosmtpd) on 127.0.0.1 for tests, with scripted misbehaviour.

Three session-scoped servers, each on a free port chosen by the kernel:

- `smtpd_starttls`: STARTTLS required, AUTH required (user `quarterdeck`,
  password `SMTP_PASSWORD`), certificate from a throwaway test CA;
- `smtpd_implicit_tls`: TLS from the first byte (smtps), no AUTH;
- `smtpd_plaintext`: offers no STARTTLS at all (a client configured for
  STARTTLS must refuse it).

The function-scoped fixtures `smtp_server`, `smtps_server` and
`plaintext_server` return the same servers with their recording handler
reset, so each test starts from zero. The handler records every message
with the reply it got, answers chosen recipients with a chosen reply (550,
451, …) at RCPT or after the data, and plays one-shot faults at the Nth
transaction: 421 and close, close the connection at RCPT (before DATA),
cut the connection in the middle of the data, close after the data
without a reply, 421 after the data, or never answer the data.

Nothing here imports the project: the lead's end-to-end tests can point a
configuration file at `server.url` with `server.ca_file` and the password
in the environment variable of their choice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, syntax
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SMTP_USER = "quarterdeck"
SMTP_PASSWORD = "test-only: Tr0ub4dor&3 correct-horse"  # ASCII: smtplib's AUTH cannot send anything else
FOREVER = 3600.0


class Fault(StrEnum):
    """A one-shot misbehaviour, played at the transaction (MAIL FROM) number it is scheduled for."""

    REFUSE_421_AT_MAIL = "421-at-mail"          # answer MAIL with 421 and close: nothing accepted
    DROP_AT_RCPT = "drop-at-rcpt"               # close instead of answering RCPT: before DATA
    DROP_IN_CONTENT = "drop-in-content"         # 354, stop reading (the client's write blocks), then cut
    DROP_AFTER_CONTENT = "drop-after-content"   # read the whole message, close without a reply
    REFUSE_421_AFTER_CONTENT = "421-after-content"  # read it, answer 421 (not accepted) and close
    SILENT_AFTER_CONTENT = "silent-after-content"   # read it, never answer, keep the connection open


@dataclass(frozen=True)
class Received:
    """One message as the server got it, and what the server answered (None: never answered)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    reply: str | None
    tls: bool

    @property
    def accepted(self) -> bool:
        return self.reply is not None and self.reply.startswith("2")

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class RecordingHandler:
    """aiosmtpd handler that records everything and misbehaves on request (see module docstring)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.received: list[Received] = []
        self.rcpt_replies: dict[str, str] = {}   # lower-cased address -> reply to its RCPT
        self.data_replies: dict[str, str] = {}   # lower-cased address -> reply after its data
        self.faults: dict[int, Fault] = {}
        self.transactions = 0                    # MAIL FROM commands seen
        self.connections = 0                     # TCP connections accepted
        self.echo_credentials = False            # a hostile server that repeats the password on failure
        self._current = 0

    def schedule(self, fault: Fault, at: int) -> None:
        """Play `fault` once, in the `at`-th transaction (1-based, counted across connections)."""
        self.faults[at] = fault

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.accepted]

    def accepted_for(self, address: str) -> int:
        return sum(1 for r in self.accepted if address.lower() in (a.lower() for a in r.rcpt_tos))

    def _take(self, *wanted: Fault) -> Fault | None:
        fault = self.faults.get(self._current)
        if fault in wanted:
            del self.faults[self._current]
            return fault
        return None

    # -- aiosmtpd hooks ------------------------------------------------------------------

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        self.transactions += 1
        self._current = self.transactions
        if self._take(Fault.REFUSE_421_AT_MAIL):
            await server.push("421 4.3.2 Service shutting down, try again later")
            _close(server)
            await asyncio.sleep(FOREVER)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if self._take(Fault.DROP_AT_RCPT):
            _abort(server)
            await asyncio.sleep(FOREVER)
        reply = self.rcpt_replies.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = bytes(envelope.original_content or b"")
        record = dict(mail_from=envelope.mail_from or "", rcpt_tos=tuple(envelope.rcpt_tos), content=content,
                      tls=server.transport is not None
                      and server.transport.get_extra_info("ssl_object") is not None)
        fault = self._take(Fault.DROP_AFTER_CONTENT, Fault.REFUSE_421_AFTER_CONTENT,
                           Fault.SILENT_AFTER_CONTENT)
        if fault is Fault.DROP_AFTER_CONTENT:
            self.received.append(Received(**record, reply=None))
            _abort(server)
            await asyncio.sleep(FOREVER)
        if fault is Fault.REFUSE_421_AFTER_CONTENT:
            self.received.append(Received(**record, reply="421 4.3.2 shutting down"))
            await server.push("421 4.3.2 Service shutting down, message not accepted")
            _close(server)
            await asyncio.sleep(FOREVER)
        if fault is Fault.SILENT_AFTER_CONTENT:
            self.received.append(Received(**record, reply=None))
            await asyncio.sleep(FOREVER)
        chosen = [self.data_replies[a.lower()] for a in envelope.rcpt_tos if a.lower() in self.data_replies]
        reply = chosen[0] if chosen else f"250 2.0.0 OK: queued as Q{self._current}"
        self.received.append(Received(**record, reply=reply))
        return reply

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
              and auth_data.password == SMTP_PASSWORD.encode())
        if ok or not self.echo_credentials:
            return AuthResult(success=ok)
        assert isinstance(auth_data, LoginPassword)
        said = f"{auth_data.login.decode()}:{auth_data.password.decode()}"
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad credentials {said}")


class ScriptedSMTP(SMTP):
    """aiosmtpd's SMTP with the one fault a handler hook cannot play: breaking inside the data."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        handler = self.event_handler
        if isinstance(handler, RecordingHandler) and self.transport is None:
            handler.connections += 1
        super().connection_made(transport)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        handler = self.event_handler
        if isinstance(handler, RecordingHandler) and self.envelope is not None and self.envelope.rcpt_tos \
                and handler._take(Fault.DROP_IN_CONTENT):
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            raw = _raw_transport(self)
            raw.pause_reading()  # the kernel buffers fill up and the client's write blocks…
            await asyncio.sleep(0.3)
            raw.abort()  # …until the connection is cut under it, before the final dot could be sent
            await asyncio.sleep(FOREVER)
        await super().smtp_DATA(arg)


class _Controller(Controller):
    """Controller on a kernel-chosen free port (port 0), read back before the readiness probe."""

    def factory(self) -> SMTP:
        return ScriptedSMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def _close(server: SMTP) -> None:
    """Close gracefully (flushes what was pushed, TLS close_notify included)."""
    if server.transport is not None:
        server.transport.close()


def _raw_transport(server: SMTP) -> Any:
    """The TCP transport under any TLS layer (STARTTLS keeps it aside; implicit TLS wraps it)."""
    if server._original_transport is not None:
        return server._original_transport
    ssl_protocol = getattr(server.transport, "_ssl_protocol", None)
    return getattr(ssl_protocol, "_transport", None) or server.transport


def _abort(server: SMTP) -> None:
    """Cut the TCP connection under any TLS layer: the client sees it break, with no reply."""
    raw = _raw_transport(server)
    if raw is not None:
        raw.abort()


# -- throwaway PKI ---------------------------------------------------------------------------

@dataclass(frozen=True)
class TestPKI:
    """A CA certificate (the client's trust anchor) and a server certificate for 127.0.0.1/localhost."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_pki(directory: Path) -> TestPKI:
    """A CA and a leaf it signed, with the extensions strict X.509 verification expects."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Quarterdeck test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    pki = TestPKI(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    pki.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return pki


# -- servers -----------------------------------------------------------------------------------

@dataclass
class SmtpServer:
    """A running test server: where it is, how to reach it, and what it recorded."""

    controller: Controller
    handler: RecordingHandler
    scheme: str                       # "smtp" (STARTTLS or nothing) or "smtps"
    ca_file: Path | None
    user: str | None = None
    password: str | None = None
    host: str = "127.0.0.1"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def url(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"

    def reset(self) -> SmtpServer:
        self.handler.reset()
        return self


def start_server(scheme: str, *, pki: TestPKI | None, starttls: bool = False, implicit_tls: bool = False,
                 auth: bool = False) -> SmtpServer:
    handler = RecordingHandler()
    kwargs: dict[str, Any] = {"enable_SMTPUTF8": False, "timeout": 30}
    if starttls:
        assert pki is not None
        kwargs.update(tls_context=pki.server_context(), require_starttls=True)
    if auth:
        kwargs.update(authenticator=handler.authenticate, auth_required=True, auth_require_tls=True)
    controller = _Controller(handler, hostname="127.0.0.1", port=0,
                             ssl_context=pki.server_context() if implicit_tls and pki else None, **kwargs)
    controller.start()
    return SmtpServer(controller, handler, scheme, pki.ca_file if pki else None,
                      SMTP_USER if auth else None, SMTP_PASSWORD if auth else None)


@pytest.fixture(scope="session")
def smtp_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return make_pki(tmp_path_factory.mktemp("smtp-pki"))


@pytest.fixture(scope="session")
def smtpd_starttls(smtp_pki: TestPKI) -> Iterator[SmtpServer]:
    server = start_server("smtp", pki=smtp_pki, starttls=True, auth=True)
    yield server
    server.controller.stop()


@pytest.fixture(scope="session")
def smtpd_implicit_tls(smtp_pki: TestPKI) -> Iterator[SmtpServer]:
    server = start_server("smtps", pki=smtp_pki, implicit_tls=True)
    yield server
    server.controller.stop()


@pytest.fixture(scope="session")
def smtpd_plaintext() -> Iterator[SmtpServer]:
    server = start_server("smtp", pki=None)
    yield server
    server.controller.stop()


@pytest.fixture
def smtp_server(smtpd_starttls: SmtpServer) -> SmtpServer:
    """STARTTLS + AUTH server, recording from zero."""
    return smtpd_starttls.reset()


@pytest.fixture
def smtps_server(smtpd_implicit_tls: SmtpServer) -> SmtpServer:
    """Implicit-TLS server, recording from zero."""
    return smtpd_implicit_tls.reset()


@pytest.fixture
def plaintext_server(smtpd_plaintext: SmtpServer) -> SmtpServer:
    """Server without STARTTLS, recording from zero."""
    return smtpd_plaintext.reset()
