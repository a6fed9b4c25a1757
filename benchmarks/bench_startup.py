"""Start-up: `quarterdeck --help` and `quarterdeck status` against `python -c "import rich"`.

Target at most 2x: heavy libraries (Fabric, GitPython, SQLAlchemy, Jinja2) are
imported only by the commands that need them.

`python -c "import rich.console, rich.table"` is timed as a reference: the least
any command that prints a Rich table pays before doing anything of its own.
"""

from __future__ import annotations

import sys

from benchmarks.common import WORK, Result, init_project, quarterdeck, run_timed
from benchmarks.history import make_history


def run() -> Result:
    repo = make_history(WORK / "startup-repo", 10)
    config = init_project(WORK / "startup-project", repo)
    base = run_timed([sys.executable, "-c", "import rich"], runs=7)
    table = run_timed([sys.executable, "-c", "import rich.console, rich.table"], runs=7)
    helped = run_timed([*quarterdeck(), "--help"], runs=7)
    status = run_timed([*quarterdeck(), "--config", str(config), "status"], runs=7)
    worst = max(helped.seconds, status.seconds)
    return Result("startup", "<= 2x `python -c 'import rich'`", worst / base.seconds, 2.0, figures={
        "import_rich_s": round(base.seconds, 3), "help_s": round(helped.seconds, 3),
        "status_s": round(status.seconds, 3),
        "help_ratio": round(helped.seconds / base.seconds, 2),
        "status_ratio": round(status.seconds / base.seconds, 2),
        "import_rich_table_s": round(table.seconds, 3),
        "import_rich_table_ratio": round(table.seconds / base.seconds, 2)})
