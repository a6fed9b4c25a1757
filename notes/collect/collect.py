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
   breaking → Action required; internal type → internal; a dependency
   update → `dependency_section` (internal by default); otherwise by type.
   An entry with training keeps its section and is listed again under
   Training. Customer audiences never see internal ones.
8. Non-conventional messages are kept in the internal notes only (the
   default), kept for every audience (Other changes), dropped, or make the
   whole run fail naming every offending commit, as the settings say; a
   reworded commit has been looked at by a person and always passes.
9. Commits whose message breaks the spec (not conventional, an empty scope,
   no blank line after the header) are listed (`ReleaseNotes.flagged`) and
   marked in the internal notes, so they can be reworded before approval.

How: one pass reads the range as git writes it (`notes.collect.reading`), ordinary
commits through the plain lane (`notes.collect.plainlane`); then `notes.collect.rangewide`
applies rules 2-5 to the commits they concern and keeps the pass's drafts of
all others, and this module applies 5-9. Every rule is one function, which
the lane and the general path both call. When git's order is not a
topological one (clock skew), the range is read again in a topological order.
tests/notes/oracle.py keeps the plain form of these rules (every rule applied
to every commit, in turn), and the tests compare the two on generated
histories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from ..commits.parsing import RawCommit
from ..errors import NonConventionalError
from ..history.batches import CommitBatch, batches_of
from ..history.graph import topo_ranks
from ..model import Correction, Flagged, ReleaseNotes, Skipped
from ..settings import NotesSettings, check_audience
from .drafting import drafts_of, reader_text
from .entries import Draft, grouped_drafts, merge_duplicates, merge_key, one_line
from .entries import ticket as ticket  # re-exported: part of this module's interface before the split
from .listing import Groups, Listing, gc_paused
from .plainlane import plain_draft, plain_text
from .rangewide import range_rules
from .reading import Held, Quiet, RangeReading

__all__ = ["collect", "collect_listing", "one_line", "reader_groups", "ticket"]

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
        groups, skipped, flagged, count = _collect_groups(commits, settings, audience, corrections or {})
    head = ReleaseNotes(audience=audience, sections=(), version=version, project=project, since=since,
                        until=until, date=date, commit_count=count, skipped=skipped, flagged=flagged)
    return Listing(head, groups, settings)


def _collect_groups(commits: Iterable[RawCommit], settings: NotesSettings, audience: str,
                    corrections: Mapping[str, Correction]
                    ) -> tuple[Groups, tuple[Skipped, ...], tuple[Flagged, ...], int]:
    """The drafts by section, the skipped and the flagged commits and the number of commits of the range.

    One pass reads the range as git writes it (git log runs on another core
    meanwhile); the range-wide rules then decide the commits they concern.
    """
    batches = getattr(commits, "batches", None)  # a notes.history.gitlog.CommitLog gives columns directly
    reading = RangeReading(settings, audience, corrections)
    for batch in batches() if batches is not None else batches_of(commits):
        reading.read(batch)
    ruled = range_rules(reading, settings, audience, corrections)
    if ruled is None:  # a parent listed before its child (clock skew), or a commit listed twice
        read = reading.batches
        reading = RangeReading(settings, audience, corrections)
        reading.read(_topological(read))
        ruled = range_rules(reading, settings, audience, corrections)
        assert ruled is not None, "a topological order gives ranks that are log positions"
    groups, flagged = _sections(ruled.every, ruled.held, ruled.quiet, settings, audience)
    return groups, ruled.skipped, flagged, reading.count


def _topological(batches: Sequence[CommitBatch]) -> CommitBatch:
    """The commits in a topological order as close to git's as can be (`history.topo_ranks`),
    each listed once (the last of its copies, in the place of the first)."""
    once: dict[str, RawCommit] = {}
    for batch in batches:
        for k, sha in enumerate(batch.shas):
            once[sha] = batch.commit(k)
    commits = list(once.values())
    ranks = topo_ranks(commits)
    ordered: list[RawCommit] = [commits[0]] * len(commits)
    for commit in commits:
        ordered[ranks[commit.sha]] = commit
    return CommitBatch.from_commits(ordered)


def reader_groups(drafts: list[Draft], settings: NotesSettings, audience: str, *, in_order: bool
                  ) -> tuple[Groups, tuple[Flagged, ...]]:
    """Rules 6-9: duplicates merged, each entry in its section, the non-conventional policy applied;
    and the commits whose message breaks the spec, to reword before approval.

    `in_order`: the drafts are oldest first, each commit's in order (else they are sorted so).
    """
    merged = merge_duplicates(drafts, in_order=in_order)
    groups, offenders, flagged = grouped_drafts(merged, settings, audience)
    if offenders:
        shown = ", ".join(sha[:12] for sha in offenders[:MAX_LISTED_OFFENDERS])
        extra = len(offenders) - MAX_LISTED_OFFENDERS
        more = f" and {extra} more" if extra > 0 else ""
        raise NonConventionalError(
            f"{len(offenders)} commit(s) in range do not follow Conventional Commits: {shown}{more}",
            hint="reword each with `quarterdeck notes reword SHA --text ...`, skip it, "
                 "or set [notes].non_conventional to internal, keep or drop")
    return groups, tuple(flagged)


def _sections(every: list[Draft], held: list[Held], quiet: list[Quiet], settings: NotesSettings,
              audience: str) -> tuple[Groups, tuple[Flagged, ...]]:
    """From every draft of the range (oldest first) to the drafts readers see, by section."""
    revived = _revived(held, quiet, every, settings) if held or quiet else []
    every.extend(revived)
    return reader_groups(every, settings, audience, in_order=not revived)


def _revived(held: list[Held], quiet: list[Quiet], drafts: list[Draft], settings: NotesSettings
             ) -> list[Draft]:
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
    for (ctype, scope, description), rank, batch, k in [item for item in quiet if item[0][:2] in scoped]:
        if (ctype, scope, plain_text(description, None).lower()) in loud:  # its merge_key
            draft = plain_draft(batch.shas[k], batch.messages[k], rank, frozenset())
            assert draft.__class__ is Draft, "a quiet commit is one the lane drafts"
            revived.append(draft)
    for _, change, rank in held:
        for p in change.changes:
            if ((p.type, (p.scope or "").lower()) in scoped
                    and merge_key(p.type, p.scope,
                                  reader_text(p.release_note, p.description, p.type == "revert"
                                              and change.is_revert)) in loud):
                revived.extend(drafts_of(change, rank, settings, None))
                break
    return revived
