"""One small interface to a deploy host, with a local and an SSH implementation.

The install steps are written once against `Remote`; `LocalRemote` (a directory
on this machine, below) and `SSHRemote` (Fabric, in ssh.py) must behave the same, and the contract
tests in tests/deploy run the same assertions on both. Commands are argv lists,
quoted with shlex for the remote shell: no shell string is ever built from
unescaped values. Filesystem operations that need no program (stat, readlink,
symlink, rename, listdir) go over SFTP on SSH hosts because every shell
command costs a process start and the login shell's start-up files on the host,
while an SFTP request costs one round trip. Uploads stream through OpenSSH's
`ssh` client instead (see openssh.py): for bulk bytes a C client is far cheaper.

A `Remote` is used by one thread at a time; a rollout opens one per host.
"""

from __future__ import annotations

import os
import posixpath
import re
import secrets
import shlex
import shutil
import stat
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from releases.errors import DeployError, ReleasesError
from releases.hosts.hostspec import HostSpec

EntryKind = Literal["file", "dir", "symlink", "other"]
MAX_TEXT = 64 * 1024
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOGIN_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9][A-Za-z0-9._+\-]*$")
# OpenSSL uses the CPU's SHA extensions where coreutils' sha256sum does not: 0.05 s instead of
# 0.3 s of CPU for a 50 MB artifact. sha256sum stays the fallback (no openssl, or it failed); both
# print the digest first ("<hex> *path" and "<hex>  path").
_HASH_FILE = 'openssl dgst -sha256 -r -- "$1" 2>/dev/null || exec sha256sum -- "$1"'


@dataclass(frozen=True)
class ConnectSettings:
    """How ssh:// hosts are reached; the defaults do what Fabric does (~/.ssh/config, keys, agent).

    `known_hosts` adds a known-hosts file to the user's own; with
    `strict_host_keys` a host whose key is in neither is refused rather than
    trusted on first use.
    """

    identity_file: str | None = None
    known_hosts: str | None = None
    strict_host_keys: bool = True
    connect_timeout: float = 10.0


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        """One line for an error message: what ran, how it ended, and the end of what it said."""
        said = (self.stderr.strip() or self.stdout.strip()).splitlines()[-5:]
        tail = " | ".join(said)
        if len(tail) > 800:
            tail = "…" + tail[-800:]
        text = f"`{shlex.join(self.argv)}` exited with {self.exit_code}"
        return f"{text}: {tail}" if tail else text


@dataclass(frozen=True)
class HostLayout:
    """Where things live under a host's deploy root (pure: no I/O)."""

    root: str

    @property
    def artifacts(self) -> str:
        return posixpath.join(self.root, "artifacts")

    @property
    def releases(self) -> str:
        return posixpath.join(self.root, "releases")

    @property
    def current(self) -> str:
        return posixpath.join(self.root, "current")

    @property
    def shared(self) -> str:
        return posixpath.join(self.root, "shared")

    def artifact(self, sha256: str) -> str:
        if not _SHA256.match(sha256):
            raise DeployError(f"{sha256!r} is not a sha256 digest (64 lowercase hex digits)")
        return posixpath.join(self.artifacts, f"{sha256}.tar.gz")

    def release(self, build_id: str) -> str:
        if not _NAME.match(build_id):
            raise DeployError(f"build id {build_id!r} cannot name a release directory",
                              hint="a build id looks like 2026.4.0+b7")
        return posixpath.join(self.releases, build_id)

    def shared_path(self, name: str) -> str:
        parts = name.strip("/").split("/")
        if name.startswith("/") or not name.strip("/") or any(p in ("", ".", "..") for p in parts):
            raise DeployError(f"shared path {name!r} must be a relative path without '..'",
                              hint='write e.g. shared = ["uploads", "config/database.yml"]')
        return posixpath.join(self.shared, *parts)


def command_line(argv: Sequence[str], *, cwd: str | None = None,
                 env: Mapping[str, str] | None = None) -> str:
    """The one place a remote shell line is made, every value quoted."""
    if not argv:
        raise DeployError("no command to run")
    if "=" in argv[0]:
        raise DeployError(f"command name {argv[0]!r} contains '='")
    parts = []
    if cwd:
        parts.append(f"cd -- {shlex.quote(cwd)} &&")
    if env:
        for key in env:
            if not _ENV_NAME.match(key):
                raise DeployError(f"environment variable name {key!r} is not valid")
        parts.append("env " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()))
    parts.append(shlex.join(argv))
    return " ".join(parts)


class Remote(ABC):
    """A deploy host: run programs, move files, flip symlinks. All paths are absolute POSIX paths."""

    def __init__(self, spec: HostSpec) -> None:
        self.spec = spec
        self.layout = HostLayout(spec.path)

    @property
    def name(self) -> str:
        return self.spec.name

    @abstractmethod
    def run(self, argv: Sequence[str], *, cwd: str | None = None,
            env: Mapping[str, str] | None = None, timeout: float | None = None) -> CommandResult:
        """Run a program; a non-zero exit is a result, not an error. A timeout raises DeployError."""

    @abstractmethod
    def put(self, local: Path, path: str) -> None:
        """Upload under a temporary name, then rename: a half-sent file never has the final name."""

    @abstractmethod
    def kind(self, path: str) -> EntryKind | None:
        """What is at `path` without following a final symlink; None when nothing is."""

    @abstractmethod
    def readlink(self, path: str) -> str | None:
        """A symlink's target, or None when `path` is missing or not a symlink."""

    @abstractmethod
    def read_text(self, path: str, limit: int = MAX_TEXT) -> str | None:
        """The start of a small text file (UTF-8, errors replaced), or None when it is missing."""

    @abstractmethod
    def makedirs(self, path: str) -> None: ...

    @abstractmethod
    def listdir(self, path: str) -> list[str]:
        """Sorted names in a directory; [] when it does not exist."""

    @abstractmethod
    def symlink(self, target: str, link: str) -> None: ...

    @abstractmethod
    def rename(self, src: str, dst: str) -> None:
        """rename(2): atomically replaces `dst` (a symlink is replaced, never followed)."""

    @abstractmethod
    def unlink(self, path: str) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    # Built on the primitives above, so identical on every kind of host.

    def run_shell(self, command: str, *, cwd: str | None = None, env: Mapping[str, str] | None = None,
                  timeout: float | None = None) -> CommandResult:
        """Run a TRUSTED command string from the configuration (pre/post-activate, health check)."""
        return self.run(["sh", "-c", command], cwd=cwd, env=env, timeout=timeout)

    def exists(self, path: str) -> bool:
        return self.kind(path) is not None

    def sha256(self, path: str) -> str | None:
        """Hash on the host itself, so what is checked is what the host holds; None if missing."""
        result = self.run(["sh", "-c", _HASH_FILE, "sha256", path])
        if result.ok:
            digest = result.stdout.split(" ", 1)[0].strip().lstrip("\\")
            if _SHA256.match(digest):
                return digest
            raise DeployError(f"{self.name}: sha256sum printed {result.stdout[:80]!r}, not a digest")
        if self.kind(path) is None:
            return None
        raise DeployError(f"{self.name}: cannot hash {path}: {result.describe()}")

    def remove_tree(self, path: str) -> None:
        """rm -rf, refused outside the deploy root so that a bad path cannot take the host with it."""
        clean = posixpath.normpath(path)
        root = posixpath.normpath(self.layout.root)
        if not clean.startswith(root.rstrip("/") + "/"):
            raise DeployError(f"{self.name}: refusing to remove {path}: it is outside the deploy root {root}")
        result = self.run(["rm", "-rf", "--", clean])
        if not result.ok:
            raise DeployError(f"{self.name}: cannot remove {clean}: {result.describe()}")

    def switch_symlink(self, link: str, target: str) -> None:
        """Point `link` at `target` with no moment where `link` is missing: new symlink, then rename."""
        temp = f"{link}.tmp-{secrets.token_hex(6)}"
        self.symlink(target, temp)
        try:
            self.rename(temp, link)
        except BaseException:
            try:
                self.unlink(temp)
            except ReleasesError:
                pass
            raise

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def temp_name(path: str) -> str:
    """A hidden sibling name for a file being written, so a half-written file never has the real name."""
    return posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}.part-{secrets.token_hex(6)}")


def kind_of(mode: int) -> EntryKind:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def _login_env() -> dict[str, str]:
    """What a fresh login would have, as on an SSH host: never this process's secrets (SMTP password...)."""
    return {k: v for k, v in os.environ.items() if k in _LOGIN_ENV}


class LocalRemote(Remote):
    """A `local:` host: a directory on this machine, driven like a remote one."""

    def __init__(self, spec: HostSpec) -> None:
        if spec.scheme != "local":
            raise DeployError(f"{spec.url} is not a local: host")
        super().__init__(spec)

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except OSError as err:
            raise DeployError(f"{self.name}: {what} failed: {err.strerror or err}"
                              + (f" ({err.filename})" if err.filename else "")) from err

    def run(self, argv: Sequence[str], *, cwd: str | None = None,
            env: Mapping[str, str] | None = None, timeout: float | None = None) -> CommandResult:
        command_line(argv, cwd=cwd, env=env)  # the same validation as on SSH hosts
        args = tuple(argv)
        if cwd and not os.path.isdir(cwd):
            return CommandResult(args, 1, "", f"cd: {cwd}: No such file or directory")
        try:
            done = subprocess.run(args, cwd=cwd or None, env={**_login_env(), **(env or {})},
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        except FileNotFoundError:
            return CommandResult(args, 127, "", f"{args[0]}: not found")
        except subprocess.TimeoutExpired as err:
            raise DeployError(f"{self.name}: `{shlex.join(args)}` did not finish within {timeout:g}s",
                              hint="make the command finish sooner or raise the timeout") from err
        except OSError as err:
            raise DeployError(f"{self.name}: cannot run {args[0]}: {err.strerror or err}") from err
        return CommandResult(args, done.returncode, done.stdout.decode("utf-8", "replace"),
                             done.stderr.decode("utf-8", "replace"))

    def put(self, local: Path, path: str) -> None:
        temp = temp_name(path)
        with self._guard(f"upload to {path}"):
            try:
                shutil.copyfile(local, temp)
                with open(temp, "rb+") as handle:
                    os.fsync(handle.fileno())
                os.replace(temp, path)
            except BaseException:
                if os.path.lexists(temp):
                    os.unlink(temp)
                raise

    def kind(self, path: str) -> EntryKind | None:
        with self._guard(f"stat {path}"):
            try:
                return kind_of(os.lstat(path).st_mode)
            except (FileNotFoundError, NotADirectoryError):
                return None

    def readlink(self, path: str) -> str | None:
        with self._guard(f"readlink {path}"):
            try:
                return os.readlink(path)
            except (FileNotFoundError, NotADirectoryError):
                return None
            except OSError as err:
                if self.kind(path) != "symlink":
                    return None
                raise err

    def read_text(self, path: str, limit: int = MAX_TEXT) -> str | None:
        with self._guard(f"read {path}"):
            try:
                with open(path, "rb") as handle:
                    return handle.read(limit).decode("utf-8", "replace")
            except (FileNotFoundError, NotADirectoryError):
                return None

    def makedirs(self, path: str) -> None:
        with self._guard(f"create directory {path}"):
            os.makedirs(path, exist_ok=True)

    def listdir(self, path: str) -> list[str]:
        with self._guard(f"list {path}"):
            try:
                return sorted(os.listdir(path))
            except FileNotFoundError:
                return []

    def symlink(self, target: str, link: str) -> None:
        with self._guard(f"symlink {link}"):
            os.symlink(target, link)

    def rename(self, src: str, dst: str) -> None:
        with self._guard(f"rename {src} to {dst}"):
            os.replace(src, dst)

    def unlink(self, path: str) -> None:
        with self._guard(f"remove {path}"):
            os.unlink(path)

    def close(self) -> None:
        pass


def open_remote(spec: HostSpec, settings: ConnectSettings | None = None) -> Remote:
    """The Remote for a host spec; nothing is connected until the first operation."""
    if spec.scheme == "local":
        return LocalRemote(spec)
    from releases.hosts.ssh import SSHRemote  # Fabric and paramiko load only when an ssh:// host is used

    return SSHRemote(spec, settings)
