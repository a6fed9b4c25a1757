"""Start-up: `quarterdeck --help` and `quarterdeck status` against `python -c "import rich"`.

Target at most 2x: heavy libraries (Fabric, GitPython, SQLAlchemy, Jinja2) are
imported only by the commands that need them.

The commands are alternated round by round and each one's best time is kept.
`python -c "import rich.console, rich.table"` is timed as a reference: the least
any command that prints a Rich table pays before doing anything of its own.
"""

from __future__ import annotations

import sys

from benchmarks.common import WORK, Result, init_project, median_ratio, quarterdeck, run_alternated
from benchmarks.history import make_history

ROUNDS = 9


def run() -> Result:
    repo = make_history(WORK / "startup-repo", 10)
    config = init_project(WORK / "startup-project", repo)
    commands = {
        "import_rich": [sys.executable, "-c", "import rich"],
        "import_rich_table": [sys.executable, "-c", "import rich.console, rich.table"],
        "help": [*quarterdeck(), "--help"],
        "status": [*quarterdeck(), "--config", str(config), "status"],
    }
    timings = run_alternated(commands, rounds=ROUNDS)
    best = {name: timing.seconds for name, timing in timings.items()}
    base = best["import_rich"]
    worst = max(best["help"], best["status"])
    return Result("startup", "<= 2x `python -c 'import rich'`", worst / base, 2.0, figures={
        "import_rich_s": round(base, 3), "help_s": round(best["help"], 3),
        "status_s": round(best["status"], 3),
        "help_ratio": round(best["help"] / base, 2),
        "status_ratio": round(best["status"] / base, 2),
        "help_ratio_median_round": round(median_ratio(timings["help"], timings["import_rich"]), 2),
        "status_ratio_median_round": round(median_ratio(timings["status"], timings["import_rich"]), 2),
        "import_rich_table_s": round(best["import_rich_table"], 3),
        "import_rich_table_ratio": round(best["import_rich_table"] / base, 2)})
