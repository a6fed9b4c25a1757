"""Real git repositories for tests, made with the git command line in temporary directories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

BASE_ENV = {
    "GIT_AUTHOR_NAME": "Ada Developer",
    "GIT_AUTHOR_EMAIL": "ada@example.org",
    "GIT_COMMITTER_NAME": "Ada Developer",
    "GIT_COMMITTER_EMAIL": "ada@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
}


class GitRepo:
    """A throwaway application repository with a fixed clock, so commit ids are reproducible."""

    def __init__(self, path: Path, branch: str = "main") -> None:
        self.path = path
        self._tick = 0
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", branch)
        self.git("config", "user.email", "ada@example.org")
        self.git("config", "user.name", "Ada Developer")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str) -> str:
        self._tick += 1
        stamp = f"{1_780_000_000 + self._tick * 60} +0000"
        env = {**os.environ, **BASE_ENV, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        result = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
        return result.stdout.strip()

    def write(self, name: str, content: str, executable: bool = False) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        if executable:
            target.chmod(0o755)
        return target

    def commit(self, message: str, files: dict[str, str] | None = None) -> str:
        for name, content in (files or {f"changes/{self._tick}.txt": message}).items():
            self.write(name, content)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")
