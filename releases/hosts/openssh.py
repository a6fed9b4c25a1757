"""Bulk uploads through OpenSSH's own `ssh` client: one process per host, bytes never touch Python.

Paramiko encrypts every SFTP packet of an upload in this process, under the
GIL, so a rollout to eight hosts serialises eight uploads on one core (about
1.2 CPU seconds per 50 MB, client and sshd together). Here the artifact goes
through `ssh HOST 'cat > TEMP'` reading the local file as its stdin: the
encryption runs in C in its own process, on any core, and Python only waits
(about 0.5 CPU seconds per 50 MB, most of it the host's sshd).

The control connection (Fabric) has already authenticated the host and applied
the host-key policy; the `ssh` process is pinned to exactly the key that
connection accepted (a one-line known-hosts file under a fixed alias), so it
can trust neither more nor less. It uses the same user, port, key and connect
timeout, never prompts (BatchMode), and gets a minimal environment: none of
this process's secrets (SMTP password and the like) are in its environment,
argv or output.

When `ssh` itself fails (exit 255) while the host still answers, ssh.py sends
the file over paramiko's SFTP as before. The argv is built by a pure function;
`stream_file` is the only I/O.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from releases.hosts.remote import ConnectSettings

PIN_ALIAS = "quarterdeck-pinned-host"
# What paramiko offers for the control connection, best first, and nothing slower: the ML-KEM hybrid
# where both ends have it (OpenSSH 9.9+), else curve25519. OpenSSH 9.0-9.8's default, the
# sntrup761x25519 hybrid, would cost every connection far more CPU on both sides (BENCHMARKS.md, rollout).
KEX = ("mlkem768x25519-sha256", "curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256",
       "ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "diffie-hellman-group-exchange-sha256",
       "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256")
# AES-GCM first: with AES-NI it is the cheapest cipher for both ends, and an AEAD needs no MAC pass.
CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com",
           "aes128-ctr", "aes192-ctr", "aes256-ctr")
# Names every OpenSSH since 7.4 knows, for a client that cannot say what it supports (`ssh -Q`).
_OLD_CLIENT_KNOWS = frozenset(n for n in KEX + CIPHERS if not n.startswith("mlkem"))
# The signature algorithms that prove a host key of each type: asking only for those makes the server
# show the very key that is pinned, even when it has keys of several types.
_SIGNATURES = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}
_CLIENT_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "SSH_AUTH_SOCK", "TMPDIR")
_STDERR_KEPT = 4000


@dataclass(frozen=True)
class Target:
    """Where the `ssh` process connects: what the control connection resolved, and the key it accepted."""

    host: str
    port: int
    user: str
    key_type: str
    key_base64: str


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def client_failed(self) -> bool:
        """ssh's own failure (connecting, authenticating, its options), not the remote command's."""
        return self.exit_code == 255


@lru_cache(maxsize=1)
def client() -> str | None:
    """The `ssh` program, or None (then uploads go over paramiko's SFTP as before)."""
    return shutil.which("ssh")


@lru_cache(maxsize=8)
def supported(ssh: str, query: str) -> frozenset[str]:
    """What this `ssh` client implements (`ssh -Q kex`, `ssh -Q cipher`): asking for a name it does
    not know would make it refuse to start."""
    try:
        done = subprocess.run([ssh, "-Q", query], capture_output=True, text=True, timeout=10,
                              env=client_env(), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return _OLD_CLIENT_KNOWS
    names = frozenset(done.stdout.split()) if done.returncode == 0 else frozenset()
    return names or _OLD_CLIENT_KNOWS


def known_hosts_line(target: Target) -> str:
    return f"{PIN_ALIAS} {target.key_type} {target.key_base64}\n"


def _option_path(path: str) -> str:
    """A path as an `-o` value: ssh expands % tokens and splits on spaces, so escape and quote it."""
    escaped = path.replace("%", "%%")
    return f'"{escaped}"' if any(c.isspace() for c in escaped) else escaped


def client_argv(ssh: str, target: Target, settings: ConnectSettings, known_hosts: str, command: str, *,
                available: frozenset[str] = _OLD_CLIENT_KNOWS) -> list[str]:
    """`ssh` for one non-interactive command, as strict as the control connection and no stricter.

    `available` is what the client implements (see `supported`); only those
    of our preferred algorithms are asked for.
    """
    timeout = max(1, round(settings.connect_timeout))
    options = {
        "BatchMode": "yes",  # never prompt: a missing key fails instead of hanging the rollout
        "PreferredAuthentications": "publickey",  # what paramiko uses (key file, agent, ~/.ssh keys)
        "StrictHostKeyChecking": "yes",
        "HostKeyAlias": PIN_ALIAS,
        "UserKnownHostsFile": _option_path(known_hosts),
        "GlobalKnownHostsFile": "/dev/null",
        "HostKeyAlgorithms": ",".join(_SIGNATURES.get(target.key_type, (target.key_type,))),
        "UpdateHostKeys": "no",
        "CheckHostIP": "no",
        "ConnectTimeout": str(timeout),
        "ServerAliveInterval": str(timeout),  # a host that dies silently ends the upload, not hangs it
        "ServerAliveCountMax": "3",
        "ControlMaster": "no",
        "ControlPath": "none",  # a shared master would bypass the pinned key and the options below
        "Compression": "no",  # artifacts are compressed already
        "ClearAllForwardings": "yes",
        "RequestTTY": "no",
        "PermitLocalCommand": "no",
        "LogLevel": "ERROR",
    }
    for key, names in (("KexAlgorithms", KEX), ("Ciphers", CIPHERS)):
        chosen = ",".join(n for n in names if n in available)
        if chosen:  # else the client's own defaults
            options[key] = chosen
    argv = [ssh, "-T", "-x", "-a"]
    for key, value in options.items():
        argv += ["-o", f"{key}={value}"]
    if settings.identity_file:
        argv += ["-i", os.path.expanduser(settings.identity_file).replace("%", "%%")]
    argv += ["-p", str(target.port), "-l", target.user, "--", target.host, command]
    return argv


def client_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What `ssh` needs (home, agent socket, locale), never the pipeline's secrets."""
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if k in _CLIENT_ENV}


def stderr_tail(outcome: Outcome) -> str:
    lines = [line.strip() for line in outcome.stderr.strip().splitlines() if line.strip()]
    return " | ".join(lines[-3:])[-800:]


@contextlib.contextmanager
def pinned_known_hosts(target: Target) -> Iterator[str]:
    """A private known-hosts file holding only the key the control connection accepted."""
    fd, path = tempfile.mkstemp(prefix="quarterdeck-known-hosts-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(known_hosts_line(target))
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def stream_file(argv: list[str], local: Path) -> Outcome:
    """Run `argv` with `local` as its stdin; its exit status and the end of its stderr.

    `ssh` reads the file itself: no byte passes through this process (a pipe
    fed with sendfile(2) would cost this process CPU for every byte). If this process is
    killed mid-upload, `ssh` finishes writing the hidden `.part-` file, which
    never gets the final name (only this process renames it) and is removed by
    the next upload of that artifact.
    """
    with tempfile.TemporaryFile() as errors, local.open("rb") as source:
        process = subprocess.Popen(argv, stdin=source, stdout=subprocess.DEVNULL, stderr=errors,
                                   env=client_env(), close_fds=True)
        try:
            code = process.wait()
        finally:
            if process.poll() is None:  # interrupted while waiting: never leave it running
                process.kill()
                process.wait()
        errors.seek(0, os.SEEK_END)
        errors.seek(max(0, errors.tell() - _STDERR_KEPT))
        text = errors.read().decode("utf-8", "replace")
    return Outcome(code, text)
