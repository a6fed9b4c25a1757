"""Settings of the notify package: who sends, through which server, how fast, and the
[notify] table of the configuration they come from.

`NOTIFY` declares the table's keys as plain data (the shape is described in
releases.settings); pipeline.py checks the file against it with its one checker, and
`NotifySettings.from_config` builds the checked values (stage one of the configuration);
the transports are built from them later (stage two), so a bad address or URL is reported
before any connection is opened and before any ledger row exists. Each value has one
check, which the key table and NotifySettings both call; the email addresses are checked
when NotifySettings is built (by `config check` and by every command that sends), as
parsing them needs the email package, which the other commands never load.
The SMTP password is never part of these values: only the NAME of the environment
variable that holds it is, so the settings can be printed, logged and compared freely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from notify.errors import NotifySettingsError
from releases.settings import mask_password

if TYPE_CHECKING:
    from email.headerregistry import Address

_LINE_BREAKS = "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


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


def _read_smtp_url(url: str) -> SmtpEndpoint | tuple[str, str | None]:
    """The endpoint, or what is wrong with the URL and what to write instead."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        return f"is not a valid URL ({err})", "write it as smtp://user@host:587 or smtps://user@host:465"
    if parts.password is not None:
        return ("contains a password",
                "remove it from the URL and put it in the environment variable named by notify.password_env")
    schemes = {"smtp": (Security.STARTTLS, 587), "smtps": (Security.TLS, 465)}
    if parts.scheme not in schemes:
        return (f"has scheme {parts.scheme!r}; expected smtp:// (STARTTLS) or smtps:// (implicit TLS)",
                "leave smtp_url empty to write notices to the Maildir outbox instead")
    if not parts.hostname:
        return "names no host", "write it as smtp://user@mail.example.org:587"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "has a path or query; only scheme, user, host and port are used", None
    security, default_port = schemes[parts.scheme]
    username = unquote(parts.username) if parts.username else None
    return SmtpEndpoint(security, parts.hostname, port or default_port, username)


def parse_smtp_url(url: str) -> SmtpEndpoint:
    """`smtp://[user@]host[:port]` (STARTTLS, port 587) or `smtps://…` (implicit TLS, port 465)."""
    read = _read_smtp_url(url)
    if isinstance(read, tuple):
        problem, hint = read
        raise NotifySettingsError(f"notify.smtp_url: {mask_password(url)!r} {problem}", hint=hint)
    return read


def smtp_url_problem(url: str) -> str | None:
    """What is wrong with `smtp_url` ("" is the Maildir outbox), never repeating a password."""
    read = _read_smtp_url(url) if url else None
    if not isinstance(read, tuple):
        return None
    problem, hint = read
    return f"{problem}; {hint}" if hint else problem


def parse_mailbox(value: str, field: str) -> Address:
    """One RFC 5322 mailbox (`Name <addr@domain>` or `addr@domain`) as an Address object."""
    from email.policy import default as _default_policy

    if any(char in _LINE_BREAKS for char in value):
        raise NotifySettingsError(f"{field}: {value!r} contains a line break",
                                  hint="write a single line such as 'Releases <releases@example.org>'")
    header = _default_policy.header_factory("To", value)
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    if len(addresses) != 1 or header.defects or "@" not in addresses[0].addr_spec:
        raise NotifySettingsError(f"{field}: {value!r} is not one email address",
                                  hint="write it as 'Releases <releases@example.org>' "
                                       "or releases@example.org")
    address: Address = addresses[0]
    if not address.addr_spec.isascii():
        raise NotifySettingsError(f"{field}: {address.addr_spec!r} is not an ASCII address",
                                  hint="use the punycode (xn--) form of the domain and an ASCII local part")
    return address


def domain_problem(domain: str) -> str | None:
    """What is wrong with a host name for Message-IDs: ASCII labels only, so no header needs encoding."""
    labels = domain.split(".")
    if domain and len(domain) <= 253 and all(
            0 < len(label) <= 63 and set(label) <= _LABEL_CHARS and label[0] != "-" and label[-1] != "-"
            for label in labels):
        return None
    return f"{domain!r} is not a valid domain name"


def check_domain(domain: str, field: str = "notify.message_domain") -> str:
    """The domain, lower-cased, or a NotifySettingsError naming `field`."""
    problem = domain_problem(domain)
    if problem:
        raise NotifySettingsError(f"{field}: {problem}",
                                  hint="use the sending organisation's domain, e.g. releases.example.org")
    return domain.lower()


def env_name_problem(name: str) -> str | None:
    """What is wrong with the name of the variable that holds the SMTP password."""
    if name.isascii() and name.isidentifier():
        return None
    return f"{name!r} is not an environment variable name; use letters, digits and _, e.g. SMTP_PASSWORD"


# The unavailability sentence of the advance, reminder and rescheduled notices; `{project}` and
# `{duration}` (the window's length, "4 hours") are filled in, the window's times are shown beside it.
DEFAULT_DOWNTIME = "{project} is unavailable for up to {duration} during this maintenance window."
DOWNTIME_FIELDS = ("project", "duration")


def downtime_problem(sentence: str) -> str | None:
    """What is wrong with a configured unavailability sentence (None when it can be filled in)."""
    try:
        sentence.format(**dict.fromkeys(DOWNTIME_FIELDS, "x"))
    except (KeyError, IndexError, ValueError) as err:
        return (f"{sentence!r} cannot be filled in ({type(err).__name__}: {err}); "
                f"use only {' and '.join('{' + n + '}' for n in DOWNTIME_FIELDS)}")
    if any(char in _LINE_BREAKS for char in sentence):
        return f"{sentence!r} contains a line break; write one sentence on one line"
    return None


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
    release_team: str = ""                # who is emailed when a blocker is reported; "" = nobody

    def __post_init__(self) -> None:
        parse_mailbox(self.sender, "notify.sender")
        if self.reply_to:
            parse_mailbox(self.reply_to, "notify.reply_to")
        if self.release_team:
            parse_mailbox(self.release_team, "notify.release_team")
        if self.smtp_url:
            parse_smtp_url(self.smtp_url)
        problem = env_name_problem(self.password_env)
        if problem:
            raise NotifySettingsError(f"notify.password_env: {problem}")
        object.__setattr__(self, "message_domain", check_domain(self.message_domain))
        for field in ("rate_per_second", "connect_timeout", "command_timeout", "end_of_data_timeout"):
            value, minimum = getattr(self, field), NOTIFY[field]["minimum"]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
                raise NotifySettingsError(f"notify.{field}: {value!r} must be a number >= {minimum:g}")
        minimum = NOTIFY["max_attempts"]["minimum"]
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) \
                or self.max_attempts < minimum:
            raise NotifySettingsError(
                f"notify.max_attempts: {self.max_attempts!r} must be an integer >= {minimum}")

    @property
    def sender_address(self) -> Address:
        return parse_mailbox(self.sender, "notify.sender")

    @property
    def reply_to_address(self) -> Address | None:
        return parse_mailbox(self.reply_to, "notify.reply_to") if self.reply_to else None

    @property
    def release_team_address(self) -> Address | None:
        """Where a reported blocker's alert goes; None: nowhere (see `release_team_gap`)."""
        return parse_mailbox(self.release_team, "notify.release_team") if self.release_team else None

    @property
    def endpoint(self) -> SmtpEndpoint | None:
        """The SMTP server, or None when notices go to the Maildir outbox."""
        return parse_smtp_url(self.smtp_url) if self.smtp_url else None

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> NotifySettings:
        """Build from the checked [notify] table; relative paths are relative to base_dir.

        `support_contact` is notice content, not a setting of the delivery: the notices read it.
        """
        values: dict[str, Any] = {key: section[key] for key in _VALUES if key in section}
        if section.get("outbox"):
            values["outbox"] = base_dir / Path(section["outbox"]).expanduser()
        for key in ("ca_file", "templates"):
            if section.get(key):
                values[key] = base_dir / Path(section[key]).expanduser()
        return cls(**values)


_VALUES = ("sender", "reply_to", "release_team", "smtp_url", "password_env", "message_domain",
           "rate_per_second", "connect_timeout", "command_timeout", "end_of_data_timeout", "max_attempts")
_SECONDS = {"type": (int, float), "minimum": 0.001}

NOTIFY: dict[str, dict[str, Any]] = {
    "sender": {"type": str, "default": NotifySettings.sender},
    "reply_to": {"type": str, "default": NotifySettings.reply_to},
    "release_team": {"type": str, "default": NotifySettings.release_team},
    "smtp_url": {"type": str, "default": NotifySettings.smtp_url, "secret": True, "check": smtp_url_problem},
    "password_env": {"type": str, "default": NotifySettings.password_env, "check": env_name_problem},
    "outbox": {"type": str, "default": str(NotifySettings.outbox)},
    "message_domain": {"type": str, "default": NotifySettings.message_domain, "check": domain_problem},
    "rate_per_second": {"type": (int, float), "default": 0, "minimum": 0},
    "ca_file": {"type": str, "default": ""},
    "support_contact": {"type": str, "default": ""},
    "downtime": {"type": str, "default": "", "check": downtime_problem},
    "connect_timeout": {**_SECONDS, "default": NotifySettings.connect_timeout},
    "command_timeout": {**_SECONDS, "default": NotifySettings.command_timeout},
    "end_of_data_timeout": {**_SECONDS, "default": NotifySettings.end_of_data_timeout},
    "max_attempts": {"type": int, "default": NotifySettings.max_attempts, "minimum": 1},
    "templates": {"type": str, "default": ""},
}

INIT = '''\
[notify]
sender = "Release Team <releases@localhost>"
reply_to = ""
release_team = ""             # emailed at once when a blocker is reported (empty: nobody),
                              # e.g. "Release Team <release@example.org>"
smtp_url = ""                 # empty: write to the Maildir outbox below; smtp://host:587 or smtps://host:465
password_env = "QUARTERDECK_SMTP_PASSWORD"   # the password is read from this variable, never stored
outbox = ".quarterdeck/outbox"
message_domain = "localhost"  # Message-IDs are <...@message_domain>
connect_timeout = 30          # seconds to connect, set up TLS and log in to the SMTP server
command_timeout = 120         # seconds for each reply of the server
end_of_data_timeout = 600     # seconds for its reply to a whole message (RFC 5321 asks 10 minutes)
max_attempts = 3              # connections tried per message when the server drops or says 421
templates = ""                # directory of notice templates that replace the shipped ones
# What every notice says to its readers
support_contact = ""          # whom to call or write to, e.g. "Service desk, +1 555 0100, help@example.org"
                              # (empty: "Reply to this email")
downtime = ""                 # how long the application is unavailable, one sentence; {{project}} and
                              # {{duration}} are filled in. Empty: the shipped sentence (see README)

'''


def release_team_gap(settings: NotifySettings) -> str | None:
    """What `config check` and `serve` say once when a reported blocker would email nobody."""
    if settings.release_team:
        return None
    return ("notify.release_team is empty: a blocker reported on the beta page, through the intake API "
            "or with `problem report` emails nobody (set it to the release team's address)")


def check_in_use(settings: NotifySettings) -> None:
    """The files these settings name, checked as composing and sending will check them, so that
    `config check` refuses what `notice send` would (a missing templates directory or CA file)."""
    from notify.content.compose import Composer
    from notify.sending.smtp import tls_context

    Composer(settings.templates)
    if settings.smtp_url:  # only a send over SMTP reads the CA file
        tls_context(settings)
