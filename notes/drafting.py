"""A commit's changes become drafts: one per change, a stored correction applied (pure).

Split out of `collect` so that the one pass over a range (`notes.reading`)
and the general path over it (`collect`) draft with the very same code.
"""

from __future__ import annotations

from collections.abc import Mapping

from .changes import CommitChanges
from .commits import ParsedCommit, parse_header
from .entries import EMPTY_TEXT, Draft, one_line, one_line_training, upper_first
from .errors import CorrectionError
from .history import ShaIndex
from .model import Correction
from .settings import NotesSettings


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


def is_quiet(changes: tuple[ParsedCommit, ...], internal_types: frozenset[str]) -> bool:
    """Every change of the commit is a non-breaking one of an internal type."""
    if len(changes) == 1:  # nearly always: no generator for it
        return not changes[0].breaking and changes[0].type in internal_types
    return all(not parsed.breaking and parsed.type in internal_types for parsed in changes)


def drafts_of(change: CommitChanges, rank: int, settings: NotesSettings,
              correction: Correction | None) -> list[Draft]:
    """The drafts of one commit's changes, its correction (if any) applied."""
    if correction is None and len(change.changes) == 1:  # nearly always
        return [draft(change.changes[0], change.sha, change.pull_request, change.is_revert, rank, 0)]
    drafts = [draft(parsed, change.sha, change.pull_request, change.is_revert, rank, n)
              for n, parsed in enumerate(change.changes)]
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


def reader_text(parsed: ParsedCommit, is_revert: bool, description: str | None = None) -> str:
    """What readers see for a change: its release note, else its description (a revert says so)."""
    if parsed.release_note:
        return one_line(parsed.release_note)
    if description is None:
        description = one_line(parsed.description) or EMPTY_TEXT
    if parsed.type == "revert" and is_revert:
        return f"Reverted: {upper_first(description)}"
    return upper_first(description)


def draft(parsed: ParsedCommit, sha: str, pull_request: str | None, is_revert: bool, rank: int,
          position: int) -> Draft:
    """The draft of one change of commit `sha` (its `position`-th)."""
    description = one_line(parsed.description) or EMPTY_TEXT
    if parsed.release_note or parsed.type == "revert":
        text = reader_text(parsed, is_revert, description)
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
                  [sha], pull_request, parsed.conventional, parsed.internal)


