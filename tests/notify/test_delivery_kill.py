"""`quarterdeck notice send` killed with SIGKILL mid-batch, then run again: nobody gets a second copy."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.conftest import Project
from tests.notify.test_cli import BUILD, NOW, project_ledger, use_smtp
from tests.notify.test_delivery_support import Notes, add_people, add_schedule, people
from tests.support import smtp as smtp_support
from tests.support.smtp import RecordingHandler, SmtpServer, _Controller

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
REPO = Path(__file__).resolve().parents[2]
RECIPIENTS = 8
# The child is `quarterdeck` itself; only pipeline's notice_notes hook (another package's wiring) is
# provided, with the same notes the in-process rerun below uses.
CHILD = """
import sys
import pipeline
from tests.notify.test_delivery_support import Notes
notes = Notes()
pipeline.App.notice_notes = lambda self, build, audience: notes(build, audience)
sys.exit(pipeline.main(sys.argv[1:]))
"""


class SlowHandler(RecordingHandler):
    """Takes the whole message (and records it as queued), then waits before saying so."""

    delay = 0.5

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return reply


@pytest.fixture
def slow_server(smtp_pki: smtp_support.TestPKI):  # type: ignore[no-untyped-def]
    handler = SlowHandler()
    controller = _Controller(handler, hostname="127.0.0.1", port=0, ssl_context=smtp_pki.server_context(),
                             enable_SMTPUTF8=False, timeout=30)
    controller.start()
    yield SmtpServer(controller, handler, "smtps", smtp_pki.ca_file)
    controller.stop()


def test_sigkill_mid_batch_then_rerun_sends_every_recipient_exactly_once(
        project: Project, slow_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    monkeypatch.setattr("pipeline.App.notice_notes", lambda self, build, audience: Notes()(build, audience),
                        raising=False)
    project.ok("build")
    ledger = project_ledger(project)
    add_people(ledger, people(RECIPIENTS))
    add_schedule(ledger, BUILD)
    ledger.close()
    use_smtp(project, slow_server, monkeypatch)

    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "120"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, "--config", str(project.config),
                              "notice", "send", "advance", BUILD, "--yes"],
                             cwd=project.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    handler = slow_server.handler
    deadline = time.monotonic() + 30
    while len(handler.received) < 3 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)  # the third message is queued and its reply not yet sent
    _, err = child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL, err.decode()
    assert len(handler.received) == 3

    during = project.ok("notice", "status", BUILD, "--json").json()["notices"][0]  # type: ignore[index]
    assert (during["sent"], during["unknown"], during["pending"]) == (2, 1, RECIPIENTS - 3)

    handler.delay = 0.0
    rerun = project.ok("notice", "send", "advance", BUILD, "--yes")
    assert "1 delivery left in flight by a stopped run is now unknown" in rerun.out
    assert f"attempted {RECIPIENTS - 3} of {RECIPIENTS - 3}" in rerun.out
    copies = Counter(a for r in handler.received for a in r.rcpt_tos)
    assert copies == Counter({f"user{i}@example.org": 1 for i in range(1, RECIPIENTS + 1)}), copies
    final = project.ok("notice", "status", BUILD, "--json").json()["notices"][0]  # type: ignore[index]
    assert (final["sent"], final["unknown"], final["pending"], final["sending"]) == (RECIPIENTS - 1, 1, 0, 0)
    [in_flight] = [p for p in final["problems"] if p["state"] == "unknown"]
    assert in_flight["email"] == "user3@example.org"
    assert "stopped during this attempt" in in_flight["reply"]
    refused = project.run("notice", "send", "advance", BUILD, "--yes")
    assert refused.code == 1 and "1 unknown to confirm or resend" in refused.err
    assert len(handler.received) == RECIPIENTS
