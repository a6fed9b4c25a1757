"""The range-wide rules of `collect`, applied to the commits they concern (pure).

Collect's range-wide rules (merged branches, reverts cancelling, cherry-picks
joining their original, corrections) touch few commits of a range: the
merges, reverts and picks themselves, the commits on merged branches, what is
reverted or picked, what is corrected. Every other commit gets exactly the
drafts the one pass (`notes.collect.reading`) made for it while reading; the concerned
commits' drafts are decided here, oldest first, and spliced back among the
others in rank order.

Ranks here are log positions, which they are whenever git printed every
commit after all its children (the usual case); when it did not (clock skew)
or a commit is listed twice, `range_rules` answers None and `collect` reads
the range again in a topological order. tests/notes/test_plain_lane.py
compares the notes with those of the oracle in tests/notes/oracle.py, which
applies every rule to every commit, on generated histories of every shape.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, compress, count, islice
from operator import ne

from ..commits.changes import CommitChanges, changes_of
from ..commits.reverts import cancelled
from ..history.batches import CommitBatch
from ..history.graph import ShaIndex, absorbed_by, branch_commits
from ..model import Correction, Skipped
from ..settings import CUSTOMER_AUDIENCES, NotesSettings
from .drafting import drafts_of, is_quiet, resolve_corrections
from .entries import Draft
from .plainlane import names_no_reader_trailer, plain_draft
from .reading import Held, Quiet, RangeReading


@dataclass(frozen=True)
class RuledDrafts:
    """What `collect._sections` needs: every draft, oldest first, the held-back commits, the skipped ones."""

    every: list[Draft]
    held: list[Held]
    quiet: list[Quiet]
    skipped: tuple[Skipped, ...]


class _Columns:
    """The range's columns, by log position, as the batches hold them (no per-commit copy)."""

    def __init__(self, batches: Sequence[CommitBatch]) -> None:
        self.batches = [batch for batch in batches if len(batch)]
        self.starts = list(accumulate((len(batch) for batch in self.batches), initial=0))
        self.shas = list(chain.from_iterable(batch.shas for batch in self.batches))
        self.parents = list(chain.from_iterable(batch.parents for batch in self.batches))

    def locate(self, rank: int) -> tuple[CommitBatch, int]:
        # Few look-ups (concerned commits only): a bisect over the batch starts.
        at = bisect_right(self.starts, rank) - 1
        return self.batches[at], rank - self.starts[at]

    def message(self, rank: int) -> str:
        batch, k = self.locate(rank)
        return batch.messages[k]


class _Parents(Mapping[str, tuple[str, ...]]):
    """Parent ids by commit id, split only for the commits a branch walk visits (a few near each merge)."""

    def __init__(self, position: Mapping[str, int], lines: Sequence[str]) -> None:
        self._position = position
        self._lines = lines

    def __getitem__(self, sha: str) -> tuple[str, ...]:
        return tuple(self._lines[self._position[sha]].split())

    def __iter__(self) -> Iterator[str]:
        return iter(self._position)

    def __len__(self) -> int:
        return len(self._position)


class _HeadersOnly(dict[str, CommitChanges]):
    """What `reverts.cancelled` reads of the commits the lane drafted: their header, made on demand.

    A lane commit is one plain change whose header is its first line, so it
    matches a revert by header exactly as its full CommitChanges would.
    """

    def __init__(self, known: Mapping[str, CommitChanges], position: Mapping[str, int],
                 columns: _Columns) -> None:
        super().__init__(known)
        self._position = position
        self._columns = columns

    def __missing__(self, sha: str) -> CommitChanges:
        header = self._columns.message(self._position[sha]).partition("\n")[0].strip()
        return CommitChanges(sha, "commit", (), header)


def log_ranks(shas: Sequence[str], parents: Sequence[str]) -> dict[str, int] | None:
    """Ranks (= log positions) when every parent in range is listed after its child; else None."""
    outside = len(shas)
    position = dict(zip(shas, range(outside), strict=True))
    if len(position) != outside:
        return None
    at = position.get
    # Most commits' parent is the next one listed: comparing the two columns runs at C speed,
    # and only the other commits (merges, mostly) are looked up.
    following = chain(islice(shas, 1, None), ("",))  # the last commit: a root ("") needs no look
    for i in compress(count(), map(ne, parents, following)):
        line = parents[i]
        if " " in line:
            for parent in line.split():
                if at(parent, outside) <= i:
                    return None
        elif at(line, outside) <= i:
            return None
    return position


def range_rules(reading: RangeReading, settings: NotesSettings, audience: str,
                corrections: Mapping[str, Correction]) -> RuledDrafts | None:
    """Every draft of the range, the range-wide rules applied (see the module); None when ranks
    are not log positions."""
    columns = _Columns(reading.batches)
    if not reading.changes and not reading.aside and _is_line(columns.shas, columns.parents):
        # one line of ordinary commits, each the parent of the one before: no rule applies
        return RuledDrafts(reading.newest_first[::-1], reading.held, reading.quiet, ())  # type: ignore[arg-type]
    ranks = log_ranks(columns.shas, columns.parents)
    if ranks is None:
        return None
    return _Rules(reading, columns, ranks, settings, audience, corrections).drafts()


def _is_line(shas: list[str], parents: list[str]) -> bool:
    """Whether each commit's parent is the next one listed, the last one's is outside the range, and
    none is listed twice."""
    listed = set(shas)
    return (parents[:-1] == shas[1:] and len(listed) == len(shas)
            and (not parents or parents[-1] not in listed))


class _Rules:
    """The range-wide rules over one range read by `RangeReading`, in the order `collect` states them."""

    def __init__(self, reading: RangeReading, columns: _Columns, ranks: dict[str, int],
                 settings: NotesSettings, audience: str, corrections: Mapping[str, Correction]) -> None:
        self.reading, self.columns, self.ranks, self.settings = reading, columns, ranks, settings
        self.internal_types = frozenset(settings.internal_types) if audience in CUSTOMER_AUDIENCES else None
        shas = columns.shas
        read = dict(reading.changes)  # every commit read through the general path, by rank
        for rank in reading.aside:
            if rank not in read:
                batch, k = columns.locate(rank)
                read[rank] = changes_of(batch.commit(k))
        self.read = read
        self.changes: dict[str, CommitChanges] = {shas[rank]: change for rank, change in read.items()}
        special = [read[rank] for rank in sorted(read) if read[rank].kind != "commit"
                   or read[rank].cherry_picked_from]
        self.special = special
        # Ids are looked up only for corrections, reverts and picks.
        reverting = any([change.is_revert for change in special])
        named = corrections or reverting or any([change.cherry_picked_from for change in special])
        index = ShaIndex(ranks if named else ())
        self.fixes = resolve_corrections(corrections, index)
        self.dead: frozenset[str] = frozenset()
        if reverting:
            self.dead = cancelled(_HeadersOnly(self.changes, ranks, columns), shas[::-1], index)
        merges = [change.sha for change in special if change.kind == "merge" and change.changes]
        parents = _Parents(ranks, columns.parents)
        branches = {sha: branch_commits(sha, parents, ranks) for sha in merges}
        speaking = {sha: branch for sha, branch in branches.items()
                    if any([parsed.conventional for parsed in self.changes[sha].changes])}
        self.stepping_aside = {sha for sha, branch in branches.items() if sha not in speaking and branch}
        self.owner = absorbed_by(speaking, ranks)
        self.picks = {change.sha: cherry_picked_original(change, index, change.sha)
                      for change in special if change.cherry_picked_from}
        self.targets = {*self.owner.values(), *(original for original in self.picks.values() if original)}

    def drafts(self) -> RuledDrafts:
        reading, ranks, shas = self.reading, self.ranks, self.columns.shas
        named = chain([change.sha for change in self.special], self.dead, self.owner, self.targets,
                      self.fixes)
        concerned = {ranks[sha] for sha in named}
        concerned.update(reading.aside)
        self.lane: dict[int, Draft] = {}  # the pass's draft of a concerned commit read through the lane
        self.passed: dict[int, list[Draft]] = {}  # the pass's drafts of a concerned commit read in full
        kept: list[Draft] = []  # every other draft, oldest first
        for draft in reversed(reading.newest_first):
            if draft is None:
                continue
            rank = draft.rank
            if rank not in concerned:
                kept.append(draft)
            elif rank not in self.read:
                self.lane[rank] = draft
            else:
                self.passed.setdefault(rank, []).append(draft)
        self.quiet_lane = {entry[1]: entry for entry in reading.quiet if entry[1] in concerned}
        self.held = [entry for entry in reading.held if entry[2] not in concerned]
        self.quiet = [entry for entry in reading.quiet if entry[1] not in concerned]
        self.drafted: dict[str, list[Draft]] = {}
        self.skipped: list[Skipped] = []
        later = [found for rank in sorted(concerned, reverse=True)  # oldest first
                 if (found := self._decide(shas[rank], rank)) is not None]
        for sha, target, rank in later:
            self._fold(sha, target, rank)
        return RuledDrafts(_spliced(kept, self.drafted, ranks), self.held, self.quiet, tuple(self.skipped))

    def _decide(self, sha: str, rank: int) -> tuple[str, str, int] | None:
        """Draft a concerned commit, hold it back or skip it; or (sha, target, rank) when it is folded
        into another commit's entry once every entry exists (a branch commit, a cherry-pick)."""
        if sha in self.dead or sha in self.stepping_aside:
            return None  # cancelled by a revert, or a merge stepping aside for its branch commits
        correction = self.fixes.get(sha)
        if correction is not None and correction.skip:
            self.skipped.append(Skipped(sha=sha, reason=correction.reason))
            return None
        target = self.owner.get(sha)
        if target is not None:
            return sha, target, rank  # its merge speaks for it
        original = self.picks.get(sha)
        if original is not None and original not in self.dead:
            return sha, original, rank  # a cherry-pick of a commit in range: the same change
        if correction is None and rank not in self.read:  # a lane commit: its draft is already made
            if rank in self.quiet_lane and sha not in self.targets:
                self.quiet.append(self.quiet_lane[rank])
                return None
            draft = self._lane_draft(rank)
            if draft is not None:
                self.drafted[sha] = [draft]
                return None
        change = self._change(rank)
        if (self.internal_types is not None and correction is None and sha not in self.targets
                and is_quiet(change.changes, self.internal_types)):
            self.held.append((sha, change, rank))
            return None
        made = self.passed.get(rank) if correction is None else None  # a merge: drafted by the pass
        self.drafted[sha] = made or drafts_of(change, rank, self.settings, correction)
        return None

    def _fold(self, sha: str, target: str, rank: int) -> None:
        """A branch commit into its merge's entry, a cherry-pick into its original's."""
        target = self.owner.get(target, target)  # a pick of a branch commit joins that branch's merge
        group = self.drafted.get(target)
        if not group:
            if sha not in self.owner and not (target in self.fixes and self.fixes[target].skip):
                self.drafted[sha] = drafts_of(self._change(rank), rank, self.settings, self.fixes.get(sha))
            return
        quiet = self.quiet_lane.get(rank)
        if quiet is not None and names_no_reader_trailer(quiet[2].messages[quiet[3]]):
            group[0].absorb(sha, (), None, None)  # a quiet commit with no trailer to add: its id alone
            return
        draft = self._lane_draft(rank) if rank not in self.read else None
        if draft is not None and not draft.breaking:  # its tickets and training, as absorbing its change
            group[0].absorb(sha, draft.tickets, None, draft.training)
        else:
            for parsed in self._change(rank).changes:
                group[0].absorb_change(parsed, sha)

    def _lane_draft(self, rank: int) -> Draft | None:
        """The lane's draft of a lane commit, quiet or not (None: not one the lane can draft)."""
        draft = self.lane.get(rank)
        if draft is None and rank in self.quiet_lane:
            _, _, batch, k = self.quiet_lane[rank]
            made = plain_draft(batch.shas[k], batch.messages[k], rank, frozenset())
            draft = made if made.__class__ is Draft else None
        return draft

    def _change(self, rank: int) -> CommitChanges:
        sha = self.columns.shas[rank]
        change = self.changes.get(sha)
        if change is None:
            batch, k = self.columns.locate(rank)
            change = self.changes[sha] = changes_of(batch.commit(k))
        return change


def _spliced(kept: list[Draft], drafts: Mapping[str, list[Draft]], ranks: Mapping[str, int]) -> list[Draft]:
    """`kept` (oldest first) with the concerned commits' drafts put in at their ranks."""
    extra = sorted(((ranks[sha], group) for sha, group in drafts.items() if group), reverse=True)
    if not extra:
        return kept
    every: list[Draft] = []
    pending = iter(extra)
    rank, group = next(pending)
    done = False
    for draft in kept:
        while not done and rank > draft.rank:
            every.extend(group)
            following = next(pending, None)
            if following is None:
                done = True
            else:
                rank, group = following
        every.append(draft)
    if not done:
        every.extend(group)
        for _, group in pending:
            every.extend(group)
    return every


def cherry_picked_original(change: CommitChanges, index: ShaIndex, sha: str) -> str | None:
    """The commit of the range that `change` was cherry-picked from (not itself), if any."""
    for named in change.cherry_picked_from:
        full = index.resolve(named)
        if full is not None and full != sha:
            return full
    return None
