"""The shape of the commit graph inside a range: order, abbreviated ids, merged branches.

Only commits inside the range are known here (that is what `git log since..until`
returns); parents outside it are simply absent. Everything is linear or
n·log n in the size of the range except `branch_commits`, which walks from a
merge down to where its branch forked, like git's own merge-base search.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain, repeat

from ..commits.parsing import RawCommit


class ShaIndex:
    """Full and abbreviated commit ids of one range."""

    def __init__(self, shas: Iterable[str]) -> None:
        self._set = frozenset(map(str.lower, shas))
        self._sorted: list[str] | None = None  # sorted on the first abbreviated look-up

    def __contains__(self, sha: object) -> bool:
        return sha in self._set

    def matches(self, prefix: str) -> list[str]:
        prefix = prefix.lower()
        if prefix in self._set:
            return [prefix]
        if self._sorted is None:
            # Most ranges never look up an abbreviated id (no reverts, picks or
            # corrections by prefix): the ids are sorted only when one comes.
            self._sorted = sorted(self._set)
        start = bisect.bisect_left(self._sorted, prefix)
        found = []
        for sha in self._sorted[start:start + 3]:
            if sha.startswith(prefix):
                found.append(sha)
        return found

    def resolve(self, prefix: str) -> str | None:
        """The one commit of the range this id names, or None (absent or ambiguous)."""
        if len(prefix) < 4:
            return None
        found = self.matches(prefix)
        return found[0] if len(found) == 1 else None


def topo_ranks(commits: Sequence[RawCommit]) -> dict[str, int]:
    """Rank 0 is the newest commit; every commit ranks after all its children in range.

    git's default log order is by commit date, which clock skew can make
    disagree with ancestry; ties are broken by log position so that the result
    stays as close as possible to the order git printed.
    """
    position = {c.sha: i for i, c in enumerate(commits)}
    if _log_order_is_topological(commits, position):
        # Kahn's algorithm picking the lowest log position first returns the log order
        # itself when every parent comes after its children: a check in one pass saves
        # the heap on a long range.
        return position
    return _kahn_ranks(commits, position)


def _kahn_ranks(commits: Sequence[RawCommit], position: Mapping[str, int]) -> dict[str, int]:
    children = dict.fromkeys(position, 0)
    for commit in commits:
        for parent in set(commit.parents):
            if parent in children:
                children[parent] += 1
    ready = [(position[sha], sha) for sha, count in children.items() if count == 0]
    heapq.heapify(ready)
    parents = {c.sha: c.parents for c in commits}
    ranks: dict[str, int] = {}
    while ready:
        _, sha = heapq.heappop(ready)
        ranks[sha] = len(ranks)
        for parent in set(parents[sha]):
            if parent in children:
                children[parent] -= 1
                if children[parent] == 0:
                    heapq.heappush(ready, (position[parent], parent))
    return ranks


def _log_order_is_topological(commits: Sequence[RawCommit], position: Mapping[str, int]) -> bool:
    if len(position) != len(commits):
        return False  # a commit listed twice: leave it to the general walk
    at = position.get
    outside = len(commits)  # a parent outside the range comes after everything
    for i, commit in enumerate(commits):
        for parent in commit.parents:
            if at(parent, outside) <= i:
                return False
    return True


def branch_commits(merge: str, parents: Mapping[str, tuple[str, ...]], ranks: Mapping[str, int]) -> set[str]:
    """Commits of the range that `merge` brought in: reachable from its other parents, not its first.

    Paints ancestors of the first parent and of the other parents in rank order
    and stops as soon as every commit still queued is an ancestor of the first
    parent, so a short branch costs a short walk.
    """
    own = parents.get(merge, ())
    if len(own) < 2:
        return set()
    flags: dict[str, int] = {}
    queue: list[tuple[int, str]] = []
    pending: set[str] = set()  # queued and so far reachable only from the branch side

    def paint(sha: str, flag: int) -> None:
        if sha not in ranks:
            return
        old = flags.get(sha, 0)
        new = old | flag
        if new == old:
            return
        flags[sha] = new
        if new == 1:
            pending.add(sha)
        else:
            pending.discard(sha)
        if old == 0:
            heapq.heappush(queue, (ranks[sha], sha))

    paint(own[0], 2)
    for other in own[1:]:
        paint(other, 1)
    result: set[str] = set()
    while queue and pending:
        _, sha = heapq.heappop(queue)
        flag = flags[sha]
        pending.discard(sha)
        if flag == 1:
            result.add(sha)
        for parent in parents.get(sha, ()):
            paint(parent, flag)
    return result


def absorbed_by(branches: Mapping[str, set[str]], ranks: Mapping[str, int]) -> dict[str, str]:
    """Which merge stands for each branch commit: the merge with the largest branch wins.

    `branches` maps each merge that speaks for its branch to `branch_commits`
    of it. Nested merges (a pull request merged into a feature branch that is
    then merged) end up owned by the outermost merge, whose branch contains
    the inner one's.
    """
    # Each commit with the merge of its branch, paired at C speed (no Python step per merge).
    sizes = list(map(len, branches.values()))
    merges = chain.from_iterable(map(repeat, branches, sizes))
    owner = dict(zip(chain.from_iterable(branches.values()), merges, strict=True))
    if len(owner) == sum(sizes) and owner.keys().isdisjoint(branches):
        # No two branches share a commit and no merge is on a branch (pull requests merged
        # into main): each commit's one merge owns it, whatever the order; no sort by size.
        return owner
    return _absorbed_by_size(branches, ranks)


def _absorbed_by_size(branches: Mapping[str, set[str]], ranks: Mapping[str, int]) -> dict[str, str]:
    """`absorbed_by` for any branches: largest first, then owned merges pass their branch up."""
    owner: dict[str, str] = {}
    ordered = sorted(branches.items(), key=lambda item: (-len(item[1]), ranks.get(item[0], 0)))
    for merge, branch in ordered:
        for sha in branch:
            if sha not in owner and sha != merge:
                owner[sha] = merge
    for sha, merge in list(owner.items()):
        seen = {sha}
        while merge in owner and merge not in seen:  # an owned merge passes its branch up
            seen.add(merge)
            merge = owner[merge]
        owner[sha] = merge
    return owner
