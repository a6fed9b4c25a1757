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
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date

from .changes import CommitChanges, changes_of
from .commits import ParsedCommit, RawCommit, parse_header
from .entries import (
    Draft,
    merge_duplicates,
    merge_key,
    one_line,
    one_line_training,
    sections_of,
    upper_first,
)
from .entries import ticket as ticket  # re-exported: part of this module's interface before the split
from .errors import CorrectionError, NonConventionalError
from .history import ShaIndex, absorbed_by, branch_commits, topo_ranks
from .model import Correction, ReleaseNotes, Section, Skipped
from .reverts import cancelled
from .settings import CUSTOMER_AUDIENCES, NotesSettings, check_audience

EMPTY_TEXT = "(no commit message)"
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
    check_audience(audience)
    with _gc_paused():
        sections, skipped, count = _collect(commits, settings, audience, corrections or {})
    return ReleaseNotes(audience=audience, sections=sections, version=version, project=project,
                        since=since, until=until, date=date, commit_count=count, skipped=skipped)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a range is collected.

    Collecting makes several long-lived objects per commit and no cycles;
    with the collector on, each burst of allocations set off a pass over
    everything made so far (~20% of the time on 100,000 commits).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _collect(commits: Iterable[RawCommit], settings: NotesSettings, audience: str,
             corrections: Mapping[str, Correction]) -> tuple[tuple[Section, ...], tuple[Skipped, ...], int]:
    """The sections, the skipped commits and the number of commits of the range."""
    by_sha: dict[str, RawCommit] = {}
    changes: dict[str, CommitChanges] = {}
    unusual: list[str] = []  # merges, reverts and cherry-picks: the only ones range-wide rules look at
    for raw in commits:  # read as git writes: git log runs on another core meanwhile
        sha = raw.sha
        by_sha[sha] = raw
        change = changes[sha] = changes_of(raw)
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
    picks = {change.sha: _cherry_picked_original(change, index, change.sha)
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
        if hold and correction is None and sha not in targets and _quiet(change.changes, internal_types):
            held.append((sha, change, ranks[sha]))
            continue
        drafts[sha] = _drafts_of(change, ranks[sha], settings, correction)

    for sha, target in later:
        target = owner.get(target, target)  # a pick of a branch commit joins that branch's merge
        if drafts.get(target):
            for parsed in changes[sha].changes:
                drafts[target][0].absorb(parsed, sha)
        elif sha not in owner and not (target in fixes and fixes[target].skip):
            drafts[sha] = _drafts_of(changes[sha], ranks[sha], settings, fixes.get(sha))

    every = [d for group in drafts.values() for d in group]
    in_order = not later  # drafted oldest first, each commit's changes in order
    if held:
        revived = _revived(held, every, settings)
        every.extend(revived)
        in_order = in_order and not revived
    merged = merge_duplicates(every, in_order=in_order)
    sections, offenders = sections_of(merged, settings, audience)
    if offenders:
        shown = ", ".join(sha[:12] for sha in offenders[:MAX_LISTED_OFFENDERS])
        extra = len(offenders) - MAX_LISTED_OFFENDERS
        more = f" and {extra} more" if extra > 0 else ""
        raise NonConventionalError(
            f"{len(offenders)} commit(s) in range do not follow Conventional Commits: {shown}{more}",
            hint="reword each with `quarterdeck notes reword SHA --text ...`, skip it, "
                 "or set [notes].non_conventional to keep or drop")
    return sections, tuple(skipped), len(raws)


def _oldest_first(ranks: Mapping[str, int]) -> list[str]:
    """Commit ids by rank, oldest (highest rank) first; ranks are 0..n-1, so no sort is needed."""
    order = [""] * len(ranks)
    for sha, rank in ranks.items():
        order[rank] = sha
    order.reverse()
    return order


def _quiet(changes: tuple[ParsedCommit, ...], internal_types: frozenset[str]) -> bool:
    """Every change of the commit is a non-breaking one of an internal type."""
    if len(changes) == 1:  # nearly always: no generator for it
        return not changes[0].breaking and changes[0].type in internal_types
    return all(not parsed.breaking and parsed.type in internal_types for parsed in changes)


def _revived(held: list[tuple[str, CommitChanges, int]], drafts: list[Draft],
             settings: NotesSettings) -> list[Draft]:
    """The drafts of held-back commits that duplicate a breaking change of an internal type.

    A held commit is quiet: alone, or merged with other quiet ones, its entry
    is internal. Only merged with a breaking duplicate (same type, scope and
    text) does it reach readers, and then it must be there with its id and
    place, exactly as if it had never been held.
    """
    loud = {merge_key(d.type, d.scope, d.text) for d in drafts
            if d.breaking and settings.is_internal_type(d.type)}
    if not loud:
        return []
    scoped = {(ctype, scope) for ctype, scope, _ in loud}  # a cheaper first look than the whole key
    revived: list[Draft] = []
    for _, change, rank in held:
        for p in change.changes:
            if ((p.type, (p.scope or "").lower()) in scoped
                    and merge_key(p.type, p.scope, _reader_text(p, change)) in loud):
                revived.extend(_drafts_of(change, rank, settings, None))
                break
    return revived


def resolve_corrections(corrections: Mapping[str, Correction], index: ShaIndex) -> dict[str, Correction]:
    """Corrections keyed by full commit id; ids of commits outside the range are ignored."""
    resolved: dict[str, Correction] = {}
    for key, correction in corrections.items():
        matches = index.matches(key.strip().lower()) if len(key.strip()) >= 4 else []
        if len(matches) > 1:
            raise CorrectionError(f"correction for {key!r} matches several commits in range: "
                                  f"{', '.join(m[:12] for m in matches)}",
                                  hint="store the correction under the full commit id")
        if matches:
            if not correction.skip and not (correction.text or "").strip():
                raise CorrectionError(f"correction for {key} has neither skip nor text",
                                      hint="reword with a non-empty --text, or skip the commit")
            resolved[matches[0]] = correction
    return resolved


def _cherry_picked_original(change: CommitChanges, index: ShaIndex, sha: str) -> str | None:
    for named in change.cherry_picked_from:
        full = index.resolve(named)
        if full is not None and full != sha:
            return full
    return None


def _drafts_of(change: CommitChanges, rank: int, settings: NotesSettings,
               correction: Correction | None) -> list[Draft]:
    if correction is None and len(change.changes) == 1:  # nearly always
        return [_draft(change.changes[0], change, rank, 0)]
    drafts = [_draft(parsed, change, rank, n) for n, parsed in enumerate(change.changes)]
    if correction is None or correction.text is None or not drafts:
        return drafts
    text = one_line(correction.text)
    first = drafts[0]
    for other in drafts[1:]:
        first.absorb(_as_parsed(other), change.sha)
    first.reworded = True
    fields = parse_header(text)
    if fields is not None:
        first.type, first.scope, bang, description = fields
        first.text = upper_first(description)
        first.conventional = True
        first.breaking = first.breaking or bang
    else:
        first.text = text
    return [first]


def _as_parsed(draft: Draft) -> ParsedCommit:
    return ParsedCommit(header=draft.text, type=draft.type, scope=draft.scope, breaking=draft.breaking,
                        breaking_description="\n\n".join(draft.actions) or None, description=draft.text,
                        body="", footers=(), conventional=draft.conventional,
                        tickets=tuple(draft.tickets), training=draft.training, internal=draft.internal)


def _reader_text(parsed: ParsedCommit, change: CommitChanges, description: str | None = None) -> str:
    """What readers see for a change: its release note, else its description (a revert says so)."""
    if parsed.release_note:
        return one_line(parsed.release_note)
    if description is None:
        description = one_line(parsed.description) or EMPTY_TEXT
    if parsed.type == "revert" and change.is_revert:
        return f"Reverted: {upper_first(description)}"
    return upper_first(description)


def _draft(parsed: ParsedCommit, change: CommitChanges, rank: int, position: int) -> Draft:
    description = one_line(parsed.description) or EMPTY_TEXT
    if parsed.release_note or parsed.type == "revert":
        text = _reader_text(parsed, change, description)
    else:
        text = upper_first(description)  # what _reader_text comes to for nearly every change
    actions: list[str] = []
    if parsed.breaking and parsed.breaking_description:
        note = one_line(parsed.breaking_description)
        if note.lower() != description.lower():
            actions.append(note)
    training = parsed.training
    return Draft(rank, position, parsed.type, parsed.scope, text, parsed.breaking, actions,
                  one_line_training(training) if training else training, list(parsed.tickets),
                  [change.sha], change.pull_request, parsed.conventional, parsed.internal)


