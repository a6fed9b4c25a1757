"""The sample quarter `quarterdeck demo` runs, read from data/demo-quarter.toml beside the
sample contacts: the application's history replayed as git steps (fixed times, so every demo
builds the same commits), the tiers and gates, the script's simulated times, and its visitors:
a beta tester on her page and a hospice's installation on the intake API, over real HTTP.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releases.errors import UsageRefused

if TYPE_CHECKING:
    from channels.commands_portal import PortalApp

RESOURCE = "data/demo-quarter.toml"  # beside the sample contacts
OUTBOX = ".quarterdeck/outbox/new"  # the demo's Maildir: the messages as the readers got them
KEPT = ".quarterdeck/kept"  # what a script step's `keep` saved (0600): secrets the demo never prints


def demo_quarter() -> dict[str, Any]:
    """The demo's data: the application's history as git steps, and the tiers it uses."""
    import tomllib
    from importlib import resources

    return tomllib.loads(resources.files("channels").joinpath(RESOURCE).read_text(encoding="utf-8"))


def _git(repo: Path, *args: str, tick: list[int]) -> str:
    import subprocess

    tick[0] += 1
    stamp = f"{1_788_000_000 + tick[0] * 3600} +0000"
    env = {**os.environ, "GIT_AUTHOR_NAME": "Dana Whitfield",
           "GIT_AUTHOR_EMAIL": "dana.whitfield@quarterdeck.example",
           "GIT_COMMITTER_NAME": "Dana Whitfield",
           "GIT_COMMITTER_EMAIL": "dana.whitfield@quarterdeck.example",
           "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp, "GIT_CONFIG_NOSYSTEM": "1"}
    out = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise UsageRefused(f"demo: git {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout.strip()


def make_repository(repo: Path, history: list[dict[str, Any]]) -> None:
    """The application's quarter of history, step by step as the demo data gives it."""
    tick, named = [0], {}
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main", tick=tick)
    _git(repo, "config", "user.email", "dana.whitfield@quarterdeck.example", tick=tick)
    _git(repo, "config", "user.name", "Dana Whitfield", tick=tick)
    for step in history:
        if "commit" in step:
            for name, content in step["files"].items():
                path = repo / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
                if name.startswith("bin/"):
                    path.chmod(0o755)
            _git(repo, "add", "-A", tick=tick)
            _git(repo, "commit", "-q", "-m", step["commit"], tick=tick)
            named[step.get("name")] = _git(repo, "rev-parse", "HEAD", tick=tick)
        elif "branch" in step:
            _git(repo, "checkout", "-q", "-b", step["branch"], tick=tick)
        elif "checkout" in step:
            _git(repo, "checkout", "-q", step["checkout"], tick=tick)
        elif "merge" in step:
            _git(repo, "merge", "--no-ff", "-q", step["merge"], "-m", step["message"], tick=tick)
        else:
            _git(repo, "revert", "--no-edit", named[step["revert"]], tick=tick)


def moment(text: str, start: datetime, window: datetime) -> datetime:
    """A script line's simulated time: "start+8d+1h" or "window-7d+5m" (days, hours, minutes)."""
    import re
    from datetime import timedelta

    base, *offsets = re.findall(r"[+-]?[^+-]+", text)
    units = {"d": "days", "h": "hours", "m": "minutes"}
    moment = {"start": start, "window": window}[base]
    for offset in offsets:
        moment += timedelta(**{units[offset[-1]]: int(offset[:-1])})
    return moment


def visit_label(line: dict[str, Any]) -> str:
    """What the demo shows before a visitor's step, in place of a command line."""
    if line["visit"] == "signoff":
        return f"{line['as']} opens the link in her beta notice and signs off on her beta page"
    return f"the application on {line['host']} reports a problem through the intake API"


def visit(app: PortalApp, line: dict[str, Any], root: Path) -> str:
    """One visitor's step against what `serve` runs, on a loopback port for the step's length.
    What earlier steps kept (a personal link, an API token) is in `root`'s KEPT directory; the
    installation's build is in its host's VERSION file. Says what happened."""
    from channels.commands_portal import portal_web
    from channels.portal import visits
    from releases.artifacts.builds import build_in_version_file

    with visits.serving(portal_web(app, secure_cookies=False)) as base:
        if line["visit"] == "signoff":
            build = visits.sign_off(base, _link_in_beta_notice(root, line["as"]), line.get("note", ""))
            return f"the page recorded the sign-off of {build} by {line['as']}"
        installed = _kept(root / "hosts" / line["host"] / "current", "VERSION")
        build = build_in_version_file(installed)
        filed = visits.report_problem(base, _kept(root / KEPT, line["token"]), {
            "build": build, "severity": line["severity"], "summary": line["summary"],
            "details": line.get("details"), "diagnostics": {"host": line["host"], "module": "visits"}})
        return (f"the API filed problem #{filed['id']} against {build} "
                f"({'a repeat' if filed['duplicate'] else 'new'}, {filed['status']})")


def _kept(directory: Path, name: str) -> str:
    try:
        return (directory / name).read_text(encoding="utf-8").strip()
    except OSError as err:
        raise UsageRefused(f"demo: {directory / name} cannot be read ({err.strerror})") from None


def _link_in_beta_notice(root: Path, address: str) -> str:
    """The personal link in the newest beta notice the contact got, from the demo's outbox."""
    import re
    from email import message_from_bytes, policy
    from email.message import EmailMessage

    outbox = sorted((root / OUTBOX).iterdir(), key=lambda path: path.stat().st_mtime)
    links: list[str] = []
    for path in outbox:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        body = message.get_body(("plain",)) if isinstance(message, EmailMessage) else None
        if address in str(message["To"]) and isinstance(body, EmailMessage):
            links += re.findall(r"Your own beta page: (\S+/l/\S+)", body.get_content())
    if not links:
        raise UsageRefused(f"demo: no beta notice in {root / OUTBOX} carries a link for {address}")
    return links[-1]
