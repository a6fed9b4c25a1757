"""One pass over a range, as git writes it: drafts made as the commits arrive (pure).

Ordinary commits go through the plain lane (`notes.collect.plainlane`), the others
through the general path (`changes_of`, `drafting.drafts_of`); merges are
read here through the general path, as their body is their change. Reverts,
cherry-picks and commits named by a stored correction are read but not
drafted: the range-wide rules (`notes.collect.rangewide`) decide them, once every
commit of the range is known, and keep what this pass drafted for every other
commit.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..commits.changes import CommitChanges, changes_of
from ..history.batches import CommitBatch
from ..model import Correction
from ..settings import CUSTOMER_AUDIENCES, NotesSettings
from .drafting import drafts_of, is_quiet
from .entries import Draft
from .plainlane import QuietKey, plain_draft

Held = tuple[str, CommitChanges, int]  # (sha, changes, rank): held back by the general path
Quiet = tuple[QuietKey, int, CommitBatch, int]  # (key, rank, batch, place in batch): held back by the lane


class RangeReading:
    """One pass over a range: every commit's drafts, or why it has none yet.

    A commit's rank is its place in git's output, newest first. Customer
    audiences never see a quiet change (`drafting.is_quiet_change`): such
    commits are held back (`held`, `quiet`) instead of drafted, unless a
    breaking duplicate brings them back (`collect._revived`).
    """

    def __init__(self, settings: NotesSettings, audience: str, corrections: Mapping[str, Correction]) -> None:
        self.settings = settings
        self.quiet_types = (frozenset(settings.internal_types) if audience in CUSTOMER_AUDIENCES
                            else frozenset[str]())
        # Commits whose id starts with a stored correction's key are decided once all ids are known.
        self.prefixes = tuple({key.strip().lower() for key in corrections if len(key.strip()) >= 4})
        self.batches: list[CommitBatch] = []
        self.count = 0
        self.newest_first: list[Draft | None] = []  # every commit's drafts, last first; None: kept aside
        self.aside: list[int] = []  # ranks of the commits kept aside for a correction
        self.held: list[Held] = []
        self.quiet: list[Quiet] = []
        self.changes: dict[int, CommitChanges] = {}  # what the general path read, by rank

    def read(self, batch: CommitBatch) -> None:
        self.batches.append(batch)
        shas = batch.shas
        rank = self.count
        self.count += len(shas)
        merges: frozenset[int] = frozenset()
        if batch.has_merges():
            merges = frozenset(k for k, line in enumerate(batch.parents) if " " in line)
        newest_first, quiet, prefixes = self.newest_first, self.quiet, self.prefixes
        quiet_types = self.quiet_types
        for k, (sha, message) in enumerate(zip(shas, batch.messages, strict=True)):
            if merges and k in merges:
                self._general(batch, k, rank + k)  # a merge: the general path reads its body
                continue
            if prefixes and sha.lower().startswith(prefixes):
                self.aside.append(rank + k)
                newest_first.append(None)
                continue
            result = plain_draft(sha, message, rank + k, quiet_types)
            if result is None:
                self._general(batch, k, rank + k)
            elif result.__class__ is tuple:
                quiet.append((result, rank + k, batch, k))  # a QuietKey
            else:
                newest_first.append(result)  # type: ignore[arg-type]  # a Draft

    def _general(self, batch: CommitBatch, k: int, rank: int) -> None:
        change = self.changes[rank] = changes_of(batch.commit(k))
        if change.is_revert or change.cherry_picked_from:
            return  # decided by the range-wide rules
        if self.quiet_types and is_quiet(change.changes, self.quiet_types):
            self.held.append((batch.shas[k], change, rank))
            return
        self.newest_first.extend(reversed(drafts_of(change, rank, self.settings, None)))
