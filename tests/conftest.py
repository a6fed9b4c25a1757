"""Shared fixtures: real git repositories and an initialised Quarterdeck project per test."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import pipeline
from tests.support.gitrepo import GitRepo

os.environ.setdefault("COLUMNS", "200")  # Rich wraps tables at 80 columns without a terminal


@pytest.fixture
def app_repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "app")
    repo.write("README.md", "# Clinical app\n")
    repo.write("bin/start", "#!/bin/sh\necho start\n", executable=True)
    repo.commit("feat: first version of the clinical app", {"app/main.py": "print('hello')\n"})
    return repo


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


class Project:
    """An initialised project directory; `run` calls the CLI in-process and captures its output."""

    def __init__(self, root: Path, repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.repo = repo
        self._capsys = capsys
        self.config = root / "quarterdeck.toml"

    def run(self, *argv: str) -> Result:
        self._capsys.readouterr()
        code = pipeline.main(["--config", str(self.config), *argv])
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, *argv: str) -> Result:
        result = self.run(*argv)
        assert result.code == 0, f"quarterdeck {' '.join(argv)} failed:\n{result.out}\n{result.err}"
        return result


@pytest.fixture
def project(tmp_path: Path, app_repo: GitRepo, capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    root = tmp_path / "release-home"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.delenv("QUARTERDECK_CONFIG", raising=False)
    proj = Project(root, app_repo, capsys)
    result = proj.run("init", "--repo", str(app_repo.path), "--timezone", "America/Chicago")
    assert result.code == 0, result.err
    yield proj
