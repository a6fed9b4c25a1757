"""The plain form of collect's rules, kept to prove the production path right (pure).

`notes.collect` reads a range in one pass, drafts ordinary commits through
the plain lane and applies the range-wide rules only to the commits they
concern. This oracle applies every rule to every commit, in the order
`notes.collect`'s docstring states them: each commit through `changes_of`,
ranks from the commit graph (`history.topo_ranks`), every merge's branch by
the heap walk (`history.branch_commits`), nothing held back for customer
audiences. The property tests (test_plain_lane.py, test_listing.py) compare
the production notes with these, for every audience, on generated histories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from notes.collect.collect import reader_groups
from notes.collect.drafting import drafts_of, resolve_corrections
from notes.collect.entries import Draft
from notes.collect.listing import frozen_sections
from notes.collect.rangewide import cherry_picked_original
from notes.commits.changes import CommitChanges, changes_of
from notes.commits.parsing import RawCommit
from notes.commits.reverts import cancelled
from notes.history.graph import ShaIndex, absorbed_by, branch_commits, topo_ranks
from notes.model import Correction, ReleaseNotes, Skipped
from notes.settings import NotesSettings, check_audience


def oracle_notes(commits: Iterable[RawCommit], settings: NotesSettings, audience: str,
                 corrections: Mapping[str, Correction] | None = None) -> ReleaseNotes:
    """What `notes.collect.collect` must give for these commits (newest first, as git log gives them)."""
    check_audience(audience)
    by_sha: dict[str, RawCommit] = {}
    for raw in commits:
        by_sha[raw.sha] = raw  # a commit listed twice counts once: its last copy, in its first place
    raws = list(by_sha.values())
    changes: dict[str, CommitChanges] = {raw.sha: changes_of(raw) for raw in raws}
    ranks = topo_ranks(raws)
    oldest_first = sorted(ranks, key=ranks.__getitem__, reverse=True)
    index = ShaIndex(ranks)
    fixes = resolve_corrections(corrections or {}, index)
    dead = cancelled(changes, oldest_first, index)

    parents = {raw.sha: raw.parents for raw in raws}
    branches = {sha: branch_commits(sha, parents, ranks) for sha, change in changes.items()
                if change.kind == "merge" and change.changes}
    speaking = {sha: branch for sha, branch in branches.items()
                if any(parsed.conventional for parsed in changes[sha].changes)}
    stepping_aside = {sha for sha, branch in branches.items() if sha not in speaking and branch}
    owner = absorbed_by(speaking, ranks)
    picks = {sha: cherry_picked_original(change, index, sha)
             for sha, change in changes.items() if change.cherry_picked_from}

    drafts: dict[str, list[Draft]] = {}
    skipped: list[Skipped] = []
    later: list[tuple[str, str]] = []  # (sha, its merge or original) folded in once every draft exists
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
        drafts[sha] = drafts_of(changes[sha], ranks[sha], settings, correction)
    for sha, target in later:
        target = owner.get(target, target)  # a pick of a branch commit joins that branch's merge
        if drafts.get(target):
            for parsed in changes[sha].changes:
                drafts[target][0].absorb_change(parsed, sha)
        elif sha not in owner and not (target in fixes and fixes[target].skip):
            drafts[sha] = drafts_of(changes[sha], ranks[sha], settings, fixes.get(sha))

    every = [draft for group in drafts.values() for draft in group]
    groups, flagged = reader_groups(every, settings, audience, in_order=False)
    return ReleaseNotes(audience=audience, sections=frozen_sections(groups, settings, audience),
                        commit_count=len(raws), skipped=tuple(skipped), flagged=flagged)
