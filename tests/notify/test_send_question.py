"""`notice send` asks before it emails a channel: on a real terminal (a pty), or refuses without one.

`tick` and the notices after a promotion do not ask: they call notify's send
function, which asks only when given a question to ask.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from channels.audience.contacts import Contact
from notify.content.planning import Target
from notify.sending.recipients import send_question
from notify.vocabulary import NoticeKind
from tests.conftest import Project
from tests.notify.test_cli import BUILD, outbox, prepared

REPO = Path(__file__).parents[2]
QUESTION = "Send the advance notice of 2026.4.0 to 5 contacts at 2 organisations?"


def on_terminal(project: Project, answer: str, *argv: str) -> tuple[int, str]:
    """Run quarterdeck with a pseudo-terminal as its stdin, stdout and stderr; type `answer` when it asks."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "120", "TERM": "dumb"}
    child = subprocess.Popen([sys.executable, "-m", "pipeline", "--config", str(project.config), *argv],
                             cwd=project.root, env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    said, answered = b"", False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            said += chunk
        if not answered and b"[y/n]" in said:
            os.write(master, answer.encode() + b"\n")
            answered = True
        if child.poll() is not None and not ready:
            break
    code = child.wait(timeout=30)
    os.close(master)
    return code, " ".join(said.decode("utf-8", "replace").split())


@pytest.fixture
def approved(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    ready = prepared(project, monkeypatch)
    ready.ok("notes", "approve", BUILD, "--yes")
    return ready


def test_without_a_terminal_a_send_needs_yes_and_sends_nothing(approved: Project) -> None:
    refused = approved.run("notice", "send", "advance", BUILD)
    assert refused.code == 2
    said = " ".join(refused.err.split())
    assert f"{QUESTION} needs confirmation and there is no terminal" in said and "--yes" in said
    assert not (approved.root / ".quarterdeck" / "outbox" / "new").exists() or outbox(approved) == []
    assert approved.ok("notice", "status", BUILD, "--json").json() == {"build": BUILD, "notices": []}
    assert approved.ok("notice", "send", "advance", BUILD, "--dry-run").code == 0  # a dry run never asks
    sent = approved.ok("notice", "send", "advance", BUILD, "--yes")
    assert "5 recipients: 5 sent" in sent.out and len(outbox(approved)) == 5


def test_on_a_terminal_no_sends_nothing_and_yes_sends(approved: Project) -> None:
    code, said = on_terminal(approved, "n", "notice", "send", "advance", BUILD)
    assert code == 1 and QUESTION in said and "nothing was sent" in said
    assert approved.ok("notice", "status", BUILD, "--json").json() == {"build": BUILD, "notices": []}
    code, said = on_terminal(approved, "y", "notice", "send", "advance", BUILD)
    assert code == 0 and QUESTION in said and "5 recipients: 5 sent" in said
    assert len(outbox(approved)) == 5


def test_a_resumed_send_asks_about_the_recipients_it_has_not_reached(approved: Project) -> None:
    target = Target(NoticeKind.BETA_AVAILABLE, BUILD, "2026.4.0", "build", "beta")
    rows = [Contact(org, "Sam", f"sam{n}@example.org", "nurse", "UTC")
            for n, org in enumerate(("Acadia Hospice", "acadia hospice"))]
    assert send_question(target, True, rows) == (
        f"Resume the beta-available notice of {BUILD}: send to the 2 contacts at 1 organisation "
        "it has not reached yet?")
