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

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from .changes import CommitChanges, changes_of
from .commits import ParsedCommit, RawCommit, parse_header
from .errors import CorrectionError, NonConventionalError
from .history import ShaIndex, absorbed_by, branch_commits, topo_ranks
from .model import Correction, Entry, ReleaseNotes, Section, Skipped, Ticket
from .reverts import cancelled
from .settings import (
    BREAKING,
    CUSTOMER_AUDIENCES,
    INTERNAL,
    OTHER,
    TRAINING,
    NotesSettings,
    check_audience,
)

TICKET_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]*")
EMPTY_TEXT = "(no commit message)"
MAX_LISTED_OFFENDERS = 20


@dataclass
class _Draft:
    """An entry while the range is still being read; frozen into `Entry` at the end."""

    rank: int
    position: int
    type: str | None
    scope: str | None
    text: str
    breaking: bool
    actions: list[str]
    training: str | None
    tickets: list[str]
    shas: list[str]
    pull_request: str | None
    conventional: bool
    internal: bool
    reworded: bool = False

    def absorb(self, parsed: ParsedCommit, sha: str) -> None:
        """Take on what a branch commit or duplicate adds: ids, tickets, breaking notes, training."""
        if sha not in self.shas:
            self.shas.append(sha)
        for ticket in parsed.tickets:
            if ticket not in self.tickets:
                self.tickets.append(ticket)
        if parsed.breaking:
            self.breaking = True
            note = one_line(parsed.breaking_description or parsed.description)
            if note and note not in self.actions:
                self.actions.append(note)
        if parsed.training is not None:
            self.training = _join_training(self.training, parsed.training)


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
    raws = list({raw.sha: raw for raw in commits}.values())
    changes = {raw.sha: changes_of(raw) for raw in raws}
    ranks = topo_ranks(raws)
    oldest_first = sorted(ranks, key=ranks.__getitem__, reverse=True)
    index = ShaIndex(ranks)
    fixes = resolve_corrections(corrections or {}, index)
    dead = cancelled(changes, oldest_first, index)
    parents = {raw.sha: raw.parents for raw in raws}

    branches = {sha: branch_commits(sha, parents, ranks)
                for sha, change in changes.items() if change.kind == "merge" and change.changes}
    speaking = {sha: branch for sha, branch in branches.items()
                if any(c.conventional for c in changes[sha].changes)}
    stepping_aside = {sha for sha, branch in branches.items() if sha not in speaking and branch}
    owner = absorbed_by(speaking, ranks)

    drafts: dict[str, list[_Draft]] = {}
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
        original = _cherry_picked_original(changes[sha], index, sha)
        if original is not None and original not in dead:
            later.append((sha, original))
            continue
        drafts[sha] = _drafts_of(changes[sha], ranks[sha], settings, correction)

    for sha, target in later:
        target = owner.get(target, target)  # a pick of a branch commit joins that branch's merge
        if drafts.get(target):
            for parsed in changes[sha].changes:
                drafts[target][0].absorb(parsed, sha)
        elif sha not in owner and not (target in fixes and fixes[target].skip):
            drafts[sha] = _drafts_of(changes[sha], ranks[sha], settings, fixes.get(sha))

    merged = _merge_duplicates([d for group in drafts.values() for d in group])
    sections, offenders = _sections(merged, settings, audience)
    if offenders:
        shown = ", ".join(sha[:12] for sha in offenders[:MAX_LISTED_OFFENDERS])
        extra = len(offenders) - MAX_LISTED_OFFENDERS
        more = f" and {extra} more" if extra > 0 else ""
        raise NonConventionalError(
            f"{len(offenders)} commit(s) in range do not follow Conventional Commits: {shown}{more}",
            hint="reword each with `quarterdeck notes reword SHA --text ...`, skip it, "
                 "or set [notes].non_conventional to keep or drop")
    return ReleaseNotes(audience=audience, sections=sections, version=version, project=project,
                        since=since, until=until, date=date, commit_count=len(raws),
                        skipped=tuple(skipped))


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


def one_line(text: str) -> str:
    return " ".join(text.split())


def upper_first(text: str) -> str:
    """Capitalise a lower-case first word for readers ("add export" → "Add export"), leave "iOS" alone."""
    first = text.split(" ", 1)[0]
    if first.isascii() and first.isalpha() and first.islower():
        return text[0].upper() + text[1:]
    return text


def ticket(ticket_id: str, settings: NotesSettings) -> Ticket | None:
    if ticket_id.startswith(("https://", "http://")):
        return Ticket(id=ticket_id, url=ticket_id)
    if TICKET_ID_RE.fullmatch(ticket_id) is None:
        return None  # not an id (stray punctuation, markup): better no link than a wrong one
    url = settings.ticket_url.replace("{ticket}", quote(ticket_id, safe="")) if settings.ticket_url else None
    return Ticket(id=ticket_id, url=url)


def _cherry_picked_original(change: CommitChanges, index: ShaIndex, sha: str) -> str | None:
    for named in change.cherry_picked_from:
        full = index.resolve(named)
        if full is not None and full != sha:
            return full
    return None


def _drafts_of(change: CommitChanges, rank: int, settings: NotesSettings,
               correction: Correction | None) -> list[_Draft]:
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


def _as_parsed(draft: _Draft) -> ParsedCommit:
    return ParsedCommit(header=draft.text, type=draft.type, scope=draft.scope, breaking=draft.breaking,
                        breaking_description="\n\n".join(draft.actions) or None, description=draft.text,
                        body="", footers=(), conventional=draft.conventional,
                        tickets=tuple(draft.tickets), training=draft.training, internal=draft.internal)


def _draft(parsed: ParsedCommit, change: CommitChanges, rank: int, position: int) -> _Draft:
    description = one_line(parsed.description) or EMPTY_TEXT
    if parsed.release_note:
        text = one_line(parsed.release_note)
    elif parsed.type == "revert" and change.is_revert:
        text = f"Reverted: {upper_first(description)}"
    else:
        text = upper_first(description)
    actions: list[str] = []
    if parsed.breaking and parsed.breaking_description:
        note = one_line(parsed.breaking_description)
        if note.lower() != description.lower():
            actions.append(note)
    return _Draft(rank=rank, position=position, type=parsed.type, scope=parsed.scope, text=text,
                  breaking=parsed.breaking, actions=actions, training=parsed.training,
                  tickets=list(parsed.tickets), shas=[change.sha], pull_request=change.pull_request,
                  conventional=parsed.conventional, internal=parsed.internal)


def _merge_duplicates(drafts: list[_Draft]) -> list[_Draft]:
    """One entry per (type, scope, text): the oldest keeps its place, the others add their ids."""
    kept: dict[tuple[str | None, str, str], _Draft] = {}
    for draft in sorted(drafts, key=lambda d: (-d.rank, d.position)):
        key = (draft.type, (draft.scope or "").lower(), draft.text.lower())
        first = kept.get(key)
        if first is None:
            kept[key] = draft
            continue
        for sha in draft.shas:
            if sha not in first.shas:
                first.shas.append(sha)
        first.tickets.extend(t for t in draft.tickets if t not in first.tickets)
        first.actions.extend(a for a in draft.actions if a not in first.actions)
        first.breaking = first.breaking or draft.breaking
        first.internal = first.internal and draft.internal
        if draft.training is not None:
            first.training = _join_training(first.training, draft.training)
    return list(kept.values())


def _section_of(draft: _Draft, settings: NotesSettings) -> str:
    if draft.internal:
        return INTERNAL
    if draft.breaking:
        return BREAKING  # a breaking change reaches readers even under an internal type
    if settings.is_internal_type(draft.type):
        return INTERNAL
    if draft.training is not None:
        return TRAINING
    return settings.section_of_type(draft.type) if draft.conventional else OTHER


def _sections(drafts: list[_Draft], settings: NotesSettings, audience: str
              ) -> tuple[tuple[Section, ...], list[str]]:
    grouped: dict[str, list[Entry]] = {}
    offenders: list[str] = []
    for draft in drafts:
        section = _section_of(draft, settings)
        if not draft.conventional and not draft.reworded and section != INTERNAL:
            if settings.non_conventional == "drop":
                continue
            if settings.non_conventional == "fail":
                offenders.append(draft.shas[0])
                continue
        if audience in CUSTOMER_AUDIENCES and section == INTERNAL:
            continue
        grouped.setdefault(section, []).append(_freeze(draft, section, settings))
    sections = tuple(Section(key=key, title=settings.title_of(key), entries=tuple(grouped[key]))
                     for key in settings.ordered_sections() if grouped.get(key))
    return sections, offenders


def _freeze(draft: _Draft, section: str, settings: NotesSettings) -> Entry:
    tickets = tuple(t for t in (ticket(i, settings) for i in draft.tickets) if t is not None)
    action = " ".join(draft.actions) if draft.breaking and draft.actions else None
    return Entry(section=section, type=draft.type, scope=draft.scope, text=draft.text, action=action,
                 breaking=draft.breaking, training=draft.training, tickets=tickets,
                 short_sha=draft.shas[0][:7], shas=tuple(draft.shas), pull_request=draft.pull_request,
                 conventional=draft.conventional, internal=draft.internal, reworded=draft.reworded)


def _join_training(current: str | None, more: str) -> str:
    if not current:
        return more
    if not more or more in current:
        return current
    return f"{current} {more}"
