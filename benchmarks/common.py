"""Timing helpers: best-of-N wall time and peak memory of whole commands, measured the same way
for the baseline and for Quarterdeck so that only their ratio is reported as a result."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "work"

@dataclass
class Timing:
    seconds: float
    peak_kib: int
    each: tuple[float, ...] = ()  # every round's time, in order (run_alternated)


def median_ratio(ours: Timing, base: Timing) -> float:
    """The median of the per-round ratios of two alternated commands.

    A second view beside the ratio of the best times: a single lucky run of either side
    moves the best-of ratio (on this machine `git log` has a 0.7 s run among 0.9 s ones),
    not the median of rounds run side by side.
    """
    ratios = sorted(a / b for a, b in zip(ours.each, base.each, strict=True))
    middle = len(ratios) // 2
    return ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2


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
    """Best wall time of `runs` runs, and the peak resident memory of the command itself.

    The command is started directly and reaped with wait4, which gives its own resource usage:
    no wrapper interpreter whose start-up would be added to both sides and flatter the ratio.
    Output goes to /dev/null, as a script reading it would not make the command slower.
    """
    best = float("inf")
    peak = 0
    for _ in range(runs):
        with tempfile.TemporaryFile() as err:
            start = time.perf_counter()
            proc = subprocess.Popen(list(argv), cwd=cwd, stdout=subprocess.DEVNULL, stderr=err,
                                    env={**os.environ, **(env or {})})
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                err.seek(0)
                tail = err.read().decode(errors="replace").strip()[-500:]
                raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {tail}")
        best = min(best, elapsed)
        peak = max(peak, usage.ru_maxrss)  # KiB on Linux
    return Timing(best, peak)


def run_alternated(commands: dict[str, Sequence[str]], *, rounds: int, cwd: Path | None = None
                   ) -> dict[str, Timing]:
    """Each command once per round, in turn, `rounds` times: the best time, the peak memory and
    every round's time of each.

    Drift on a shared machine (another job, a slower minute) then hits every command alike
    instead of whichever ran its runs in a bad stretch.
    """
    best = {name: Timing(float("inf"), 0) for name in commands}
    for _ in range(rounds):
        for name, argv in commands.items():
            one = run_timed(argv, runs=1, cwd=cwd)
            was = best[name]
            best[name] = Timing(min(was.seconds, one.seconds), max(was.peak_kib, one.peak_kib),
                                (*was.each, one.seconds))
    return best


def compile_sources() -> None:
    """Write the bytecode an installed package has, so that no run pays for compiling.

    pip compiles on install; a working tree run with PYTHONDONTWRITEBYTECODE=1 (as here)
    would otherwise recompile every changed module on every start.
    """
    import compileall

    for name in ("pipeline.py", "releases", "channels", "notes", "notify"):
        path = ROOT / name
        if path.is_dir():
            compileall.compile_dir(str(path), quiet=1)
        else:
            compileall.compile_file(str(path), quiet=1)


def init_project(root: Path, repo: Path) -> Path:
    """A Quarterdeck project on the embedded defaults, for benchmarks that need one."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "quarterdeck.toml"
    if not config.exists():
        subprocess.run([*quarterdeck(), "--config", str(config), "init", "--repo", str(repo)],
                       cwd=root, check=True, capture_output=True)
    return config
