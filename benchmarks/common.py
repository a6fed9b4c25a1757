"""Timing helpers: best-of-N wall time and peak memory of whole commands, measured the same way
for the baseline and for Quarterdeck so that only their ratio is reported as a result."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "work"

_PEAK = ("import resource, subprocess, sys;"
         "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL);"
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)")


@dataclass
class Timing:
    seconds: float
    peak_kib: int


@dataclass
class Result:
    name: str
    target: str
    ratio: float
    limit: float
    higher_is_better: bool = False
    figures: dict[str, object] = field(default_factory=dict)

    @property
    def met(self) -> bool:
        return self.ratio >= self.limit if self.higher_is_better else self.ratio <= self.limit


def quarterdeck() -> list[str]:
    found = shutil.which("quarterdeck", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "pipeline"]


def run_timed(argv: Sequence[str], *, runs: int = 3, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> Timing:
    """Best wall time of `runs` runs, and the peak resident memory of the command itself."""
    best = float("inf")
    peak = 0
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _PEAK, *argv], cwd=cwd, capture_output=True,
                             text=True, env={**os.environ, **(env or {})}, check=False)
        elapsed = time.perf_counter() - start
        fields = out.stdout.split()
        if out.returncode != 0 or len(fields) != 2 or fields[1] != "0":
            raise RuntimeError(f"{' '.join(argv)} failed: {out.stderr.strip()[-500:]}")
        best = min(best, elapsed)
        peak = max(peak, int(fields[0]))
    return Timing(best, peak)


def init_project(root: Path, repo: Path) -> Path:
    """A Quarterdeck project on the embedded defaults, for benchmarks that need one."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "quarterdeck.toml"
    if not config.exists():
        subprocess.run([*quarterdeck(), "--config", str(config), "init", "--repo", str(repo)],
                       cwd=root, check=True, capture_output=True)
    return config
