"""The sample quarter `quarterdeck demo` runs, read from data/demo-quarter.toml beside the
sample contacts: the application's history replayed as git steps (fixed times, so every demo
builds the same commits), the tiers and gates, and the script's simulated times.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from releases.errors import UsageRefused

RESOURCE = "data/demo-quarter.toml"  # beside the sample contacts


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
