"""Reverts inside a range: which changes readers should no longer see.

A change and its revert inside the same range cancel out: neither is listed.
Reverting a revert puts the original change back. A revert whose target is not
in the range (it shipped in an earlier release) stays, and `collect` lists it
as a fix.

Cancelling is a toggle, so the result does not depend on the order in which
reverts are looked at: each in-range revert flips the state of what it undoes,
and undoing a revert flips what that revert undid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..history.graph import ShaIndex
from .changes import CommitChanges, strip_request_text

MAX_CHAIN = 64


def revert_targets(changes: Mapping[str, CommitChanges], oldest_first: Sequence[str],
                   index: ShaIndex) -> dict[str, tuple[str, ...]]:
    """For each revert commit, the commits of the range it undoes (maybe none).

    Commit ids in the message win; a revert that names none is matched by the
    undone header against the newest older commit with that header.
    """
    by_header: dict[str, str] = {}
    targets: dict[str, tuple[str, ...]] = {}
    for sha in oldest_first:
        change = changes[sha]
        if change.is_revert:
            found: list[str] = []
            for named in change.reverts:
                full = index.resolve(named)
                if full is not None and full != sha and full not in found:
                    found.append(full)
            if not change.reverts and change.reverted_header:
                match = by_header.get(change.reverted_header)
                if match is not None:
                    found.append(match)
            targets[sha] = tuple(found)
        by_header[strip_request_text(change.header)] = sha
        for inner in change.changes:
            if not change.is_revert:
                by_header[strip_request_text(inner.header)] = sha
    return targets


def cancelled(changes: Mapping[str, CommitChanges], oldest_first: Sequence[str],
              index: ShaIndex) -> frozenset[str]:
    """Commits whose change readers must not see because of reverts inside the range."""
    targets = revert_targets(changes, oldest_first, index)
    alive = dict.fromkeys(oldest_first, True)
    for revert, undone in targets.items():
        if not undone:
            continue  # reverts something shipped earlier: listed as a fix
        alive[revert] = False
        for target in undone:
            _toggle(target, targets, alive)
    return frozenset(sha for sha, is_alive in alive.items() if not is_alive)


def _toggle(sha: str, targets: Mapping[str, tuple[str, ...]], alive: dict[str, bool]) -> None:
    stack = [(sha, 0)]
    while stack:
        current, depth = stack.pop()
        undone = targets.get(current, ())
        if undone and depth < MAX_CHAIN:
            # Undoing an in-range revert re-applies what it undid.
            stack.extend((target, depth + 1) for target in undone)
        else:
            alive[current] = not alive.get(current, True)
