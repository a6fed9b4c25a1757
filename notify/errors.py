"""The one error family of the notify package (notices and their delivery)."""

from __future__ import annotations

from releases.errors import HintedError


class NotifyError(HintedError):
    """A notice cannot be composed or delivered; the message says why."""


class NotifySettingsError(NotifyError):
    """A value of the [notify] settings is unusable (bad address, URL, domain or number)."""


class TemplateError(NotifyError):
    """A notice template is missing, does not parse, or uses a variable it is not given."""


class SmtpSetupError(NotifyError):
    """The SMTP session could not be set up (unreachable, TLS, STARTTLS or login); nothing was sent."""


class SmtpAuthError(SmtpSetupError):
    """The SMTP server refused the login or demands one that is not configured."""


class OutboxError(NotifyError):
    """A message could not be written to the Maildir outbox."""
