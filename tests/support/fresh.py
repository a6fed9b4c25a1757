"""Running the CLI in a fresh interpreter, to see which heavy libraries a command imports (issue 8)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pipeline

HEAVY = ("sqlalchemy", "jinja2", "git", "fabric", "paramiko", "markdown", "nh3", "css_inline", "starlette",
         "uvicorn", "httpx")
ROOT = Path(pipeline.__file__).resolve().parent


def modules_after(argv: list[str], cwd: Path,
                  env: dict[str, str] | None = None) -> tuple[dict[str, object], str]:
    """Run the CLI in a fresh interpreter: its exit code and the heavy modules it imported, and its output."""
    script = ("import io, json, sys, contextlib\n"
              "import pipeline\n"
              "out = io.StringIO()\n"
              "with contextlib.redirect_stdout(out):\n"
              "    try:\n"
              "        code = pipeline.main(sys.argv[1:])\n"
              "    except SystemExit as exit:\n"
              "        code = exit.code\n"
              f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
              "sys.stderr.write(json.dumps({'code': code, 'heavy': heavy}))\n"
              "sys.stdout.write(out.getvalue())\n")
    done = subprocess.run([sys.executable, "-c", script, *argv], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "200",
                               **(env or {})}, timeout=60)
    return json.loads(done.stderr.strip().splitlines()[-1]), done.stdout
