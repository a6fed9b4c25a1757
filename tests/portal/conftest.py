"""Fixtures for the portal tests: the real aiosmtpd servers the release team's alerts go to."""

from __future__ import annotations

from tests.support.smtp import (  # noqa: F401  (re-exported fixtures)
    smtp_pki,
    smtp_server,
    smtpd_starttls,
)
