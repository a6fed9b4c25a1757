"""The streaming `git log` reader against real repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from notes.errors import GitError
from notes.history.gitlog import LOG_FORMAT, iter_commits, parse_log_stream

from .gitrepo import GitRepo


def test_reads_every_field_of_every_commit(repo: GitRepo) -> None:
    first = repo.commit("feat: first\n\nBody with ünïcödé and a tab\there.\n\nRefs: HOS-1\n")
    second = repo.commit("fix: second")
    commits = list(iter_commits(repo.path, "main"))
    assert [c.sha for c in commits] == [second, first]
    assert commits[0].parents == (first,) and commits[1].parents == ()
    assert commits[1].message == "feat: first\n\nBody with ünïcödé and a tab\there.\n\nRefs: HOS-1\n"
    assert commits[0].message == "fix: second"


def test_range_excludes_ancestors_of_since_and_merges_have_two_parents(repo: GitRepo) -> None:
    repo.commit("chore: base")
    repo.tag("v1")
    repo.branch("topic")
    repo.commit("feat: on topic")
    repo.checkout("main")
    repo.commit("fix: on main")
    merge = repo.merge("topic", "Merge branch 'topic'")
    commits = list(iter_commits(repo.path, "main", "v1"))
    assert sorted(c.message.split("\n")[0] for c in commits) == ["Merge branch 'topic'", "feat: on topic",
                                                                 "fix: on main"]
    assert len(next(c for c in commits if c.sha == merge).parents) == 2
    assert list(iter_commits(repo.path, "v1", "main")) == []


def test_unknown_refs_and_option_like_refs_fail_naming_the_ref(repo: GitRepo) -> None:
    repo.commit("chore: base")
    with pytest.raises(GitError) as failure:
        list(iter_commits(repo.path, "main", "v9.9.9"))
    assert "v9.9.9" in str(failure.value)
    with pytest.raises(GitError) as failure:
        list(iter_commits(repo.path, "--output=/tmp/x"))
    assert "--output=/tmp/x" in str(failure.value)
    with pytest.raises(GitError):
        list(iter_commits(repo.path, "main", paths=["--all"]))


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError) as failure:
        list(iter_commits(tmp_path, "main"))
    assert "main" in str(failure.value)


def test_stream_split_at_any_byte_gives_the_same_commits(repo: GitRepo) -> None:
    for n in range(5):
        repo.commit(f"feat: change {n}\n\nbody {n}\n" + "x" * (n * 37))
    raw = subprocess.run(["git", "-C", str(repo.path), "log", "-z", f"--format={LOG_FORMAT}"],
                         capture_output=True, check=True).stdout
    whole = list(parse_log_stream(iter([raw])))
    for size in (1, 2, 7, 41, 4096):
        chunks = iter([raw[i:i + size] for i in range(0, len(raw), size)])
        assert list(parse_log_stream(chunks)) == whole
    assert len(whole) == 5


def test_stopping_early_ends_git(repo: GitRepo) -> None:
    for n in range(3):
        repo.commit(f"fix: {n}")
    stream = iter_commits(repo.path, "main")
    assert next(stream).message == "fix: 2"
    stream.close()  # must not hang or leave an error behind
