"""The project's configuration file, read and checked in two stages.

As towncrier does: the TOML is first checked against the key tables each package owns
(plain data, see releases.settings) and every problem is collected with its key path; only
then are values built. Which tables the file has, and whose they are, comes from the
application (pipeline composes a Layout from the packages), so this module knows the shape of
a file (tables, [[tiers]], [gates.TIER]) and nothing of what channels or notify put in it.
Nothing here opens a repository or a connection.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releases.errors import ReleasesError
from releases.settings import (
    Spec,
    check_table,
    closest,
    looks_like_git_repo,
    mask_password,
    resolve_ledger_url,
)

if TYPE_CHECKING:
    from releases.hosts.hostspec import HostSpec


@dataclass(frozen=True)
class Layout:
    """The file's tables and their keys, each from the package that owns it."""

    sections: Mapping[str, Spec]  # checked when the file is loaded
    deferred: Mapping[str, Callable[[], Spec]]  # checked when first read, so their owners load late
    tier: Spec  # one [[tiers]] table
    gates: Spec  # one [gates.TIER] table

    def specs(self) -> dict[str, Spec]:
        """Every table's keys, the deferred ones loaded."""
        return {**self.sections, **{name: spec() for name, spec in self.deferred.items()}}


class ConfigError(ReleasesError):
    """The configuration file is missing or invalid; every problem is listed."""

    def __init__(self, message: str, problems: Sequence[str] = (), hint: str | None = None) -> None:
        super().__init__(message if not problems else f"{message}:\n  " + "\n  ".join(problems), hint)
        self.problems = list(problems)


@dataclass(frozen=True)
class TierConfig:
    """One [[tiers]] table, checked: the packages get these values, never the raw TOML."""

    name: str
    channel: str
    url: str  # where the tier's readers use the application (channels' key)
    hosts: tuple[HostSpec, ...]
    deploy_path: str
    health_check: str
    pre_activate: str
    post_activate: str
    shared: tuple[str, ...]
    keep: int
    parallel: int
    on_failure: str


@dataclass(frozen=True)
class Config:
    """The whole configuration file, checked; paths are resolved against the file's directory."""

    path: Path
    base_dir: Path
    project_name: str
    repo: Path
    branch: str
    timezone: str
    build_command: str
    build_output: str
    ledger_url: str
    artifacts_dir: Path
    backup_dir: Path
    backup_keep: int
    tiers: tuple[TierConfig, ...]
    gates: dict[str, dict[str, Any]]
    sections: dict[str, dict[str, Any]]
    layout: Layout
    unchecked: set[str] = field(default_factory=set)  # deferred tables not read yet, as written

    def section(self, name: str) -> dict[str, Any]:
        """One table, checked: a deferred one is checked (and its owner loaded) when first read."""
        if name in self.unchecked:
            problems: list[str] = []
            checked = check_table(self.sections[name], self.layout.deferred[name](), name, problems)
            if problems:
                raise problems_error(self.path, problems)
            self.sections[name] = checked
            self.unchecked.discard(name)
        return self.sections[name]

    def tier(self, name: str) -> TierConfig:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise ConfigError(f"there is no tier {name!r}",
                          hint=f"tiers are: {', '.join(t.name for t in self.tiers)}")

    def tier_names(self) -> list[str]:
        return [t.name for t in self.tiers]

    def tier_serving(self, channel: str) -> TierConfig | None:
        """The tier whose audience is `channel` (the first, in promotion order), if one is."""
        return next((t for t in self.tiers if t.channel == channel), None)

    @property
    def state_dir(self) -> Path:
        return self.base_dir / ".quarterdeck"

    def masked(self) -> dict[str, Any]:
        """The resolved configuration for `config show`, with every secret key's password masked."""
        sections = {name: dict(self.section(name)) for name in list(self.sections)}
        sections["ledger"]["url"] = self.ledger_url
        for name, spec in self.layout.specs().items():
            for key, rule in spec.items():
                if rule.get("secret") and sections[name].get(key):
                    sections[name][key] = mask_password(sections[name][key])
        sections["tiers"] = [  # type: ignore[assignment]
            {**{k: getattr(t, k) for k in TierConfig.__dataclass_fields__ if k != "hosts"},
             "hosts": [{"url": h.url, "role": h.role, "path": h.path} for h in t.hosts]}
            for t in self.tiers
        ]
        sections["gates"] = self.gates
        return sections


def find_config_path(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("QUARTERDECK_CONFIG")
    if env:
        return Path(env)
    return Path.cwd() / "quarterdeck.toml"


def load_config(path: Path, layout: Layout, *, check_repo: bool = True, defer: bool = True) -> Config:
    """The checked file; with `defer`, the layout's deferred tables are checked when first read."""
    import tomllib

    if path.is_dir():
        raise ConfigError(f"{path} is a directory, not a configuration file",
                          hint=f"name the file itself, e.g. --config {path / 'quarterdeck.toml'}")
    if not path.exists():
        raise ConfigError(f"no configuration at {path}",
                          hint="run `quarterdeck init --repo PATH`, or pass --config "
                               "or set QUARTERDECK_CONFIG")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} is not UTF-8 text") from err
    problems: list[str] = []
    config = _build_config(path, raw, layout, problems, check_repo=check_repo, defer=defer)
    if problems or config is None:
        raise problems_error(path, problems)
    return config


def toml_string(value: str) -> str:
    """`value` as a TOML basic string, for a value written into the file (`init`, the demo)."""
    import json  # a JSON string is a valid TOML basic string

    return json.dumps(value, ensure_ascii=False)


def problems_error(path: Path, problems: list[str]) -> ConfigError:
    return ConfigError(f"{path} has {len(problems)} problem{'s' if len(problems) != 1 else ''}",
                       problems, hint="fix each key named above; `quarterdeck config check` lists them")


def _build_config(path: Path, raw: dict[str, Any], layout: Layout, problems: list[str], *,
                  check_repo: bool, defer: bool) -> Config | None:
    base = path.resolve().parent
    specs = layout.sections
    top_level = [*specs, *layout.deferred, "tiers", "gates"]
    for key in raw:
        if key not in top_level:
            problems.append(f"{key}: unknown section{closest(key, top_level)}")
    sections = {name: check_table(raw.get(name, {}), spec, name, problems)
                for name, spec in specs.items()}
    for name, deferred in layout.deferred.items():
        table = raw.get(name, {})
        sections[name] = table if defer else check_table(table, deferred(), name, problems)
    project = sections["project"]
    repo = (base / project["repo"]).resolve() if "repo" in project else base
    if check_repo and "repo" in project and not looks_like_git_repo(repo):
        problems.append(f"project.repo: {repo} is not a git repository")
    tiers, names = _tiers(raw.get("tiers"), layout.tier, base, problems)

    gates: dict[str, dict[str, Any]] = {}
    raw_gates = raw.get("gates", {})
    if not isinstance(raw_gates, dict):
        problems.append("gates: expected a table of [gates.TIER] tables")
        raw_gates = {}
    for tier_name, table in raw_gates.items():
        if tier_name not in names:
            problems.append(f"gates.{tier_name}: there is no tier {tier_name!r}"
                            + (closest(tier_name, names) if names else ""))
            continue
        gates[tier_name] = check_table(table, layout.gates, f"gates.{tier_name}", problems)

    if problems:
        return None
    return Config(
        path=path, base_dir=base, project_name=project["name"], repo=repo,
        branch=project["branch"], timezone=project["timezone"],
        build_command=sections["build"]["command"], build_output=sections["build"]["output"],
        ledger_url=resolve_ledger_url(sections["ledger"]["url"], base),
        artifacts_dir=(base / sections["artifacts"]["dir"]).resolve(),
        backup_dir=(base / sections["backup"]["dir"]).resolve(), backup_keep=sections["backup"]["keep"],
        tiers=tuple(tiers), gates=gates, sections=sections, layout=layout,
        unchecked=set(layout.deferred) if defer else set(),
    )


def _tiers(raw_tiers: Any, spec: Spec, base: Path, problems: list[str]) -> tuple[list[TierConfig], list[str]]:
    """The [[tiers]] tables in promotion order, and every tier name given (for [gates.TIER])."""
    tiers: list[TierConfig] = []
    if raw_tiers is None:
        problems.append("tiers: required, expected one [[tiers]] table per tier in promotion order")
        raw_tiers = []
    elif not isinstance(raw_tiers, list):
        problems.append("tiers: expected [[tiers]] tables, one per tier in promotion order")
        raw_tiers = []
    seen: set[str] = set()
    for index, raw_tier in enumerate(raw_tiers):
        label = raw_tier.get("name") if isinstance(raw_tier, dict) else None
        where = f"tiers.{label}" if isinstance(label, str) and label else f"tiers[{index}]"
        values = check_table(raw_tier, spec, where, problems)
        name = values.get("name")
        if not isinstance(name, str):
            continue
        if name in seen:
            problems.append(f"{where}: the tier {name!r} is listed twice; tier names must be unique")
            continue
        seen.add(name)
        hosts = _hosts(values, where, base, problems)
        if len(values) == len(spec):
            tiers.append(TierConfig(hosts=tuple(hosts), shared=tuple(values["shared"]),
                                    **{k: v for k, v in values.items() if k not in ("hosts", "shared")}))
    return tiers, sorted(seen)


def _hosts(values: dict[str, Any], where: str, base: Path, problems: list[str]) -> list[HostSpec]:
    """One tier's hosts, each read by releases' parse_host; every bad one named by its path."""
    from releases.hosts.hostspec import parse_host

    hosts: list[HostSpec] = []
    for index, host in enumerate(values.get("hosts", [])):
        h_where = f"{where}.hosts[{index}]"
        url, role = host, "primary"
        if isinstance(host, dict):
            for key in host:
                if key not in ("url", "role"):
                    problems.append(f"{h_where}.{key}: unknown key{closest(key, ['url', 'role'])}")
            url, role = host.get("url"), host.get("role", "primary")
        if not isinstance(url, str):
            problems.append(f"{h_where}: expected \"local:PATH\", \"ssh://user@host:port/path\" "
                            "or {{ url = ..., role = \"primary\"|\"standby\" }}")
            continue
        try:
            hosts.append(parse_host(url, role=role, base_dir=base,
                                    default_path=values.get("deploy_path") or None))
        except ReleasesError as err:
            problems.append(f"{h_where}: {err}" + (f" ({err.hint})" if err.hint else ""))
    if "hosts" in values and not values["hosts"]:
        problems.append(f"{where}.hosts: a tier needs at least one host")
    urls = [h.url for h in hosts]
    for dup in sorted({u for u in urls if urls.count(u) > 1}):
        problems.append(f"{where}.hosts: {dup!r} is listed twice")
    return hosts
