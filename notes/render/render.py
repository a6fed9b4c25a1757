"""Release notes as Markdown, plain text, HTML and JSON (pure: returns strings, writes nothing).

The shipped layout is `notes.render.layout`, in Python: it needs no Jinja import and is
fast on long ranges. A project may replace either format with its own Jinja2 template
(`[notes].templates`); docs/notes-templates/ holds the shipped layout as templates, the
starting point for an override, and tests prove the two give the same bytes. Commit
text always reaches a template as data, never as template source, so
`{{ 7*7 }}` in a message stays text. In Markdown every value a template
prints is escaped by the environment (`finalize`), the way HTML autoescaping
works, so an override cannot forget to escape; HTML is then made from that
Markdown and sanitised with nh3 against an explicit allow-list.

`StrictUndefined` plus a check of the variables an override names makes a
broken override fail here, with the template's name and line, before anything
is written or sent.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import TemplateError
from ..model import Entry, Flagged, ReleaseNotes, Section, Ticket
from ..settings import AUDIENCES, CUSTOMER_AUDIENCES
from . import layout
from .layout import ALLOWED_URL_SCHEMES, HEADINGS, checked_url
from .markdown import TRAINING_NO_DETAILS, md_escape

if TYPE_CHECKING:  # Jinja2, python-markdown and nh3 are imported where they are used (start-up)
    import jinja2

    from ..collect.listing import Listing

FORMATS = ("md", "text", "html", "json")
TEMPLATES = {"md": "notes.md.j2", "text": "notes.txt.j2"}
SHIPPED: dict[str, Callable[[ReleaseNotes], str]] = {"md": layout.markdown, "text": layout.text}

ALLOWED_TAGS = frozenset({"h1", "h2", "h3", "h4", "p", "ul", "ol", "li", "a", "strong", "em", "code", "pre",
                          "br", "hr", "blockquote"})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


class Safe(str):
    """Text a template may print as is: already Markdown (a checked URL), not commit text."""


def url_filter(value: object) -> Safe:
    """A link target for Markdown: http(s)/mailto only, with characters that end a link percent-encoded."""
    return Safe(checked_url(value))


def _md_finalize(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, Safe) or not isinstance(value, str):
        return value
    return md_escape(value)


def _text_finalize(value: object) -> object:
    return "" if value is None else value


def notes_context(notes: ReleaseNotes) -> dict[str, Any]:
    """Everything a template receives, as plain JSON-able data (also the `json` format's output)."""
    return {
        "audience": notes.audience,
        "heading": HEADINGS[notes.audience],
        "project": notes.project,
        "version": notes.version,
        "since": notes.since,
        "until": notes.until,
        "date": notes.date.isoformat() if notes.date else None,
        "commit_count": notes.commit_count,
        "entry_count": len(notes.entries),
        "commit_ids": layout.commit_ids(notes),  # customer notes show none
        "sections": [_section(s) for s in notes.sections],
        "skipped": [{"sha": s.sha, "reason": s.reason} for s in notes.skipped],
        "flagged": [{"sha": f.sha, "text": f.text, "reason": f.reason} for f in notes.flagged],
        "training_no_details": TRAINING_NO_DETAILS,
    }


def _section(section: Section) -> dict[str, Any]:
    return {"key": section.key, "title": section.title, "entries": [_entry(e) for e in section.entries]}


def _entry(entry: Entry) -> dict[str, Any]:
    return {
        "section": entry.section, "type": entry.type, "scope": entry.scope, "text": entry.text,
        "action": entry.action, "breaking": entry.breaking, "training": entry.training,
        "tickets": [_ticket(t) for t in entry.tickets], "short_sha": entry.short_sha,
        "shas": list(entry.shas), "pull_request": entry.pull_request,
        "conventional": entry.conventional, "internal": entry.internal, "reworded": entry.reworded,
        "area": entry.area, "flaw": entry.flaw, "dependency": entry.dependency,
    }


def _ticket(ticket: Ticket) -> dict[str, Any]:
    return {"id": ticket.id, "url": ticket.url}


@dataclass(frozen=True)
class _Source:
    name: str
    origin: str  # shown in errors: the override's path
    text: str


class Renderer:
    """Renders notes with the shipped layout, or the template overrides found in `templates_dir`."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        if templates_dir is not None and not Path(templates_dir).is_dir():
            raise TemplateError(f"templates directory {templates_dir} does not exist",
                                hint="create it, or leave [notes].templates empty for the shipped templates")
        self.templates_dir = Path(templates_dir) if templates_dir is not None else None
        self._templates: dict[str, jinja2.Template] = {}

    def render(self, notes: ReleaseNotes, fmt: str) -> str:
        if fmt == "json":
            return json.dumps(notes_context(notes), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        if fmt == "html":
            return markdown_to_html(self.render(notes, "md"))
        if fmt not in TEMPLATES:
            raise TemplateError(f"format {fmt!r} is not known", hint=f"use one of: {', '.join(FORMATS)}")
        if not self._overridden(fmt):
            return SHIPPED[fmt](notes)
        import jinja2

        template = self._template(fmt)
        try:
            return template.render(notes_context(notes))
        except jinja2.UndefinedError as err:
            raise TemplateError(f"template {self._where(fmt, _template_line(err, template))} uses "
                                f"something that is not there: {err.message}",
                                hint="see `quarterdeck notes show BUILD --format json` for every "
                                     "variable a template receives") from err
        except jinja2.TemplateError as err:
            raise TemplateError(f"template {self._where(fmt, _template_line(err, template))} failed: "
                                f"{err}", hint="fix the template override") from err

    def markdown(self, listing: Listing) -> str:
        """The Markdown of `listing`'s notes; with the shipped template, written from its drafts
        without freezing the notes (see notes.collect.listing)."""
        if self._overridden("md"):
            return self.render(listing.notes(), "md")
        return listing.markdown()

    def check(self) -> None:
        """Render sample notes for every audience in every format, so a bad override fails early."""
        for audience in AUDIENCES:
            for sample in (sample_notes(audience), ReleaseNotes(audience=audience, sections=())):
                for fmt in FORMATS:
                    self.render(sample, fmt)

    def _overridden(self, fmt: str) -> bool:
        return self.templates_dir is not None and (self.templates_dir / TEMPLATES[fmt]).is_file()

    def _source(self, fmt: str) -> _Source:
        name = TEMPLATES[fmt]
        if self.templates_dir is not None:
            path = self.templates_dir / name
            if path.is_file():
                try:
                    return _Source(name, str(path), path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError) as err:
                    raise TemplateError(f"cannot read template {path}: {err}",
                                        hint="make it a readable UTF-8 file") from err
        raise TemplateError(f"there is no {name} override", hint="the shipped layout needs no template")

    def _where(self, fmt: str, line: int | None) -> str:
        where = self._source(fmt).origin
        return f"{where} line {line}" if line else where

    def _template(self, fmt: str) -> jinja2.Template:
        if fmt in self._templates:
            return self._templates[fmt]
        import jinja2
        import jinja2.meta

        source = self._source(fmt)
        env = _environment(_md_finalize if fmt == "md" else _text_finalize)
        try:
            tree = env.parse(source.text, source.name)
            known = set(notes_context(sample_notes("beta"))) | set(env.globals)
            unknown = jinja2.meta.find_undeclared_variables(tree) - known
            if unknown:
                raise TemplateError(
                    f"template {source.origin if source.origin != 'shipped' else source.name} uses "
                    f"undefined variable(s): {', '.join(sorted(unknown))}",
                    hint="see `quarterdeck notes show BUILD --format json` for the variables a template gets")
            template = env.from_string(source.text)
        except jinja2.TemplateSyntaxError as err:
            where = source.origin if source.origin != "shipped" else source.name
            raise TemplateError(f"template {where} line {err.lineno}: {err.message}",
                                hint="fix the template's Jinja syntax") from err
        self._templates[fmt] = template
        return template


def _environment(finalize: Callable[[object], object]) -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, finalize=finalize,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["url"] = url_filter
    return env


def _template_line(err: BaseException, template: jinja2.Template) -> int | None:
    """The template line an error was raised at, from the traceback Jinja rewrites to template lines."""
    line = None
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in ("<template>", template.filename):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def render(notes: ReleaseNotes, fmt: str, *, templates_dir: Path | None = None) -> str:
    """Render with the shipped templates (compiled once per process), or with overrides read now."""
    renderer = _shipped_renderer() if templates_dir is None else Renderer(templates_dir)
    return renderer.render(notes, fmt)


@functools.cache
def _shipped_renderer() -> Renderer:
    return Renderer(None)


def markdown_to_html(text: str) -> str:
    """HTML for mail and browsers: python-markdown, then nh3 with an explicit allow-list."""
    import markdown as markdown_lib
    import nh3

    html = markdown_lib.markdown(text, output_format="html")
    attributes = {tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()}
    return nh3.clean(html, tags=set(ALLOWED_TAGS), attributes=attributes,
                     url_schemes=set(ALLOWED_URL_SCHEMES), link_rel=None, strip_comments=True) + "\n"


HASHED_AT_ONCE = 1 << 20  # characters: a code point is never split, so the pieces encode as the whole


def notes_sha256(text: str) -> str:
    """The id of approved notes: line endings and trailing newlines do not count, editors vary in them.

    Generated notes are normalised already (one "\n" at the end, no "\r", no BOM): they are
    hashed as they are, a megabyte at a time, instead of through three whole copies and
    their encoding (page faults and copies for the megabytes of a long range's notes).
    """
    if text[:1] == "\ufeff" or "\r" in text or not text.endswith("\n") or text.endswith("\n\n"):
        text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").rstrip("\n") + "\n"
    digest = hashlib.sha256()
    for start in range(0, len(text), HASHED_AT_ONCE):
        digest.update(text[start:start + HASHED_AT_ONCE].encode("utf-8"))
    return digest.hexdigest()



def sample_notes(audience: str = "production") -> ReleaseNotes:
    """Notes with every field filled in, for checking templates before real notes exist."""
    ticket = Ticket(id="PROJ-1", url="https://tracker.example.org/browse/PROJ-1")
    internal = audience not in CUSTOMER_AUDIENCES
    entries = (
        Entry(section="breaking", type="feat", scope="api", text="Remove the v1 export", action="Use v2",
              breaking=True, training="Short video", tickets=(ticket,), short_sha="0123456",
              shas=("0123456789abcdef0123456789abcdef01234567",), pull_request="#1",
              area="api" if internal else "Exports"),
        Entry(section="features", type="feat", scope=None, text="New rota screen", action=None,
              breaking=False, training="", tickets=(Ticket(id="PROJ-2", url=None),) if internal else (),
              short_sha="89abcde", shas=("89abcdef0123456789abcdef0123456789abcdef",)),
        Entry(section="other", type=None, scope=None, text="Update some stuff", action=None,
              breaking=False, training=None, tickets=(), short_sha="fedcba9",
              shas=("fedcba9876543210fedcba9876543210fedcba98",), conventional=False,
              flaw="not a Conventional Commits header (type: description)" if internal else None),
    )
    sections = (Section(key="breaking", title="Action required", entries=entries[:1]),
                Section(key="features", title="New features", entries=entries[1:2]),
                Section(key="training", title="Training", entries=tuple(
                    replace(e, section="training", action=None, tickets=()) for e in entries[:2])),
                Section(key="other", title="Other changes", entries=entries[2:]))
    flagged = (Flagged(sha=entries[2].shas[0], text=entries[2].text, reason=entries[2].flaw or ""),)
    return ReleaseNotes(audience=audience, sections=sections, version="2026.4.0", project="Sample",
                        since="v2026.3.0", until="0123456", date=date(2026, 4, 1), commit_count=3,
                        flagged=flagged if internal else ())
