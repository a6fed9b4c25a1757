"""Settings of the notify package: who sends, through which server, how fast.

Parsed and checked once into frozen values (stage one of the configuration);
the transports are built from them later (stage two), so a bad address or URL
is reported before any connection is opened and before any ledger row exists.
The SMTP password is never part of these values: only the NAME of the
environment variable that holds it is, so the settings can be printed, logged
and compared freely.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.policy import default as _default_policy
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import NotifySettingsError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")
_URL_PASSWORD = re.compile(r"(//[^/@:]*):.*@")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


class Security(StrEnum):
    """How the SMTP connection is protected; there is deliberately no cleartext mode."""

    STARTTLS = "starttls"  # smtp://  : plain connect, then STARTTLS is mandatory
    TLS = "tls"            # smtps:// : TLS from the first byte (implicit TLS)


@dataclass(frozen=True)
class SmtpEndpoint:
    """Where and how to reach the SMTP server, parsed from `smtp_url`."""

    security: Security
    host: str
    port: int
    username: str | None

    @property
    def display(self) -> str:
        """The endpoint for messages: never contains a secret (the URL may not hold one)."""
        user = f"{self.username}@" if self.username else ""
        scheme = "smtps" if self.security is Security.TLS else "smtp"
        return f"{scheme}://{user}{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpEndpoint:
    """`smtp://[user@]host[:port]` (STARTTLS, port 587) or `smtps://…` (implicit TLS, port 465)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise NotifySettingsError(f"notify.smtp_url: {_masked(url)!r} is not a valid URL ({err})",
                                  hint="write it as smtp://user@host:587 or smtps://user@host:465") from None
    if parts.password is not None:
        raise NotifySettingsError(
            f"notify.smtp_url: {_masked(url)!r} contains a password",
            hint="remove it from the URL and put it in the environment variable named by notify.password_env")
    schemes = {"smtp": (Security.STARTTLS, 587), "smtps": (Security.TLS, 465)}
    if parts.scheme not in schemes:
        raise NotifySettingsError(
            f"notify.smtp_url: {_masked(url)!r} has scheme {parts.scheme!r}; expected smtp:// (STARTTLS) "
            "or smtps:// (implicit TLS)",
            hint="leave smtp_url empty to write notices to the Maildir outbox instead")
    if not parts.hostname:
        raise NotifySettingsError(f"notify.smtp_url: {_masked(url)!r} names no host",
                                  hint="write it as smtp://user@mail.example.org:587")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise NotifySettingsError(f"notify.smtp_url: {_masked(url)!r} has a path or query; only "
                                  "scheme, user, host and port are used")
    security, default_port = schemes[parts.scheme]
    username = unquote(parts.username) if parts.username else None
    return SmtpEndpoint(security, parts.hostname, port or default_port, username)


def parse_mailbox(value: str, field: str) -> Address:
    """One RFC 5322 mailbox (`Name <addr@domain>` or `addr@domain`) as an Address object."""
    if _LINE_BREAKS.search(value):
        raise NotifySettingsError(f"{field}: {value!r} contains a line break",
                                  hint="write a single line such as 'Releases <releases@example.org>'")
    header = _default_policy.header_factory("To", value)
    addresses = getattr(header, "addresses", ())
    if len(addresses) != 1 or header.defects or "@" not in addresses[0].addr_spec:
        raise NotifySettingsError(f"{field}: {value!r} is not one email address",
                                  hint="write it as 'Releases <releases@example.org>' "
                                       "or releases@example.org")
    address: Address = addresses[0]
    if not address.addr_spec.isascii():
        raise NotifySettingsError(f"{field}: {address.addr_spec!r} is not an ASCII address",
                                  hint="use the punycode (xn--) form of the domain and an ASCII local part")
    return address


def check_domain(domain: str, field: str = "notify.message_domain") -> str:
    """A host name for Message-IDs: ASCII labels only, so the header never needs encoding."""
    labels = domain.split(".")
    if not domain or len(domain) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise NotifySettingsError(f"{field}: {domain!r} is not a valid domain name",
                                  hint="use the sending organisation's domain, e.g. releases.example.org")
    return domain.lower()


@dataclass(frozen=True)
class NotifySettings:
    """The [notify] section as checked values. Empty `smtp_url` means: write to the Maildir outbox."""

    sender: str = "Quarterdeck <releases@localhost>"
    reply_to: str = ""
    smtp_url: str = ""
    password_env: str = "QUARTERDECK_SMTP_PASSWORD"
    outbox: Path = Path(".quarterdeck/outbox")
    message_domain: str = "localhost"
    rate_per_second: float = 0.0          # 0 = no limit
    ca_file: Path | None = None           # extra trust anchor (tests, private CAs); None = system store
    connect_timeout: float = 30.0         # seconds for connect, TLS handshake, greeting and login
    command_timeout: float = 120.0        # seconds for each command reply and each write of the data
    end_of_data_timeout: float = 600.0    # seconds for the reply to the final dot (RFC 5321 4.5.3.2: 10 min)
    max_attempts: int = 3                 # connections tried per message when the server drops or says 421
    templates: Path | None = None         # directory whose templates override the packaged ones

    def __post_init__(self) -> None:
        parse_mailbox(self.sender, "notify.sender")
        if self.reply_to:
            parse_mailbox(self.reply_to, "notify.reply_to")
        if self.smtp_url:
            parse_smtp_url(self.smtp_url)
        if not _ENV_NAME.match(self.password_env):
            raise NotifySettingsError(f"notify.password_env: {self.password_env!r} is not an environment "
                                      "variable name", hint="use letters, digits and _, e.g. SMTP_PASSWORD")
        object.__setattr__(self, "message_domain", check_domain(self.message_domain))
        for field, minimum in (("rate_per_second", 0.0), ("connect_timeout", 0.001),
                               ("command_timeout", 0.001), ("end_of_data_timeout", 0.001)):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
                raise NotifySettingsError(f"notify.{field}: {value!r} must be a number >= {minimum:g}")
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) \
                or self.max_attempts < 1:
            raise NotifySettingsError(f"notify.max_attempts: {self.max_attempts!r} must be an integer >= 1")

    @property
    def sender_address(self) -> Address:
        return parse_mailbox(self.sender, "notify.sender")

    @property
    def reply_to_address(self) -> Address | None:
        return parse_mailbox(self.reply_to, "notify.reply_to") if self.reply_to else None

    @property
    def endpoint(self) -> SmtpEndpoint | None:
        """The SMTP server, or None when notices go to the Maildir outbox."""
        return parse_smtp_url(self.smtp_url) if self.smtp_url else None

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> NotifySettings:
        """Build from the already key-checked [notify] table; relative paths are relative to base_dir.

        Keys this package does not use (such as `support_contact`, which is
        notice content) are ignored: the CLI's config loader owns key checking.
        """
        known = {"sender", "reply_to", "smtp_url", "password_env", "message_domain",
                 "rate_per_second", "connect_timeout", "command_timeout", "end_of_data_timeout",
                 "max_attempts"}
        values: dict[str, Any] = {key: section[key] for key in known if key in section}
        if section.get("outbox"):
            values["outbox"] = base_dir / Path(section["outbox"]).expanduser()
        for key in ("ca_file", "templates"):
            if section.get(key):
                values[key] = base_dir / Path(section[key]).expanduser()
        return cls(**values)


def _masked(url: str) -> str:
    """The URL with any password replaced, so a settings error never repeats a secret.

    A regular expression rather than urlsplit, because this also runs on URLs
    that urlsplit refuses.
    """
    return _URL_PASSWORD.sub(r"\1:***@", url)
