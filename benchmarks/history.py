"""Make a repository with a long history of conventional commits, fast, with `git fast-import`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
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


def merge_stream(count: int, message: Callable[[int], str] | None = None) -> bytes:
    """GitHub flow: direct commits on main and, every fifth step, a branch of 1-3 commits merged
    with "Merge pull request #N from org/topic-N" and the pull request's conventional title as body.

    `count` commits in all (branch commits and merges included); the messages of the
    commits themselves are made by `message` (as in `commit_stream` when None).
    """
    write = message or _message
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
                tip = commit("refs/heads/topic", write(made + 1), (tip,) if tip else ())
            kind = TYPES[step % len(TYPES)]
            title = f"{kind}(mod{step % 40}): pull request {step} for the clinical app\n"
            main = commit("refs/heads/main", f"Merge pull request #{step} from org/topic-{step}\n\n{title}",
                          (main, tip) if base else (tip,))
        else:
            main = commit("refs/heads/main", write(made + 1), (main,) if main else ())
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


PARAGRAPHS = (
    "The rota page loaded every shift of the quarter before showing the first week, which made\n"
    "the ward managers wait on slow connections; it now loads the visible week first.",
    "Night shifts that cross midnight were counted on the day they ended. They now count on the\n"
    "day they start, as the ward's own paper rota always did.",
    "No migration is needed: the old values are read as before and written in the new form the\n"
    "next time a shift is saved.",
    "Tested on the staging ward with a copy of last month's rota.",
)
REAL_TRAILERS = (
    "Refs: HOS-{n}\nSigned-off-by: Dev <dev@example.org>",
    "Reviewed-by: Lead <lead@example.org>\nSigned-off-by: Dev <dev@example.org>",
    "Refs: HOS-{n}\nTraining: a five-minute video for ward managers\nCo-authored-by: Pair <pair@example.org>",
)


def real_message(n: int) -> str:
    """A message as real projects write them: a header, one to three paragraphs of body, and in one
    commit of three a block of trailers (tickets, sign-offs, now and then training)."""
    kind = TYPES[n % len(TYPES)]
    paragraphs = [f"{kind}(mod{n % 40}): change number {n} to the clinical app"]
    paragraphs.extend(PARAGRAPHS[(n + k) % len(PARAGRAPHS)] for k in range(1 + n % 3))
    if n % 3 == 0:
        paragraphs.append(REAL_TRAILERS[(n // 3) % len(REAL_TRAILERS)].format(n=n))
    if n % 997 == 0:
        paragraphs.append("BREAKING CHANGE: the export format changed")
    return "\n\n".join(paragraphs) + "\n"


SHAPES = {"line": lambda count: commit_stream(count), "merges": lambda count: merge_stream(count),
          "real": lambda count: merge_stream(count, real_message)}


def make_history(path: Path, count: int, *, merges: bool = False, shape: str | None = None) -> Path:
    """A repository at `path` with `count` commits on main (reused if it already has them).

    `merges`: pull requests merged every few commits (`merge_stream`), else one line of commits;
    `shape` "real": the same flow with every commit's message shaped like a real project's
    (`real_message`).
    """
    shape = shape or ("merges" if merges else "line")
    marker = path / ".git" / (f"bench-{count}" if shape == "line" else f"bench-{shape}-{count}")
    if marker.exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"],
                   input=SHAPES[shape](count), check=True, env=env)
    subprocess.run(["git", "-C", str(path), "checkout", "-q", "-f", "main"], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "config", "user.email", "bench@example.org"], check=True)
    marker.write_text("ok\n")
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1])
    make_history(target, int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
    print(target)
