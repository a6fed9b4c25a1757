"""A commit's changes become drafts: one per change, a stored correction applied (pure).

Split out of `collect` so that the one pass over a range (`notes.collect.reading`)
and the general path over it (`collect`) draft with the very same code.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..commits.changes import CommitChanges, is_dependency_update
from ..commits.parsing import ParsedCommit, parse_header
from ..errors import CorrectionError
from ..history.graph import ShaIndex
from ..model import Correction
from ..settings import NotesSettings
from .entries import EMPTY_TEXT, NOT_CONVENTIONAL, Draft, one_line, one_line_training, upper_first


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
    """Every change of the commit is quiet (see `is_quiet_change`)."""
    return all([is_quiet_change(parsed.type, parsed.breaking, internal_types) for parsed in changes])


def is_quiet_change(ctype: str | None, breaking: bool, internal_types: frozenset[str]) -> bool:
    """A non-breaking change of an internal type: customer audiences never see it, unless a breaking
    duplicate of it brings it back (`collect._revived`)."""
    return not breaking and ctype in internal_types


def drafts_of(change: CommitChanges, rank: int, settings: NotesSettings,
              correction: Correction | None) -> list[Draft]:
    """The drafts of one commit's changes, its correction (if any) applied."""
    if correction is None and len(change.changes) == 1:  # nearly always
        return [draft(change.changes[0], change.sha, change.pull_request, change.is_revert, rank, 0,
                      change.problem)]
    drafts = [draft(parsed, change.sha, change.pull_request, change.is_revert, rank, n, change.problem)
              for n, parsed in enumerate(change.changes)]
    if correction is None or correction.text is None or not drafts:
        return drafts
    text = one_line(correction.text)
    first = drafts[0]
    for other in drafts[1:]:
        action = one_line("\n\n".join(other.actions) or other.text) if other.breaking else None
        first.absorb(change.sha, other.tickets, action, other.training)
    first.reworded = True
    first.flaw = None  # a person wrote what readers see
    fields = parse_header(text)
    if fields is not None:
        first.type, first.scope, bang, description = fields
        first.text = upper_first(description)
        first.conventional = True
        first.breaking = first.breaking or bang
    else:
        first.text = text
    return [first]


def reader_text(release_note: str | None, description: str, reverted: bool) -> str:
    """What readers see for a change: its release note, else its description (a revert says so)."""
    if release_note:
        return one_line(release_note)
    text = upper_first(one_line(description) or EMPTY_TEXT)
    return f"Reverted: {text}" if reverted else text


def draft(parsed: ParsedCommit, sha: str, pull_request: str | None, is_revert: bool, rank: int,
          position: int, problem: str | None = None) -> Draft:
    """The draft of one change of commit `sha` (its `position`-th); `problem`: what the spec rules out
    in the commit's header layout (`parsing.layout_problem`)."""
    description = one_line(parsed.description) or EMPTY_TEXT
    text = reader_text(parsed.release_note, description, parsed.type == "revert" and is_revert)
    actions: list[str] = []
    if parsed.breaking and parsed.breaking_description:
        note = one_line(parsed.breaking_description)
        if note.lower() != description.lower():
            actions.append(note)
    training = parsed.training
    return Draft(rank, position, parsed.type, parsed.scope, text, parsed.breaking, actions,
                  one_line_training(training) if training else training, list(parsed.tickets),
                  [sha], pull_request, parsed.conventional, parsed.internal, False,
                  problem if parsed.conventional else NOT_CONVENTIONAL,
                  is_dependency_update(parsed.type, parsed.scope, parsed.header))


