"""Notice delivery: `quarterdeck notice send advance latest` to 10,000 recipients through a real
aiosmtpd server on loopback, against a bare `smtplib` loop sending the same messages (as the server
received them from Quarterdeck) over one connection.

Quarterdeck allows no cleartext SMTP, so the server requires STARTTLS with a throwaway CA and both
sides use it. The server runs in a process of its own, so neither sender shares a GIL with it.
Target: at least 0.8x the bare loop's messages per second, with every delivery recorded in the
ledger. Also measured: the resume cost, the time of the re-run after the sender was SIGKILLed when
the server had received 9,900 messages.

The two senders alternate for ROUNDS rounds (Quarterdeck first in even rounds, the loop first in odd
ones), each Quarterdeck round on a fresh copy of the project (a fresh ledger and notice), all against
the same server and the same messages. The result is the median of the rounds' ratios; every round's
figures are reported, with the CPU seconds of the sending process (from wait4) and of the server
process (from /proc), so a slow round can be told apart: a client that got slower, or a server (or
a neighbour on the machine) that did. Quarterdeck's time counts its whole process (start-up, ledger,
the notice's creation); the loop's, connect to QUIT. `quarterdeck_first_message_s` and
`quarterdeck_sending_cpu_ms_per_msg` (its CPU from the first message on) separate the two, and
`smtplib_loop_cpu_ms_per_msg` is the loop's own CPU.
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
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import WORK, Result, quarterdeck
from benchmarks.history import make_history

RECIPIENTS = 10_000
KILL_AT = 9_900
ROUNDS = 3

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

    def cpu(self) -> float:
        """CPU seconds the server process (all its threads) has used so far."""
        return _cpu_of(self.process.pid)

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


def baseline(messages: Path, port: int, ca_file: str) -> tuple[float, float]:
    """Seconds from connect to QUIT sending every dumped message (the same bytes, same envelopes), and
    the CPU seconds of that loop alone (no interpreter start-up, no loading of the messages)."""
    import smtplib
    import ssl

    with messages.open("rb") as handle:
        batch = pickle.load(handle)
    context = ssl.create_default_context(cafile=ca_file)
    start, cpu = time.perf_counter(), time.process_time()
    smtp = smtplib.SMTP("127.0.0.1", port)
    smtp.starttls(context=context)
    for mail_from, rcpt_tos, content in batch:
        smtp.sendmail(mail_from, rcpt_tos, content)
    smtp.quit()
    return time.perf_counter() - start, time.process_time() - cpu


# -- one timed process --------------------------------------------------------------------------------


def _timed(argv: list[str], cwd: Path, server: Server) -> tuple[float, float, float, str, dict[str, float]]:
    """With the server's count reset: wall seconds, the process's own CPU seconds (user + system, from
    wait4), the server's CPU seconds meanwhile, the process's stdout, and when the server got the first
    message (wall and
    process CPU seconds by then: Quarterdeck's start-up and notice creation). Started directly: no
    wrapper interpreter."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        server.call("reset")
        server_before = server.cpu()
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err)
        first: dict[str, float] = {}
        while True:  # until the first message arrives, look every 5 ms (costs next to nothing)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if server.received.value:
                first = {"first_message_s": time.perf_counter() - start,
                         "cpu_before_first_s": _cpu_of(proc.pid)}
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        elapsed = time.perf_counter() - start
        server_cpu = server.cpu() - server_before
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code != 0:
            tail = err.read().decode(errors="replace")[-1500:]
            raise RuntimeError(f"{' '.join(argv)} failed ({code}): {tail}")
        return (elapsed, usage.ru_utime + usage.ru_stime, server_cpu, out.read().decode(errors="replace"),
                first)


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def _quarterdeck_round(root: Path, template: Path, server: Server, label: str) -> dict[str, float]:
    """`notice send` on a fresh copy of the project; checks that every recipient got one message."""
    config = _fresh(root, template, label)
    wall, cpu, server_cpu, _, first = _timed([*quarterdeck(), "--config", str(config), "notice", "send",
                                              "advance", "latest", "--yes", "--json"], config.parent, server)
    got = server.received.value
    counts = _counts(config)
    if got != RECIPIENTS or counts.get("sent") != RECIPIENTS:
        raise RuntimeError(f"quarterdeck sent {got} messages; the ledger says {counts}")
    shutil.rmtree(config.parent, ignore_errors=True)
    return {"s": wall, "cpu_s": cpu, "server_cpu_s": server_cpu, **first}


def _baseline_round(dump: Path, server: Server) -> dict[str, float]:
    wall, cpu, server_cpu, out, _ = _timed(
        [sys.executable, "-c", "import sys; from benchmarks.bench_notices import baseline; "
         "from pathlib import Path; print(*baseline(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))",
         str(dump), str(server.port), server.ca_file], Path(__file__).parents[1], server)
    if server.received.value != RECIPIENTS:
        raise RuntimeError(f"the baseline sent {server.received.value} messages")
    loop_s, loop_cpu = (float(x) for x in out.split()[-2:])
    return {"s": loop_s, "cpu_s": loop_cpu, "process_s": wall, "process_cpu_s": cpu,
            "server_cpu_s": server_cpu}


def run() -> Result:
    root = WORK / "notices"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    server = Server(root / "pki")
    dump = root / "messages.pickle"
    ours: list[dict[str, float]] = []
    base: list[dict[str, float]] = []
    try:
        template = _template(root, server.port, server.ca_file)
        for round_ in range(ROUNDS):
            # Quarterdeck first in even rounds, the loop first in odd ones, so that a drift in the
            # machine's load over the run weighs on both alike. The first round makes the dump.
            if round_ % 2 == 0:
                ours.append(_quarterdeck_round(root, template, server, f"send-{round_}"))
                if round_ == 0:
                    server.call("dump", str(dump))
                base.append(_baseline_round(dump, server))
            else:
                base.append(_baseline_round(dump, server))
                ours.append(_quarterdeck_round(root, template, server, f"send-{round_}"))
        resume = _resume(root, template, server)
    finally:
        server.stop()
    ratios = [b["s"] / q["s"] for q, b in zip(ours, base, strict=True)]
    median = statistics.median
    ours_s, base_s = median([q["s"] for q in ours]), median([b["s"] for b in base])
    # from the first message on: without start-up, ledger opening and the creation of the notice
    sending_cpu = median([q["cpu_s"] - q.get("cpu_before_first_s", 0.0) for q in ours])
    first_s = median([q.get("first_message_s", 0.0) for q in ours])
    ours_cpu, base_cpu = median([q["cpu_s"] for q in ours]), median([b["cpu_s"] for b in base])

    def per_message_ms(seconds: float) -> float:
        return round(1000 * seconds / RECIPIENTS, 3)

    size = dump.stat().st_size // RECIPIENTS
    return Result("notices", ">= 0.8x a bare smtplib loop's messages/s (10,000 recipients, STARTTLS; "
                  f"median of {ROUNDS} alternated rounds)",
                  median(ratios), 0.8, higher_is_better=True, figures={
                      "recipients": RECIPIENTS, "message_bytes": size, "rounds": ROUNDS,
                      "ratios": [round(r, 3) for r in ratios],
                      "smtplib_s": round(base_s, 2), "smtplib_msg_per_s": round(RECIPIENTS / base_s),
                      "quarterdeck_s": round(ours_s, 2), "quarterdeck_msg_per_s": round(RECIPIENTS / ours_s),
                      "quarterdeck_first_message_s": round(first_s, 2),
                      "smtplib_loop_cpu_ms_per_msg": per_message_ms(base_cpu),
                      "quarterdeck_cpu_ms_per_msg": per_message_ms(ours_cpu),
                      "quarterdeck_sending_cpu_ms_per_msg": per_message_ms(sending_cpu),
                      "each_round": [{"round": n + 1, "ratio": round(ratio, 3), "quarterdeck": _rounded(q),
                                      "smtplib": _rounded(b)}
                                     for n, (ratio, q, b) in enumerate(zip(ratios, ours, base, strict=True))],
                      **resume})


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in values.items()}


def _resume(root: Path, template: Path, server: Server) -> dict[str, object]:
    """SIGKILL the sender when the server holds 9,900 messages; time the re-run that sends the rest."""
    config = _fresh(root, template, "resume")
    server.call("reset")
    process = subprocess.Popen([*quarterdeck(), "--config", str(config), "notice", "send", "advance",
                                "latest", "--yes", "--json"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=config.parent)
    server.kill_at.value = KILL_AT
    server.kill_pid.value = process.pid
    code = process.wait(timeout=600)
    if code != -signal.SIGKILL:
        raise RuntimeError(f"the sender was not killed (exit code {code}, "
                           f"server got {server.received.value})")
    before = server.received.value
    argv = [*quarterdeck(), "--config", str(config), "notice", "send", "advance", "latest", "--yes",
            "--json"]
    elapsed, cpu, server_cpu, _, _ = _timed(argv, config.parent, server)  # resets the server's count
    sent_again = server.received.value
    counts = _counts(config)
    if counts.get("sent", 0) + counts.get("unknown", 0) != RECIPIENTS:
        raise RuntimeError(f"after the resume the ledger says {counts}")
    return {"resume_s": round(elapsed, 2), "resume_cpu_s": round(cpu, 2),
            "resume_server_cpu_s": round(server_cpu, 2), "resume_sent": sent_again,
            "resume_unknown": counts.get("unknown", 0), "killed_after": before}
