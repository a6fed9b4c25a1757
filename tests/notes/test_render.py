"""Rendering notes: Markdown, text, HTML safety, JSON context, template overrides."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from notes.collect.collect import collect
from notes.errors import TemplateError
from notes.model import ReleaseNotes
from notes.render.markdown import parse_notes_markdown
from notes.render.render import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    Renderer,
    markdown_to_html,
    notes_sha256,
    render,
    sample_notes,
)
from notes.settings import NotesSettings

from .test_collect import chain

SETTINGS = NotesSettings(ticket_url="https://tracker.example.org/browse/{ticket}")

HOSTILE = [
    "fix: <script>alert('x')</script> in the rota",
    "fix: <img src=x onerror=alert(1)> avatar",
    "feat: [click me](javascript:alert(1)) and <javascript:alert(2)>",
    "fix: {{ 7*7 }} and {% raw %} in the title",
    "feat(<b>scope</b>): **bold** _em_ `code` # not a heading",
    'fix: <a href="javascript:alert(1)">link</a> &lt;script&gt; &amp; R&D',
    "fix: x\n\nRelease-note: # heading at the start",  # a first line starting with # is a git comment
    "> quote at the start",
    "1. list at the start",
    "- bullet at the start",
    "feat: <iframe src=//evil.example></iframe><style>body{}</style>",
    "fix: <svg onload=alert(1)><math><mi xlink:href=javascript:alert(1)>",
    "fix: [ref]: javascript:alert(1)\n\nRelease-note: <b onmouseover=alert(1)>hover</b>",
    "feat: x\n\nBREAKING CHANGE: <script>steal()</script> now required\nTraining: <img src=x onerror=y>",
    "fix: y\n\nTicket: <script>, HOS-1\"onmouseover=alert(1)",
    "fix: ![img](http://evil.example/x.png) and <!-- comment -->",
]


def hostile_notes() -> ReleaseNotes:
    return collect(chain(*HOSTILE), SETTINGS, "internal", version="2026.4.0<script>", project="<b>P</b>",
                   date=date(2026, 4, 1))


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.comments: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_hostile_commit_text_never_becomes_markup() -> None:
    html = render(hostile_notes(), "html")
    parsed = Collector()
    parsed.feed(html)
    assert parsed.tags, "the notes rendered no HTML at all"
    for tag, attrs in parsed.tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs:
            assert name in ALLOWED_ATTRIBUTES.get(tag, set()), (tag, name)
            if name == "href":
                assert (value or "").split(":", 1)[0] in ("http", "https", "mailto"), value
    assert parsed.comments == []
    text = "".join(parsed.text)
    # The hostile text is still there, as text readers can see.
    for shown in ("<script>alert('x')</script>", "<img src=x onerror=alert(1)>",
                  "[click me](javascript:alert(1))", "{{ 7*7 }}", "**bold** _em_ `code`", "<b>scope</b>",
                  "&lt;script&gt; &amp; R&D",
                  "# heading at the start", "> quote at the start", "1. list at the start",
                  "- bullet at the start", "<b onmouseover=alert(1)>hover</b>", "<script>steal()</script>",
                  "2026.4.0<script>"):
        assert shown in text, shown
    assert "49" not in text


def test_hostile_text_round_trips_through_markdown() -> None:
    notes = hostile_notes()
    parsed = parse_notes_markdown(render(notes, "md"))
    assert [(s.title, [(e.scope, e.text, e.short_sha) for e in s.entries]) for s in parsed] == [
        (s.title, [(e.scope, e.text, e.short_sha) for e in s.entries]) for s in notes.sections]


def test_markdown_and_text_of_sample_notes() -> None:
    md = render(sample_notes(), "md")  # customers: areas, public links, no commit ids or flaws
    assert md == (
        "# Release notes — Sample 2026.4.0\n\n2026-04-01\n\n## Action required\n\n"
        "- **Exports:** Remove the v1 export ([PROJ-1](https://tracker.example.org/browse/PROJ-1))\n"
        "    - What to do: Use v2\n    - Training: Short video\n\n## New features\n\n"
        "- New rota screen\n    - Training provided.\n\n## Training\n\n"
        "- **Exports:** Remove the v1 export\n    - Training: Short video\n"
        "- New rota screen\n    - Training provided.\n\n## Other changes\n\n- Update some stuff\n"
    )
    internal = render(sample_notes("internal"), "md")  # developers: scopes, ids, every ticket, flaws
    assert internal.startswith("# Internal release notes — Sample 2026.4.0\n")
    assert ("- **api:** Remove the v1 export (`0123456`, [PROJ-1](https://tracker.example.org/browse/PROJ-1))\n"
            in internal)
    assert "- New rota screen (`89abcde`, PROJ-2)\n" in internal
    assert internal.endswith("- Update some stuff (`fedcba9`)\n"
                             "    - Needs rewording: not a Conventional Commits header (type: description)\n")
    text = render(sample_notes("beta"), "text")
    assert text.startswith("Beta release notes - Sample 2026.4.0\n====================================\n")
    link = "PROJ-1 <https://tracker.example.org/browse/PROJ-1>"
    assert f"  * Exports: Remove the v1 export ({link})\n" in text
    assert "      What to do: Use v2\n" in text and "fedcba9" not in text
    text = render(sample_notes("internal"), "text")
    assert f"  * api: Remove the v1 export (0123456, {link})\n" in text
    assert "      Needs rewording: not a Conventional Commits header (type: description)\n" in text


def test_empty_notes_say_so() -> None:
    empty = ReleaseNotes(audience="beta", sections=(), version="2026.4.0")
    assert render(empty, "md") == "# Beta release notes 2026.4.0\n\nNo changes for readers in this range.\n"
    assert "No changes for readers in this range." in render(empty, "text")
    assert parse_notes_markdown(render(empty, "md")) == ()


def test_json_is_the_full_template_context_in_stable_order() -> None:
    public = NotesSettings(ticket_url=SETTINGS.ticket_url, ticket_url_public=True)
    notes = collect(chain("feat(api): a\n\nRefs: HOS-1", "fix: b"), public, "beta", version="2026.4.0")
    out = render(notes, "json")
    data = json.loads(out)
    assert list(data) == sorted(data)
    assert data["audience"] == "beta" and data["version"] == "2026.4.0"
    assert [s["title"] for s in data["sections"]] == ["New features", "Fixes"]
    first = data["sections"][0]["entries"][0]
    assert first["tickets"] == [{"id": "HOS-1", "url": "https://tracker.example.org/browse/HOS-1"}]
    assert set(first) >= {"text", "scope", "type", "short_sha", "shas", "breaking", "training", "action"}
    assert out == render(notes, "json")


def test_unknown_format() -> None:
    with pytest.raises(TemplateError) as failure:
        render(sample_notes(), "pdf")
    assert "pdf" in str(failure.value)


def test_override_is_used_and_values_stay_escaped(tmp_path: Path) -> None:
    (tmp_path / "notes.md.j2").write_text(
        "{% for s in sections %}{% for e in s.entries %}* {{ e.text }}\n{% endfor %}{% endfor %}")
    notes = collect(chain("fix: <script>x</script> {{ 1+1 }}"), SETTINGS, "production")
    renderer = Renderer(tmp_path)
    assert renderer.render(notes, "md") == "* &lt;script>x&lt;/script> {{ 1+1 }}\n"
    assert renderer.render(notes, "text").startswith("Release notes\n")  # no override: shipped template


def test_override_with_missing_variable_fails_naming_template_and_variable(tmp_path: Path) -> None:
    override = tmp_path / "notes.md.j2"
    override.write_text("# {{ heading }}\n{{ release_manager }}\n")
    with pytest.raises(TemplateError) as failure:
        Renderer(tmp_path).render(sample_notes(), "md")
    assert str(override) in str(failure.value)
    assert "release_manager" in str(failure.value)


def test_override_with_missing_attribute_fails_with_line(tmp_path: Path) -> None:
    override = tmp_path / "notes.txt.j2"
    override.write_text("{{ heading }}\n{% for s in sections %}\n{{ s.colour }}\n{% endfor %}\n")
    renderer = Renderer(tmp_path)
    with pytest.raises(TemplateError) as failure:
        renderer.check()
    message = str(failure.value)
    assert str(override) in message and "colour" in message and "line 3" in message


def test_override_with_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "notes.md.j2").write_text("line one\n{% for s in sections %}\nno end\n")
    with pytest.raises(TemplateError) as failure:
        Renderer(tmp_path).render(sample_notes(), "md")
    assert "notes.md.j2" in str(failure.value)


def test_missing_templates_dir(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as failure:
        Renderer(tmp_path / "nope")
    assert "nope" in str(failure.value)


def test_shipped_templates_pass_the_check() -> None:
    Renderer().check()


def test_notes_sha256_ignores_line_ending_and_final_newline_differences() -> None:
    text = "# Notes\n\n- a\n"
    assert notes_sha256(text) == notes_sha256("# Notes\r\n\r\n- a") == notes_sha256(text + "\n\n")
    assert notes_sha256(text) != notes_sha256("# Notes\n\n- b\n")
    assert len(notes_sha256(text)) == 64


@given(st.text(alphabet=st.sampled_from(["a", "\n", "\r", "\ufeff", "é", "✓", "𝄞", " "]), max_size=40))
@hyp_settings(max_examples=500)
def test_notes_sha256_is_the_hash_of_the_normalised_text(text: str) -> None:
    normalised = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").rstrip("\n") + "\n"
    assert notes_sha256(text) == hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def test_notes_sha256_of_long_notes_hashed_in_pieces() -> None:
    """Pieces of a megabyte of characters: multi-byte characters on every side of each cut."""
    for text in ("é✓𝄞x" * 700_001 + "\n", "a" * (1 << 20) + "𝄞\n", "𝄞" * ((1 << 20) + 1) + "\n\n"):
        normalised = text.rstrip("\n") + "\n"
        assert notes_sha256(text) == hashlib.sha256(normalised.encode("utf-8")).hexdigest()



def test_markdown_to_html_drops_raw_html_from_edited_notes() -> None:
    # Approved notes may be edited by hand in $EDITOR: the sanitiser still holds.
    edited = '# Notes\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) <a href="https://ok.example">ok</a>'
    html = markdown_to_html(edited)
    assert "<script" not in html and "javascript:" not in html
    assert '<a href="https://ok.example">ok</a>' in html
