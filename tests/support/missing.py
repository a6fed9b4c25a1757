"""What a test does when a real server or browser it needs is not installed.

In CI (`CI=true`) that FAILS the test: a suite that skipped its SSH, PostgreSQL or browser
tests would pass without testing them. On a developer's machine it skips, naming what to
install.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(what: str, needed_for: str) -> NoReturn:
    """Stop the test: `what` is missing (and how to install it); `needed_for` names the tests."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what}; {needed_for} must run in CI", pytrace=False)
    pytest.skip(what)  # only outside CI
