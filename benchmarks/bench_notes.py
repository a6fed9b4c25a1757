"""Release notes over a long history: `quarterdeck notes show` (Markdown, production audience,
whole range) against raw `git log --format=%H%x00%B`, and git-cliff when it is installed.

Target: at most 2x the raw `git log` time on 100,000 commits; the 1,000 and
10,000 commit runs show how the cost grows. `git log` and `notes show` are alternated, round
by round, so that drift on a shared machine hits both. A merge-heavy history of 100,000 commits
(pull requests merged every few commits, benchmarks/history.py `merges=True`) is
measured too, as most teams' ranges look like that, and a history shaped like a real project's
(the same flow, every commit with a body of one to three paragraphs, a third with trailers:
benchmarks/history.py `shape="real"`); the headline ratio stays the linear one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.common import (
    WORK,
    Result,
    Timing,
    init_project,
    median_ratio,
    quarterdeck,
    run_alternated,
    run_timed,
)
from benchmarks.history import make_history

SIZES = (1_000, 10_000, 100_000)
ROUNDS = 5  # alternated rounds of git log and notes show


def _alternated(repo: Path, config: Path) -> tuple[Timing, Timing]:
    """Raw `git log` and `notes show` over the same range, alternated, best of ROUNDS each."""
    timings = run_alternated({
        "git": ["git", "-C", str(repo), "log", "--format=%H%x00%B"],
        "ours": [*quarterdeck(), "--config", str(config), "notes", "show", "latest",
                 "--audience", "production", "--format", "md"],
    }, rounds=ROUNDS, cwd=config.parent)
    return timings["git"], timings["ours"]


def run() -> Result:
    figures: dict[str, object] = {}
    ratio = 0.0
    for size in SIZES:
        repo = make_history(WORK / f"history-{size}", size)
        config = init_project(WORK / f"notes-project-{size}", repo)
        subprocess.run([*quarterdeck(), "--config", str(config), "build"], check=True,
                       capture_output=True, cwd=config.parent)
        git, ours = _alternated(repo, config)
        ratio = ours.seconds / git.seconds
        figures[f"git_log_{size}_s"] = round(git.seconds, 3)
        figures[f"quarterdeck_{size}_s"] = round(ours.seconds, 3)
        figures[f"quarterdeck_{size}_peak_mib"] = round(ours.peak_kib / 1024, 1)
        figures[f"ratio_{size}"] = round(ratio, 2)
        figures[f"ratio_{size}_median_round"] = round(median_ratio(ours, git), 2)
        cliff = shutil.which("git-cliff", path=str(__import__("pathlib").Path(sys.executable).parent))
        if cliff and size == SIZES[-1]:
            timing = run_timed([cliff, "--repository", str(repo)], runs=1)
            figures[f"git_cliff_{size}_s"] = round(timing.seconds, 2)
    # GitHub flow: the same size with pull requests merged every few commits, then the same flow
    # with messages shaped like a real project's (reported, not the headline)
    for shape in ("merges", "real"):
        repo = make_history(WORK / f"history-{shape}-100000", SIZES[-1], shape=shape)
        config = init_project(WORK / f"notes-project-{shape}-100000", repo)
        subprocess.run([*quarterdeck(), "--config", str(config), "build"], check=True,
                       capture_output=True, cwd=config.parent)
        git, ours = _alternated(repo, config)
        figures[f"git_log_{SIZES[-1]}_{shape}_s"] = round(git.seconds, 3)
        figures[f"quarterdeck_{SIZES[-1]}_{shape}_s"] = round(ours.seconds, 3)
        figures[f"ratio_{SIZES[-1]}_{shape}"] = round(ours.seconds / git.seconds, 2)
        figures[f"ratio_{SIZES[-1]}_{shape}_median_round"] = round(median_ratio(ours, git), 2)
    return Result("notes", "<= 2x raw `git log` on 100,000 commits", ratio, 2.0, figures=figures)
