"""Conventional Commits 1.0.0, read the way release notes need it.

`parse_message` never raises: commit text is input we do not control, and one
odd message must not stop the notes of a whole quarter. A message that does
not follow the convention comes back with `conventional=False` and its first
line as the description, so the caller can apply its policy (keep/drop/fail).

Rules worth knowing (they are what the tests pin down):

- Header `type(scope)!: description`; the type is case-insensitive and returned
  lower-cased; a scope may hold any character except parentheses (`@org/pkg`,
  `api/v2`, `deps-dev`, `v1.2`); the separator is a colon and a space.
- Footers are the trailing paragraphs of the message whose first line is a
  `Token: value` or `Token #value` line (token: letters, digits and hyphens,
  or exactly `BREAKING CHANGE`), starting at column 0. The separator is `: `
  or ` #`, as the spec says: `Example:` alone on a line is prose. A footer's
  value runs until the next footer token, across lines. Once a
  `BREAKING CHANGE` footer is read, a later paragraph that does not start
  with a token continues the footer before it (migration notes are often
  several paragraphs, with examples and links): a breaking change is never
  lost to the prose after it. Without one, a prose paragraph after a token
  paragraph means that token paragraph was body text.
- Footers are found in one pass over the paragraphs, however many there are.
- A conventional header can still break the spec's layout: an empty scope
  (`docs(): …`) or a body that starts on the line right after the header.
  `layout_problem` names it, so the commit can be reworded before approval.
- `BREAKING CHANGE` / `BREAKING-CHANGE` count only in upper case; the `!`
  marker and the footer together still make one breaking change.
- The scissors line and everything below it, and lines starting with `#`,
  are dropped first (git's own cleanup rules).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# The header as Conventional Commits 1.0.0 defines it, matched at the start of a header line
# or of a whole message. The type allows digits, `_` and `-` after the first letter (`i18n`,
# `security-fix`) so that we do not misreport a deliberate header as non-conventional. The
# description (group 4) runs from its first to its last non-blank character of the line (`\S`
# is `not str.isspace()`), as stripping the line would leave it, and the match ends where the
# line does.
HEADER_RE = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)(?:\(([^()\r\n]*)\))?(!)?: +(\S(?:[^\n]*\S)?)[^\n]*")
# One footer line: `Token: value` or `Token #value`, the spec's two separators. Lines reach
# it right-stripped, so `Token:` with nothing after the colon is not a footer (it is prose,
# such as `Example:` above a code sample). One exception: a line that is exactly
# `BREAKING CHANGE:` starts a breaking-change footer whose value is on the lines below, since
# no reader would take it for prose and losing it would hide a breaking change.
FOOTER_RE = re.compile(
    r"(?P<token>BREAKING CHANGE|[A-Za-z0-9][A-Za-z0-9-]*)(?P<sep>: | #|:$(?<=^BREAKING[ -]CHANGE:))"
    r"(?P<value>.*)"
)
SCISSORS_RE = re.compile(r"^#\s*-{3,}\s*>8\s*-{3,}\s*$", re.MULTILINE)
_BLANK_RUNS_RE = re.compile(r"\n{3,}")
_SHA_RE = re.compile(r"[0-9a-f]{7,40}")
_SPLIT_VALUES_RE = re.compile(r"[\s,;]+")
_BLANK_LINES_RE = re.compile(r"\n\n+")

BREAKING_TOKENS = frozenset({"BREAKING CHANGE", "BREAKING-CHANGE"})
TICKET_TOKENS = frozenset({"ticket", "tickets", "refs"})
TRAINING_YES = frozenset({"", "yes", "y", "true", "required", "needed"})
TRAINING_NO = frozenset({"no", "n", "false", "none", "not needed"})
RELEASE_NOTE_NONE = frozenset({"none", "n/a", "-"})


@dataclass(frozen=True, slots=True)
class RawCommit:
    """One commit as `git log` reports it: the input of everything in this package.

    Only what notes are made of: no author or date, which no rule or template
    reads (on a long range they were a sixth of git's output and half the
    strings made from it, held until the notes were done).
    """

    sha: str
    parents: tuple[str, ...]
    message: str

    @property
    def short_sha(self) -> str:
        return self.sha[:7]

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


@dataclass(frozen=True, slots=True)
class Footer:
    token: str  # as written, e.g. "Reviewed-by", "BREAKING CHANGE"
    value: str  # may span lines; separator and surrounding blank lines removed
    separator: str = ": "  # ": " or " #"


@dataclass(frozen=True, slots=True)
class ParsedCommit:
    """What a commit message says, with the trailers that drive release notes already read."""

    header: str
    type: str | None
    scope: str | None
    breaking: bool
    breaking_description: str | None
    description: str
    body: str
    footers: tuple[Footer, ...]
    conventional: bool
    tickets: tuple[str, ...] = ()
    commit_refs: tuple[str, ...] = ()  # `Refs:` values that look like commit ids (revert targets)
    training: str | None = None  # None: no training; "": training needed, no details given
    internal: bool = False
    release_note: str | None = None

    @property
    def needs_training(self) -> bool:
        return self.training is not None

    def footer_values(self, token: str) -> tuple[str, ...]:
        """Values of every footer with this token (compared case-insensitively, as the spec says)."""
        wanted = token.lower()
        return tuple(f.value for f in self.footers if f.token.lower() == wanted)


def clean_message(message: str) -> str:
    """Apply git's cleanup: newlines normalised, scissors and below cut, `#` lines dropped."""
    text = message.replace("\r\n", "\n").replace("\r", "\n") if "\r" in message else message
    if text.startswith("#") or "\n#" in text:  # only lines starting with # matter, scissors included
        cut = SCISSORS_RE.search(text)
        if cut is not None:
            text = text[: cut.start()]
        text = "\n".join(line for line in text.split("\n") if not line.startswith("#"))
    return text


def parse_message(message: str) -> ParsedCommit:
    """Parse one commit message; never raises, whatever the text."""
    try:
        return _parse(message)
    except Exception:  # pragma: no cover - a bug here must not stop a quarter's notes
        header = message.strip().split("\n", 1)[0][:200] if isinstance(message, str) else ""
        return ParsedCommit(header=header, type=None, scope=None, breaking=False,
                            breaking_description=None, description=header, body="",
                            footers=(), conventional=False)


Header = tuple[str, str | None, bool, str]  # (type lower-cased, scope or None, bang, description)


def parse_header(header: str) -> Header | None:
    """(type, scope, bang, description) of a conventional header line, or None."""
    header = header.strip()
    match = HEADER_RE.match(header)
    if match is None or match.end() != len(header):
        return None
    return header_fields(match)


def header_fields(match: re.Match[str]) -> Header:
    """What a HEADER_RE match says: the type lower-cased, a blank scope as none."""
    ctype, scope, bang, description = match.groups()
    if scope is not None:
        scope = scope.strip() or None
    return ctype.lower(), scope, bang is not None, description


EMPTY_SCOPE = "empty scope: write the scope or leave out the parentheses"
NO_BLANK_LINE = "no blank line between the header and the body"


def layout_problem(match: re.Match[str], text: str) -> str | None:
    """What the spec rules out in the layout of a conventional header that HEADER_RE read at the
    start of `text` (a message after git's cleanup), or None.

    Such a commit is still read (its type and description are clear enough), but it is
    listed by `notes show` and `notes status` so that it can be reworded before approval.
    """
    scope = match.group(2)
    if scope is not None and not scope.strip():
        return EMPTY_SCOPE
    end = match.end() + 1  # the first character of the line after the header
    if text[end:end + 1] not in ("", "\n") and text[end:].partition("\n")[0].strip():
        return NO_BLANK_LINE
    return None


def _parse(message: str) -> ParsedCommit:
    header, blocks = split_message(message)
    body_blocks_, footers = split_footers(blocks) if blocks else (blocks, ())
    body = "\n\n".join(body_blocks_)
    parsed_header = parse_header(header)
    if parsed_header is None:
        ctype, scope, bang, description, conventional = None, None, False, header, False
    else:
        ctype, scope, bang, description = parsed_header
        conventional = True

    if not footers:  # most commits: nothing below the body, so no trailer to read
        return ParsedCommit(header, ctype, scope, bang, description if bang else None, description, body, (),
                            conventional)
    breaking_notes = [f.value for f in footers if f.token in BREAKING_TOKENS and f.separator != " #"]
    breaking = bang or bool(breaking_notes)
    if breaking_notes:
        breaking_description: str | None = "\n\n".join(v for v in breaking_notes if v) or description
    else:
        breaking_description = description if breaking else None

    trailers = [(footer.token.lower(), footer.value) for footer in footers]
    tickets, commit_refs = ticket_refs(trailers)
    training, internal, release_note = reader_trailers(trailers)
    return ParsedCommit(header, ctype, scope, breaking, breaking_description, description, body, footers,
                        conventional, tickets, commit_refs, training, internal, release_note)


def split_message(message: str) -> tuple[str, list[str]]:
    """A message's header line and the paragraphs below it, after git's cleanup.

    Leading blank lines are dropped and the header stripped; each paragraph is
    one string, its lines right-stripped (see `body_blocks`).
    """
    text = clean_message(message)
    if text[:1].isspace():
        text = text.lstrip()  # blank lines before the header, or an indented header
    end = text.find("\n")
    if end < 0:
        return text.strip(), []
    return text[:end].strip(), body_blocks(text[end + 1:])


def body_blocks(body: str) -> list[str]:
    """The paragraphs of a cleaned message's body (what follows the header line), each one string.

    Right-stripped lines joined again have a blank line exactly where a
    paragraph ends, so one split on runs of blank lines finds them.
    """
    body = "\n".join(map(str.rstrip, body.split("\n"))).strip("\n")
    if not body:
        return []
    return body.split("\n\n") if "\n\n\n" not in body else _BLANK_LINES_RE.split(body)


def split_footers(blocks: list[str]) -> tuple[list[str], tuple[Footer, ...]]:
    """The body's paragraphs and its footers (see `footer_fields`)."""
    body, fields = footer_fields(blocks)
    return body, tuple([Footer(token, value, separator) for token, separator, value in fields])


FooterFields = list[tuple[str, str, str]]  # (token as written, separator, value) of each footer


def footer_fields(blocks: list[str]) -> tuple[list[str], FooterFields]:
    """The body's paragraphs and its footers: the footer section starts at the earliest token
    paragraph from which all the rest reads as footers (see `footer_start`).

    Starting from the earliest such paragraph means a `Note: …` paragraph in the
    middle of the body stays body text, while a block of trailers at the end,
    however long, is read whole.
    """
    start = footer_start(blocks)
    if start is None:
        return blocks, []
    return blocks[:start], _read_footers(blocks[start:])


def footer_start(blocks: Sequence[str]) -> int | None:
    """Where the footer section starts, or None: one pass over the paragraphs, from the last.

    A paragraph `s` may start it when its first line is a footer line and every
    later paragraph belongs to a footer section begun at `s`: either its first
    line is a footer line, or a `BREAKING CHANGE` footer was read between `s`
    and it (the rule that keeps migration notes with their breaking change).
    Whether the paragraphs after `s` all belong (`rest_fits`) follows from the
    same answer for `s + 1`, so each paragraph is looked at once: a message of
    thousands of `Refs:` paragraphs ending in prose costs no more than reading it.
    """
    match_footer = FOOTER_RE.fullmatch
    start: int | None = None
    rest_fits = True  # every paragraph after this one belongs to a footer section begun here
    next_is_token = False  # the paragraph after this one starts with a footer line
    for s in range(len(blocks) - 1, -1, -1):
        block = blocks[s]
        is_token = match_footer(block.partition("\n")[0]) is not None
        if s < len(blocks) - 1:
            rest_fits = _names_breaking_footer(block, match_footer) or (next_is_token and rest_fits)
        if is_token and rest_fits:
            start = s
        next_is_token = is_token
    return start


def _names_breaking_footer(block: str, match_footer: Callable[[str], re.Match[str] | None]) -> bool:
    """Whether a line of this paragraph is a `BREAKING CHANGE` footer (read as one wherever it is)."""
    if "BREAKING" not in block:  # nearly always: no line to match
        return False
    for line in block.split("\n"):
        match = match_footer(line)
        if match is not None and match["token"] in BREAKING_TOKENS:
            return True
    return False


def _read_footers(blocks: list[str]) -> FooterFields:
    """The footers of a footer section (`footer_start` has found where it starts)."""
    footers: list[list[str]] = []  # [token, separator, value lines...]
    match_footer = FOOTER_RE.fullmatch
    for block in blocks:
        if footers:
            footers[-1].append("")  # a paragraph break inside a value that continues
        for line in block.split("\n"):
            match = match_footer(line)
            if match is not None:
                token, sep, value = match.groups()
                footers.append([token, " #" if sep == " #" else ": ", value.strip()])
            else:
                footers[-1].append(line.strip())
    result = []
    for token, separator, *value_lines in footers:
        value = "\n".join(value_lines).strip("\n") if len(value_lines) > 1 else value_lines[0]
        if "\n\n\n" in value:
            value = _BLANK_RUNS_RE.sub("\n\n", value)
        result.append((token, separator, value))
    return result


def looks_like_sha(value: str) -> bool:
    """A `Refs:` value that names a commit rather than a ticket (7-40 hex digits, not all decimal)."""
    return _SHA_RE.fullmatch(value) is not None and not value.isdigit()


# Trailers as the readers below take them: (token lower-cased, value), in message order. Plain
# pairs rather than Footer values, so that the plain lane need not make a Footer per trailer.
Trailers = Sequence[tuple[str, str]]


def ticket_refs(trailers: Trailers) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The ticket ids the `Refs:`/`Ticket:` trailers name, and the `Refs:` values that name commits."""
    tickets: list[str] = []
    refs: list[str] = []
    for token, value in trailers:
        if token not in TICKET_TOKENS:
            continue
        for raw in _SPLIT_VALUES_RE.split(value):
            item = raw.strip().lstrip("#").rstrip(".")
            if not item:
                continue
            if token == "refs" and looks_like_sha(item):
                if item not in refs:
                    refs.append(item)
            elif item not in tickets:
                tickets.append(item)
    return tuple(tickets), tuple(refs)


def reader_trailers(trailers: Trailers) -> tuple[str | None, bool, str | None]:
    """What the trailers tell readers: training (None: none), whether the change is internal, and
    the release note that replaces its description."""
    training: str | None = None
    internal = False
    release_note: str | None = None
    for token, value in trailers:
        value = value.strip()
        if token == "training":
            lowered = value.lower()
            if lowered in TRAINING_NO:
                continue
            text = "" if lowered in TRAINING_YES else value
            training = text if not training else (f"{training} {text}".strip())
        elif token == "audience":
            internal = internal or value.lower() == "internal"
        elif token in ("release-note", "release-notes"):
            if value.lower() in RELEASE_NOTE_NONE:
                internal = True  # Kubernetes' `Release-note: NONE`: nothing for readers here
            elif value:
                release_note = value
    return training, internal, release_note
