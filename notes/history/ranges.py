"""Which commits a build's notes cover, for each audience (pure: git is asked through `Graph`).

The rule readers rely on: production notes run from what production runs now
to the build, so the quarterly notes carry everything the beta builds carried
in between; beta notes run from what staging runs now. Three situations
need a decision beyond that:

- Nothing runs on the tier yet: production falls back to the nearest `v*`
  tag (the last release), else to the beginning; beta falls back to the
  production range.
- The build already runs there (or the tier runs something newer that
  contains it): its notes are what it brought when it arrived, from the
  build promoted there before it. For production the range its approval
  was given for comes first (so the approval stands through the promotion
  it was given for), then the build before it, then the release tag before
  it. Beta without a build before it falls back to production.
- The start is not an ancestor of the build (a hotfix branch, a `--since` on
  another branch): git's merge-base is used, and the range says so, so a
  reader is never silently handed notes for a range nobody asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..settings import check_audience


class Graph(Protocol):
    def resolve(self, ref: str, what: str) -> str: ...

    def is_ancestor(self, ancestor: str, descendant: str) -> bool: ...

    def merge_base(self, a: str, b: str) -> str | None: ...

    def previous_tag(self, commit: str) -> tuple[str, str] | None: ...


@dataclass(frozen=True)
class NotesRange:
    """`since` (exclusive, None = from the first commit) to `until` (the build's commit)."""

    audience: str
    since: str | None
    until: str
    label: str | None  # how `since` is shown: a tag name, "production (abc1234)", the --since given
    basis: str  # explicit | production | staging | approval | tag | beginning
    remarks: tuple[str, ...] = ()


@dataclass(frozen=True)
class TierCommits:
    """The commits running on production and on staging now (None: nothing runs there).

    `*_before`: the commit of the build promoted to the tier before this
    build was, when this build went there (None: unknown, or never there).
    """

    production: str | None
    staging: str | None
    production_before: str | None = None
    staging_before: str | None = None


def resolve_range(graph: Graph, commit: str, audience: str, tiers: TierCommits, *,
                  since: str | None = None, approved: bool = False,
                  approved_since: str | None = None) -> NotesRange:
    """The range of `audience` notes for the build at `commit`.

    `approved` says the build's production notes were approved, for the
    range starting at `approved_since` (None: from the beginning).
    """
    check_audience(audience)
    if since is not None:
        start = graph.resolve(since, "--since")
        return _anchored(graph, audience, commit, start, since, "explicit", f"--since {since}")
    remarks: list[str] = []
    if audience == "beta":
        if tiers.staging is not None:
            found = _from_tier(graph, audience, commit, tiers.staging, "staging")
            if found is not None:
                return found
            if tiers.staging_before is not None:
                return _anchored(graph, audience, commit, tiers.staging_before,
                                 f"staging before it ({tiers.staging_before[:7]})", "staging",
                                 "the build before it on staging ran")
            remarks.append("the build already runs on staging (or staging runs a newer build): "
                           "beta notes cover the production range")
        else:
            remarks.append("nothing runs on staging: beta notes cover the production range")
    found = None
    if tiers.production is not None:
        found = _from_tier(graph, audience, commit, tiers.production, "production")
    if found is not None:
        return _with_remarks(found, remarks)
    if tiers.production is not None and approved:
        label = approved_since[:7] if approved_since else None
        return NotesRange(audience, approved_since, commit, label, "approval",
                          (*remarks, "the build already runs on production: "
                                     "notes cover the range they were approved for"))
    if tiers.production is not None and tiers.production_before is not None:
        return _with_remarks(_anchored(graph, audience, commit, tiers.production_before,
                                       f"production before it ({tiers.production_before[:7]})",
                                       "production", "the build before it on production ran"), remarks)
    if tiers.production is not None:
        remarks.append("the build already runs on production: notes start at the release before it")
    tag = graph.previous_tag(commit)
    if tag is not None:
        name, tagged = tag
        return NotesRange(audience, tagged, commit, name, "tag", tuple(remarks))
    return NotesRange(audience, None, commit, None, "beginning", tuple(remarks))


def _from_tier(graph: Graph, audience: str, commit: str, running: str, tier: str) -> NotesRange | None:
    """The range from the tier's commit, or None when the build is already there (or behind it)."""
    if running == commit or graph.is_ancestor(commit, running):
        return None
    return _anchored(graph, audience, commit, running, f"{tier} ({running[:7]})", tier, f"{tier} runs")


def _anchored(graph: Graph, audience: str, commit: str, start: str, label: str, basis: str,
              what: str) -> NotesRange:
    if start == commit or graph.is_ancestor(start, commit):
        return NotesRange(audience, start, commit, label, basis)
    base = graph.merge_base(start, commit)
    if base is None:
        return NotesRange(audience, None, commit, None, "beginning",
                          (f"{what} {start[:12]}, which shares no history with the build's commit "
                           f"{commit[:12]}: notes cover the build's whole history",))
    return NotesRange(audience, base, commit, f"{label}, merge-base {base[:7]}", basis,
                      (f"{what} {start[:12]}, which is not an ancestor of the build's commit "
                       f"{commit[:12]}: notes start at their merge-base {base[:12]}",))


def _with_remarks(found: NotesRange, remarks: list[str]) -> NotesRange:
    if not remarks:
        return found
    return NotesRange(found.audience, found.since, found.until, found.label, found.basis,
                      (*remarks, *found.remarks))
