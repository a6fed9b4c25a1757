"""Where a tier's hosts are and how to reach them, parsed from the configuration's host URLs.

Kept apart from the connection code so that the configuration can be checked
without importing Fabric or touching the network.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from releases.errors import DeployError, ReleasesError
from releases.settings import mask_password

Role = Literal["primary", "standby"]
ROLES: tuple[Role, ...] = ("primary", "standby")

# Patterns, not compiled ones: only ssh:// hosts need them, and re compiles (and caches) them
# on first use, not on every start of every command that reads the configuration.
_HOSTNAME = r"^[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?$"
_USER = r"^[A-Za-z0-9._][A-Za-z0-9._\-]*$"


@dataclass(frozen=True)
class HostSpec:
    """One server of a tier: `local:` directories behave exactly like `ssh://` hosts."""

    url: str
    scheme: Literal["local", "ssh"]
    path: str
    host: str | None = None
    user: str | None = None
    port: int | None = None
    role: Role = "primary"

    @property
    def name(self) -> str:
        """A short label for tables: the URL without the scheme noise."""
        if self.scheme == "local":
            return f"local:{self.path}"
        where = self.host or ""
        if ":" in where:  # an IPv6 address keeps its brackets, so a port stays readable
            where = f"[{where}]"
        if self.port:
            where = f"{where}:{self.port}"
        return f"{where}{self.path}"


def _valid_host(host: str) -> bool:
    """A DNS name or IPv4 address, or an IPv6 address (urlsplit has taken off its brackets)."""
    if ":" not in host:
        return re.match(_HOSTNAME, host) is not None
    import ipaddress

    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def labels(hosts: Iterable[HostSpec]) -> dict[str, str]:
    """Each host's label where `hosts` are shown together, by URL: the shortest that tells it apart.

    A local host is the end of its path ("dev-1", else "hosts/dev-1", ...), an
    SSH host its host and port ("db1:2222"); one that shares that with another
    shown beside it gets its whole name. Every table, live display and
    summary of a tier's hosts labels them with this, so they name each host
    the same way.
    """
    hosts = list(hosts)
    chosen: dict[str, str] = {}
    for depth in range(1, 1 + max((len(_parts(h)) for h in hosts), default=0)):
        shown = [_label(h, depth) for h in hosts]
        for host, label in zip(hosts, shown, strict=True):
            if host.url not in chosen and shown.count(label) == 1 and label not in chosen.values():
                chosen[host.url] = label
    return {h.url: chosen.get(h.url, h.name) for h in hosts}


def _parts(host: HostSpec) -> list[str]:
    return [p for p in host.path.split("/") if p]


def _label(host: HostSpec, depth: int) -> str:
    """`depth` levels of a host's label: path components for a local host, host and port for SSH."""
    if host.scheme == "ssh":
        where = host.host or ""
        where = f"[{where}]" if ":" in where else where  # an IPv6 address keeps its brackets
        return f"{where}:{host.port}" if host.port else where
    parts = _parts(host)
    return "/".join(parts[-depth:]) if depth < len(parts) else host.name


def parse_host(
    url: str,
    *,
    role: str = "primary",
    base_dir: Path | None = None,
    default_path: str | None = None,
) -> HostSpec:
    """Parse `local:PATH` or `ssh://[user@]host[:port][/absolute/path]`.

    A relative local path is taken relative to `base_dir` (the configuration
    file's directory) so that a configuration means the same from any working
    directory. An ssh URL without a path uses the tier's `default_path`.
    """
    if not isinstance(url, str) or not url.strip():
        raise ReleasesError("a host URL is empty", hint="write local:PATH or ssh://user@host/path")
    if role not in ROLES:
        raise ReleasesError(f"host role {role!r} is not one of {', '.join(ROLES)}")
    text = url.strip()
    if text.startswith("local:"):
        raw = text[len("local:"):]
        if raw.startswith("//"):
            raw = raw[2:]
        if not raw:
            raise ReleasesError(f"host {url!r} has no path", hint="write local:PATH")
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        return HostSpec(url=text, scheme="local", path=str(path.resolve()), role=role)
    if text.startswith("ssh://"):
        try:
            parts = urlsplit(text)
        except ValueError:  # an unclosed or malformed [IPv6] bracket
            raise ReleasesError(f"host {mask_password(text)!r} has no valid host name",
                                hint="write ssh://user@host:port/path, an IPv6 address in brackets: "
                                     "ssh://user@[2001:db8::5]:22/path") from None
        if parts.password is not None:
            raise ReleasesError(
                f"host {mask_password(text)!r} carries a password",
                hint="use an SSH key or agent; passwords never belong in the configuration",
            )
        if parts.query or parts.fragment:
            raise ReleasesError(f"host {url!r} has a query or fragment; write ssh://user@host:port/path")
        host = parts.hostname
        if not host or not _valid_host(host):
            raise ReleasesError(f"host {url!r} has no valid host name", hint="write ssh://user@host:port/path")
        user = unquote(parts.username) if parts.username else None
        if user is not None and not re.match(_USER, user):
            raise ReleasesError(f"host {url!r} has an invalid user name {user!r}")
        try:
            port = parts.port
        except ValueError:
            raise ReleasesError(f"host {url!r} has an invalid port", hint="a port is 1-65535") from None
        if port is not None and not 0 < port < 65536:
            raise ReleasesError(f"host {url!r} has an invalid port", hint="a port is 1-65535")
        remote = unquote(parts.path) if parts.path not in ("", "/") else (default_path or "")
        if not remote:
            raise ReleasesError(
                f"host {url!r} has no deploy path",
                hint="add /absolute/path to the URL or set the tier's deploy_path",
            )
        if not remote.startswith("/"):
            raise ReleasesError(f"host {url!r}: the deploy path {remote!r} must be absolute")
        return HostSpec(url=text, scheme="ssh", path=posixpath.normpath(remote), host=host, user=user,
                        port=port, role=role)
    raise ReleasesError(
        f"host {url!r} is neither local:PATH nor ssh://[user@]host[:port]/path",
    )


def deploy_directory_missing(root: str) -> tuple[str, str]:
    """The one wording of a host whose deploy directory does not exist, and what to do: a rollout
    refuses with it, the pre-flight check lists it, `config check` warns with it for a local host."""
    return (f"the deploy directory {root} does not exist",
            f"create it on the host (mkdir -p {shlex.quote(root)}) for the deploy user")


def missing_deploy_directory(name: str, root: str) -> DeployError:
    what, hint = deploy_directory_missing(root)
    return DeployError(f"{name}: {what}", hint=hint)


def local_directory_missing(spec: HostSpec) -> DeployError | None:
    """For `config check`: a `local:` host whose directory is missing, which a rollout would refuse."""
    if spec.scheme == "local" and not Path(spec.path).is_dir():
        return missing_deploy_directory(spec.name, spec.path)
    return None
