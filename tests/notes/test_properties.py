"""Properties that must hold for any input: parsing never raises; rendering then reading keeps every entry."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notes.collect.collect import collect, one_line
from notes.commits.changes import changes_of
from notes.commits.parsing import RawCommit, parse_message
from notes.model import Entry, ReleaseNotes, Section, Ticket
from notes.render.markdown import md_escape, md_unescape, parse_notes_markdown
from notes.render.render import markdown_to_html, render
from notes.settings import DEFAULT_SECTION_TITLES, NotesSettings

from .test_collect import chain

# Commit-message-like text: conventional pieces, footers, markup and control characters mixed in.
PIECES = st.sampled_from([
    "feat", "fix", "(", ")", "!", ": ", "\n", "\n\n", "BREAKING CHANGE: ", "BREAKING-CHANGE: ", "Refs: ",
    "Ticket: ", "Training:", "Audience: internal", "Release-note: ", " #", "# ", "Revert \"", "\"",
    "This reverts commit ", "abcdef1", "Merge pull request #1 from x/y", "See merge request a!2", "* ",
    "<script>", "{{ 7*7 }}", "`", "*", "_", "[", "](javascript:x)", "&lt;", "\\", "\r\n", "\t", " ",
    "# ------------------------ >8 ------------------------", "(cherry picked from commit abcdef1)",
])
MESSAGES = st.one_of(st.text(), st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=30).map("".join))


@given(MESSAGES)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_parsing_never_raises(message: str) -> None:
    parsed = parse_message(message)
    assert isinstance(parsed.description, str)
    assert parsed.conventional == (parsed.type is not None)
    change = changes_of(RawCommit(sha="a" * 40, parents=("b" * 40,), message=message))
    assert change.sha == "a" * 40


@given(st.lists(MESSAGES, min_size=1, max_size=8))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
def test_any_commits_render_and_read_back(messages: list[str]) -> None:
    settings_ = NotesSettings(ticket_url="https://t.example.org/{ticket}", ticket_url_public=True,
                              areas={"a": "Area", "feat": "Feature area"}, unmapped_scopes="show")
    for audience in ("internal", "production"):
        notes = collect(chain(*messages), settings_, audience)
        assert_round_trip(notes)
        markdown_to_html(render(notes, "md"))
        render(notes, "text")


ONE_LINE = (st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
            .map(one_line).filter(bool))
TICKET_IDS = st.tuples(st.sampled_from("AZaz09"), st.text("AZaz09._/:-", max_size=8)).map("".join)
TICKETS = st.lists(st.one_of(
    TICKET_IDS.map(lambda i: Ticket(i, None)),
    TICKET_IDS.map(lambda i: Ticket(i, f"https://t.example.org/browse/{i}")),
), max_size=3)
SHAS = st.binary(min_size=20, max_size=20).map(bytes.hex)


@st.composite
def entries(draw: st.DrawFn, section: str, customers: bool = False) -> Entry:
    """An entry as `freeze` makes it for an audience: customers get an area, linked tickets only
    (public ones) and no flaw; the internal audience the scope as its area and perhaps a flaw."""
    sha = draw(SHAS)
    training = draw(st.one_of(st.none(), st.just(""), ONE_LINE))
    scope = draw(st.one_of(st.none(), ONE_LINE))
    tickets = tuple(draw(TICKETS))
    if customers:
        tickets = tuple(t for t in tickets if t.url)
    return Entry(section=section, type=draw(st.sampled_from(["feat", "fix", None])),
                 scope=scope, text=draw(ONE_LINE),
                 action=draw(st.one_of(st.none(), ONE_LINE)), breaking=False, training=training,
                 tickets=tickets, short_sha=sha[:7], shas=(sha,),
                 area=draw(st.one_of(st.none(), ONE_LINE)) if customers else scope,
                 flaw=None if customers else draw(st.one_of(st.none(), ONE_LINE)))


@st.composite
def release_notes(draw: st.DrawFn) -> ReleaseNotes:
    audience = draw(st.sampled_from(["production", "beta", "internal"]))
    customers = audience != "internal"
    keys = draw(st.lists(st.sampled_from(list(DEFAULT_SECTION_TITLES)), unique=True, max_size=4))
    sections = tuple(Section(key=k, title=DEFAULT_SECTION_TITLES[k],
                             entries=tuple(draw(st.lists(entries(k, customers), min_size=1, max_size=4))))
                     for k in keys)
    return ReleaseNotes(audience=audience, sections=sections,
                        version=draw(st.one_of(st.none(), ONE_LINE)),
                        project=draw(st.one_of(st.none(), ONE_LINE)))


@given(release_notes())
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_rendering_then_parsing_markdown_keeps_every_entry(notes: ReleaseNotes) -> None:
    assert_round_trip(notes)


@given(ONE_LINE)
def test_markdown_escaping_is_reversible(text: str) -> None:
    assert md_unescape(md_escape(text)) == text


def assert_round_trip(notes: ReleaseNotes) -> None:
    """The Markdown reads back as the entries readers see: area, text, commit id (none for
    customers), what to do, training, tickets."""
    parsed = parse_notes_markdown(render(notes, "md"))
    ids = notes.audience == "internal"
    assert [s.title for s in parsed] == [s.title for s in notes.sections]
    for got, want in zip(parsed, notes.sections, strict=True):
        assert [(e.scope, e.text, e.short_sha, e.action, e.training, tuple((t.id, t.url) for t in e.tickets))
                for e in got.entries] == [
            (e.area, e.text, e.short_sha if ids else "", e.action, e.training,
             tuple((t.id, t.url) for t in e.tickets)) for e in want.entries]
