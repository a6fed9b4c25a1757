"""The fast paths taken for speed on long histories give exactly what the general code gives.

Each fast path keeps its general counterpart in the code (as the fallback, or
as the path taken in other situations), so these properties compare the two
on any text hypothesis can make, plus commit-shaped text that reaches the
fast paths' interesting branches.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notes.collect.collect import collect
from notes.commits.changes import _may_start_squash, _squashed_header
from notes.commits.parsing import RawCommit, clean_message, parse_header, split_message
from notes.errors import NonConventionalError
from notes.history.gitlog import parse_log_stream
from notes.history.graph import _kahn_ranks, topo_ranks
from notes.model import Entry, ReleaseNotes, Section, Ticket
from notes.render.markdown import _ENTITIES, _ESCAPE_RE, _LINE_START_RE, md_escape
from notes.render.render import Renderer, render, sample_notes
from notes.settings import DEFAULT_SECTION_TITLES, INTERNAL, NotesSettings

from .test_collect import chain
from .test_properties import MESSAGES, ONE_LINE, SHAS, release_notes
from .test_render import hostile_notes

LINE_PIECES = st.sampled_from([
    "feat", "fix", "chore", "FEAT", "Fix", "docs", "x-y", "i18n", "Refs", "Signed-off-by", "BREAKING CHANGE",
    "BREAKING-CHANGE", "Training", "Audience", "Release-note", "(", ")", "(api)", "()", "!", ": ", ":", " #",
    "* ", "- ", " ", "  ", "\t", "\u00a0", "\u3000", "\x0b", "\x1c", "\x85", "HOS-1", "#12", "internal",
    "NONE", "a", "é", "abcdef1", "ſ", "K",
])
LINES = st.lists(st.one_of(LINE_PIECES, st.text(max_size=4)), max_size=8).map("".join)
COMMIT_LIKE = st.lists(st.one_of(LINES, st.sampled_from(["", " ", "\t"])), min_size=1, max_size=12).map(
    "\n".join)


@given(st.one_of(MESSAGES, COMMIT_LIKE))
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
def test_the_split_finds_what_a_line_by_line_split_finds(message: str) -> None:
    assert split_message(message) == _line_by_line_split(message)


def _line_by_line_split(message: str) -> tuple[str, list[str]]:
    """The oracle of `commits.split_message`: git's cleanup, then line by line, as git describes it:
    blank lines before the header dropped, lines right-stripped, paragraphs between blank lines."""
    lines = [line.rstrip() for line in clean_message(message).split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    header = lines[0].strip() if lines else ""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines[1:], ""]:
        if line.strip():
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    return header, paragraphs


# Conventional Commits 1.0.0's header, as the specification reads (the oracle of commits.parse_header).
HEADER_DEFINITION = re.compile(r"(?P<type>[A-Za-z][A-Za-z0-9_-]*)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?"
                               r": +(?P<description>\S.*)")


@given(st.one_of(MESSAGES, COMMIT_LIKE, LINES))
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
def test_the_header_rule_reads_what_the_specification_reads(line: str) -> None:
    match = HEADER_DEFINITION.fullmatch(line.strip())
    expected = None if match is None else (
        match["type"].lower(), (match["scope"] or "").strip() or None, match["bang"] is not None,
        match["description"].strip())
    assert parse_header(line) == expected


HEADER_LIKE = st.tuples(
    st.sampled_from(["", "* ", "- ", "*  ", "-", "*", " ", "\t", "\u00a0"]),
    st.sampled_from(["", " ", "\u3000", "\x1c"]),
    st.one_of(st.sampled_from(["feat", "FIX", "Docs", "deps", "refs", "Refs", "x", "a1-b_c", "tests",
                               "testsx", "ſecurity", "revert", "1fix", ""]),
              st.text("abcXYZ019_-", max_size=6)),
    st.sampled_from(["", "()", "(api)", "( )", "(a(b)", "(x\ny)", "(\r)"]),
    st.sampled_from(["", "!"]),
    st.sampled_from([": ", ":  ", ":", " : ", ": \t"]),
    st.sampled_from(["add x", "", " ", "y (#1)"]),
).map("".join)


@given(st.one_of(HEADER_LIKE, LINES, MESSAGES.map(lambda m: m.split("\n")[0])))
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
def test_squash_hint_finds_every_line_that_can_start_a_squashed_change(line: str) -> None:
    if _squashed_header(line) is not None:
        assert _may_start_squash(line)


# ------------------------------------------------------- rendering: notes.render.layout vs the templates

@pytest.fixture(scope="module")
def jinja_renderer(tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    """The documented templates (docs/notes-templates), used as an override: rendered by Jinja, not
    by notes.render.layout, whose layout they write out."""
    return Renderer(Path(__file__).resolve().parents[2] / "docs" / "notes-templates")


def test_layout_renders_hostile_sample_and_empty_notes_like_the_templates(jinja_renderer: Renderer) -> None:
    cases = [hostile_notes(), sample_notes(), sample_notes("beta"), sample_notes("internal"),
             ReleaseNotes(audience="beta", sections=(), version="2026.4.0"),
             ReleaseNotes(audience="internal", sections=(), project="P", date=date(2026, 1, 2))]
    for notes in cases:
        assert render(notes, "md") == jinja_renderer.render(notes, "md")
        assert render(notes, "text") == jinja_renderer.render(notes, "text")


ODD_TEXT = st.one_of(ONE_LINE, st.sampled_from(["# x", "1. y", "- z", "+ w", "> q", "٣. arabic digit", "<b>",
                                                "a & b", "&amp;", "`x`", "[l](javascript:x)", "*_\\", " "]))


@st.composite
def odd_notes(draw: st.DrawFn) -> ReleaseNotes:
    """Release notes with values the escaping cares about, empty strings and missing fields."""
    def entry(section: str) -> Entry:
        sha = draw(SHAS)
        url = st.one_of(st.none(), st.just(""), st.sampled_from(["https://t.example.org/a b)", "javascript:x",
                                                                 "mailto:x@y", "HTTP://X/[1]"]))
        tickets = draw(st.lists(st.builds(Ticket, ODD_TEXT, url), max_size=3))
        return Entry(section=section, type=draw(st.sampled_from(["feat", None])),
                     scope=draw(st.one_of(st.none(), st.just(""), ODD_TEXT)), text=draw(ODD_TEXT),
                     action=draw(st.one_of(st.none(), st.just(""), ODD_TEXT)), breaking=draw(st.booleans()),
                     training=draw(st.one_of(st.none(), st.just(""), ODD_TEXT)), tickets=tuple(tickets),
                     short_sha=sha[:7], shas=(sha,))
    keys = draw(st.lists(st.sampled_from(list(DEFAULT_SECTION_TITLES)), unique=True, max_size=3))
    sections = tuple(Section(key=k, title=draw(st.one_of(st.just(DEFAULT_SECTION_TITLES[k]), ODD_TEXT)),
                             entries=tuple(entry(k) for _ in range(draw(st.integers(1, 3))))) for k in keys)
    return ReleaseNotes(audience=draw(st.sampled_from(["production", "beta", "internal"])), sections=sections,
                        version=draw(st.one_of(st.none(), st.just(""), ODD_TEXT)),
                        project=draw(st.one_of(st.none(), st.just(""), ODD_TEXT)),
                        date=draw(st.one_of(st.none(), st.dates())))


@given(st.one_of(release_notes(), odd_notes()))
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_layout_renders_any_notes_byte_for_byte_like_the_templates(jinja_renderer: Renderer,
                                                                  notes: ReleaseNotes) -> None:
    assert render(notes, "md") == jinja_renderer.render(notes, "md")
    assert render(notes, "text") == jinja_renderer.render(notes, "text")


def test_an_override_of_one_template_leaves_the_other_to_the_layout(tmp_path: Path) -> None:
    (tmp_path / "notes.txt.j2").write_text("{{ heading }}!\n")
    renderer = Renderer(tmp_path)
    assert renderer.render(sample_notes(), "text") == "Release notes!\n"
    assert renderer.render(sample_notes(), "md") == render(sample_notes(), "md")


@given(st.one_of(ODD_TEXT, st.text()))
@settings(max_examples=500)
def test_md_escape_with_its_shortcuts_escapes_like_the_plain_substitution(text: str) -> None:
    escaped = _ESCAPE_RE.sub(lambda m: _ENTITIES.get(m.group(), "\\" + m.group()), text)
    start = _LINE_START_RE.match(escaped)
    if start is not None:
        token = start.group()
        escaped = (token[:-1] + "\\." if token[-1] == "." else "\\" + token) + escaped[len(token):]
    assert md_escape(text) == escaped


# ---------------------------------------------------------------- collecting: held-back quiet commits, ranks

# Messages that make duplicates across internal types, breaking or not, internal or not.
DUPLICATES = st.sampled_from([
    "chore: bump deps", "chore: Bump deps", "chore!: bump deps", "chore: bump deps\n\nBREAKING CHANGE: pin x",
    "chore: bump deps\n\nAudience: internal", "chore!: bump deps\n\nAudience: internal",
    "chore(api): bump deps", "docs: guide", "docs!: guide\n\nTraining: read it", "feat: guide", "fix: y",
    "docs: guide\n\nRefs: HOS-1", "docs: guide\n\nRelease-note: NONE", "refactor: y", "Not conventional",
])


def _readers_view(sections: tuple[Section, ...], policy: str, for_customers: bool) -> list[object]:
    """What both audiences share of each entry (customers see areas, public links and no flaws
    instead of scopes, tickets and flaws); with the `internal` policy customers miss the
    non-conventional entries, and a section left empty."""
    view: list[object] = []
    for section in sections:
        entries = [(e.section, e.type, e.scope, e.text, e.action, e.breaking, e.training, e.shas)
                   for e in section.entries
                   if not (policy == "internal" and not for_customers and not e.conventional
                           and not e.reworded)]
        if entries and not (not for_customers and section.key == INTERNAL):
            view.append((section.key, section.title, entries))
    return view


@given(st.lists(st.one_of(DUPLICATES, MESSAGES), min_size=1, max_size=10),
       st.sampled_from(["internal", "keep", "drop", "fail"]))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_customer_notes_are_the_internal_notes_without_internal_changes(messages: list[str],
                                                                        policy: str) -> None:
    """Holding quiet commits back (customer audiences only) changes nothing readers see."""
    commits = chain(*messages)
    settings_ = NotesSettings(non_conventional=policy)
    try:
        internal = collect(commits, settings_, "internal")
    except NonConventionalError as err:
        for audience in ("production", "beta"):
            with pytest.raises(NonConventionalError) as again:
                collect(commits, settings_, audience)
            assert str(again.value) == str(err)
        return
    for audience in ("production", "beta"):
        customers = collect(commits, settings_, audience)
        assert (_readers_view(customers.sections, policy, True)
                == _readers_view(internal.sections, policy, False))
        assert (customers.skipped, customers.commit_count) == (internal.skipped, internal.commit_count)


def _histories() -> st.SearchStrategy[list[RawCommit]]:
    """Small commit graphs (merges included) listed in any order, as clock skew can make git list them."""
    @st.composite
    def build(draw: st.DrawFn) -> list[RawCommit]:
        count = draw(st.integers(1, 12))
        commits: list[RawCommit] = []
        for n in range(count):
            parents = draw(st.lists(st.integers(0, n - 1), max_size=2, unique=True)) if n else []
            commits.append(RawCommit(sha=f"{n:040x}", parents=tuple(f"{p:040x}" for p in parents),
                                     message=f"fix: {n}"))
        return draw(st.permutations(commits))
    return build()


@given(_histories())
@settings(max_examples=300)
def test_ranks_from_the_log_order_agree_with_the_general_walk(commits: list[RawCommit]) -> None:
    position = {c.sha: i for i, c in enumerate(commits)}
    assert topo_ranks(commits) == _kahn_ranks(commits, position)
    assert list(topo_ranks(commits)) == list(_kahn_ranks(commits, position))


# ---------------------------------------------------------------- reading git's output

@given(st.lists(st.tuples(st.text(max_size=30), st.binary(max_size=12)), min_size=1, max_size=5),
       st.integers(1, 64))
@settings(max_examples=200)
def test_log_stream_decodes_per_chunk_exactly_as_field_by_field(bodies: list[tuple[str, bytes]],
                                                                size: int) -> None:
    """Decoding whole runs between NULs (invalid UTF-8, chunk cuts) gives the field-by-field text."""
    records = []
    for n, (text, junk) in enumerate(bodies):
        message = text.replace("\0", "").encode() + junk.replace(b"\0", b"")
        # a middle field with invalid UTF-8 too (git prints none in %P; the splitting must not care)
        records.append(b"\0".join([f"{n:040x}".encode(), "Ä ".encode() + junk.replace(b"\0", b""),
                                   message]) + b"\0")
    raw = b"".join(records)
    chunks = [raw[i:i + size] for i in range(0, len(raw), size)]
    commits = list(parse_log_stream(iter(chunks)))
    assert [c.message for c in commits] == [r.split(b"\0")[2].decode("utf-8", "replace") for r in records]
    assert [c.parents for c in commits] == [tuple(r.split(b"\0")[1].decode("utf-8", "replace").split())
                                            for r in records]
    assert [c.sha for c in commits] == [f"{n:040x}" for n in range(len(bodies))]
