"""Commit text inside Markdown: escaped on the way in, read back on the way out (pure).

Text from commit messages is data. Escaping it keeps `<script>`, `[x](javascript:…)`
or `**` from becoming markup when python-markdown renders the notes, while the
Markdown stays readable in `$EDITOR` (only characters that can start markup
are escaped). The escaping is reversible, which is what lets
`parse_notes_markdown` read the rendered notes back into sections and entries:
the property tests check that rendering then reading keeps every entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Backslash escapes python-markdown understands, minus those that only matter at
# the start of a line (handled separately) or never start markup here.
_ESCAPE_RE = re.compile(r"[\\`*_\[\]]|<|&(?=[#A-Za-z0-9])")
_SPECIAL_RE = re.compile(r"[\\`*_\[\]<&]")  # what _ESCAPE_RE can match, lookahead left out
_LINE_START_RE = re.compile(r"(?:[#>]|[+-](?=\s)|\d+\.(?=\s))")  # \d: any Unicode decimal digit
_UNESCAPE_RE = re.compile(r"\\([\\`*_\[\]#>+.-])|&lt;|&amp;")
_ENTITIES = {"<": "&lt;", "&": "&amp;"}
_UNENTITIES = {"&lt;": "<", "&amp;": "&"}


def md_escape(text: str) -> str:
    """`text` as literal Markdown inline text (one line)."""
    # Most text has nothing to escape: a search for the characters that might need it, and a
    # look at the first character, cost a third of always substituting and matching
    # (rendering escapes several values per entry, tens of thousands of entries).
    escaped = _escape_inline(text) if _SPECIAL_RE.search(text) is not None else text
    if escaped and (escaped[0] in "#>+-" or escaped[0].isdecimal()):
        start = _LINE_START_RE.match(escaped)
        if start is not None:
            token = start.group()
            escaped = (token[:-1] + "\\." if token[-1] == "." else "\\" + token) + escaped[len(token):]
    return escaped


def _escape_inline(text: str) -> str:
    return _ESCAPE_RE.sub(lambda m: _ENTITIES.get(m.group(), "\\" + m.group()), text)


def md_unescape(text: str) -> str:
    return _UNESCAPE_RE.sub(lambda m: m.group(1) if m.group(1) is not None else _UNENTITIES[m.group()], text)


@dataclass(frozen=True)
class MdTicket:
    id: str
    url: str | None


@dataclass(frozen=True)
class MdEntry:
    scope: str | None
    text: str
    short_sha: str
    tickets: tuple[MdTicket, ...] = ()
    action: str | None = None
    training: str | None = None


@dataclass(frozen=True)
class MdSection:
    title: str
    entries: tuple[MdEntry, ...]


TRAINING_NO_DETAILS = "Training provided."
NEEDS_REWORDING = "Needs rewording: "  # internal notes: the commit's message breaks the spec (a flaw)
_ENTRY_RE = re.compile(r"- (?:\*\*(?P<scope>(?:[^*\\]|\\.)+?):\*\* )?(?P<rest>.*)")
_META_TICKET_RE = re.compile(r" *(?:\[(?P<id>(?:[^\]\\]|\\.)*)\]\((?P<url>[^)\s]*)\)|(?P<bare>[^,]+))")


def parse_notes_markdown(markdown: str) -> tuple[MdSection, ...]:
    """Sections and entries of Markdown made by the shipped notes.md.j2 template.

    Lines this shape does not know (the title, intro prose) are ignored, so
    light editing around the lists keeps working; entries must keep the
    template's "- **scope:** text (`sha`, tickets)" form.
    """
    sections: list[MdSection] = []
    title: str | None = None
    entries: list[MdEntry] = []
    for line in markdown.replace("\r\n", "\n").split("\n"):
        if line.startswith("## "):
            if title is not None:
                sections.append(MdSection(title=title, entries=tuple(entries)))
            title, entries = md_unescape(line[3:].strip()), []
        elif title is not None and line.startswith("- "):
            entry = _entry(line)
            if entry is not None:
                entries.append(entry)
        elif title is not None and entries and line.startswith("    - "):
            entries[-1] = _detail(entries[-1], line[6:])
    if title is not None:
        sections.append(MdSection(title=title, entries=tuple(entries)))
    return tuple(sections)


def _entry(line: str) -> MdEntry | None:
    match = _ENTRY_RE.fullmatch(line.rstrip())
    if match is None:
        return None
    rest = match["rest"]
    meta_at = _first_unescaped(rest, "`")
    if meta_at is None:
        # Customer notes: no commit id; their tickets, if any, are links, and commit text holds
        # no unescaped "[", so the first one starts them.
        link_at = _first_unescaped(rest, "[")
        if link_at is not None and rest.endswith(")") and rest[:link_at].endswith(" ("):
            text, sha, tickets_text = rest[:link_at - 2], "", rest[link_at:-1]
        else:
            text, sha, tickets_text = rest, "", ""
    elif not rest.endswith(")"):
        return None
    else:
        text = rest[:meta_at]
        if text.endswith(" ("):
            text = text[:-2]
        meta = rest[meta_at + 1:-1]
        sha, _, tickets_text = meta.partition("`")
    tickets = []
    for found in _META_TICKET_RE.finditer(tickets_text.lstrip(", ")):
        if found["bare"] is not None:
            bare = found["bare"].strip(" ,")
            if bare:
                tickets.append(MdTicket(id=md_unescape(bare), url=None))
        else:
            tickets.append(MdTicket(id=md_unescape(found["id"]), url=found["url"]))
    scope = md_unescape(match["scope"]) if match["scope"] is not None else None
    return MdEntry(scope=scope, text=md_unescape(text), short_sha=sha, tickets=tuple(tickets))


def _detail(entry: MdEntry, text: str) -> MdEntry:
    if text.startswith("What to do: "):
        return MdEntry(entry.scope, entry.text, entry.short_sha, entry.tickets,
                       md_unescape(text[len("What to do: "):]), entry.training)
    if text == TRAINING_NO_DETAILS:
        return MdEntry(entry.scope, entry.text, entry.short_sha, entry.tickets, entry.action, "")
    if text.startswith("Training: "):
        return MdEntry(entry.scope, entry.text, entry.short_sha, entry.tickets, entry.action,
                       md_unescape(text[len("Training: "):]))
    return entry


def _first_unescaped(text: str, char: str) -> int | None:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == char:
            return i
        i += 1
    return None
