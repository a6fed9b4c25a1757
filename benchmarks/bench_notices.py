"""Notice delivery: `quarterdeck notice send advance latest` to 10,000 recipients through a real
aiosmtpd server on loopback, against a bare `smtplib` loop sending the same messages (as the server
received them from Quarterdeck) over one connection.

Quarterdeck allows no cleartext SMTP, so the server requires STARTTLS with a throwaway CA and both
sides use it. The server runs in a process of its own, so neither sender shares a GIL with it.
Target: at least 0.8x the bare loop's messages per second, with every delivery recorded in the
ledger. Also measured: the resume cost, the time of the re-run after the sender was SIGKILLed when
the server had received 9,900 messages.
"""

from __future__ import annotations

import csv
import json
import multiprocessing as mp
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import WORK, Result, quarterdeck
from benchmarks.history import make_history

RECIPIENTS = 10_000
KILL_AT = 9_900
ROUNDS = 1

# -- the server, in its own process ----------------------------------------------------------------


def _serve(pki_dir: str, commands: Any, received: Any, kill_pid: Any, kill_at: Any) -> None:
    """An aiosmtpd STARTTLS server; SIGKILLs `kill_pid` when the `kill_at`-th message's data arrived
    (before answering it), so the sender dies with one message in flight."""
    from tests.support.smtp import RecordingHandler, make_pki, start_server

    class Handler(RecordingHandler):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with received.get_lock():
                received.value += 1
                count = received.value
            if kill_pid.value and count == kill_at.value:
                os.kill(kill_pid.value, signal.SIGKILL)
                kill_pid.value = 0
            return await super().handle_DATA(server, session, envelope)

    pki = make_pki(Path(pki_dir))
    server = start_server("smtp", pki=pki, starttls=True)
    server.handler.__class__ = Handler
    commands.send(("ready", server.port, str(pki.ca_file)))
    try:
        while True:
            verb, arg = commands.recv()
            if verb == "reset":
                server.handler.reset()
                received.value = 0
                commands.send("ok")
            elif verb == "dump":
                with open(arg, "wb") as handle:
                    pickle.dump([(r.mail_from, list(r.rcpt_tos), r.content) for r in server.handler.received],
                                handle)
                commands.send("ok")
            else:
                break
    finally:
        server.controller.stop()


class Server:
    def __init__(self, pki_dir: Path) -> None:
        context = mp.get_context("fork")
        self.received = context.Value("i", 0)
        self.kill_pid = context.Value("i", 0, lock=False)
        self.kill_at = context.Value("i", 0, lock=False)
        self.commands, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(str(pki_dir), child, self.received,
                                                            self.kill_pid, self.kill_at), daemon=True)
        self.process.start()
        if not self.commands.poll(30):
            self.stop()
            raise RuntimeError("the benchmark SMTP server did not start within 30 s")
        _, self.port, self.ca_file = self.commands.recv()

    def call(self, verb: str, arg: object = None) -> None:
        self.commands.send((verb, arg))
        if not self.commands.poll(60):
            raise RuntimeError(f"the benchmark SMTP server did not answer {verb!r}")
        self.commands.recv()

    def stop(self) -> None:
        try:
            self.commands.send(("stop", None))
        except OSError:
            pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


# -- the baseline: a bare smtplib loop over one connection ------------------------------------------


def baseline(messages: Path, port: int, ca_file: str) -> float:
    """Seconds from connect to QUIT sending every dumped message (the same bytes, same envelopes)."""
    import smtplib
    import ssl

    with messages.open("rb") as handle:
        batch = pickle.load(handle)
    context = ssl.create_default_context(cafile=ca_file)
    start = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", port)
    smtp.starttls(context=context)
    for mail_from, rcpt_tos, content in batch:
        smtp.sendmail(mail_from, rcpt_tos, content)
    smtp.quit()
    return time.perf_counter() - start


# -- Quarterdeck ------------------------------------------------------------------------------------


def _qd(config: Path, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*quarterdeck(), "--config", str(config), *argv], capture_output=True, text=True,
                          cwd=config.parent)
    if check and done.returncode != 0:
        raise RuntimeError(f"quarterdeck {' '.join(argv)} failed: {done.stderr[-1500:]}")
    return done


def _template(root: Path, port: int, ca_file: str) -> Path:
    """A project with one build, approved notes, the next push scheduled and 10,000 contacts."""
    template = root / "template"
    shutil.rmtree(template, ignore_errors=True)
    template.mkdir(parents=True)
    repo = make_history(WORK / "notices-repo", 20)
    config = template / "quarterdeck.toml"
    _qd(config, "init", "--repo", str(repo))
    contacts = template / "contacts.csv"
    with contacts.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["organisation", "name", "email", "role", "time_zone"])
        zones = ("", "America/Chicago", "America/New_York", "America/Los_Angeles")
        for n in range(RECIPIENTS):
            writer.writerow([f"Hospice {n // 100:03d}", f"Nurse Number {n}",
                             f"nurse{n}@hospice{n // 100}.example.org",
                             "nurse", zones[n % len(zones)]])
    _qd(config, "orgs", "import", str(contacts))
    _qd(config, "build")
    _qd(config, "notes", "approve", "latest", "--yes")
    _qd(config, "schedule", "latest", "--next-window")
    text = config.read_text()
    text = re.sub(r'(?m)^smtp_url = "".*$', f'smtp_url = "smtp://127.0.0.1:{port}"\nca_file = "{ca_file}"',
                  text)
    config.write_text(text)
    return config


def _fresh(root: Path, template: Path, label: str) -> Path:
    project = root / label
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(template.parent, project)
    return project / "quarterdeck.toml"


def _counts(config: Path) -> dict[str, int]:
    found = json.loads(_qd(config, "notice", "status", "latest", "--json").stdout)
    notice = found["notices"][-1]
    return {k: v for k, v in notice.items() if isinstance(v, int) and not isinstance(v, bool)}


def _send(config: Path) -> float:
    start = time.perf_counter()
    _qd(config, "notice", "send", "advance", "latest", "--json")
    return time.perf_counter() - start


def run() -> Result:
    root = WORK / "notices"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    server = Server(root / "pki")
    try:
        template = _template(root, server.port, server.ca_file)
        dump = root / "messages.pickle"
        ours, base = [], []
        for round_ in range(ROUNDS):
            server.call("reset")
            config = _fresh(root, template, f"send-{round_}")
            ours.append(_send(config))
            got = server.received.value
            counts = _counts(config)
            if got != RECIPIENTS or counts.get("sent") != RECIPIENTS:
                raise RuntimeError(f"quarterdeck sent {got} messages; the ledger says {counts}")
            if round_ == 0:
                server.call("dump", str(dump))
            server.call("reset")
            out = subprocess.run([sys.executable, "-c", "import sys; from benchmarks.bench_notices import "
                                  "baseline; from pathlib import Path; "
                                  "print(baseline(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))",
                                  str(dump), str(server.port), server.ca_file],
                                 capture_output=True, text=True, check=True,
                                 cwd=str(Path(__file__).parents[1]))
            if server.received.value != RECIPIENTS:
                raise RuntimeError(f"the baseline sent {server.received.value} messages")
            base.append(float(out.stdout.split()[-1]))
        resume = _resume(root, template, server)
    finally:
        server.stop()
    ours_rate, base_rate = RECIPIENTS / min(ours), RECIPIENTS / min(base)
    size = dump.stat().st_size // RECIPIENTS
    return Result("notices", ">= 0.8x a bare smtplib loop's messages/s (10,000 recipients, STARTTLS)",
                  ours_rate / base_rate, 0.8, higher_is_better=True, figures={
                      "recipients": RECIPIENTS, "message_bytes": size,
                      "smtplib_s": round(min(base), 2), "smtplib_msg_per_s": round(base_rate),
                      "quarterdeck_s": round(min(ours), 2), "quarterdeck_msg_per_s": round(ours_rate),
                      **resume})


def _resume(root: Path, template: Path, server: Server) -> dict[str, object]:
    """SIGKILL the sender when the server holds 9,900 messages; time the re-run that sends the rest."""
    config = _fresh(root, template, "resume")
    server.call("reset")
    process = subprocess.Popen([*quarterdeck(), "--config", str(config), "notice", "send", "advance",
                                "latest", "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=config.parent)
    server.kill_at.value = KILL_AT
    server.kill_pid.value = process.pid
    code = process.wait(timeout=600)
    if code != -signal.SIGKILL:
        raise RuntimeError(f"the sender was not killed (exit code {code}, "
                           f"server got {server.received.value})")
    before = server.received.value
    start = time.perf_counter()
    _qd(config, "notice", "send", "advance", "latest", "--json")
    elapsed = time.perf_counter() - start
    sent_again = server.received.value - before
    counts = _counts(config)
    if counts.get("sent", 0) + counts.get("unknown", 0) != RECIPIENTS:
        raise RuntimeError(f"after the resume the ledger says {counts}")
    return {"resume_s": round(elapsed, 2), "resume_sent": sent_again,
            "resume_unknown": counts.get("unknown", 0), "killed_after": before}
