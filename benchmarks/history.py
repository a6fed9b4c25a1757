"""Make a repository with a long history of conventional commits, fast, with `git fast-import`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TYPES = ("feat", "fix", "chore", "perf", "docs", "refactor", "fix", "feat", "test")


def commit_stream(count: int) -> bytes:
    chunks = []
    for n in range(1, count + 1):
        kind = TYPES[n % len(TYPES)]
        message = f"{kind}(mod{n % 40}): change number {n} to the clinical app\n"
        if n % 3 == 0:
            message += "\nA body paragraph explaining the change in a sentence or two.\n"
        if n % 5 == 0:
            message += f"\nRefs: HOS-{n}\nSigned-off-by: Dev <dev@example.org>\n"
        if n % 997 == 0:
            message += "\nBREAKING CHANGE: the export format changed\n"
        data = message.encode()
        content = f"{n}\n".encode()
        chunks.append(
            f"commit refs/heads/main\nmark :{n}\n"
            f"author Dev <dev@example.org> {1_700_000_000 + n} +0000\n"
            f"committer Dev <dev@example.org> {1_700_000_000 + n} +0000\n"
            f"data {len(data)}\n".encode() + data
            + f"M 644 inline src/f{n % 50}.txt\ndata {len(content)}\n".encode() + content + b"\n")
    return b"".join(chunks)


def make_history(path: Path, count: int) -> Path:
    """A repository at `path` with `count` commits on main (reused if it already has them)."""
    marker = path / ".git" / f"bench-{count}"
    if marker.exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input=commit_stream(count),
                   check=True, env=env)
    subprocess.run(["git", "-C", str(path), "checkout", "-q", "-f", "main"], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "config", "user.email", "bench@example.org"], check=True)
    marker.write_text("ok\n")
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1])
    make_history(target, int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
    print(target)
