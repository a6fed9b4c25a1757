"""A Listing writes the same Markdown from its drafts as the shipped layout writes from the frozen notes.

`notes show` and every generation take the Markdown from the drafts
(`Listing.markdown`); JSON, text, overrides and the workflow freeze the notes
first. Both must give one text, byte for byte, for any range and settings.
"""

from __future__ import annotations

import gc
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notes.collect.collect import collect_listing
from notes.collect.listing import Listing
from notes.commits.parsing import RawCommit
from notes.errors import NotesError
from notes.render.layout import markdown
from notes.render.render import Renderer
from notes.settings import AUDIENCES, NotesSettings

from .oracle import oracle_notes
from .test_collect import chain
from .test_plain_lane import SETTINGS, histories, pull_request_histories

HEADS = st.fixed_dictionaries({
    "version": st.sampled_from([None, "2027.1.0"]), "project": st.sampled_from([None, "Rota *app*"]),
    "date": st.sampled_from([None, date(2027, 1, 15)]),
})


def _listings(commits: list[RawCommit], settings_: NotesSettings, head: dict[str, object]) -> list[Listing]:
    made = []
    for audience in AUDIENCES:
        try:
            made.append(collect_listing(commits, settings_, audience, **head))  # type: ignore[arg-type]
        except NotesError:
            continue  # the `fail` policy: no notes, no Markdown
    return made


@given(st.one_of(histories(), pull_request_histories()), SETTINGS, HEADS)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_markdown_from_the_drafts_is_the_markdown_of_the_frozen_notes(
        commits: list[RawCommit], settings_: NotesSettings, head: dict[str, object]) -> None:
    for listing in _listings(commits, settings_, head):
        notes = listing.notes()
        assert listing.markdown() == markdown(notes)
        assert listing.notes() == notes  # writing the Markdown changed no draft
        oracle = oracle_notes(commits, settings_, listing.head.audience)
        assert (notes.sections, notes.skipped, notes.commit_count, notes.flagged) == (
            oracle.sections, oracle.skipped, oracle.commit_count, oracle.flagged)


def test_every_kind_of_line_is_written_alike() -> None:
    """Breaking notes, training with and without details, linked and plain tickets, escapes."""
    commits = chain(
        "feat(ui)!: new *login* page\n\nBREAKING CHANGE: sign in again",
        "fix: keep night shifts\n\nRefs: HOS-1, #12, https://t.example.org/x\nTraining: 10-minute video",
        "feat: rota\n\nTraining: yes", "1. numbered start", "perf(db): index [visits] <fast> & more",
        "chore!: drop the old API\n\nBREAKING CHANGE: use v2",
    )
    head = {"version": "1.2", "project": "P", "date": date(2027, 1, 2)}
    for settings_ in (NotesSettings(), NotesSettings(ticket_url="https://t.example.org/browse/{ticket}")):
        for listing in _listings(commits, settings_, head):
            text = listing.markdown()
            assert text == markdown(listing.notes())
            if listing.head.audience == "internal":
                assert "What to do: use v2" in text and "Training:" in text
    empty = collect_listing([], NotesSettings(), "production")
    assert empty.markdown() == markdown(empty.notes()) and "No changes for readers" in empty.markdown()


def test_an_override_template_renders_the_frozen_notes(tmp_path: Path) -> None:
    (tmp_path / "notes.md.j2").write_text(
        "{% for section in sections %}{{ section.title }}: {{ section.entries | length }}\n{% endfor %}",
        encoding="utf-8")
    listing = collect_listing(chain("feat: a", "fix: b", "fix: c"), NotesSettings(), "production")
    assert Renderer(tmp_path).markdown(listing) == "New features: 1\nFixes: 2\n"
    assert Renderer().markdown(listing) == markdown(listing.notes())


def test_freezing_later_leaves_the_collector_as_it_was() -> None:
    listing = collect_listing(chain("feat: a", "fix: b"), NotesSettings(), "production")
    assert gc.isenabled()
    gc.disable()
    try:
        listing.notes()
        assert not gc.isenabled()  # a caller that turned it off keeps it off
    finally:
        gc.enable()
    assert [e.text for e in listing.notes().entries] == ["A", "B"] and gc.isenabled()
