"""The command line as a shell sees it: --version, and a reader that goes away mid-output."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from tests.conftest import Project

ROOT = Path(__file__).resolve().parents[2]


def quarterdeck(*argv: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    """The real entry point in a process of its own, as a shell starts it."""
    code = "import sys, pipeline; sys.exit(pipeline.main())"
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, check=False,
                          **kwargs)  # type: ignore[call-overload, no-any-return]


def test_version_prints_the_installed_version_and_exits_0() -> None:
    result = quarterdeck("--version", capture_output=True)
    assert result.returncode == 0
    assert result.stdout.decode().strip() == f"quarterdeck {version('quarterdeck')}"


def test_a_reader_that_went_away_ends_the_command_quietly(project: Project) -> None:
    """`quarterdeck builds --json | head -1` must not end with a traceback called a bug."""
    project.ok("build")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte is written
    try:
        result = quarterdeck("--config", str(project.config), "builds", "--json",
                             stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert result.returncode == 141  # as a shell reports a tool stopped by SIGPIPE
    assert result.stderr.decode() == ""
