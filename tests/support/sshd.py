"""Real OpenSSH servers on loopback (127.0.0.1, or ::1 when asked) for tests: no mocks of SSH anywhere.

`start_cluster()` starts N `sshd -D -e` processes, each on a free loopback port
with its own throwaway host key, all accepting one throwaway client key. Each
server stands for one host; tests give every host its own deploy directory.
`SshdServer.stop()` kills the listener and every session it forked, which is
what a host going down looks like to the client; `start()` brings it back on
the same port.

Starting an sshd costs tens of milliseconds, so the deploy tests share one
cluster per session and only create fresh deploy directories per test.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")  # compiled into Debian's sshd; the package's init script creates it


def find_binaries() -> tuple[str | None, str | None]:
    """Absolute paths of sshd (it must be started by absolute path) and ssh-keygen, or None."""
    sshd = next((c for c in SSHD_CANDIDATES if os.access(c, os.X_OK)), None) or shutil.which("sshd")
    return sshd, shutil.which("ssh-keygen")


def require_binaries() -> tuple[str, str]:
    """Return (sshd, ssh-keygen); in CI a missing binary FAILS the test, locally it skips it."""
    from tests.support.missing import missing

    sshd, keygen = find_binaries()
    if sshd and keygen:
        return sshd, keygen
    absent = ", ".join(n for n, p in (("sshd", sshd), ("ssh-keygen", keygen)) if not p)
    missing(f"{absent} not found: install openssh-server (and openssh-client)", "the SSH deploy tests")


def free_port(address: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def bracketed(address: str) -> str:
    """How an address is written in a URL or known_hosts before a port: IPv6 in brackets."""
    return f"[{address}]" if ":" in address else address


def _keygen(keygen: str, path: Path) -> None:
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "quarterdeck-test", "-f", str(path)],
                   check=True, capture_output=True)


def _descendants(pid: int) -> list[int]:
    """Every process below `pid`, read from /proc (sshd's session children may call setsid)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                text = handle.read().decode("ascii", "replace")
        except OSError:
            continue
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class SshdServer:
    """One sshd standing for one host."""

    name: str
    binary: str
    directory: Path
    port: int
    host_key: Path
    authorized_keys: Path
    address: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def config(self) -> Path:
        return self.directory / "sshd_config"

    @property
    def log(self) -> Path:
        return self.directory / "sshd.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def known_hosts_line(self) -> str:
        kind, key = self.host_key.with_name(self.host_key.name + ".pub").read_text().split()[:2]
        return f"[{self.address}]:{self.port} {kind} {key}"

    def write_config(self) -> None:
        self.config.write_text("\n".join([
            f"ListenAddress {self.address}",
            f"Port {self.port}",
            f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            f"PidFile {self.directory / 'sshd.pid'}",
            "StrictModes no",
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password",
            "Subsystem sftp internal-sftp",
            "MaxStartups 100",
            "MaxSessions 100",
            "LogLevel ERROR",
            # bash sources ~/.bashrc for every command sshd runs when SHLVL says it is the first
            # shell; a developer's rc (pyenv init and the like) then costs ~0.4 s per command.
            "SetEnv SHLVL=1",
            "",
        ]))

    def start(self, timeout: float = 10.0) -> None:
        """Start (or restart on the same port) and wait until the port accepts connections."""
        if self.running:
            return
        if os.geteuid() == 0 and not PRIVSEP_DIR.is_dir():
            PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.write_config()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([self.binary, "-D", "-e", "-f", str(self.config)],
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd {self.name} exited with {self.process.returncode}: "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection((self.address, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"sshd {self.name} did not accept connections on port {self.port} "
                           f"within {timeout}s: {self.log.read_text(errors='replace')[-2000:]}")

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """The host hangs: every open session stops answering (SIGSTOP) until the block ends."""
        assert self.process is not None
        sessions = _descendants(self.process.pid)
        for pid in sessions:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in sessions:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass

    def stop(self) -> None:
        """The host goes down: the listener and every open session die at once."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            victims = _descendants(process.pid)
            process.kill()
            for pid in victims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        process.wait(timeout=10)


@dataclass
class SshdCluster:
    root: Path
    servers: list[SshdServer]
    client_key: Path
    known_hosts: Path
    user: str

    def ensure_running(self) -> None:
        for server in self.servers:
            server.start()

    def url(self, server: SshdServer, path: Path | str) -> str:
        return f"ssh://{self.user}@{bracketed(server.address)}:{server.port}{path}"

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()


@contextmanager
def start_cluster(root: Path, count: int, *, sshd: str, keygen: str,
                  address: str = "127.0.0.1") -> Iterator[SshdCluster]:
    """Start `count` sshd servers under `root` listening on `address`; all of them are stopped on
    exit, even on errors."""
    root.mkdir(parents=True, exist_ok=True)
    client_key = root / "client_ed25519"
    _keygen(keygen, client_key)
    authorized = root / "authorized_keys"
    authorized.write_text((root / "client_ed25519.pub").read_text())
    servers = []
    for index in range(1, count + 1):
        directory = root / f"host{index}"
        directory.mkdir()
        host_key = directory / "ssh_host_ed25519_key"
        _keygen(keygen, host_key)
        servers.append(SshdServer(f"host{index}", sshd, directory, free_port(address), host_key, authorized,
                                  address))
    known_hosts = root / "known_hosts"
    known_hosts.write_text("".join(s.known_hosts_line() + "\n" for s in servers))
    cluster = SshdCluster(root, servers, client_key, known_hosts, pwd.getpwuid(os.geteuid()).pw_name)
    try:
        cluster.ensure_running()
        yield cluster
    finally:
        cluster.stop_all()
