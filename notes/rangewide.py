"""The range-wide rules, applied only to the commits they concern (pure).

Most ranges are not one line of commits: teams merge pull requests, and now
and then revert or cherry-pick. Collect's range-wide rules (merged branches,
reverts cancelling, cherry-picks joining their original, corrections) touch
few commits of such a range: the merges, reverts and picks themselves, the
commits on merged branches, what is reverted or picked, what is corrected.
Every other commit gets exactly the drafts the one pass (`notes.reading`)
made for it while reading. So instead of reading the whole range again
through the general path (the old cost per commit, for every commit), this
module runs `collect._collect_general`'s loop over the concerned commits only
and splices their drafts back among the others, in rank order.

Ranks here are log positions, which they are whenever git printed every
commit after all its children (the usual case); when it did not (clock skew)
or a commit is listed twice, `mixed_drafts` answers None and the general
path decides. tests/notes/test_plain_lane.py compares both on merge-heavy
generated histories, for every audience.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, compress, count, islice
from operator import attrgetter, ne

from .batches import CommitBatch
from .branchwalk import merged_branches
from .changes import CommitChanges, changes_of
from .drafting import drafts_of, is_quiet, resolve_corrections
from .entries import Draft, join_training
from .history import ShaIndex, absorbed_by
from .model import Correction, Skipped
from .plainlane import QuietKey, plain_draft
from .reverts import cancelled
from .settings import CUSTOMER_AUDIENCES, NotesSettings

Held = tuple[str, CommitChanges, int]
Quiet = tuple[QuietKey, int, CommitBatch, int]


@dataclass(frozen=True)
class MixedDrafts:
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
        change = _new(CommitChanges)
        values = change.__dict__
        values.update(sha=sha, kind="commit", changes=(), pull_request=None, reverts=(),
                      reverted_header=None, cherry_picked_from=())
        values["header"] = self._columns.message(self._position[sha]).partition("\n")[0].strip()
        return change


def log_ranks(shas: Sequence[str], parents: Sequence[str]) -> dict[str, int] | None:
    """Ranks (= log positions) when every parent in range is listed after its child; else None."""
    outside = len(shas)
    position = dict(zip(shas, range(outside), strict=True))  # (~10% fewer instructions than a comprehension)
    if len(position) != outside:
        return None
    at = position.get
    # Most commits' parent is the next one listed: comparing the two columns runs at C speed,
    # and only the other commits (merges, mostly) are looked up. Hashing the parent ids of the
    # rest for a look-up cost ~60 M instructions on 100,000 commits of pull requests.
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


def mixed_drafts(batches: Sequence[CommitBatch], newest_first: Sequence[Draft | None],
                 general: Mapping[int, CommitChanges], aside: Sequence[int], held: Sequence[Held],
                 quiet: Sequence[Quiet], settings: NotesSettings, audience: str,
                 corrections: Mapping[str, Correction]) -> MixedDrafts | None:
    """The drafts `collect._collect_general` makes, from what the one pass made (see the module).

    `newest_first`: the pass's drafts (None for a commit kept aside);
    `general`: the changes of the commits the pass read through the general
    path, by rank; `aside`: ranks of commits kept aside for corrections;
    `held`/`quiet`: commits the pass held back. None: ranks are not log positions.
    """
    columns = _Columns(batches)
    ranks = log_ranks(columns.shas, columns.parents)
    if ranks is None:
        return None
    shas = columns.shas
    read = dict(general)  # every commit read through the general path, by rank: the pass's and those aside
    for rank in aside:
        if rank not in read:
            batch, k = columns.locate(rank)
            read[rank] = changes_of(batch.commit(k))
    changes: dict[str, CommitChanges] = dict(zip(map(shas.__getitem__, read), read.values(), strict=True))
    special = [change for change in map(read.__getitem__, sorted(read))
               if change.kind != "commit" or change.cherry_picked_from]
    # Ids are looked up only for corrections, reverts and picks: a range of merges alone
    # saves lower-casing and hashing every id (~25 ms on 100,000 commits).
    reverting = any(map(_is_revert, special))  # (one look at each, no generator: ~14,000 merges)
    named = corrections or reverting or any(map(_picked_from, special))
    index = ShaIndex(ranks if named else ())
    fixes = resolve_corrections(corrections, index)

    dead: frozenset[str] = frozenset()
    if reverting:
        oldest_first = shas[::-1]
        dead = cancelled(_HeadersOnly(changes, ranks, columns), oldest_first, index)
    merges = [change.sha for change in special if change.kind == "merge" and change.changes]
    branches = merged_branches(merges, shas, columns.parents, ranks)
    speaking = {sha: branch for sha, branch in branches.items()
                if any(map(_conventional, changes[sha].changes))}  # (no generator per merge)
    stepping_aside = {sha for sha, branch in branches.items() if sha not in speaking and branch}
    owner = absorbed_by(speaking, ranks)
    picks = {change.sha: cherry_picked_original(change, index, change.sha)
             for change in special if change.cherry_picked_from}
    targets = {*owner.values(), *(original for original in picks.values() if original is not None)}

    concerned = set(map(ranks.__getitem__, chain(map(_sha, special), dead, owner, targets, fixes)))
    concerned.update(aside)
    lane: dict[int, Draft] = {}  # the pass's one draft of a concerned commit it read through the lane
    passed: dict[int, list[Draft]] = {}  # the pass's drafts of a concerned commit it read in full
    kept: list[Draft] = []  # every other draft, oldest first
    for draft in reversed(newest_first):
        if draft is None:
            continue
        rank = draft.rank
        if rank in concerned:
            if rank not in read:
                lane[rank] = draft
            elif rank in passed:
                passed[rank].append(draft)
            else:
                passed[rank] = [draft]
        else:
            kept.append(draft)
    quiet_lane = {entry[1]: entry for entry in quiet if entry[1] in concerned}

    hold = audience in CUSTOMER_AUDIENCES
    internal_types = frozenset(settings.internal_types)
    new_held = [entry for entry in held if entry[2] not in concerned]
    new_quiet = [entry for entry in quiet if entry[1] not in concerned]

    def change_of(rank: int) -> CommitChanges:
        sha = shas[rank]
        change = changes.get(sha)
        if change is None:
            batch, k = columns.locate(rank)
            change = changes[sha] = changes_of(batch.commit(k))
        return change

    def as_draft(rank: int) -> Draft | None:
        """The lane's draft of a lane commit, quiet or not (None: not one the lane can draft)."""
        draft = lane.get(rank)
        if draft is None and rank in quiet_lane:
            _, _, batch, k = quiet_lane[rank]
            made = plain_draft(batch.shas[k], batch.messages[k], rank, frozenset())
            draft = made if made.__class__ is Draft else None  # type: ignore[assignment]
        return draft

    drafts: dict[str, list[Draft]] = {}
    skipped: list[Skipped] = []
    later: list[tuple[str, str, int]] = []  # (sha, owner or original, rank)
    ruled = dead | stepping_aside | fixes.keys()  # commits whose rules come before their owner's
    for rank in sorted(concerned, reverse=True):  # oldest first, as `_collect_general` goes
        sha = shas[rank]
        target = owner.get(sha)
        if target is not None and sha not in ruled:  # most concerned commits: on a merged branch
            later.append((sha, target, rank))
            continue
        if sha in dead or sha in stepping_aside:
            continue
        correction = fixes.get(sha)
        if correction is not None and correction.skip:
            skipped.append(Skipped(sha=sha, reason=correction.reason))
            continue
        if target is not None:
            later.append((sha, target, rank))
            continue
        original = picks.get(sha)
        if original is not None and original not in dead:
            later.append((sha, original, rank))
            continue
        if correction is None and rank not in read:  # a lane commit: its draft is already made
            if rank in quiet_lane and sha not in targets:  # (only customer audiences hold commits back)
                new_quiet.append(quiet_lane[rank])
                continue
            draft = as_draft(rank)
            if draft is not None:
                drafts[sha] = [draft]
                continue
        change = change_of(rank)
        if hold and correction is None and sha not in targets and is_quiet(change.changes, internal_types):
            new_held.append((sha, change, rank))
            continue
        made = passed.get(rank) if correction is None else None  # most merges: drafted by the pass already
        drafts[sha] = made or drafts_of(change, rank, settings, correction)

    for sha, target, rank in later:
        target = owner.get(target, target)  # a pick of a branch commit joins that branch's merge
        group = drafts.get(target)
        if group:
            into = group[0]
            entry = quiet_lane.get(rank)
            if entry is None:
                draft = lane.get(rank)  # what `as_draft` gives of a commit that is not quiet
            elif _reads_nothing(entry):
                if sha not in into.shas:
                    into.shas.append(sha)  # all that absorbing a quiet commit without trailers adds
                continue
            else:
                draft = as_draft(rank) if rank not in read else None
            if draft is not None and not draft.breaking:
                _absorb_draft(into, draft, sha)  # what absorbing its one parsed change adds
            else:
                for parsed in change_of(rank).changes:
                    into.absorb(parsed, sha)
        elif sha not in owner and not (target in fixes and fixes[target].skip):
            drafts[sha] = drafts_of(change_of(rank), rank, settings, fixes.get(sha))

    return MixedDrafts(_spliced(kept, drafts, ranks), new_held, new_quiet, tuple(skipped))


def _reads_nothing(quiet: Quiet) -> bool:
    """Whether a quiet lane commit has no trailer absorbing reads (tickets, training).

    Such a commit is not breaking (else it would not be quiet) and, with none
    of those tokens in its body, the lane would draft it with no tickets and no
    training: absorbing it adds its id only, which saves drafting it again.
    """
    _, _, batch, k = quiet
    message = batch.messages[k]
    end = message.find("\n")
    if end < 0:
        return True
    body = message[end + 1:].lower()
    return "refs" not in body and "ticket" not in body and "training" not in body


def _absorb_draft(into: Draft, draft: Draft, sha: str) -> None:
    """`Draft.absorb` of a non-breaking lane commit's one change, from its draft.

    The draft holds what absorbing reads of the change: its tickets, and its
    training already on one line (`one_line_training` of one line is itself).
    """
    if sha not in into.shas:
        into.shas.append(sha)
    for ticket in draft.tickets:
        if ticket not in into.tickets:
            into.tickets.append(ticket)
    if draft.training is not None:
        into.training = join_training(into.training, draft.training)


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


_new = object.__new__
_conventional = attrgetter("conventional")
_is_revert = attrgetter("is_revert")
_picked_from = attrgetter("cherry_picked_from")
_sha = attrgetter("sha")
