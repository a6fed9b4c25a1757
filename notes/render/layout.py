"""The shipped layout of release notes, Markdown and plain text (pure).

This is the one layout notes are shown in unless a project overrides it with its own Jinja2
templates. docs/notes-templates/ writes the same layout as templates (the starting point for
an override); tests/notes/test_fast_paths.py proves the two give the same bytes on any notes,
so an override that starts from them changes only what it means to. Escaping is `md_escape`
where the Markdown template's `finalize` escapes, nothing in plain text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar
from urllib.parse import quote, urlsplit

from ..model import Entry, ReleaseNotes, Ticket
from ..settings import CUSTOMER_AUDIENCES
from .markdown import NEEDS_REWORDING, TRAINING_NO_DETAILS, md_escape

T = TypeVar("T")
Escape = Callable[[str], str]

HEADINGS = {"production": "Release notes", "beta": "Beta release notes", "internal": "Internal release notes"}
NOTHING = "No changes for readers in this range."
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_URL_SAFE = ":/?#@!$&'+,;=%~-._"
_NO_DETAILS_MD = md_escape(TRAINING_NO_DETAILS)


def checked_url(value: object) -> str:
    """A link target for Markdown: http(s)/mailto only, with characters that end a link percent-encoded."""
    text = str(value)
    if urlsplit(text).scheme.lower() not in ALLOWED_URL_SCHEMES:
        return "#"
    return quote(text, safe=_URL_SAFE)


def _title(notes: ReleaseNotes, dash: str) -> str:
    """`heading ~ (dash ~ project if project else "") ~ (" " ~ version if version else "")`."""
    title = HEADINGS[notes.audience]
    if notes.project:
        title += f"{dash}{notes.project}"
    if notes.version:
        title += f" {notes.version}"
    return title


def markdown(notes: ReleaseNotes) -> str:
    """What notes.md.j2 renders."""
    ids = commit_ids(notes)
    return markdown_of(notes, [(section.title, section.entries) for section in notes.sections],
                       lambda out, esc, entries: _entry_lines(out, esc, entries, ids))


def markdown_of(head: ReleaseNotes, sections: Sequence[tuple[str, T]],
                lines: Callable[[list[str], Escape, T], None]) -> str:
    """What notes.md.j2 renders, from `head`'s title fields (its sections are not read) and each
    section's title and entries, whatever form those entries have: `lines` writes a section's
    entries with `md_item` (Entry values here, drafts in notes.collect.listing)."""
    esc = _memo(md_escape)  # scopes, ticket ids and section titles repeat across entries
    out = [f"# {md_escape(_title(head, ' — '))}\n\n"]
    if head.date:
        out.append(f"{md_escape(head.date.isoformat())}\n\n")
    last = len(sections) - 1
    for n, (title, entries) in enumerate(sections):
        out.append(f"## {esc(title)}\n\n")
        lines(out, esc, entries)
        if n != last:
            out.append("\n")
    if not sections:
        out.append(f"{NOTHING}\n")
    return "".join(out)


def commit_ids(notes: ReleaseNotes) -> bool:
    """Whether readers see commit ids: the internal audience only (customers read customer words)."""
    return notes.audience not in CUSTOMER_AUDIENCES


def _entry_lines(out: list[str], esc: Escape, entries: Sequence[Entry], ids: bool) -> None:
    for entry in entries:
        md_item(out, esc, entry.area, entry.text, entry.short_sha if ids else None, entry.tickets,
                entry.action, entry.training, entry.flaw)


def md_item(out: list[str], esc: Escape, area: str | None, text: str, sha: str | None,
            tickets: Sequence[Ticket], action: str | None, training: str | None, flaw: str | None) -> None:
    """One entry's lines of notes.md.j2; `sha` None: no commit id (customer notes)."""
    links = "".join([_md_ticket(t, esc) for t in tickets]) if tickets else ""
    if sha is None:
        meta = f" ({links[2:]})" if links else ""
    else:
        if not (sha.isascii() and sha.isalnum()):  # a commit id never needs escaping: skip the call
            sha = md_escape(sha)
        meta = f" (`{sha}`{links})"
    if area:  # (two lines rather than an area prefix made and then copied into the line)
        out.append(f"- **{esc(area)}:** {md_escape(text)}{meta}\n")
    else:
        out.append(f"- {md_escape(text)}{meta}\n")
    if action:
        out.append(f"    - What to do: {md_escape(action)}\n")
    if training:
        out.append(f"    - Training: {md_escape(training)}\n")
    elif training is not None:
        out.append(f"    - {_NO_DETAILS_MD}\n")
    if flaw:
        out.append(f"    - {NEEDS_REWORDING}{md_escape(flaw)}\n")


def _md_ticket(ticket: Ticket, esc: Escape) -> str:
    if ticket.url:
        return f", [{esc(ticket.id)}]({checked_url(ticket.url)})"
    return f", {esc(ticket.id)}"


def text(notes: ReleaseNotes) -> str:
    """What notes.txt.j2 renders."""
    title = _title(notes, " - ")
    out = [f"{title}\n{'=' * len(title)}\n"]
    if notes.date:
        out.append(f"{notes.date.isoformat()}\n")
    ids = commit_ids(notes)
    for section in notes.sections:
        out.append(f"\n{section.title.upper()}\n{'-' * len(section.title)}\n")
        for entry in section.entries:
            area = f"{entry.area}: " if entry.area else ""
            tickets = "".join([_text_ticket(t) for t in entry.tickets]) if entry.tickets else ""
            meta = f" ({entry.short_sha}{tickets})" if ids else f" ({tickets[2:]})" if tickets else ""
            out.append(f"  * {area}{entry.text}{meta}\n")
            if entry.action:
                out.append(f"      What to do: {entry.action}\n")
            if entry.training:
                out.append(f"      Training: {entry.training}\n")
            elif entry.training is not None:
                out.append(f"      {TRAINING_NO_DETAILS}\n")
            if entry.flaw:
                out.append(f"      {NEEDS_REWORDING}{entry.flaw}\n")
    if not notes.sections:
        out.append(f"\n{NOTHING}\n")
    return "".join(out)


def _text_ticket(ticket: Ticket) -> str:
    return f", {ticket.id} <{ticket.url}>" if ticket.url else f", {ticket.id}"


def _memo(escape: Escape) -> Escape:
    seen: dict[str, str] = {}

    def cached(value: str) -> str:
        done = seen.get(value)
        if done is None:
            done = seen[value] = escape(value)
        return done

    return cached
