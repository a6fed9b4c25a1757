"""Fixtures for the notify tests: the real aiosmtpd servers and a few ready-made values."""

from __future__ import annotations

import pytest

import pipeline
from tests.conftest import Project
from tests.notify.test_cli import prepared
from tests.notify.test_delivery_support import Notes
from tests.support.smtp import (  # noqa: F401  (re-exported fixtures)
    plaintext_server,
    smtp_pki,
    smtp_server,
    smtpd_implicit_tls,
    smtpd_plaintext,
    smtpd_starttls,
    smtps_server,
)


@pytest.fixture
def scheduled(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """One build, five contacts and the November push scheduled, as in test_cli's `ready`."""
    notes = Notes()
    monkeypatch.setattr(pipeline.App, "notice_notes", lambda self, build, audience: notes(build, audience),
                        raising=False)
    return prepared(project, monkeypatch)
