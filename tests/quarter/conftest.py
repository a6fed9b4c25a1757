"""Helpers for the quarter tests: the installed `quarterdeck` command, outbox and message reading.

The demo and end-to-end tests drive the console script the package installs,
in its own process, exactly as a release manager's shell or cron would.
"""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.smtp import (  # noqa: F401  (re-exported fixtures)
    smtp_pki,
    smtp_server,
    smtpd_starttls,
)


def installed_command() -> list[str]:
    """The console script next to this interpreter; in CI it must exist (it is what users run)."""
    script = Path(sys.executable).parent / "quarterdeck"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{script} is missing: the package is not installed (pip install -e .)", pytrace=False)
    return [sys.executable, "-m", "pipeline"]  # only outside CI, from a checkout that is not installed


@dataclass(frozen=True)
class Run:
    argv: tuple[str, ...]
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"$ quarterdeck {' '.join(self.argv)} → exit {self.code}\n{self.out}\n{self.err}"

    @property
    def said(self) -> str:
        """stdout and stderr with Rich's line wrapping undone, for phrases that may wrap."""
        return " ".join(f"{self.out}\n{self.err}".split())


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that would steer quarterdeck from outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUARTERDECK_")}
    env.pop("PYTHONPATH", None)  # the installed command must find its own packages
    return {**env, "COLUMNS": "200", **extra}


def quarterdeck(*argv: str, cwd: Path, env: dict[str, str], now: str | None = None,
                timeout: float = 120) -> Run:
    """Run the installed command; `now` pins QUARTERDECK_NOW for this one step."""
    step_env = dict(env)
    if now is not None:
        step_env["QUARTERDECK_NOW"] = now
    done = subprocess.run([*installed_command(), *argv], cwd=cwd, env=step_env, capture_output=True,
                          text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    return Run(tuple(argv), done.returncode, done.stdout, done.stderr)


def read_message(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def maildir_messages(outbox: Path) -> list[EmailMessage]:
    return [read_message(path.read_bytes()) for path in sorted((outbox / "new").iterdir())]


def subject(message: EmailMessage) -> str:
    # Subjects longer than a line are folded right after "Subject:", which leaves a leading space
    return str(message["Subject"]).strip()


def notice_kind(message: EmailMessage) -> str:
    """Which notice a message is, read from its subject (the templates' fixed wording)."""
    text = subject(message)
    for prefix, kind in (("Reminder:", "reminder"), ("Completed:", "completed"), ("Cancelled:", "cancelled"),
                         ("New date:", "rescheduled")):
        if text.startswith(prefix):
            return kind
    if " is ready for testing (build " in text:
        return "beta-available"
    if " will be updated to " in text:
        return "advance"
    raise AssertionError(f"a message whose subject names no notice kind: {text!r}")


def recipient(message: EmailMessage) -> str:
    [address] = message["To"].addresses
    return str(address.addr_spec)
