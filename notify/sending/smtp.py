"""SMTP delivery: one verified-TLS connection reused for many messages.

The dialogue is driven command by command (MAIL, RCPT, DATA, the data, its reply) instead of
through `smtplib.SMTP.sendmail`, because sendmail turns a connection lost while waiting for the
354 and one lost after the terminating dot into the same SMTPServerDisconnected. Those two are
opposites for the ledger: before the end of the data nothing can have been accepted (retry on a
fresh connection), after it the server may have queued the message (unknown, never retried).

Security rules kept here: certificates are always verified; `smtp://` means STARTTLS is
mandatory and its absence is an error, never a cleartext send; the password is read from the
environment at login, never stored on this object, wiped from smtplib's connection after use,
and scrubbed (with its base64 forms) from any server text that reaches an exception.
"""

from __future__ import annotations

import base64
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from types import TracebackType
from typing import Self

from notify.errors import NotifySettingsError, SmtpAuthError, SmtpSetupError
from notify.mail.message import Outgoing, message_bytes
from notify.sending.readiness import ReadyGate
from notify.sending.transport import Delivery, Outcome, Phase, RateLimiter, Withheld, classify_reply
from notify.settings import NotifySettings, Security, SmtpEndpoint

_ENVELOPE_ADDRESS = re.compile(r"[!-~]+@[!-~]+\Z")  # printable ASCII, no spaces or controls
# local@domain made of atoms: smtplib.quoteaddr() gives "<address>" for these, after a full parse
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\Z")


class _Interrupted(Exception):
    """The session broke (or said 421) before the end of the data: safe to retry on a new connection."""

    def __init__(self, phase: Phase, code: int | None, text: str) -> None:
        super().__init__(text)
        self.phase, self.code, self.text = phase, code, text


class SmtpTransport:
    """A Transport that submits messages to an SMTP server (see the module docstring for the rules)."""

    def __init__(self, settings: NotifySettings, *, environ: Mapping[str, str] | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        endpoint = settings.endpoint
        if endpoint is None:
            raise NotifySettingsError("notify.smtp_url is empty, so there is no SMTP server to send to",
                                      hint="set notify.smtp_url, or use the Maildir outbox transport")
        self._settings = settings
        self._endpoint: SmtpEndpoint = endpoint
        self._environ = os.environ if environ is None else environ
        self._limiter = RateLimiter(settings.rate_per_second, monotonic=monotonic, sleep=sleep)
        self._sender = settings.sender_address.addr_spec
        self._tls = tls_context(settings)
        self._conn: smtplib.SMTP | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.connections_opened = 0

    def _worker(self) -> ThreadPoolExecutor:
        """The one thread that runs the callers' `ready` while the server answers (see ReadyGate)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quarterdeck-claims")
        return self._pool

    def __repr__(self) -> str:
        return f"SmtpTransport({self._endpoint.display})"

    # -- the Transport protocol -------------------------------------------------------------

    def send(self, message: EmailMessage | Outgoing, recipient: str, *,
             ready: Callable[[], bool] | None = None, idle: Callable[[], None] | None = None) -> Outcome:
        """Deliver `message` to the envelope `recipient`; session-level failures raise SmtpSetupError.

        The two hooks let the caller work while the server does (see notify.sending.attempts): `ready` is
        asked once, on a worker thread while the server works on MAIL FROM and RCPT TO, and its
        answer is waited for before DATA, so before anything of the message is handed over; if it
        says no, the transaction is reset and Withheld raised. `idle` is called
        once the whole message is written, while the server decides whether to take it.
        """
        if not _ENVELOPE_ADDRESS.match(recipient):
            return Outcome(Delivery.FAILED, Phase.RCPT, None,
                           f"{recipient!r} is not a deliverable address (not sent)")
        data = message.data if isinstance(message, Outgoing) else message_bytes(message)
        payload = _data_payload(data)
        self._limiter.wait()
        gate = ReadyGate(ready, self._worker)
        interruptions: list[_Interrupted] = []
        for attempt in range(1, self._settings.max_attempts + 1):
            connection = self._connection()
            try:
                return self._transaction(connection, recipient, payload, attempt, gate, idle)
            except _Interrupted as broken:
                self._drop()
                if gate.refused:
                    raise Withheld(recipient) from None
                interruptions.append(broken)
        last = interruptions[-1]
        return Outcome(Delivery.TEMP_FAILED, last.phase, last.code,
                       f"{last.text} (gave up after {len(interruptions)} connections)", len(interruptions))

    def close(self) -> None:
        """QUIT politely; a server that has already gone is not an error at this point."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        connection, self._conn = self._conn, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- one transaction ----------------------------------------------------------------------

    def _transaction(self, conn: smtplib.SMTP, recipient: str, payload: bytes, attempt: int, gate: ReadyGate,
                     idle: Callable[[], None] | None) -> Outcome:
        try:
            return self._exchange(conn, recipient, payload, attempt, gate, idle)
        finally:
            gate.wait()  # a refused MAIL or RCPT, a broken connection: the caller's commit still ends first

    def _exchange(self, conn: smtplib.SMTP, recipient: str, payload: bytes, attempt: int, gate: ReadyGate,
                  idle: Callable[[], None] | None) -> Outcome:
        options = [f"SIZE={len(payload)}"] if conn.has_extn("size") else []
        code, text = _command(Phase.MAIL, lambda: self._mail(conn, options, gate.start))
        if code == 530:
            self._drop()
            raise SmtpAuthError(f"{self._endpoint.display} refused MAIL FROM: {code} {text}",
                                hint="the server wants a login: put the user in notify.smtp_url "
                                     f"(smtp://user@host) and the password in ${self._settings.password_env}")
        if not 200 <= code < 300:
            return self._abandon(conn, classify_reply(code, text, Phase.MAIL, attempt))
        code, text = _command(Phase.RCPT, lambda: _rcpt(conn, recipient))
        if not 200 <= code < 300:
            return self._abandon(conn, classify_reply(code, text, Phase.RCPT, attempt))
        self._meanwhile(gate.ask)  # nothing of the message goes out before the caller says yes
        if gate.refused:
            self._reset(conn)
            raise Withheld(recipient)
        code, text = _command(Phase.DATA, lambda: _data_command(conn))
        if code != 354:
            return self._abandon(conn, classify_reply(code, text, Phase.DATA, attempt))
        try:
            conn.send(payload)
        except smtplib.SMTPServerDisconnected as err:
            # sendall() failed, so the terminating dot never left: the server cannot have the message.
            reason = err.__context__ or err  # smtplib says "Server not connected"; the OSError says why
            raise _Interrupted(Phase.CONTENT, None, f"connection lost while sending the message ({reason})") \
                from err
        if idle is not None:
            self._meanwhile(idle)
        # A slow server may take long to queue a large message; giving up early would turn a
        # delivered message into an `unknown` that a person has to resolve, so wait as RFC 5321 says.
        _set_timeout(conn, self._settings.end_of_data_timeout)
        try:
            code, raw = conn.getreply()
        except smtplib.SMTPException as err:
            self._drop()
            return Outcome(Delivery.UNKNOWN, Phase.END_OF_DATA, None,
                           f"the message was sent but the connection broke before the server's reply "
                           f"({err}); it may or may not have been accepted", attempt)
        _set_timeout(conn, self._settings.command_timeout)
        text = _decode(raw)
        if code == 421:
            raise _Interrupted(Phase.END_OF_DATA, code, text)
        return classify_reply(code, text, Phase.END_OF_DATA, attempt)

    def _mail(self, conn: smtplib.SMTP, options: list[str],
              meanwhile: Callable[[], None]) -> tuple[int, bytes]:
        """smtplib's mail(), with `meanwhile` run between sending the command and reading its reply."""
        optionlist = " " + " ".join(options) if options and conn.does_esmtp else ""
        conn.putcmd("mail", f"from:{_quoted(self._sender)}{optionlist}")
        self._meanwhile(meanwhile)
        return conn.getreply()

    def _meanwhile(self, work: Callable[[], None]) -> None:
        """The caller's work while a reply is on its way; if it raises, the session is out of step."""
        try:
            work()
        except BaseException:
            self._drop()
            raise

    def _abandon(self, conn: smtplib.SMTP, outcome: Outcome) -> Outcome:
        """End a refused transaction with RSET so the connection can carry the next message."""
        if outcome.code is None or not 400 <= outcome.code < 600:
            self._drop()  # an out-of-protocol reply: do not trust this session any further
            return outcome
        self._reset(conn)
        return outcome

    def _reset(self, conn: smtplib.SMTP) -> None:
        """RSET, or drop the connection if even that fails."""
        try:
            code, _ = conn.rset()
        except (smtplib.SMTPException, OSError):
            code = 0
        if code != 250:
            self._drop()

    # -- the session --------------------------------------------------------------------------

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None:
            return self._conn
        ep, settings = self._endpoint, self._settings
        conn: smtplib.SMTP | None = None
        try:
            if ep.security is Security.TLS:
                conn = smtplib.SMTP_SSL(ep.host, ep.port, local_hostname=settings.message_domain,
                                        timeout=settings.connect_timeout, context=self._tls)
            else:
                conn = smtplib.SMTP(ep.host, ep.port, local_hostname=settings.message_domain,
                                    timeout=settings.connect_timeout)
                self._starttls(conn)
            conn.ehlo_or_helo_if_needed()  # MAIL needs a greeting; sendmail() would do this, mail() does not
            self._login(conn)
            _set_timeout(conn, settings.command_timeout)
        except ssl.SSLCertVerificationError as err:
            _close_quietly(conn)
            raise SmtpSetupError(f"the TLS certificate of {ep.display} was not accepted: "
                                 f"{err.verify_message}",
                                 hint="if the server uses a private CA, name its certificate in "
                                      "notify.ca_file") from err
        except SmtpSetupError:
            _close_quietly(conn)
            raise
        except smtplib.SMTPConnectError as err:
            _close_quietly(conn)
            raise SmtpSetupError(f"{ep.display} refused the session: {err.smtp_code} "
                                 f"{_decode(err.smtp_error)}",
                                 hint="try again later; the server is busy or refuses this client") from err
        except (OSError, smtplib.SMTPException) as err:  # SSLError and SMTPException are OSErrors too
            _close_quietly(conn)
            raise SmtpSetupError(f"cannot open an SMTP session with {ep.display}: {err}",
                                 hint="check notify.smtp_url, the network and the server") from err
        self._conn = conn
        self.connections_opened += 1
        return conn

    def _starttls(self, conn: smtplib.SMTP) -> None:
        """Upgrade to TLS or refuse to go on: smtp:// never means cleartext."""
        ep = self._endpoint
        code, raw = conn.ehlo()
        if code != 250:
            raise SmtpSetupError(f"{ep.display} did not accept EHLO ({code} {_decode(raw)}), so STARTTLS "
                                 "cannot be negotiated; nothing was sent")
        if not conn.has_extn("starttls"):
            raise SmtpSetupError(f"{ep.display} does not offer STARTTLS; refusing to send in clear text, "
                                 "nothing was sent",
                                 hint="use smtps:// if the server speaks implicit TLS, or fix the server")
        code, raw = conn.starttls(context=self._tls)
        if code != 220:  # smtplib returns a refusal instead of raising: sending on would be in the clear
            raise SmtpSetupError(f"{ep.display} refused STARTTLS: {code} {_decode(raw)}; nothing was sent")
        conn.ehlo()

    def _login(self, conn: smtplib.SMTP) -> None:
        user, env_name = self._endpoint.username, self._settings.password_env
        if not user:
            return
        password = self._environ.get(env_name, "")
        if not password:
            raise SmtpAuthError(f"{self._endpoint.display} needs a password for {user!r}, but the "
                                f"environment variable {env_name} is not set or empty",
                                hint=f"export {env_name}=… before sending (it is never stored)")
        if not password.isascii():
            del password
            raise SmtpAuthError(f"the password in {env_name} contains non-ASCII characters, which smtplib's "
                                "AUTH PLAIN/LOGIN/CRAM-MD5 cannot send",
                                hint="use an ASCII password (an app password, for instance)")
        try:
            conn.login(user, password)
        except smtplib.SMTPAuthenticationError as err:
            text = _redact(f"{err.smtp_code} {_decode(err.smtp_error)}", user, password)
            raise SmtpAuthError(f"{self._endpoint.display} refused the login of {user!r}: {text}",
                                hint=f"check the password in ${env_name} and the user in notify.smtp_url"
                                ) from None  # the original carries the server's unscrubbed words
        except (smtplib.SMTPException, OSError) as err:
            raise SmtpAuthError(f"login of {user!r} at {self._endpoint.display} failed: "
                                f"{_redact(str(err), user, password)}",
                                hint="check that the server offers AUTH PLAIN, LOGIN or CRAM-MD5 over TLS"
                                ) from None
        finally:
            conn.__dict__.pop("password", None)  # smtplib keeps it for its auth callbacks; done with it
            del password

    def _drop(self) -> None:
        """Forget a connection that can no longer be trusted; the next message opens a fresh one."""
        connection, self._conn = self._conn, None
        _close_quietly(connection)


def _command(phase: Phase, run: Callable[[], tuple[int, bytes]]) -> tuple[int, str]:
    """Run one command; a lost connection or a 421 interrupts the attempt (nothing was accepted)."""
    try:
        code, raw = run()
    except smtplib.SMTPException as err:
        raise _Interrupted(phase, None, f"connection lost at {phase.upper()} ({err})") from err
    text = _decode(raw)
    if code == 421:
        raise _Interrupted(phase, code, text)
    return code, text


def _quoted(address: str) -> str:
    """smtplib.quoteaddr(address), without its address parser (a third of smtplib's own CPU per
    message) for the plain addresses that are nearly all of them."""
    return f"<{address}>" if _PLAIN_ADDRESS.match(address) else smtplib.quoteaddr(address)


def _rcpt(conn: smtplib.SMTP, recipient: str) -> tuple[int, bytes]:
    """smtplib's rcpt() (no options), quoting the address with `_quoted`."""
    conn.putcmd("rcpt", f"TO:{_quoted(recipient)}")
    return conn.getreply()


def _data_command(conn: smtplib.SMTP) -> tuple[int, bytes]:
    """DATA on its own (smtplib's data() would also send the content, hiding which step failed)."""
    conn.putcmd("data")
    return conn.getreply()


def _data_payload(data: bytes) -> bytes:
    """The message as SMTP data: leading dots doubled (RFC 5321 4.5.2), ended by CRLF . CRLF.

    A line starts at the beginning or after LF, so doubling the dot of every "\\n." (they cannot
    overlap) and of a leading "." is what smtplib's `(?m)^\\.` substitution does, with a plain
    byte replacement instead of a regex walk, on the path between the server's reply to one
    message and the MAIL FROM of the next (notices do have such lines: a quoted-printable soft
    break before a ".").
    """
    if b"\n." in data:
        data = data.replace(b"\n.", b"\n..")
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def tls_context(settings: NotifySettings) -> ssl.SSLContext:
    """Verifying context: system trust store, or only `ca_file` when one is configured."""
    cafile = settings.ca_file
    if cafile is not None and not cafile.is_file():
        raise NotifySettingsError(f"notify.ca_file: {cafile} does not exist or is not a file",
                                  hint="name a PEM file with the CA certificate, or remove the setting")
    try:
        return ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except ssl.SSLError as err:
        raise NotifySettingsError(f"notify.ca_file: {cafile} is not a PEM certificate file ({err})") from err


def _set_timeout(conn: smtplib.SMTP, seconds: float) -> None:
    """smtplib reads through a file over the socket, so the socket's timeout governs every read."""
    if conn.sock is not None:
        conn.sock.settimeout(seconds)


def _decode(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return " ".join(text.split())


def _redact(text: str, user: str, password: str) -> str:
    """Remove the password, and the base64 forms AUTH PLAIN/LOGIN put on the wire, from server text."""
    forms = {password}
    for clear in (password, f"\0{user}\0{password}", f"{user}\0{password}"):
        encoded = base64.b64encode(clear.encode()).decode("ascii")
        forms.update({encoded, encoded.rstrip("=")})
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def _close_quietly(conn: smtplib.SMTP | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except OSError:
            pass
