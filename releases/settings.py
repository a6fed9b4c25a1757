"""The releases package's part of the configuration file: [project], [build], [ledger],
[artifacts], [backup], [ssh] and the deploy keys of each [[tiers]] table.

Each table is plain data, one entry per key: `type`, `default` (absent: the key is
required), and where they apply `item` (type of a list's items), `choices`, `minimum`,
`secret` (masked by `config show`) and `check` (a function of the value that returns what
is wrong with it, or None). `check_table` below is the one checker of such a table, for
every package's tables; pipeline.py calls it, and the package never reads the file.
`INIT_*` are the commented blocks `quarterdeck init` writes (str.format text: `{{` is a
literal brace).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from releases.hosts.remote import ConnectSettings

Spec = dict[str, dict[str, Any]]


def closest(key: str, valid: Sequence[str]) -> str:
    """A suggestion for a misspelt key: the closest valid one, else the list of valid ones."""
    import difflib

    match = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else f" (valid keys: {', '.join(valid)})"


def type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
             list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def check_table(table: Any, spec: Spec, where: str, problems: list[str]) -> dict[str, Any]:
    """Values of one table with defaults filled in; each bad key is reported by its path.

    The one checker of the configuration file, beside the description of the key tables it
    walks (this module's docstring): every package's tables are checked by it, in pipeline.py.
    """
    if not isinstance(table, dict):
        problems.append(f"{where}: expected a table, got {type(table).__name__}")
        table = {}
    for key in table:
        if key not in spec:
            problems.append(f"{where}.{key}: unknown key{closest(key, list(spec))}")
    values: dict[str, Any] = {}
    for key, rule in spec.items():
        path = f"{where}.{key}"
        if key not in table:
            if "default" not in rule:
                problems.append(f"{path}: required, expected {type_name(rule['type'])}")
            else:
                values[key] = rule["default"]
            continue
        value = table[key]
        problem = value_problem(value, rule)
        if problem:
            problems.append(f"{path}: {problem}")
        else:
            values[key] = value
    return values


def value_problem(value: Any, rule: dict[str, Any]) -> str | None:
    """What is wrong with one value by its key's entry (type, items, choices, minimum, check)."""
    kinds = rule["type"] if isinstance(rule["type"], tuple) else (rule["type"],)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        return f"expected {type_name(rule['type'])}, got {value!r}"
    item = rule.get("item")
    if item is not None:
        bad = [v for v in value if not isinstance(v, item) or isinstance(v, bool)]
        if bad:
            return f"every item must be {type_name(item)}, got {bad[0]!r}"
    choices = rule.get("choices")
    if choices and value not in choices:
        return f"{value!r} is not one of {', '.join(map(str, choices))}"
    minimum = rule.get("minimum")
    if minimum is not None and value < minimum:
        return f"must be at least {minimum}, got {value!r}"
    check = rule.get("check")
    return check(value) if check is not None else None


def mask_password(url: str) -> str:
    """The URL with the password of its user part replaced by ***, for every message and `config show`.

    Read by hand rather than with urlsplit: it must also mask URLs that urlsplit refuses or
    splits elsewhere (an unencoded `?`, `#` or `@` in the password), since those are the
    ones an error message repeats.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if at and ":" in userinfo:
        return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}{slash}{tail}"
    # A `/` in the password ends the authority early; then the password runs to the last `@`
    # (masking too much is harmless, too little is not).
    userinfo, at, after = rest.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    if at and colon and "/" not in user:
        return f"{scheme}://{user}:***@{after}"
    return url


def _authority_problem(url: str) -> str | None:
    """What is wrong with a database URL's host and port, read as SQLAlchemy reads them (a user
    without `:` or `/`, a password without `@`, then a host or [IPv6 address] and a port)."""
    import re

    rest = url.partition("://")[2]
    userinfo = re.match(r"[^:/]*(?::[^@]*)?@", rest)
    hostport = rest[userinfo.end():] if userinfo else rest
    if hostport.startswith("[") and not re.match(r"\[[^/?]+\]", hostport):
        return "has an unclosed [ in its host; write an IPv6 address as [2001:db8::5]"
    where = re.match(r"(?:\[[^/?]+\]|[^/:?]*)(?::([^/?]*))?", hostport)
    port = where.group(1) if where else None
    if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        return f"has the port {port!r}; a port is a number from 1 to 65535"
    return None


def ledger_url_problem(url: str) -> str | None:
    """What is wrong with `ledger.url`, checked before anything opens it; never repeats a password."""
    if not url.startswith(("sqlite", "postgresql")):
        return f"{mask_password(url)!r} must be a sqlite:/// or postgresql:// URL"
    scheme = url.split("://", 1)[0]
    if scheme.startswith("postgresql+") and scheme != "postgresql+psycopg":
        return (f"{mask_password(url)!r} names the driver {scheme.split('+', 1)[1]!r}; quarterdeck reaches "
                "PostgreSQL through psycopg 3: write postgresql://USER@HOST/DATABASE")
    problem = _authority_problem(url)
    return f"{mask_password(url)!r} {problem}" if problem else None


def resolve_ledger_url(url: str, base_dir: Path) -> str:
    """A relative SQLite path is relative to the configuration file, like every other path."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url[len("sqlite:///"):]
        if relative and relative != ":memory:":
            return f"sqlite:///{(base_dir / relative).resolve()}"
    return url


def looks_like_git_repo(path: Path) -> bool:
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


PROJECT: Spec = {
    "name": {"type": str},
    "repo": {"type": str},
    "branch": {"type": str, "default": "main"},
}
def outside_checkout(output: str) -> str:
    """The one wording of an output directory that leaves the build's checkout."""
    return (f"{output!r} is outside the build's checkout; name a directory inside the repository "
            "that the build command fills, such as \"dist\"")


def build_output_problem(output: str) -> str | None:
    """The build packs only its own checkout: `/etc` or `..` would ship the build machine's files
    (host keys, password hashes) to every host. A symlink out is caught when the build runs."""
    path = PurePosixPath(output)
    if path.is_absolute() or ".." in path.parts:
        return outside_checkout(output)
    return None


BUILD: Spec = {"command": {"type": str, "default": ""},
               "output": {"type": str, "default": "", "check": build_output_problem}}
LEDGER: Spec = {"url": {"type": str, "default": "sqlite:///.quarterdeck/ledger.db", "secret": True,
                        "check": ledger_url_problem}}
ARTIFACTS: Spec = {"dir": {"type": str, "default": ".quarterdeck/artifacts"}}
BACKUP: Spec = {"dir": {"type": str, "default": ".quarterdeck/backups"},
                "keep": {"type": int, "default": 5, "minimum": 1}}
SSH: Spec = {
    "identity_file": {"type": str, "default": ""},
    "known_hosts": {"type": str, "default": ""},
    "strict_host_keys": {"type": bool, "default": True},
    "connect_timeout": {"type": int, "default": 10, "minimum": 1},
}
TIER: Spec = {
    "name": {"type": str},
    "hosts": {"type": list},
    "deploy_path": {"type": str, "default": ""},
    "health_check": {"type": str, "default": ""},
    "pre_activate": {"type": str, "default": ""},
    "post_activate": {"type": str, "default": ""},
    "shared": {"type": list, "default": [], "item": str},
    "keep": {"type": int, "default": 5, "minimum": 1},
    "parallel": {"type": int, "default": 1, "minimum": 1},
    "on_failure": {"type": str, "default": "rollback", "choices": ("rollback", "halt")},
}
def connect_settings(ssh: dict[str, Any], base_dir: Path) -> ConnectSettings:
    """The checked [ssh] table as the values `ssh://` hosts are reached with."""
    from releases.hosts.remote import ConnectSettings

    return ConnectSettings(
        identity_file=str(base_dir / ssh["identity_file"]) if ssh["identity_file"] else None,
        known_hosts=str(base_dir / ssh["known_hosts"]) if ssh["known_hosts"] else None,
        strict_host_keys=ssh["strict_host_keys"], connect_timeout=float(ssh["connect_timeout"]))


INIT_PROJECT = '''\
[project]
name = {name}
repo = {repo}                 # the application's git repository
branch = "main"               # builds come from here unless --ref says otherwise
timezone = {timezone}         # IANA zone of the maintenance windows

[build]
command = ""                  # optional, run in a clean checkout of the commit, e.g. "make dist"
output = ""                   # directory the command fills; packed as the artifact

[ledger]
url = "sqlite:///.quarterdeck/ledger.db"   # or postgresql://user@host/db for a shared ledger

[artifacts]
dir = ".quarterdeck/artifacts"             # content-addressed store: <sha256>.tar.gz

[ssh]
identity_file = ""            # empty: ~/.ssh/config, keys and agent as OpenSSH would use them
strict_host_keys = true       # refuse hosts whose key is not in known_hosts

'''
INIT_TIERS = '''\
# Tiers in promotion order. A host is "local:PATH" or "ssh://[user@]host[:port]/absolute/path",
# or {{ url = "...", role = "standby" }}; standbys are installed and verified before primaries.
[[tiers]]
name = "dev"
channel = "internal"          # internal: staff; beta: staff + enrolled organisations; everyone
hosts = ["local:.quarterdeck/hosts/dev-1"]
health_check = "test -f VERSION"   # run in the new release; exit 0 means healthy
keep = 5                      # releases kept per host (the running and last good one never go)
parallel = 1                  # hosts installed at the same time

[[tiers]]
name = "staging"
channel = "beta"
url = ""                      # the beta system's address, linked from the beta-available notice
hosts = ["local:.quarterdeck/hosts/staging-1"]
health_check = "test -f VERSION"
keep = 5

[[tiers]]
name = "production"
channel = "everyone"
hosts = [
  {{ url = "local:.quarterdeck/hosts/production-1", role = "primary" }},
  {{ url = "local:.quarterdeck/hosts/production-2", role = "standby" }},
]
health_check = "test -f VERSION"
pre_activate = ""             # e.g. database migrations, run in the new release before the switch
post_activate = ""            # e.g. "sudo systemctl reload apache2", after the switch
shared = []                   # paths linked from <host>/shared/, e.g. ["uploads", "config"]
keep = 5
parallel = 1
on_failure = "rollback"       # or "halt": leave switched hosts as they are

'''
INIT_BACKUP = '''\
[backup]
dir = ".quarterdeck/backups"  # `quarterdeck backup` writes here; copy it to the backup servers
keep = 5                      # newest backups kept (one a day keeps five days)
'''
