"""Real git repositories for the notes tests, built commit by commit in a temporary directory.

Dates advance one minute per commit so that `git log` order is deterministic;
the user's and the system's git configuration are kept out.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class GitRepo:
    def __init__(self, path: Path, *, bare: bool = False) -> None:
        self.path = path
        self._tick = 0
        self._files = 0
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main", *(["--bare"] if bare else []))
        if not bare:
            self.git("config", "user.name", "Test Author")
            self.git("config", "user.email", "author@example.org")
            self.git("config", "commit.gpgsign", "false")
            self.git("config", "tag.gpgsign", "false")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        stamp = f"{1767225600 + 60 * self._tick} +0000"  # 2026-01-01 onwards
        env.update({
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp, "LC_ALL": "C",
            "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.org",
            "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.org",
        })
        return env

    def git(self, *args: str, input_text: str | None = None) -> str:
        done = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True,
                              input=input_text, env=self.env(), check=False)
        if done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
        return done.stdout.strip()

    def head(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", ref)

    def commit(self, message: str, files: dict[str, str] | None = None) -> str:
        """Commit `files` (default: one new file) with exactly `message` (no cleanup)."""
        self._tick += 1
        if files is None:
            self._files += 1
            files = {f"src/file{self._files}.txt": f"change {self._files}\n"}
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            self.git("add", name)
        self.git("commit", "-q", "--cleanup=verbatim", "-F", "-", input_text=message)
        return self.head()

    def branch(self, name: str, start: str = "HEAD") -> None:
        self.git("checkout", "-q", "-b", name, start)

    def checkout(self, name: str) -> None:
        self.git("checkout", "-q", name)

    def merge(self, branch: str, message: str) -> str:
        self._tick += 1
        self.git("merge", "-q", "--no-ff", "--cleanup=verbatim", "-m", message, branch)
        return self.head()

    def squash(self, branch: str, message: str) -> str:
        self._tick += 1
        self.git("merge", "-q", "--squash", branch)
        self.git("commit", "-q", "--cleanup=verbatim", "-F", "-", input_text=message)
        return self.head()

    def revert(self, sha: str) -> str:
        self._tick += 1
        self.git("revert", "--no-edit", sha)
        return self.head()

    def cherry_pick(self, sha: str) -> str:
        self._tick += 1
        self.git("cherry-pick", "-x", sha)
        return self.head()

    def tag(self, name: str, ref: str = "HEAD") -> None:
        self.git("tag", name, ref)
