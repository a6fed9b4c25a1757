"""The application's git repository, as the build needs it: refs, cleanliness, archives.

All git access of the releases package lives here, so that a git failure
becomes one clear BuildError instead of a GitPython traceback.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from releases.errors import BuildError


@dataclass(frozen=True)
class ResolvedRef:
    ref: str
    commit: str
    branch: str | None
    committed_at: int
    subject: str


class AppRepo:
    """The application repository named by [project].repo."""

    def __init__(self, path: Path) -> None:
        import git  # deferred: importing GitPython costs start-up time for commands that need no git

        self._git = git
        try:
            self.repo = git.Repo(path)
        except (git.NoSuchPathError, git.InvalidGitRepositoryError) as err:
            raise BuildError(f"{path} is not a git repository",
                             hint="set [project].repo to the application's repository") from err
        if self.repo.bare:
            self.path = Path(self.repo.git_dir)
        else:
            self.path = Path(self.repo.working_tree_dir or path)

    def resolve(self, ref: str) -> ResolvedRef:
        try:
            commit = self.repo.commit(ref)
        except (self._git.BadName, ValueError, self._git.GitCommandError) as err:
            raise BuildError(f"ref {ref!r} is not known in {self.path}",
                             hint="give a branch, tag or commit that exists (git fetch first?)") from err
        branch = self._branch_of(ref)
        return ResolvedRef(ref=ref, commit=commit.hexsha, branch=branch,
                           committed_at=int(commit.committed_date),
                           subject=readable_subject(str(commit.summary) if commit.summary else ""))

    def _branch_of(self, ref: str) -> str | None:
        """The branch a ref names, so that `release/2026.4` builds are versioned as hotfixes."""
        name = ref.removeprefix("refs/heads/")
        if name in {h.name for h in self.repo.heads}:
            return name
        for remote in self.repo.remotes:
            prefix = f"{remote.name}/"
            if name.startswith(prefix) and name in {r.name for r in remote.refs}:
                return name[len(prefix):]
        return None

    def check_clean(self, branch: str | None) -> None:
        """Refuse to build the checked-out branch while its working tree has uncommitted changes.

        The build is made from the commit, not the files on disk; building with
        edits lying around would ship something other than what the person
        building believes they tested.
        """
        if self.repo.bare or branch is None:
            return
        try:
            active = self.repo.active_branch.name
        except TypeError:
            return
        if active != branch:
            return
        if self.repo.is_dirty(untracked_files=False):
            changed = [d.a_path for d in self.repo.index.diff(None) if d.a_path][:5]
            staged = [d.a_path for d in self.repo.index.diff("HEAD") if d.a_path][:5]
            names = ", ".join(sorted(set(changed + staged))) or "the index"
            raise BuildError(f"{self.path} has uncommitted changes on {branch} ({names})",
                             hint="commit or stash them, or build a named ref with --ref")

    def archive(self, commit: str, dest: BinaryIO) -> None:
        """`git archive` of the commit as an uncompressed tar, streamed to `dest`."""
        try:
            self.repo.git.archive(commit, format="tar", output_stream=dest)
        except self._git.GitCommandError as err:
            raise BuildError(f"git archive of {commit[:12]} failed: {err.stderr.strip()}") from err

    @contextmanager
    def worktree(self, commit: str) -> Iterator[Path]:
        """A clean temporary checkout of the commit for the build command, removed afterwards."""
        base = Path(tempfile.mkdtemp(prefix="quarterdeck-build-"))
        tree = base / "src"
        try:
            self.repo.git.worktree("add", "--detach", str(tree), commit)
        except self._git.GitCommandError as err:
            shutil.rmtree(base, ignore_errors=True)
            raise BuildError(f"cannot check out {commit[:12]} for building: {err.stderr.strip()}") from err
        try:
            yield tree
        finally:
            try:
                self.repo.git.worktree("remove", "--force", str(tree))
            except self._git.GitCommandError:
                pass
            shutil.rmtree(base, ignore_errors=True)
            try:
                self.repo.git.worktree("prune")
            except self._git.GitCommandError:
                pass


def readable_subject(summary: str) -> str:
    """The subject a build records, whole: a NUL (which git itself refuses to write, but other tools
    do) becomes U+FFFD, so the text after it still shows, terminals show where it was, and a
    PostgreSQL ledger, which refuses NUL in text, can store it."""
    return summary.replace("\0", "\ufffd")


def run_build_command(command: str, cwd: Path, env: dict[str, str]) -> None:
    """Run the configured build command (trusted configuration, so a shell line) in `cwd`."""
    result = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise BuildError(f"the build command {command!r} failed with exit code {result.returncode}: "
                         + " | ".join(tail),
                         hint="run it by hand in a clean checkout to see the whole output")


def git_identity(cwd: Path | None = None) -> str | None:
    """git's user.email, the name the audit trail records people by."""
    try:
        out = subprocess.run(["git", "config", "user.email"], cwd=cwd, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = out.stdout.strip()
    return value or None
