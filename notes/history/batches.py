"""Commits in batches of columns: the form in which `collect` reads a range (pure).

`collect` needs a commit's three fields (id, parents, message), and for most
commits only once, on the way to a draft, so a `RawCommit` per commit would be
made only to be read once and dropped. A batch keeps git's fields as they were
split from its output, and the three columns `collect` reads are list slices
of them; a `RawCommit` is made only for a commit the general path reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

from ..commits.parsing import RawCommit

# Fields of one commit in `git log -z` output made with notes.history.gitlog.LOG_FORMAT:
# sha, parents, raw message.
FIELDS = 3
COMMITS_PER_BATCH = 4096  # when batches are made from RawCommit values (tests, other callers)


class CommitBatch:
    """Consecutive commits of a range, newest first, as columns.

    `parents[k]` is the k-th commit's parent ids separated by single spaces,
    as git prints `%P` ("" for a root commit), so "is it a merge?" is a
    substring test and "is the next commit its parent?" a string comparison.
    """

    __slots__ = ("_commits", "_fields", "messages", "parents", "shas")

    def __init__(self, shas: list[str], parents: list[str], messages: list[str],
                 fields: list[str] | None = None, commits: Sequence[RawCommit] | None = None) -> None:
        self.shas = shas
        self.parents = parents
        self.messages = messages
        self._fields = fields
        self._commits = commits

    @classmethod
    def from_fields(cls, fields: list[str], count: int) -> CommitBatch:
        """The batch of `fields[:count]` (`count` a multiple of FIELDS), as split from git's output."""
        if count < len(fields):
            fields = fields[:count]
        shas = fields[0::FIELDS]
        if "\n" in "".join(shas):  # as commit_of_fields does (git -z prints none): one C-speed look
            shas = [sha.lstrip("\n") for sha in shas]
        return cls(shas, fields[1::FIELDS], fields[2::FIELDS], fields=fields)

    @classmethod
    def from_commits(cls, commits: Sequence[RawCommit]) -> CommitBatch:
        return cls([c.sha for c in commits], [" ".join(c.parents) for c in commits],
                   [c.message for c in commits], commits=commits)

    def __len__(self) -> int:
        return len(self.shas)

    def commit(self, k: int) -> RawCommit:
        """The k-th commit as a RawCommit (the very value given, for a batch made from commits)."""
        if self._commits is not None:
            return self._commits[k]
        assert self._fields is not None
        return commit_of_fields(self._fields, k * FIELDS)

    def has_merges(self) -> bool:
        """Whether a commit of the batch has more than one parent (one C-speed scan)."""
        return " " in "".join(self.parents)


def batches_of(commits: Iterable[RawCommit]) -> Iterator[CommitBatch]:
    """RawCommit values, in batches."""
    each = iter(commits)
    while chunk := list(islice(each, COMMITS_PER_BATCH)):
        yield CommitBatch.from_commits(chunk)


def commit_of_fields(fields: list[str], start: int) -> RawCommit:
    """The RawCommit of the three fields from `start`."""
    sha, parents, message = fields[start:start + FIELDS]
    return RawCommit(sha.lstrip("\n"), tuple(parents.split()), message)
