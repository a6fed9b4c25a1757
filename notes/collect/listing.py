"""The notes of a range as collect decides them, before each entry is frozen (pure).

Why a step before `ReleaseNotes`: `notes show` in Markdown (and every
generation, which stores the Markdown's sha256) reads each entry once, to
write its line. Freezing an `Entry` per draft first, only to read it back
and free it, was a noticeable part of `notes show` on a long range. A
Listing writes the shipped Markdown layout straight from the drafts, with
the layout's own line writer (`layout.markdown_of`, `layout.md_item`), and
freezes them into ReleaseNotes only for what needs the values
(`notes`: JSON, plain text, template overrides, the review workflow).
tests/notes/test_listing.py checks that both give the same Markdown.

The drafts are owned by the Listing once it is made: nothing changes them
afterwards, so the notes frozen from them later are the notes decided now.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

from ..model import ReleaseNotes, Section
from ..render import layout
from ..settings import CUSTOMER_AUDIENCES, TRAINING, NotesSettings
from .entries import Draft, entry_action, freeze, shown

# (section key, its drafts in the order readers see them), sections in the configured order
Groups = Sequence[tuple[str, Sequence[Draft]]]


@dataclass(frozen=True)
class Listing:
    """Drafts grouped by section, and the notes they belong to (`head`: everything but the sections)."""

    head: ReleaseNotes  # audience, version, project, range, date, counts; `sections` empty
    groups: Groups
    settings: NotesSettings

    def notes(self) -> ReleaseNotes:
        with gc_paused():
            sections = frozen_sections(self.groups, self.settings, self.head.audience)
        return replace(self.head, sections=sections)

    def markdown(self) -> str:
        """`layout.markdown(self.notes())`, written from the drafts."""
        settings = self.settings
        titled = [(settings.title_of(key), (key == TRAINING, drafts)) for key, drafts in self.groups]
        for_customers = self.head.audience in CUSTOMER_AUDIENCES
        return layout.markdown_of(self.head, titled, lambda out, esc, section: _draft_lines(
            out, esc, section[1], settings, for_customers, section[0]))


def frozen_sections(groups: Groups, settings: NotesSettings, audience: str) -> tuple[Section, ...]:
    return tuple(Section(key=key, title=settings.title_of(key),
                         entries=tuple([freeze(draft, key, settings, audience) for draft in drafts]))
                 for key, drafts in groups)


def _draft_lines(out: list[str], esc: layout.Escape, drafts: Sequence[Draft],
                 settings: NotesSettings, for_customers: bool, training: bool) -> None:
    """Each draft's lines, from the values `freeze` would give its Entry (`training`: in the
    Training section)."""
    item = layout.md_item
    for draft in drafts:
        area, tickets, flaw = shown(draft, settings, for_customers)
        if training:
            action, tickets = None, ()
        else:
            action = entry_action(draft) if draft.breaking else None
        item(out, esc, area, draft.text, None if for_customers else draft.shas[0][:7], tickets, action,
             draft.training, flaw)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a range is collected or its entries frozen.

    Collecting makes several long-lived objects per commit and no cycles;
    with the collector on, each burst of allocations set off a pass over
    everything made so far, a large part of the time on a long range. Afterwards
    the objects made meanwhile (the notes, mostly) go straight to the oldest
    generation (freeze, then unfreeze: two list splices) instead of being
    traversed once as young objects when the collector is back on; they are
    still collected like any other object.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if not gc.get_freeze_count():  # (never unfreeze what a caller froze on purpose)
                gc.freeze()
                gc.unfreeze()
            gc.enable()
