"""The branch each merge of a range brought in, for a range in log order (pure).

`history.branch_commits` answers for one merge by painting both sides of it
with a heap, as git's merge-base search does: exact on every graph, but on a
range of 100,000 commits with 14,000 merged pull requests it took ~420 M
instructions, a fifth of the range-wide rules' work. Most merged branches
have one shape (GitHub flow): a line of commits from the merge's second
parent down to a commit its first parent reaches. `merged_branches` reads
such a branch off by following parents, one step per branch commit (~130 M
instructions on that range), and leaves every other shape (octopus merges,
a merge on the branch, a branch commit with a second child, a fork point it
cannot prove its first parent reaches) to `branch_commits`.
tests/notes/test_branch_walk.py checks both agree on generated graphs of
every shape.

Why the walk is exact. Ranks are log positions and every parent in range is
listed after its child (`rangewide.log_ranks` checks it), so a commit the
first parent F reaches ranks at or after F. A commit the walk passes is not
reached from F when it ranks before F, or when (not being F) its only child
in range is the commit passed before it, itself not reached from F; each has
one parent, so what it reaches is itself and what the next one reaches. The
walk stops at a commit F reaches (F itself, or a commit below F on the newest
commit's first-parent line, so that all below it is reached from F too), or
where the line leaves the range or ends at a root: the commits passed are
the whole branch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence

from .history import branch_commits


class _Parents(Mapping[str, tuple[str, ...]]):
    """Parent ids by commit id, split only for the commits a branch walk visits.

    `branch_commits` reads the parents of a few commits near each merge;
    a dict of tuples for all of a 100,000-commit range would cost ~40 ms.
    """

    def __init__(self, position: Mapping[str, int], lines: Sequence[str]) -> None:
        self._position = position
        self._lines = lines

    def __getitem__(self, sha: str) -> tuple[str, ...]:
        return tuple(self._lines[self._position[sha]].split())

    def __iter__(self) -> Iterator[str]:
        return iter(self._position)

    def __len__(self) -> int:
        return len(self._position)


class _Range:
    """What the walk proves with: positions, parents, and two facts worked out only when needed."""

    def __init__(self, shas: Sequence[str], lines: Sequence[str], position: Mapping[str, int]) -> None:
        self.lines = lines
        self.position = position
        self._children: Counter[str] | None = None
        self._line: set[str] = set()  # the newest commit's first-parent line, walked as far as asked
        self._line_next: str | None = shas[0] if shas else None
        self._line_rank = -1  # rank of the last commit added to `_line`

    def only_child(self, sha: str) -> bool:
        """Whether one commit of the range (once) lists `sha` as a parent."""
        if self._children is None:
            # Needed only for a branch commit older than its merge's first parent (a branch
            # that lived while the main line moved on): counted once, at C speed, for the range.
            self._children = Counter(" ".join(self.lines).split())
        return self._children[sha] == 1

    def on_line_below(self, first: str, sha: str, rank: int) -> bool:
        """Whether `first` and `sha` (ranked `rank`, after `first`) both lie on the newest commit's
        first-parent line, so that `first` reaches `sha` along it.

        The line is walked lazily: most fork points are the first parent itself.
        """
        line, position, lines = self._line, self.position, self.lines
        sha_next, last = self._line_next, self._line_rank
        while last < rank and sha_next is not None:
            at = position.get(sha_next)
            if at is None:  # the line leaves the range (or ends at a root: "")
                sha_next = None
                break
            line.add(sha_next)
            last = at
            sha_next = lines[at].partition(" ")[0]
        self._line_next, self._line_rank = sha_next, last
        return first in line and sha in line


def merged_branches(merges: Iterable[str], shas: Sequence[str], lines: Sequence[str],
                    position: Mapping[str, int]) -> dict[str, set[str]]:
    """`branch_commits` of each merge, by merge, for a range in log order (see the module).

    `lines[rank]` is the parent ids of `shas[rank]` as git prints them;
    `position` is the rank of each id: log positions, every parent in range
    listed after its child.
    """
    graph = _Range(shas, lines, position)
    parents: _Parents | None = None
    branches: dict[str, set[str]] = {}
    for merge in merges:
        branch = _walked(merge, graph)
        if branch is None:
            if parents is None:
                parents = _Parents(position, lines)
            branch = branch_commits(merge, parents, position)
        branches[merge] = branch
    return branches


def _walked(merge: str, graph: _Range) -> set[str] | None:
    """The branch of a two-parent merge that is a line of commits, or None (any other shape)."""
    position, lines = graph.position, graph.lines
    rank = position.get(merge)
    if rank is None:
        return None
    own = lines[rank].split()
    if len(own) != 2:
        return None
    first, sha = own
    limit = position.get(first, len(lines))  # a first parent outside the range reaches nothing in it
    found: set[str] = set()
    at = position.get
    while (rank := at(sha)) is not None:
        if rank >= limit:
            if sha == first or graph.on_line_below(first, sha, rank):
                return found
            if not graph.only_child(sha):
                return None
        found.add(sha)
        line = lines[rank]
        if " " in line:
            return None
        sha = line  # "" (a root commit) is no commit of the range
    return found
