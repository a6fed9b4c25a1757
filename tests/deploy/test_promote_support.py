"""A project whose tiers are real sshd hosts and local hosts, driven through the CLI (no tests here).

The other test_promote_* modules build on `make_deploy`; it lives in a test
module so that the deploy conftest (the host layer's) stays as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc

from tests.conftest import Project
from tests.support.sshd import SshdCluster

NOW = "2026-10-05T12:00:00+00:00"  # builds are 2026.4.0+bN
B1, B2, B3 = "2026.4.0+b1", "2026.4.0+b2", "2026.4.0+b3"
REPO_ROOT = Path(__file__).parents[2]
CHECK = 'grep -qx "BUILD=$QUARTERDECK_BUILD" VERSION'  # the right build, read inside the new release

# (name, channel, hosts as (kind, where, role)); ssh hosts name a server of the session's cluster
THREE_TIERS: list[dict[str, Any]] = [
    {"name": "dev", "channel": "internal",
     "hosts": [("local", "dev-1", "primary"), ("local", "dev-2", "primary")]},
    {"name": "staging", "channel": "beta",
     "hosts": [("ssh", 0, "standby"), ("local", "staging-2", "primary")]},
    {"name": "production", "channel": "everyone",
     "hosts": [("ssh", 1, "primary"), ("ssh", 2, "standby")]},
]


@dataclass
class Deploy:
    """The project plus where each tier's hosts keep their releases, and ways to look at them."""

    project: Project
    cluster: SshdCluster
    roots: dict[str, list[Path]] = field(default_factory=dict)
    urls: dict[str, list[str]] = field(default_factory=dict)
    builds: int = 0

    @property
    def db(self) -> Path:
        return self.project.root / ".quarterdeck" / "ledger.db"

    def configure(self, tiers: list[dict[str, Any]] | None = None,
                  gates: dict[str, dict[str, Any]] | None = None, **options: dict[str, Any]) -> None:
        """Write quarterdeck.toml: `tiers` (default THREE_TIERS), `options[tier]` overriding its keys,
        `gates[tier]` as its [gates.TIER] table (none by default, so only the hold gate runs)."""
        keys = self.cluster.root
        lines = [
            "[project]", 'name = "clinic"', f"repo = {json.dumps(str(self.project.repo.path))}",
            'timezone = "America/Chicago"', "",
            "[ssh]", f"identity_file = {json.dumps(str(keys / 'client_ed25519'))}",
            f"known_hosts = {json.dumps(str(keys / 'known_hosts'))}", "strict_host_keys = true",
            "connect_timeout = 5", "",
            "[notes]", "tag = false", "",
            "[ledger]", f"url = {json.dumps(self.project.ledger_url)}", "",
        ]
        self.roots, self.urls = {}, {}
        for tier in tiers or THREE_TIERS:
            name = tier["name"]
            settings = {"health_check": CHECK, **tier.get("settings", {}), **options.get(name, {})}
            hosts = []
            for kind, where, role in tier["hosts"]:
                if kind == "ssh":
                    server = self.cluster.servers[where]
                    root = self.project.root / "hosts" / f"{name}-{server.name}"
                    url = self.cluster.url(server, root)
                else:
                    root = self.project.root / "hosts" / where
                    url = f"local:hosts/{where}"
                root.mkdir(parents=True, exist_ok=True)
                self.roots.setdefault(name, []).append(root)
                self.urls.setdefault(name, []).append(url)
                hosts.append(f"{{ url = {json.dumps(url)}, role = {json.dumps(role)} }}")
            lines += ["[[tiers]]", f"name = {json.dumps(name)}", f"channel = {json.dumps(tier['channel'])}",
                      f"hosts = [{', '.join(hosts)}]"]
            lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
            lines.append("")
        for tier_name, table in (gates or {}).items():
            lines += [f"[gates.{tier_name}]", *(f"{k} = {json.dumps(v)}" for k, v in table.items()), ""]
        self.project.config.write_text("\n".join(lines), encoding="utf-8")

    def build(self) -> str:
        """A new commit and its build; returns the build id."""
        if self.builds:
            self.project.repo.commit(f"fix: change number {self.builds}")
        self.builds += 1
        return str(self.project.ok("build", "--json").json()["id"])  # type: ignore[index]

    def sha256(self, build_id: str) -> str:
        return str(self.project.ok("show", build_id, "--json").json()["sha256"])  # type: ignore[index]

    def current(self, tier: str) -> list[str | None]:
        """What each host's `current` points at (a release name), None where there is none."""
        found: list[str | None] = []
        for root in self.roots[tier]:
            link = root / "current"
            found.append(os.readlink(link).removeprefix("releases/") if link.is_symlink() else None)
        return found

    def version(self, tier: str) -> list[str]:
        """The BUILD= line of VERSION, read through each host's `current`."""
        return [(root / "current" / "VERSION").read_text().splitlines()[0] for root in self.roots[tier]]

    def stored_digests(self, tier: str, sha256: str) -> list[str]:
        return [hashlib.sha256((root / "artifacts" / f"{sha256}.tar.gz").read_bytes()).hexdigest()
                for root in self.roots[tier]]

    def status(self, tier: str) -> dict[str, Any]:
        tiers = self.project.ok("status", "--json").json()["tiers"]  # type: ignore[index]
        return next(t for t in tiers if t["name"] == tier)

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        return self.project.query(sql, *params)

    def audit(self, action: str) -> list[tuple[str, str | None]]:
        return [(r[0], r[1]) for r in self.query(
            "SELECT subject, reason FROM audit WHERE action = ? ORDER BY id", action)]

    def deployments(self, tier: str) -> list[tuple[int, str, str, str, int | None]]:
        return [tuple(r) for r in self.query(  # type: ignore[misc]
            "SELECT id, build_id, kind, state, resumed_from FROM deployments WHERE tier = ? ORDER BY id",
            tier)]

    def spawn(self, *argv: str) -> subprocess.Popen[str]:
        """The CLI in its own process (for kills and races), with this test's environment."""
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "COLUMNS": "200"}
        argv_all = [sys.executable, "-m", "pipeline", "--config", str(self.project.config), *argv]
        return subprocess.Popen(argv_all, cwd=self.project.root, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def wait_for(self, sql: str, *params: object, timeout: float = 30.0) -> None:
        """Poll the ledger (as `status` would) until the query returns a row."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.query(sql, *params):
                    return
            except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.ProgrammingError):
                pass  # the ledger is being created
            time.sleep(0.01)
        raise AssertionError(f"the ledger never showed: {sql} {params}")

    @contextmanager
    def watch_current(self, tier: str) -> Iterator[list[str]]:
        """Read every host's `current` and its VERSION continuously; collect every moment one is missing."""
        problems: list[str] = []
        stop = threading.Event()
        reads = [0]

        def watch() -> None:
            while not stop.is_set():
                for root in self.roots[tier]:
                    try:
                        (root / "current" / "VERSION").read_text()
                    except OSError as err:
                        problems.append(f"{root.name}: {err}")
                reads[0] += 1
                time.sleep(0.002)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        try:
            yield problems
        finally:
            stop.set()
            thread.join()
        assert reads[0] > 50, "the watcher hardly ran"


def flat(text: str) -> str:
    """Output with Rich's line wrapping undone (long host paths wrap the error line)."""
    return " ".join(text.split())


def make_deploy(project: Project, cluster: SshdCluster, monkeypatch: pytest.MonkeyPatch) -> Deploy:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    deploy = Deploy(project, cluster)
    deploy.configure()
    return deploy
