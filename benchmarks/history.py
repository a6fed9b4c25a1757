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
        data = _message(n).encode()
        content = f"{n}\n".encode()
        chunks.append(
            f"commit refs/heads/main\nmark :{n}\n"
            f"author Dev <dev@example.org> {1_700_000_000 + n} +0000\n"
            f"committer Dev <dev@example.org> {1_700_000_000 + n} +0000\n"
            f"data {len(data)}\n".encode() + data
            + f"M 644 inline src/f{n % 50}.txt\ndata {len(content)}\n".encode() + content + b"\n")
    return b"".join(chunks)


def merge_stream(count: int) -> bytes:
    """GitHub flow: direct commits on main and, every fifth step, a branch of 1-3 commits merged
    with "Merge pull request #N from org/topic-N" and the pull request's conventional title as body.

    `count` commits in all (branch commits and merges included); the messages of the
    commits themselves are made as in `commit_stream`.
    """
    chunks = []
    made = 0
    main = 0  # mark of main's tip

    def commit(ref: str, message: str, parents: tuple[int, ...]) -> int:
        nonlocal made
        made += 1
        data = message.encode()
        content = f"{made}\n".encode()
        links = "".join(f"{'from' if i == 0 else 'merge'} :{p}\n" for i, p in enumerate(parents))
        chunks.append(
            f"commit {ref}\nmark :{made}\n"
            f"author Dev <dev@example.org> {1_700_000_000 + made} +0000\n"
            f"committer Dev <dev@example.org> {1_700_000_000 + made} +0000\n"
            f"data {len(data)}\n".encode() + data + f"{links}M 644 inline src/f{made % 50}.txt\n"
            f"data {len(content)}\n".encode() + content + b"\n")
        return made

    step = 0
    while made < count:
        step += 1
        size = 1 + step % 3
        if step % 5 == 0 and made + size + 1 <= count:
            base = tip = main
            for _ in range(size):
                tip = commit("refs/heads/topic", _message(made + 1), (tip,) if tip else ())
            kind = TYPES[step % len(TYPES)]
            title = f"{kind}(mod{step % 40}): pull request {step} for the clinical app\n"
            main = commit("refs/heads/main", f"Merge pull request #{step} from org/topic-{step}\n\n{title}",
                          (main, tip) if base else (tip,))
        else:
            main = commit("refs/heads/main", _message(made + 1), (main,) if main else ())
    return b"".join(chunks)


def _message(n: int) -> str:
    kind = TYPES[n % len(TYPES)]
    message = f"{kind}(mod{n % 40}): change number {n} to the clinical app\n"
    if n % 3 == 0:
        message += "\nA body paragraph explaining the change in a sentence or two.\n"
    if n % 5 == 0:
        message += f"\nRefs: HOS-{n}\nSigned-off-by: Dev <dev@example.org>\n"
    if n % 997 == 0:
        message += "\nBREAKING CHANGE: the export format changed\n"
    return message


def make_history(path: Path, count: int, *, merges: bool = False) -> Path:
    """A repository at `path` with `count` commits on main (reused if it already has them).

    `merges`: pull requests merged every few commits (`merge_stream`), else one line of commits.
    """
    marker = path / ".git" / (f"bench-merges-{count}" if merges else f"bench-{count}")
    if marker.exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"],
                   input=merge_stream(count) if merges else commit_stream(count), check=True, env=env)
    subprocess.run(["git", "-C", str(path), "checkout", "-q", "-f", "main"], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "config", "user.email", "bench@example.org"], check=True)
    marker.write_text("ok\n")
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1])
    make_history(target, int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
    print(target)
