"""One pass over a range, as git writes it: drafts made as the commits arrive (pure).

Ordinary commits go through the plain lane (`notes.plainlane`), the others
through the general path (`changes_of`, `drafting.drafts_of`). What the
range-wide rules of `collect` (merged branches, reverts, cherry-picks,
corrections) need is proved once, for the whole range, not per commit:
a range of one line of commits with no revert or cherry-pick in it leaves
those rules nothing to do, and the drafts made while reading are the answer.
Otherwise `notes.rangewide` applies them to the commits they concern, and
keeps what this pass drafted for every other commit; merges are read here
through the general path, as their body is their change.
"""

from __future__ import annotations

from collections.abc import Mapping

from .batches import CommitBatch
from .changes import CommitChanges, changes_of
from .drafting import drafts_of, is_quiet, resolve_corrections
from .entries import Draft
from .history import ShaIndex, linear_positions
from .model import Correction, Skipped
from .plainlane import QuietKey, plain_draft
from .settings import CUSTOMER_AUDIENCES, NotesSettings


class RangeReading:
    """One pass over a range: drafts made as the commits arrive, and what they prove about the range.

    The range is simple when its commits form one line, each the parent of
    the one before (so git's order is the topological one, and no branch is
    merged), no revert or cherry-pick is in it, and stored corrections name
    only commits that were kept aside for them. Then each commit's drafts are
    exactly what the general path would make for it; else `simple` turns
    False and `notes.rangewide` decides from what was read here (reverts and
    picks are read but not drafted: they are always decided there).
    """

    def __init__(self, settings: NotesSettings, audience: str, corrections: Mapping[str, Correction], *,
                 lane: bool) -> None:
        self.settings = settings
        self.corrections = corrections
        self.quiet_types = (frozenset(settings.internal_types) if audience in CUSTOMER_AUDIENCES
                            else frozenset[str]())
        # Commits whose id starts with a stored correction's key are drafted once all ids are known.
        self.prefixes = tuple({key.strip().lower() for key in corrections if len(key.strip()) >= 4})
        self.lane = lane  # False: every commit through the general path (tests compare both)
        self.simple = lane
        self.batches: list[CommitBatch] = []
        self.count = 0
        self.newest_first: list[Draft | None] = []  # every commit's drafts, last first; None: kept aside
        self.aside: list[tuple[int, CommitBatch, int, int]] = []  # (place in newest_first, batch, k, rank)
        self.held: list[tuple[str, CommitChanges, int]] = []  # held back by the general path
        self.quiet: list[tuple[QuietKey, int, CommitBatch, int]] = []  # held back by the lane
        self.changes: dict[int, CommitChanges] = {}  # what the general path read, by place in the log
        self.skipped: list[Skipped] = []
        self._aside_drafts: dict[int, list[Draft]] = {}  # by place in newest_first
        self._chain = True  # so far, every commit's only parent is the next commit
        self._last_parent = ""

    def read(self, batch: CommitBatch) -> None:
        self.batches.append(batch)
        shas, parents = batch.shas, batch.parents
        rank = self.count
        self.count += len(shas)
        if not shas:
            return
        if self._chain:
            self._chain = (parents[:-1] == shas[1:] and (not rank or self._last_parent == shas[0]))
        self._last_parent = parents[-1]
        merges: frozenset[int] = frozenset()
        if batch.has_merges():
            self.simple = False
            merges = frozenset(k for k, line in enumerate(parents) if " " in line)
        if not self.lane:
            return  # the general path reads it at the end
        newest_first, quiet, prefixes = self.newest_first, self.quiet, self.prefixes
        quiet_types = self.quiet_types
        for k, (sha, message) in enumerate(zip(shas, batch.messages, strict=True)):
            if merges and k in merges:
                self._general(batch, k, rank + k)  # a merge: the general path reads its body
                continue
            if prefixes and sha.lower().startswith(prefixes):
                self.aside.append((len(newest_first), batch, k, rank + k))
                newest_first.append(None)
                continue
            result = plain_draft(sha, message, rank + k, quiet_types)
            if result is None:
                self._general(batch, k, rank + k)
            elif result.__class__ is tuple:
                quiet.append((result, rank + k, batch, k))  # type: ignore[arg-type]  # a QuietKey
            else:
                newest_first.append(result)  # type: ignore[arg-type]  # a Draft

    def _general(self, batch: CommitBatch, k: int, rank: int) -> None:
        change = self._change(batch, k, rank)
        if change is not None:
            self.newest_first.extend(reversed(self._drafts(batch.shas[k], change, rank, None)))

    def _change(self, batch: CommitBatch, k: int, rank: int) -> CommitChanges | None:
        """The commit's changes by the general path; None when range-wide rules apply to it."""
        change = self.changes[rank] = changes_of(batch.commit(k))
        if change.is_revert or change.cherry_picked_from:
            self.simple = False
            return None
        return change

    def _drafts(self, sha: str, change: CommitChanges, rank: int,
                correction: Correction | None) -> list[Draft]:
        if correction is None and self.quiet_types and is_quiet(change.changes, self.quiet_types):
            self.held.append((sha, change, rank))
            return []
        return drafts_of(change, rank, self.settings, correction)

    def finish(self) -> bool:
        """Whether the range is simple (see the class); drafts the commits kept aside for corrections."""
        if not self.simple:
            return False
        if not self._chain:
            shas = [sha for batch in self.batches for sha in batch.shas]
            parents = [p for batch in self.batches for p in batch.parents]
            if not linear_positions(shas, parents):
                self.simple = False
                return False
        elif ((self._last_parent and any(self._last_parent in batch.shas for batch in self.batches))
              or len({sha for batch in self.batches for sha in batch.shas}) != self.count):
            self.simple = False  # a cycle, a commit listed twice: only made-up input has them
            return False
        if self.aside:
            self._draft_aside()
        return self.simple

    def _draft_aside(self) -> None:
        changes = []
        for place, batch, k, rank in reversed(self.aside):  # oldest first, as skipped commits are listed
            change = self._change(batch, k, rank)  # a revert still cancels when it is skipped
            if change is None:
                return
            changes.append((place, batch.shas[k], change, rank))
        index = ShaIndex(sha for batch in self.batches for sha in batch.shas)
        fixes = resolve_corrections(self.corrections, index)
        for place, sha, change, rank in changes:
            correction = fixes.get(sha)
            if correction is not None and correction.skip:
                self.skipped.append(Skipped(sha=sha, reason=correction.reason))
            else:
                self._aside_drafts[place] = self._drafts(sha, change, rank, correction)

    def drafts(self) -> tuple[list[Draft], tuple[Skipped, ...], bool]:
        """Every draft, oldest first (each commit's in order), the skipped commits, and True (in order)."""
        if not self.aside:
            return self.newest_first[::-1], (), True  # type: ignore[return-value]  # no None without aside
        every: list[Draft] = []
        for place in range(len(self.newest_first) - 1, -1, -1):
            draft = self.newest_first[place]
            if draft is None:
                every.extend(self._aside_drafts.get(place, ()))
            else:
                every.append(draft)
        return every, tuple(self.skipped), True
