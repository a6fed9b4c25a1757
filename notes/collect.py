"""From the commits of a range to release notes for one audience (pure).

The order of decisions, each one a small step:

1. Every commit becomes `CommitChanges` (merges read from their body, squashes
   split, reverts recognised).
2. Reverts inside the range cancel what they undo (`reverts.cancelled`).
3. Merges speak for their branch: when a merge's entry is conventional, the
   branch commits it brought in (reachable from its second parent, not its
   first, inside the range) are not listed again; their tickets, breaking
   notes and training needs are added to the merge's entry, so a breaking
   change made on a branch is never lost under a pull-request title. A merge
   whose title is not conventional steps aside for its branch commits.
4. A cherry-pick ("(cherry picked from commit X)") of a commit in range is the
   same change: its id is added to X's entry.
5. Stored corrections apply: skip, or reword.
6. Entries with the same type, scope and text are one entry (the same change
   landed twice, e.g. on a release branch and on main).
7. Each entry gets one section: explicit `Audience: internal` → internal;
   breaking → Action required; internal type → internal; `Training:` →
   Training; otherwise by type. Customer audiences never see internal ones.
8. Non-conventional messages are kept (Other changes), dropped, or make the
   whole run fail naming every offending commit, as the settings say; a
   reworded commit has been looked at by a person and always passes.

How: one pass reads the range as git writes it (`notes.reading`), ordinary
commits through the plain lane (`notes.plainlane`). When the range proves
simple (one line of commits, no revert or cherry-pick), rules 2-4 have
nothing to do and the drafts made while reading go straight to 5-8.
Otherwise (merged pull requests, reverts, picks) `notes.rangewide` applies
rules 2-5 to the commits they concern and keeps the pass's drafts of all
others; only when git's order is not a topological one (clock skew) does
`_collect_general` apply every rule to the whole range.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from .batches import CommitBatch, batches_of
from .changes import CommitChanges, changes_of, strip_request_text
from .commits import RawCommit
from .drafting import drafts_of, is_quiet, reader_text, resolve_corrections
from .entries import EMPTY_TEXT, Draft, grouped_drafts, merge_duplicates, merge_key, one_line
from .entries import ticket as ticket  # re-exported: part of this module's interface before the split
from .errors import NonConventionalError
from .history import ShaIndex, absorbed_by, branch_commits, topo_ranks
from .listing import Groups, Listing, frozen_sections, gc_paused
from .model import Correction, ReleaseNotes, Section, Skipped
from .plainlane import QuietKey, plain_draft
from .rangewide import cherry_picked_original, mixed_drafts
from .reading import RangeReading
from .reverts import cancelled
from .settings import CUSTOMER_AUDIENCES, NotesSettings, check_audience

MAX_LISTED_OFFENDERS = 20


def collect(
    commits: Iterable[RawCommit],
    settings: NotesSettings,
    audience: str,
    *,
    corrections: Mapping[str, Correction] | None = None,
    version: str | None = None,
    project: str | None = None,
    since: str | None = None,
    until: str | None = None,
    date: date | None = None,
) -> ReleaseNotes:
    """Release notes for `audience` from the commits of one range (newest first, as git log gives them)."""
    return collect_listing(commits, settings, audience, corrections=corrections, version=version,
                           project=project, since=since, until=until, date=date).notes()


def collect_listing(
    commits: Iterable[RawCommit],
    settings: NotesSettings,
    audience: str,
    *,
    corrections: Mapping[str, Correction] | None = None,
    version: str | None = None,
    project: str | None = None,
    since: str | None = None,
    until: str | None = None,
    date: date | None = None,
) -> Listing:
    """`collect`, before the entries are frozen: for callers that may need only the Markdown."""
    check_audience(audience)
    with gc_paused():
        groups, skipped, count = _collect_groups(commits, settings, audience, corrections or {})
    head = ReleaseNotes(audience=audience, sections=(), version=version, project=project, since=since,
                        until=until, date=date, commit_count=count, skipped=skipped)
    return Listing(head, groups, settings)


def _collect(commits: Iterable[RawCommit], settings: NotesSettings, audience: str,
             corrections: Mapping[str, Correction], *, lane: bool = True
             ) -> tuple[tuple[Section, ...], tuple[Skipped, ...], int]:
    """`_collect_groups`, the entries frozen (what tests compare between the lane and the general path)."""
    groups, skipped, count = _collect_groups(commits, settings, audience, corrections, lane=lane)
    return frozen_sections(groups, settings), skipped, count


def _collect_groups(commits: Iterable[RawCommit], settings: NotesSettings, audience: str,
                    corrections: Mapping[str, Correction], *, lane: bool = True
                    ) -> tuple[Groups, tuple[Skipped, ...], int]:
    """The drafts by section, the skipped commits and the number of commits of the range.

    One pass reads the range as git writes it (git log runs on another core
    meanwhile), ordinary commits through the plain lane, the others through
    the general path. What the range-wide rules need is proved once at the end
    (`RangeReading.simple`): when no rule can apply, the drafts made while reading
    are the answer; otherwise the rules run for the commits they concern
    (`rangewide.mixed_drafts`), or, when that cannot rank the range, the
    general path decides for the whole range.
    `lane=False` takes the general path for every commit (tests compare both).
    """
    batches = getattr(commits, "batches", None)  # a notes.gitlog.CommitLog gives columns directly
    reading = RangeReading(settings, audience, corrections, lane=lane)
    for batch in batches() if batches is not None else batches_of(commits):
        reading.read(batch)
    if reading.finish():
        every, skipped, in_order = reading.drafts()
        groups = _sections(every, in_order, reading.held, reading.quiet, settings, audience)
        return groups, skipped, reading.count
    if reading.lane:
        aside = [rank for *_, rank in reading.aside]
        mixed = mixed_drafts(reading.batches, reading.newest_first, reading.changes, aside, reading.held,
                             reading.quiet, settings, audience, corrections)
        if mixed is not None:
            groups = _sections(mixed.every, True, mixed.held, mixed.quiet, settings, audience)
            return groups, mixed.skipped, reading.count
    raws = [batch.commit(k) for batch in reading.batches for k in range(len(batch))]
    return _collect_general(raws, reading.changes, settings, audience, corrections)


def _collect_general(raws: list[RawCommit], known: Mapping[int, CommitChanges], settings: NotesSettings,
                     audience: str, corrections: Mapping[str, Correction]
                     ) -> tuple[Groups, tuple[Skipped, ...], int]:
    """Every rule over the whole range: merges, reverts, cherry-picks, corrections (see the module)."""
    by_sha: dict[str, RawCommit] = {}
    changes: dict[str, CommitChanges] = {}
    unusual: list[str] = []  # merges, reverts and cherry-picks: the only ones range-wide rules look at
    unread: list[RawCommit] = []
    for raw in raws:
        sha = raw.sha
        by_sha[sha] = raw
        change = changes[sha] = known.get(len(unread)) or changes_of(raw)
        unread.append(raw)
        if change.kind != "commit" or change.cherry_picked_from:
            unusual.append(sha)
    raws = list(by_sha.values())
    ranks = topo_ranks(raws)
    oldest_first = _oldest_first(ranks)
    index = ShaIndex(ranks)
    fixes = resolve_corrections(corrections, index)
    special = [changes[sha] for sha in dict.fromkeys(unusual)]  # (a commit listed twice counts once)
    reverting = any(change.is_revert for change in special)
    dead = cancelled(changes, oldest_first, index) if reverting else frozenset()

    merges = [change.sha for change in special if change.kind == "merge" and change.changes]
    parents = {raw.sha: raw.parents for raw in raws} if merges else {}
    branches = {sha: branch_commits(sha, parents, ranks) for sha in merges}
    speaking = {sha: branch for sha, branch in branches.items()
                if any(c.conventional for c in changes[sha].changes)}
    stepping_aside = {sha for sha, branch in branches.items() if sha not in speaking and branch}
    owner = absorbed_by(speaking, ranks)
    picks = {change.sha: cherry_picked_original(change, index, change.sha)
             for change in special if change.cherry_picked_from}

    # Customer audiences never see a non-breaking change of an internal type, unless a
    # duplicate of it is breaking (see `_revived`): such commits are held back instead of
    # drafted, which saves drafting and merging ~40% of a typical range. Commits that
    # others fold into must be drafted, so they are never held.
    hold = audience in CUSTOMER_AUDIENCES
    internal_types = frozenset(settings.internal_types)
    targets = {*owner.values(), *(original for original in picks.values() if original is not None)}
    held: list[tuple[str, CommitChanges, int]] = []

    drafts: dict[str, list[Draft]] = {}
    skipped: list[Skipped] = []
    later: list[tuple[str, str]] = []  # (sha, owner-or-original) folded in after every draft exists
    for sha in oldest_first:
        if sha in dead or sha in stepping_aside:
            continue
        correction = fixes.get(sha)
        if correction is not None and correction.skip:
            skipped.append(Skipped(sha=sha, reason=correction.reason))
            continue
        if sha in owner:
            later.append((sha, owner[sha]))
            continue
        original = picks.get(sha)
        if original is not None and original not in dead:
            later.append((sha, original))
            continue
        change = changes[sha]
        if hold and correction is None and sha not in targets and is_quiet(change.changes, internal_types):
            held.append((sha, change, ranks[sha]))
            continue
        drafts[sha] = drafts_of(change, ranks[sha], settings, correction)

    for sha, target in later:
        target = owner.get(target, target)  # a pick of a branch commit joins that branch's merge
        if drafts.get(target):
            for parsed in changes[sha].changes:
                drafts[target][0].absorb(parsed, sha)
        elif sha not in owner and not (target in fixes and fixes[target].skip):
            drafts[sha] = drafts_of(changes[sha], ranks[sha], settings, fixes.get(sha))

    every = [d for group in drafts.values() for d in group]
    in_order = not later  # drafted oldest first, each commit's changes in order
    return _sections(every, in_order, held, [], settings, audience), tuple(skipped), len(raws)


def _sections(every: list[Draft], in_order: bool, held: list[tuple[str, CommitChanges, int]],
              quiet: list[tuple[QuietKey, int, CommitBatch, int]], settings: NotesSettings, audience: str
              ) -> Groups:
    """From every draft of the range (oldest first when `in_order`) to the drafts readers see, by section."""
    if held or quiet:
        revived = _revived(held, quiet, every, settings)
        every.extend(revived)
        in_order = in_order and not revived
    merged = merge_duplicates(every, in_order=in_order)
    groups, offenders = grouped_drafts(merged, settings, audience)
    if offenders:
        shown = ", ".join(sha[:12] for sha in offenders[:MAX_LISTED_OFFENDERS])
        extra = len(offenders) - MAX_LISTED_OFFENDERS
        more = f" and {extra} more" if extra > 0 else ""
        raise NonConventionalError(
            f"{len(offenders)} commit(s) in range do not follow Conventional Commits: {shown}{more}",
            hint="reword each with `quarterdeck notes reword SHA --text ...`, skip it, "
                 "or set [notes].non_conventional to keep or drop")
    return groups


def _oldest_first(ranks: Mapping[str, int]) -> list[str]:
    """Commit ids by rank, oldest (highest rank) first; ranks are 0..n-1, so no sort is needed."""
    order = [""] * len(ranks)
    for sha, rank in ranks.items():
        order[rank] = sha
    order.reverse()
    return order


def _revived(held: list[tuple[str, CommitChanges, int]], quiet: list[tuple[QuietKey, int, CommitBatch, int]],
             drafts: list[Draft], settings: NotesSettings) -> list[Draft]:
    """The drafts of held-back commits that duplicate a breaking change of an internal type.

    A held commit is quiet: alone, or merged with other quiet ones, its entry
    is internal. Only merged with a breaking duplicate (same type, scope and
    text) does it reach readers, and then it must be there with its id and
    place, exactly as if it had never been held. `held` are those the general
    path read, `quiet` those the plain lane read (by their type and scope only).
    """
    loud = {merge_key(d.type, d.scope, d.text) for d in drafts
            if d.breaking and settings.is_internal_type(d.type)}
    if not loud:
        return []
    scoped = {(ctype, scope) for ctype, scope, _ in loud}  # a cheaper first look than the whole key
    revived: list[Draft] = []
    # (the first look in a comprehension: most of a range's quiet commits are looked at only here)
    for (ctype, scope, description), rank, batch, k in [item for item in quiet if item[0][:2] in scoped]:
        if description.endswith(")"):  # what `_strip_request` and `_reader_text` make of it
            description = strip_request_text(description) or description
        # the key's text as the draft's would be: `upper_first` changes nothing once lower-cased
        if (ctype, scope, (one_line(description) or EMPTY_TEXT).lower()) in loud:
            draft = plain_draft(batch.shas[k], batch.messages[k], rank, frozenset())
            if draft is None:  # trailers the lane does not read (tickets, training)
                revived.extend(drafts_of(changes_of(batch.commit(k)), rank, settings, None))
            else:
                revived.append(draft)  # type: ignore[arg-type]  # with no quiet types, a Draft
    for _, change, rank in held:
        for p in change.changes:
            if ((p.type, (p.scope or "").lower()) in scoped
                    and merge_key(p.type, p.scope, reader_text(p, change.is_revert)) in loud):
                revived.extend(drafts_of(change, rank, settings, None))
                break
    return revived
