"""Drafts become entries: duplicates merged, each given its section, then frozen (pure).

`collect` decides which commits readers see and drafts their entries; this
module holds what happens to drafts after that, and the small text rules
(`one_line`, `upper_first`) both use. Split out of `collect` by concept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from ..commits.parsing import ParsedCommit
from ..model import Entry, Flagged, Ticket
from ..settings import BREAKING, CUSTOMER_AUDIENCES, INTERNAL, OTHER, TRAINING, NotesSettings

TICKET_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]*")
EMPTY_TEXT = "(no commit message)"  # what readers see for a change with no description
NOT_CONVENTIONAL = "not a Conventional Commits header (type: description)"


@dataclass(slots=True)
class Draft:
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
    flaw: str | None = None  # what breaks the spec in its message: NOT_CONVENTIONAL, or a layout_problem
    dependency: bool = False  # a dependency update (notes.commits.changes.is_dependency_update)

    def absorb(self, sha: str, tickets: Iterable[str], action: str | None, training: str | None) -> None:
        """Take on what a branch commit, a cherry-pick or a reworded commit's other change adds: its id,
        tickets, breaking note (`action`: None when not breaking) and training (on one line)."""
        if sha not in self.shas:
            self.shas.append(sha)
        for ticket in tickets:
            if ticket not in self.tickets:
                self.tickets.append(ticket)
        if action is not None:
            self.breaking = True
            if action and action not in self.actions:
                self.actions.append(action)
        if training is not None:
            self.training = join_training(self.training, training)

    def absorb_change(self, parsed: ParsedCommit, sha: str) -> None:
        """`absorb` of one parsed change of commit `sha`."""
        action = one_line(parsed.breaking_description or parsed.description) if parsed.breaking else None
        self.absorb(sha, parsed.tickets, action, one_line_training(parsed.training))


def one_line(text: str) -> str:
    """The text on one line, every run of whitespace one space, none at either end."""
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        # Already so (printable text holds no whitespace but the ASCII space): most
        # descriptions are, and this look costs half of splitting and joining.
        return text
    return " ".join(text.split())


def upper_first(text: str) -> str:
    """Capitalise a lower-case first word for readers ("add export" → "Add export"), leave "iOS" alone."""
    if not "a" <= text[:1] <= "z":  # the usual answer, from the first letter alone
        return text
    # The first word (up to the first space) all ASCII lower-case letters: one match
    # instead of a slice and three str tests.
    if _LOWER_WORD_RE.match(text) is None:
        return text
    return text[0].upper() + text[1:]


_LOWER_WORD_RE = re.compile(r"[a-z]+(?: |\Z)")


def ticket(ticket_id: str, settings: NotesSettings, for_customers: bool = False) -> Ticket | None:
    """A ticket as readers see it; for customers only a link made with a public `ticket_url`
    (a link written in the commit, or an id without a public link, is the tracker's, not theirs)."""
    if for_customers and not (settings.ticket_url_public and settings.ticket_url):
        return None
    if ticket_id.startswith(("https://", "http://")):
        return None if for_customers else Ticket(id=ticket_id, url=ticket_id)
    if TICKET_ID_RE.fullmatch(ticket_id) is None:
        return None  # not an id (stray punctuation, markup): better no link than a wrong one
    url = settings.ticket_url.replace("{ticket}", quote(ticket_id, safe="")) if settings.ticket_url else None
    return Ticket(ticket_id, url)


def merge_duplicates(drafts: list[Draft], *, in_order: bool = False) -> list[Draft]:
    """One entry per (type, scope, text): the oldest keeps its place, the others add their ids.

    `in_order`: the drafts are already oldest first, each commit's in order, which
    saves sorting a whole range's drafts.
    """
    kept: dict[tuple[str | None, str, str], Draft] = {}
    for draft in drafts if in_order else sorted(drafts, key=lambda d: (-d.rank, d.position)):
        key = (draft.type, (draft.scope or "").lower(), draft.text.lower())  # merge_key, inline
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
            first.training = join_training(first.training, draft.training)
    return list(kept.values())


def merge_key(ctype: str | None, scope: str | None, text: str) -> tuple[str | None, str, str]:
    return ctype, (scope or "").lower(), text.lower()


def section_of(draft: Draft, internal_types: frozenset[str], type_sections: Mapping[str, str],
               dependency_section: str = INTERNAL) -> str:
    """The one section of a draft. Training does not move an entry: the Training section lists
    it again (`grouped_drafts`)."""
    if draft.internal:
        return INTERNAL
    if draft.breaking:
        return BREAKING  # a breaking change reaches readers even under an internal type
    if draft.type in internal_types:
        return INTERNAL
    if draft.dependency:
        return dependency_section
    if not draft.conventional or draft.type is None:
        return OTHER
    return type_sections.get(draft.type, OTHER)


def grouped_drafts(drafts: list[Draft], settings: NotesSettings, audience: str
                   ) -> tuple[list[tuple[str, list[Draft]]], list[str], list[Flagged]]:
    """The drafts readers see, by section in the configured order; the non-conventional commits
    the `fail` policy stops at (their ids); the commits to reword before approval.

    Each entry with training is also listed in the Training section, after its own.
    """
    grouped: dict[str, list[Draft]] = {}
    offenders: list[str] = []
    flagged: list[Flagged] = []
    internal_types = frozenset(settings.internal_types)
    type_sections = settings.type_sections
    dependency_section = settings.dependency_section
    policy = settings.non_conventional
    for_customers = audience in CUSTOMER_AUDIENCES
    for draft in drafts:
        section = section_of(draft, internal_types, type_sections, dependency_section)
        if for_customers and section == INTERNAL:
            continue
        if draft.flaw is not None and not draft.reworded:
            flagged.append(Flagged(draft.shas[0], draft.text, draft.flaw))
            if not draft.conventional and section != INTERNAL:
                if policy == "drop" or (policy == "internal" and for_customers):
                    continue
                if policy == "fail":
                    offenders.append(draft.shas[0])
                    continue
        listed = grouped.get(section)
        if listed is None:
            listed = grouped[section] = []
        listed.append(draft)
        if draft.training is not None:
            trained = grouped.get(TRAINING)
            if trained is None:
                trained = grouped[TRAINING] = []
            trained.append(draft)
    groups = [(key, grouped[key]) for key in settings.ordered_sections() if grouped.get(key)]
    return groups, offenders, flagged


Shown = tuple[str | None, tuple[Ticket, ...], str | None]  # (area, tickets, flaw) as readers see them


def shown(draft: Draft, settings: NotesSettings, for_customers: bool) -> Shown:
    """What readers of one audience see of a draft beside its text: customers its area (see
    `NotesSettings.area_of`) and public ticket links only, never a flaw; the internal audience
    the scope as written, every ticket, and what to reword."""
    tickets = entry_tickets(draft, settings, for_customers) if draft.tickets else ()
    if for_customers:
        return settings.area_of(draft.scope), tickets, None
    return draft.scope, tickets, None if draft.reworded else draft.flaw


def freeze(draft: Draft, section: str, settings: NotesSettings, audience: str) -> Entry:
    """The entry a draft becomes, for `audience` (see `shown`). In the Training section it is
    the change and its training only: what to do and its tickets are with it in its own section."""
    area, tickets, flaw = shown(draft, settings, audience in CUSTOMER_AUDIENCES)
    if section == TRAINING:
        action, tickets = None, ()
    else:
        action = entry_action(draft) if draft.breaking else None
    return Entry(section, draft.type, draft.scope, draft.text, action, draft.breaking, draft.training,
                 tickets, draft.shas[0][:7], tuple(draft.shas), draft.pull_request, draft.conventional,
                 draft.internal, draft.reworded, area, flaw, draft.dependency)


def entry_tickets(draft: Draft, settings: NotesSettings, for_customers: bool = False) -> tuple[Ticket, ...]:
    """The entry's linked tickets: the draft's ids that are ids, with their URLs (see `ticket`)."""
    return tuple([t for t in [ticket(i, settings, for_customers) for i in draft.tickets] if t is not None])


def entry_action(draft: Draft) -> str | None:
    """What readers of a breaking change must do: its breaking notes, when it has any."""
    return " ".join(draft.actions) if draft.breaking and draft.actions else None


def join_training(current: str | None, more: str) -> str:
    if not current:
        return more
    if not more or more in current:
        return current
    return f"{current} {more}"


def one_line_training(training: str | None) -> str | None:
    """A `Training:` trailer whose value runs over several lines, as the one line readers see.

    Like the text and the breaking note; a line break in it would also end the
    Markdown list item, so the notes could not be read back (`notes edit`).
    """
    return one_line(training) if training and "\n" in training else training
