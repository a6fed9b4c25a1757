"""Reading a range of history with one streaming `git log` (I/O).

One subprocess, NUL-separated fields, read in large chunks and split as the
bytes arrive: no object per commit through GitPython (much slower on a long
range) and no need to hold git's whole output in memory.
Path filters go to git, which is far faster at them than we could be.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from pathlib import Path

from ..commits.parsing import RawCommit
from ..errors import GitError
from .batches import FIELDS, CommitBatch, batches_of, commit_of_fields

# Fields: sha, parents, raw message. Neither of the first two can contain NUL, and
# git cannot print a NUL inside a message, so NUL separates fields and (with -z)
# commits without ambiguity.
LOG_FORMAT = "%H%x00%P%x00%B"  # the FIELDS of notes.history.batches
CHUNK = 1 << 20


def git_env() -> dict[str, str]:
    """An environment that makes git's output independent of the user's settings."""
    env = dict(os.environ)
    env.update({"LC_ALL": "C", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"})
    return env


def check_ref(ref: str, what: str) -> str:
    if not ref or ref.startswith("-") or any(c in ref for c in "\0\n\r"):
        raise GitError(f"{what} {ref!r} is not a git revision",
                       hint="give a branch, tag or commit id")
    return ref


def resolve_commit(repo: Path, ref: str, what: str = "revision") -> str:
    """The full commit id `ref` names in `repo`, or a GitError that names the ref."""
    check_ref(ref, what)
    try:
        done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet",
                               "--end-of-options", f"{ref}^{{commit}}"],
                              capture_output=True, text=True, env=git_env(), check=False)
    except OSError as err:
        raise GitError(f"cannot run git for {repo}: {err}", hint="install git") from err
    if done.returncode != 0:
        raise GitError(f"{what} {ref!r} is not a commit in {repo}",
                       hint="check the name (git fetch --tags first?)")
    return done.stdout.strip()


def log_command(repo: Path, until: str, since: str | None = None, paths: Sequence[str] = ()) -> list[str]:
    """The git command line for a range; built apart so it can be shown and benchmarked."""
    command = ["git", "-C", str(repo), "-c", "log.showSignature=false", "log", "-z",
               f"--format={LOG_FORMAT}", "--no-color", "--encoding=UTF-8", "--end-of-options", until]
    if since is not None:
        command.append(f"^{since}")
    command.append("--")
    command.extend(paths)
    return command


def iter_commits(repo: Path, until: str, since: str | None = None,
                 paths: Sequence[str] = ()) -> CommitLog:
    """Commits reachable from `until` and not from `since` (all ancestors when None), newest first.

    With `paths`, only commits touching them (git's default history
    simplification); merges that changed nothing there are left out, so their
    branch commits are listed on their own. Nothing runs until the result is read.
    """
    return CommitLog(repo, until, since, paths)


class CommitLog(Iterator[RawCommit]):
    """The commits of one range as `git log` streams them: RawCommit by RawCommit, or (`batches`)
    as CommitBatch columns, which `collect` reads without making a RawCommit per commit.

    Either way git runs only once the reading starts, and is ended if the reader stops early.
    """

    def __init__(self, repo: Path, until: str, since: str | None, paths: Sequence[str]) -> None:
        self._args = (repo, until, since, tuple(paths))
        self._commits: Iterator[RawCommit] | None = None

    def __next__(self) -> RawCommit:
        if self._commits is None:
            self._commits = self._each_commit()
        return next(self._commits)

    def close(self) -> None:
        """Stop reading: git is ended (as a generator's close would)."""
        if self._commits is not None:
            self._commits.close()  # type: ignore[attr-defined]  # a generator

    def batches(self) -> Iterator[CommitBatch]:
        """The commits not read yet, in batches: one per chunk of git's output."""
        if self._commits is not None:
            return batches_of(self._commits)  # already read commit by commit: the rest, in batches
        self._commits = iter(())
        return self._each_batch()

    def _each_commit(self) -> Iterator[RawCommit]:
        runs = _field_runs(*self._args)
        try:
            for fields, count in runs:
                yield from _commits(fields, count)
        finally:
            runs.close()

    def _each_batch(self) -> Iterator[CommitBatch]:
        runs = _field_runs(*self._args)
        try:
            for fields, count in runs:
                yield CommitBatch.from_fields(fields, count)
        finally:
            runs.close()


def _field_runs(repo: Path, until: str, since: str | None,
                paths: Sequence[str]) -> Generator[tuple[list[str], int], None, None]:
    """The fields of the range's commits as `split_log_chunks` gives them, from one `git log`."""
    until_sha = resolve_commit(repo, until, "range end")
    since_sha = resolve_commit(repo, since, "range start") if since is not None else None
    for path in paths:
        check_ref(path, "path filter")
    # GIT_FLUSH=0: git log flushes its output after every commit when it writes to a pipe
    # (for a reader watching it live); we read in bulk, and per-commit writes would cost a
    # system call per commit and as many wake-ups of this process on a long range.
    env = {**git_env(), "GIT_FLUSH": "0"}
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(log_command(repo, until_sha, since_sha, paths), stdout=subprocess.PIPE,
                                    stderr=errors, env=env, bufsize=0)
        except OSError as err:
            raise GitError(f"cannot run git for {repo}: {err}", hint="install git") from err
        stdout = proc.stdout
        assert stdout is not None  # Popen was given stdout=PIPE
        _widen_pipe(stdout.fileno())
        try:
            yield from split_log_chunks(iter(lambda: stdout.read(CHUNK), b""))
        finally:
            if proc.poll() is None:
                proc.kill()  # the caller stopped early; git has nothing more to tell us
            stdout.close()
            code = proc.wait()
        if code != 0:
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace").strip()
            raise GitError(f"git log failed in {repo} (exit {code}): {message or 'no message'}",
                           hint="check the range and path filters")


def _widen_pipe(fd: int) -> None:
    """Let git write up to 1 MiB ahead of us (Linux; the default is 64 KiB), so that it keeps
    running while we parse a chunk instead of waiting for us to drain the pipe."""
    set_pipe_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_pipe_size is None:
        return
    try:
        fcntl.fcntl(fd, set_pipe_size, CHUNK)
    except OSError:
        pass  # over the system's limit for unprivileged pipes: the default size works too


def parse_log_stream(chunks: Iterable[bytes]) -> Iterator[RawCommit]:
    """Split `git log -z` output produced with LOG_FORMAT into commits, chunk by chunk."""
    for fields, count in split_log_chunks(chunks):
        yield from _commits(fields, count)


def parse_log_batches(chunks: Iterable[bytes]) -> Iterator[CommitBatch]:
    """The same commits as `parse_log_stream`, as one CommitBatch per chunk."""
    for fields, count in split_log_chunks(chunks):
        yield CommitBatch.from_fields(fields, count)


def split_log_chunks(chunks: Iterable[bytes]) -> Iterator[tuple[list[str], int]]:
    """Fields of whole commits, chunk by chunk: (fields, count), the first `count` being whole commits.

    Each chunk is cut at its last NUL, decoded in one call and split in one
    call: NUL is a single byte that no UTF-8 sequence contains, so decoding the
    whole run between NULs gives exactly what decoding field by field would,
    at a fraction of the calls (two per chunk instead of three per commit).
    """
    pending: list[str] = []
    tail = b""
    for chunk in chunks:
        data = tail + chunk if tail else chunk
        cut = data.rfind(b"\0")
        if cut < 0:
            tail = data
            continue
        tail = data[cut + 1:]
        fields = data[:cut].decode("utf-8", "replace").split("\0")
        if pending:
            fields[:0] = pending
        usable = len(fields) - len(fields) % FIELDS
        pending = fields[usable:]
        if usable:
            yield fields, usable
    pending.append(tail.decode("utf-8", "replace"))
    if len(pending) >= FIELDS:
        yield pending, len(pending) - len(pending) % FIELDS


def _commits(fields: list[str], count: int) -> Iterator[RawCommit]:
    for start in range(0, count, FIELDS):
        yield commit_of_fields(fields, start)


class GitGraph:
    """The ancestry questions range resolution asks, answered by git (see notes.history.ranges.Graph)."""

    def __init__(self, repo: Path, tag_pattern: str = "v*") -> None:
        self.repo = repo
        self.tag_pattern = tag_pattern

    def resolve(self, ref: str, what: str) -> str:
        return resolve_commit(self.repo, ref, what)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        done = self._run(["merge-base", "--is-ancestor", ancestor, descendant])
        if done.returncode not in (0, 1):
            raise GitError(f"cannot compare {ancestor[:12]} with {descendant[:12]} in {self.repo}: "
                           f"{done.stderr.strip() or f'exit {done.returncode}'}",
                           hint="is the commit still in the repository? (git fetch?)")
        return done.returncode == 0

    def merge_base(self, a: str, b: str) -> str | None:
        done = self._run(["merge-base", a, b])
        if done.returncode != 0:
            return None  # unrelated histories
        return done.stdout.strip() or None

    def previous_tag(self, commit: str) -> tuple[str, str] | None:
        """The nearest tag matching the pattern reachable from `commit`, ignoring tags on `commit` itself.

        A tag on the build's own commit marks the build's own release, so
        notes counted from it would always be empty.
        """
        on_commit = self._run(["tag", "--points-at", commit, "--list", self.tag_pattern]).stdout.split()
        excludes = [f"--exclude={name}" for name in on_commit]
        done = self._run(["describe", "--tags", "--abbrev=0", f"--match={self.tag_pattern}", *excludes,
                          commit])
        name = done.stdout.strip()
        if done.returncode != 0 or not name:
            return None
        return name, resolve_commit(self.repo, f"refs/tags/{name}", "tag")

    def _run(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(["git", "-C", str(self.repo), *args], capture_output=True, text=True,
                                  env=git_env(), check=False)
        except OSError as err:
            raise GitError(f"cannot run git for {self.repo}: {err}", hint="install git") from err
