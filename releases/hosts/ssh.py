"""The `ssh://` host: the `Remote` interface over one Fabric Connection.

Programs run through Fabric's `Connection.run` (an argv quoted by
`command_line`); file operations go over one SFTP session, which needs no
shell on the host. Uploads are the exception: the bytes go through OpenSSH's
own `ssh` client (openssh.py), pinned to the host key this connection
accepted, so that they cost no Python and no GIL; paramiko's SFTP is the
fallback when there is no `ssh` program or it fails on its own.

Paramiko and socket errors become DeployError, or HostUnreachableError when
the host cannot be reached, always naming the host.
"""

from __future__ import annotations

import os
import posixpath
import shlex
import socket
import stat
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paramiko
from fabric import Connection
from invoke.exceptions import CommandTimedOut, ThreadException

from releases.errors import DeployError, HostUnreachableError, ReleasesError
from releases.hosts import openssh
from releases.hosts.hostspec import HostSpec
from releases.hosts.remote import (
    MAX_TEXT,
    CommandResult,
    ConnectSettings,
    EntryKind,
    Remote,
    command_line,
    kind_of,
    temp_name,
)

# AES-GCM first: an AEAD cipher needs no separate HMAC pass, which is most of
# paramiko's CPU cost per uploaded byte (about a third less than aes-ctr + hmac).
_FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
_KEEPALIVE_SECONDS = 30


def _no_delay(transport: Any) -> None:
    """Send small requests at once: with Nagle's algorithm each command waits for a delayed ACK."""
    sock = getattr(transport, "sock", None)
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # a latency nicety, never a reason to fail


def _keep_alive(transport: Any) -> None:
    """A rollout keeps each verified host's connection for its pruning or put-back while other hosts
    install; an idle connection that a firewall forgot would hang the next request, so send a
    keepalive when it has been quiet for a while."""
    if transport is not None:
        transport.set_keepalive(_KEEPALIVE_SECONDS)


def _fast_transport(sock: Any, **kwargs: Any) -> Any:
    transport = paramiko.Transport(sock, **kwargs)
    options = transport.get_security_options()
    first = [c for c in _FAST_CIPHERS if c in options.ciphers]
    options.ciphers = tuple(first + [c for c in options.ciphers if c not in first])
    return transport


class SSHRemote(Remote):
    """An `ssh://` host through a Fabric Connection, opened on first use."""

    _UNREACHABLE_HINT = ("check that the host is up and reachable; "
                         "`--exclude HOST --reason TEXT` leaves it out of the rollout")

    def __init__(self, spec: HostSpec, settings: ConnectSettings | None = None) -> None:
        if spec.scheme != "ssh":
            raise DeployError(f"{spec.url} is not an ssh:// host")
        super().__init__(spec)
        self.settings = settings or ConnectSettings()
        self._conn: Any = None
        self._sftp_session: tuple[Any, Any] | None = None
        self._use_openssh = True  # until the `ssh` client fails on this host (see _stream)

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        unreachable_hint = self._UNREACHABLE_HINT
        try:
            yield
        except ReleasesError:
            raise
        except paramiko.AuthenticationException as err:
            raise DeployError(f"{self.name}: SSH authentication failed for user "
                              f"{self.spec.user or 'default'}: {err}",
                              hint="check the key ([ssh].identity_file, ~/.ssh/config or agent)") from err
        except paramiko.BadHostKeyException as err:
            raise DeployError(f"{self.name}: the host key does not match known_hosts",
                              hint="if the server was really re-keyed, update known_hosts") from err
        except CommandTimedOut as err:
            raise DeployError(f"{self.name}: {what} did not finish within {err.timeout:g}s",
                              hint="make the command finish sooner or raise the timeout") from err
        except ThreadException as err:
            raise DeployError(f"{self.name}: {what} failed while reading its output: {err}") from err
        except (TimeoutError, ConnectionError, EOFError, socket.gaierror,
                paramiko.ssh_exception.NoValidConnectionsError) as err:
            raise HostUnreachableError(f"{self.name}: {what} failed: cannot reach the host ({err})",
                                       hint=unreachable_hint) from err
        except paramiko.SSHException as err:
            if "known_hosts" in str(err):
                raise DeployError(f"{self.name}: the host key is not in known_hosts",
                                  hint="add it (ssh-keyscan, then check the fingerprint) or set "
                                       "[ssh].known_hosts; strict_host_keys = false trusts any key") from err
            if not self._active():
                raise HostUnreachableError(f"{self.name}: {what} failed: the connection dropped ({err})",
                                           hint=unreachable_hint) from err
            raise DeployError(f"{self.name}: {what} failed: {err}") from err
        except OSError as err:
            if not self._active():
                raise HostUnreachableError(f"{self.name}: {what} failed: the connection dropped ({err})",
                                           hint=unreachable_hint) from err
            detail = err.strerror or str(err)
            raise DeployError(f"{self.name}: {what} failed: {detail}") from err

    def _active(self) -> bool:
        transport = self._conn.client.get_transport() if self._conn is not None else None
        return bool(transport is not None and transport.is_active())

    def _connection(self) -> Any:
        """The open connection; like Fabric's own methods, reconnect if it dropped since last use."""
        if self._conn is None:
            self._conn = self._open()
        elif not self._conn.is_connected:
            with self._guard("reconnect"):
                self._conn.open()
            _no_delay(self._conn.transport)
            _keep_alive(self._conn.transport)
        return self._conn

    def _open(self) -> Any:
        settings = self.settings
        kwargs: dict[str, Any] = {"transport_factory": _fast_transport,
                                  "banner_timeout": settings.connect_timeout,
                                  "auth_timeout": settings.connect_timeout}
        if settings.identity_file:
            kwargs["key_filename"] = [os.path.expanduser(settings.identity_file)]
        conn = Connection(self.spec.host, user=self.spec.user, port=self.spec.port,
                          connect_timeout=max(1, round(settings.connect_timeout)), connect_kwargs=kwargs)
        client = conn.client
        client.load_system_host_keys()
        if settings.known_hosts:
            known = os.path.expanduser(settings.known_hosts)
            try:
                client.get_host_keys().load(known)
            except OSError as err:
                raise DeployError(f"cannot read the known-hosts file {known}: {err.strerror or err}",
                                  hint="check [ssh].known_hosts") from err
        client.set_missing_host_key_policy(
            paramiko.RejectPolicy() if settings.strict_host_keys else paramiko.AutoAddPolicy())
        self._conn = conn
        try:
            with self._guard("connect"):
                conn.open()
        except BaseException:
            self._conn = None
            conn.close()
            raise
        _no_delay(conn.transport)
        _keep_alive(conn.transport)
        return conn

    def _sftp(self) -> Any:
        """One SFTP session per transport: after a reconnect the old session is dead, so open another."""
        conn = self._connection()
        if self._sftp_session is None or self._sftp_session[0] is not conn.transport:
            with self._guard("open SFTP"):
                self._sftp_session = (conn.transport, conn.client.open_sftp())
        return self._sftp_session[1]

    def run(self, argv: Sequence[str], *, cwd: str | None = None,
            env: Mapping[str, str] | None = None, timeout: float | None = None) -> CommandResult:
        line = command_line(argv, cwd=cwd, env=env)
        conn = self._connection()
        with self._guard(f"`{shlex.join(argv)}`"):
            done = conn.run(line, hide=True, warn=True, in_stream=False, pty=False, timeout=timeout)
        if done.exited is None or done.exited < 0:
            # invoke's own timeout check races with its timer thread; a channel closed without an
            # exit status is the timeout (or the connection going away) either way.
            if not self._active():
                raise HostUnreachableError(f"{self.name}: the connection dropped while running "
                                           f"`{shlex.join(argv)}`")
            raise DeployError(f"{self.name}: `{shlex.join(argv)}` did not finish within {timeout:g}s"
                              if timeout is not None else
                              f"{self.name}: `{shlex.join(argv)}` ended without an exit status",
                              hint="make the command finish sooner or raise the timeout")
        return CommandResult(tuple(argv), done.exited, done.stdout, done.stderr)

    def put(self, local: Path, path: str) -> None:
        sftp = self._sftp()
        temp = temp_name(path)
        with self._guard(f"upload to {path}"):
            try:
                ssh = openssh.client() if self._use_openssh else None
                if ssh is not None and self._stream(ssh, local, temp):
                    arrived, sent = sftp.stat(temp).st_size, local.stat().st_size
                    if arrived != sent:
                        raise DeployError(f"{self.name}: the upload to {path} is incomplete: "
                                          f"{arrived} of {sent} bytes arrived")
                else:
                    sftp.put(str(local), temp, confirm=True)
                sftp.posix_rename(temp, path)
            except BaseException:
                try:
                    sftp.remove(temp)
                except Exception:
                    pass
                raise

    def _stream(self, ssh: str, local: Path, temp: str) -> bool:
        """Send `local` to `temp` through an OpenSSH client pinned to this connection's host key.

        False when the `ssh` client itself failed (exit 255: an option this
        client does not know, an agent or key it handles differently, the
        server refusing one more login...) while the control connection still
        answers: then paramiko's SFTP sends the file as it always did, over the
        connection that already passed the host-key check. A host that stopped
        answering is unreachable; the remote `cat` failing (disk full, no such
        directory) is an error either way.
        """
        conn = self._connection()
        key = conn.transport.get_remote_server_key()
        target = openssh.Target(host=self.spec.host or conn.host, port=int(conn.port), user=conn.user,
                                key_type=key.get_name(), key_base64=key.get_base64())
        with openssh.pinned_known_hosts(target) as known:
            available = openssh.supported(ssh, "kex") | openssh.supported(ssh, "cipher")
            argv = openssh.client_argv(ssh, target, self.settings, known, f"cat > {shlex.quote(temp)}",
                                       available=available)
            outcome = openssh.stream_file(argv, local)
        if outcome.ok:
            return True
        said = openssh.stderr_tail(outcome)
        if not outcome.client_failed:
            raise DeployError(f"{self.name}: the upload to {temp} failed (exit status {outcome.exit_code})"
                              + (f": {said}" if said else ""))
        if not self._still_reachable():
            raise HostUnreachableError(f"{self.name}: the upload failed: the connection dropped ({said})",
                                       hint=self._UNREACHABLE_HINT)
        self._use_openssh = False
        return False

    def _still_reachable(self) -> bool:
        """After the upload's own connection failed: does the control connection still get an answer?

        Asked with a bounded wait, because a host that died silently would
        otherwise hold an SFTP request until TCP gives up.
        """
        if not self._active() or self._sftp_session is None:
            return False
        channel = self._sftp_session[1].get_channel()
        before = channel.gettimeout()
        channel.settimeout(self.settings.connect_timeout)
        try:
            self._sftp_session[1].stat(self.layout.root)
        except (FileNotFoundError, PermissionError):
            pass  # an answer all the same
        except Exception:
            return False
        finally:
            if self._active():
                channel.settimeout(before)
        return self._active()

    def kind(self, path: str) -> EntryKind | None:
        sftp = self._sftp()
        with self._guard(f"stat {path}"):
            try:
                return kind_of(sftp.lstat(path).st_mode or 0)
            except FileNotFoundError:
                return None

    def readlink(self, path: str) -> str | None:
        sftp = self._sftp()
        with self._guard(f"readlink {path}"):
            try:
                target = sftp.readlink(path)
            except FileNotFoundError:
                return None
            except OSError:
                if self.kind(path) != "symlink":
                    return None
                raise
        return str(target) if target is not None else None

    def read_text(self, path: str, limit: int = MAX_TEXT) -> str | None:
        sftp = self._sftp()
        with self._guard(f"read {path}"):
            try:
                with sftp.open(path, "rb") as handle:
                    return bytes(handle.read(limit)).decode("utf-8", "replace")
            except FileNotFoundError:
                return None

    def makedirs(self, path: str) -> None:
        sftp = self._sftp()
        with self._guard(f"create directory {path}"):
            self._makedirs(sftp, posixpath.normpath(path))

    def _makedirs(self, sftp: Any, path: str) -> None:
        try:
            if stat.S_ISDIR(sftp.stat(path).st_mode or 0):
                return
            raise DeployError(f"{self.name}: {path} exists and is not a directory")
        except FileNotFoundError:
            pass
        parent = posixpath.dirname(path)
        if parent != path:
            self._makedirs(sftp, parent)
        try:
            sftp.mkdir(path)
        except OSError:
            if not stat.S_ISDIR(sftp.stat(path).st_mode or 0):  # lost a race to another creator?
                raise

    def listdir(self, path: str) -> list[str]:
        sftp = self._sftp()
        with self._guard(f"list {path}"):
            try:
                return sorted(sftp.listdir(path))
            except FileNotFoundError:
                return []

    def symlink(self, target: str, link: str) -> None:
        sftp = self._sftp()
        with self._guard(f"symlink {link}"):
            sftp.symlink(target, link)

    def rename(self, src: str, dst: str) -> None:
        sftp = self._sftp()
        with self._guard(f"rename {src} to {dst}"):
            sftp.posix_rename(src, dst)

    def unlink(self, path: str) -> None:
        sftp = self._sftp()
        with self._guard(f"remove {path}"):
            sftp.remove(path)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        session, self._sftp_session = self._sftp_session, None
        if session is not None:
            try:
                session[1].close()
            except Exception:
                pass
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass  # closing a dead connection must not hide the error that killed it
