"""Fixtures for the notify tests: the real aiosmtpd servers and a few ready-made values."""

from __future__ import annotations

from tests.support.smtp import (  # noqa: F401  (re-exported fixtures)
    plaintext_server,
    smtp_pki,
    smtp_server,
    smtpd_implicit_tls,
    smtpd_plaintext,
    smtpd_starttls,
    smtps_server,
)
