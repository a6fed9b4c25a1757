"""The [notify] settings: checked once, secrets never inside."""

from __future__ import annotations

from pathlib import Path

import pytest

from notify.errors import NotifySettingsError
from notify.settings import NotifySettings, Security, SmtpEndpoint, parse_smtp_url


@pytest.mark.parametrize(("url", "endpoint"), [
    ("smtp://mail.example.org", SmtpEndpoint(Security.STARTTLS, "mail.example.org", 587, None)),
    ("smtps://relay@mail.example.org", SmtpEndpoint(Security.TLS, "mail.example.org", 465, "relay")),
    ("smtp://releases%40example.org@127.0.0.1:2525/",
     SmtpEndpoint(Security.STARTTLS, "127.0.0.1", 2525, "releases@example.org")),
])
def test_smtp_urls(url: str, endpoint: SmtpEndpoint) -> None:
    assert parse_smtp_url(url) == endpoint
    assert NotifySettings(smtp_url=url).endpoint == endpoint


@pytest.mark.parametrize(("url", "message"), [
    ("smtp://user:hunter2@mail.example.org", "'smtp://user:\\*\\*\\*@mail.example.org' contains a password"),
    ("smtp://user:hun@ter2@mail.example.org", "contains a password"),
    ("http://mail.example.org", "scheme 'http'"),
    ("smtp+insecure://127.0.0.1:25", "scheme 'smtp\\+insecure'"),
    ("smtp://", "names no host"),
    ("smtp://mail.example.org/inbox", "has a path or query"),
    ("smtp://mail.example.org:99999", "not a valid URL"),
])
def test_bad_smtp_urls_are_named_and_never_echo_a_password(url: str, message: str) -> None:
    with pytest.raises(NotifySettingsError, match=message) as caught:
        NotifySettings(smtp_url=url)
    assert "hunter2" not in str(caught.value) and "ter2" not in str(caught.value)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("sender", "not an address", "notify.sender: 'not an address' is not one email address"),
    ("sender", "a@example.org, b@example.org", "is not one email address"),
    ("sender", "Rel <rel@example.org>\r\nBcc: x@evil.example", "contains a line break"),
    ("sender", "Rel <rél@example.org>", "is not one email address|not an ASCII address"),
    ("sender", "Rel <rel@exämple.org>", "is not one email address|not an ASCII address"),
    ("reply_to", "nobody", "notify.reply_to"),
    ("password_env", "MY-PASSWORD", "not an environment variable name"),
    ("message_domain", "exa mple.org", "not a valid domain"),
    ("message_domain", "-bad.example.org", "not a valid domain"),
    ("rate_per_second", -1, "must be a number >= 0"),
    ("rate_per_second", True, "must be a number"),
    ("command_timeout", 0, "must be a number >= 0.001"),
    ("max_attempts", 0, "must be an integer >= 1"),
])
def test_bad_values_name_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(NotifySettingsError, match=message):
        NotifySettings(**{field: value})  # type: ignore[arg-type]


def test_defaults_write_to_the_outbox() -> None:
    settings = NotifySettings()
    assert settings.endpoint is None and settings.reply_to_address is None
    assert settings.sender_address.addr_spec == "releases@localhost"
    assert settings.sender_address.display_name == "Quarterdeck"


def test_message_domain_is_lower_cased() -> None:
    assert NotifySettings(message_domain="Releases.Example.ORG").message_domain == "releases.example.org"


def test_from_config_resolves_paths_and_ignores_content_keys(tmp_path: Path) -> None:
    section = {"sender": "R <r@example.org>", "smtp_url": "smtps://r@mail.example.org", "outbox": "box",
               "ca_file": "certs/ca.pem", "rate_per_second": 2, "support_contact": "desk@example.org",
               "password_env": "SMTP_PW", "message_domain": "example.org", "templates": ""}
    settings = NotifySettings.from_config(section, tmp_path)
    assert settings.outbox == tmp_path / "box" and settings.ca_file == tmp_path / "certs/ca.pem"
    assert settings.templates is None and settings.rate_per_second == 2
    assert settings.endpoint is not None and settings.endpoint.display == "smtps://r@mail.example.org:465"


def test_settings_are_frozen_values() -> None:
    settings = NotifySettings()
    with pytest.raises(AttributeError):
        settings.smtp_url = "smtp://x"  # type: ignore[misc]
    assert settings == NotifySettings()
