"""Helpers for the `quarterdeck notes` CLI tests: a realistic application history and deployments.

Not a test module (it holds no tests); it is named test_cli_* so that it
belongs with the notes CLI tests it serves.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import pipeline
from tests.conftest import Project

NOW = "2026-10-05T12:00:00+00:00"
HOSTILE = ("fix(ui): <script>alert(1)</script> <img src=x onerror=alert(2)> "
           "[click](javascript:alert(3)) {{ 7*7 }}")


@dataclass(frozen=True)
class History:
    """The commits of the scenario that tests refer to by name."""

    released: str  # tagged v2026.3.0: the last production release
    export_fix: str  # on the feature branch, brought in by the PR merge
    rota_fix: str  # direct fix on main, Ticket: HOS-12
    merge: str  # "Merge pull request #1 ...": feat(export)
    chore: str
    hostile: str
    head: str


def build_history(project: Project) -> History:
    """Work after the v2026.3.0 release: a GitHub merge, a revert, an internal and a hostile commit."""
    repo = project.repo
    released = repo.head()
    repo.git("tag", "-a", "-m", "Release 2026.3.0", "v2026.3.0", released)
    repo.git("checkout", "-q", "-b", "feature-export")
    repo.commit("feat(export): add csv export")
    export_fix = repo.commit("fix(export): typo in header\n\nTicket: HOS-31")
    repo.git("checkout", "-q", "main")
    rota_fix = repo.commit("fix(rota): keep night shifts\n\nTicket: HOS-12")
    repo.git("merge", "-q", "--no-ff", "-m",
             "Merge pull request #1 from care/feature-export\n\nfeat(export): CSV export of visits",
             "feature-export")
    merge = repo.head()
    chore = repo.commit("chore: bump dependencies")
    remember = repo.commit("feat(login): remember me")
    repo.git("revert", "--no-edit", remember)
    hostile = repo.commit(HOSTILE)
    return History(released, export_fix, rota_fix, merge, chore, hostile, repo.head())


@pytest.fixture
def history(project: Project, monkeypatch: pytest.MonkeyPatch) -> History:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    for name in ("VISUAL", "EDITOR"):
        monkeypatch.delenv(name, raising=False)
    return build_history(project)


def build(project: Project, *argv: str) -> str:
    return str(project.ok("build", "--json", *argv).json()["id"])  # type: ignore[index]


def make_app(project: Project, *argv: str) -> pipeline.App:
    """pipeline's App for this project, as a command would get it (for the hooks the lead calls)."""
    args = pipeline.build_parser().parse_args(["--config", str(project.config), *(argv or ("status",))])
    return pipeline.App(args, ["--config", str(project.config), *argv])


def hooked_app(project: Project) -> pipeline.App:
    """pipeline's App with every hook, including `tier_commit_before`."""
    return make_app(project)


def run_on(project: Project, build_id: str, tier: str) -> None:
    """Record `build_id` as installed and verified on every host of `tier`.

    The promote command is being written by another helper at the same time;
    until it exists this writes the deployment rows with releases.tiers.deployments
    directly, the way a successful rollout leaves them.
    """
    from releases.tiers.deployments import finish_deployment, record_host, start_deployment

    app = make_app(project)
    try:
        ledger = app.ledger
        hosts = [h.url for h in app.config.tier(tier).hosts]
        with ledger.write() as conn:
            deployment = start_deployment(ledger, conn, build_id=build_id, tier=tier, kind="promote",
                                          previous=dict.fromkeys(hosts))
            for host in hosts:
                record_host(ledger, conn, deployment_id=deployment, host=host, state="verified")
            finish_deployment(ledger, conn, deployment, "succeeded")
    finally:
        app.close()


def get_build(project: Project, build_id: str) -> Any:
    app = make_app(project)
    try:
        return app.resolve_build(build_id)
    finally:
        app.close()


def audit(project: Project, prefix: str = "notes.") -> list[dict[str, Any]]:
    entries = project.ok("log", "--json").json()
    return [e for e in entries if e["action"].startswith(prefix)]  # type: ignore[union-attr]


def editor_script(tmp_path: Path, name: str, body: str) -> str:
    """An $EDITOR: a Python script given the file to edit as its one argument."""
    script = tmp_path / name
    script.write_text(f"#!{sys.executable}\nimport pathlib, sys\npath = pathlib.Path(sys.argv[1])\n{body}\n",
                      encoding="utf-8")
    script.chmod(0o755)
    return str(script)


def replacing_editor(tmp_path: Path, old: str, new: str) -> str:
    return editor_script(tmp_path, "replace-editor",
                         f"text = path.read_text()\nassert {old!r} in text, text\n"
                         f"path.write_text(text.replace({old!r}, {new!r}))")
