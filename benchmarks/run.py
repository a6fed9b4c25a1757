"""Run the benchmarks: `python benchmarks/run.py [NAME ...]`.

Each benchmark runs its baseline and Quarterdeck in this same script on the
same data and reports the ratio, so the figures hold on a noisy machine. A
table is printed and every figure is written to benchmarks/results/latest.json.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_ledger, bench_notes, bench_notices, bench_rollout, bench_startup
from benchmarks.common import ROOT, Result, compile_sources

BENCHMARKS: dict[str, Callable[[], Result]] = {
    "notes": bench_notes.run,
    "startup": bench_startup.run,
    "notices": bench_notices.run,
    "rollout": bench_rollout.run,
    "ledger": bench_ledger.run,
    "ledger-pg": bench_ledger.run_postgresql,
}


def main(argv: list[str]) -> int:
    from rich.console import Console
    from rich.table import Table

    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    console = Console()
    compile_sources()
    results = []
    for name in names:
        console.print(f"[bold]{name}[/bold] …")
        results.append(BENCHMARKS[name]())
    table = Table(title="Quarterdeck benchmarks")
    for col in ("benchmark", "target", "ratio", "met", "figures"):
        table.add_column(col, overflow="fold")
    for r in results:
        figures = ", ".join(f"{k}={v}" for k, v in r.figures.items())
        table.add_row(r.name, r.target, f"{r.ratio:.2f}x", "yes" if r.met else "[red]no[/red]", figures)
    console.print(table)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    payload = {"when": datetime.now(UTC).isoformat(), "machine": {
        "python": platform.python_version(), "platform": platform.platform(),
        "processor": platform.processor() or platform.machine()},
        "results": [{"name": r.name, "target": r.target, "ratio": round(r.ratio, 3), "met": r.met,
                     "figures": r.figures} for r in results]}
    (out / "latest.json").write_text(json.dumps(payload, indent=2) + "\n")
    console.print(f"written: {out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
