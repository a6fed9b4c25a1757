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
  or exactly `BREAKING CHANGE`), starting at column 0. A footer's value runs
  until the next footer token, across lines. Paragraphs after a
  `BREAKING CHANGE` footer that do not start with a token continue its value
  (migration notes are often several paragraphs); any other prose paragraph
  after a token paragraph means that token paragraph was body text.
- `BREAKING CHANGE` / `BREAKING-CHANGE` count only in upper case; the `!`
  marker and the footer together still make one breaking change.
- The scissors line and everything below it, and lines starting with `#`,
  are dropped first (git's own cleanup rules).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# The header as Conventional Commits 1.0.0 defines it. The type allows digits,
# `_` and `-` after the first letter (`i18n`, `security-fix`) so that we do not
# misreport a deliberate header as non-conventional.
HEADER_RE = re.compile(
    r"(?P<type>[A-Za-z][A-Za-z0-9_-]*)"
    r"(?:\((?P<scope>[^()\r\n]*)\))?"
    r"(?P<bang>!)?"
    r": +(?P<description>\S.*)"
)
# HEADER_RE matched at the start of a whole message: it matches exactly where HEADER_RE fully
# matches the message's first line stripped, group 4 is the description as that stripping
# leaves it (`\S` is `not str.isspace()`), and the match ends where the line does. One call
# instead of finding the line, slicing and stripping it, then matching it.
HEADER_LINE_RE = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)(?:\(([^()\r\n]*)\))?(!)?: +(\S(?:[^\n]*\S)?)[^\n]*")
# One footer line. `Token:` with nothing after it is accepted (the value then
# starts on the next line); `Token #value` is the spec's second separator.
FOOTER_RE = re.compile(
    r"(?P<token>BREAKING CHANGE|[A-Za-z0-9][A-Za-z0-9-]*)(?P<sep>:(?: |$)| #)(?P<value>.*)"
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Footer:
    token: str  # as written, e.g. "Reviewed-by", "BREAKING CHANGE"
    value: str  # may span lines; separator and surrounding blank lines removed
    separator: str = ": "  # ": " or " #"


@dataclass(frozen=True)
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


def parse_header(header: str) -> tuple[str, str | None, bool, str] | None:
    """(type, scope, bang, description) of a conventional header, or None."""
    match = HEADER_RE.fullmatch(header.strip())
    if match is None:
        return None
    ctype, scope, bang, description = match.groups()
    return ctype.lower(), (scope or "").strip() or None, bang is not None, description.strip()


def _parse(message: str, *, fast: bool = True) -> ParsedCommit:
    if (fast and message and "\n" not in message and "\r" not in message and message[0] != "#"
            and not message[0].isspace()):
        return _header_only(message.strip())  # the most common message of all: one line
    split = _split_regular(message) if fast else None
    if split is None:
        split = _split_any(message)
    header, paragraphs, joined = split
    body_paragraphs, footers = _split_footers(paragraphs) if paragraphs else (paragraphs, ())
    if not footers and joined is not None:
        body = joined
    else:
        body = "\n\n".join("\n".join(p) for p in body_paragraphs)

    parsed_header = parse_header(header)
    if parsed_header is None:
        ctype, scope, bang, description, conventional = None, None, False, header, False
    else:
        ctype, scope, bang, description = parsed_header
        conventional = True

    if not footers:  # most commits: nothing below the body, so no trailer to read
        return _parsed(header, ctype, scope, bang, description if bang else None, description, body, (),
                       conventional, (), (), None, False, None)
    breaking_notes = [f.value for f in footers if f.token in BREAKING_TOKENS and f.separator != " #"]
    breaking = bang or bool(breaking_notes)
    if breaking_notes:
        breaking_description: str | None = "\n\n".join(v for v in breaking_notes if v) or description
    else:
        breaking_description = description if breaking else None

    trailers = [(footer.token.lower(), footer.value) for footer in footers]
    tickets, commit_refs = _tickets(trailers)
    training, internal, release_note = _reader_trailers(trailers)
    return _parsed(header, ctype, scope, breaking, breaking_description, description, body, footers,
                   conventional, tickets, commit_refs, training, internal, release_note)


def _header_only(header: str) -> ParsedCommit:
    """`_parse` of a message that is one stripped line, without the split and footer steps."""
    match = HEADER_RE.fullmatch(header)
    if match is None:
        return _parsed(header, None, None, False, None, header, "", (), False, (), (), None, False, None)
    ctype, scope, bang, description = match.groups()
    description = description.strip()
    breaking = bang is not None
    return _parsed(header, ctype.lower(), (scope or "").strip() or None, breaking,
                   description if breaking else None, description, "", (), True, (), (), None, False, None)


def _parsed(header: str, ctype: str | None, scope: str | None, breaking: bool,
            breaking_description: str | None, description: str, body: str, footers: tuple[Footer, ...],
            conventional: bool, tickets: tuple[str, ...], commit_refs: tuple[str, ...],
            training: str | None, internal: bool, release_note: str | None) -> ParsedCommit:
    """`ParsedCommit(...)`, filling the instance dict directly.

    The frozen dataclass's __init__ makes fourteen object.__setattr__ calls;
    these stores cost about a third of that, and this runs once per commit of
    a range (0.2 s on 100,000 commits). ParsedCommit has no __post_init__ to skip.
    """
    parsed = _new(ParsedCommit)
    values = parsed.__dict__
    values["header"] = header
    values["type"] = ctype
    values["scope"] = scope
    values["breaking"] = breaking
    values["breaking_description"] = breaking_description
    values["description"] = description
    values["body"] = body
    values["footers"] = footers
    values["conventional"] = conventional
    values["tickets"] = tickets
    values["commit_refs"] = commit_refs
    values["training"] = training
    values["internal"] = internal
    values["release_note"] = release_note
    return parsed


_new = object.__new__

# A split message: the header, the paragraphs below it (lines right-stripped), and, when
# known, those paragraphs joined back with one blank line between them (the body when
# there is no footer).
_Split = tuple[str, list[list[str]], str | None]


def _split_any(message: str) -> _Split:
    """The general split, line by line: git's cleanup, lines right-stripped, paragraphs."""
    lines = [line.rstrip() for line in clean_message(message).split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    header = lines[0].strip() if lines else ""
    return header, _paragraphs(lines[1:]), None


def _split_regular(message: str) -> _Split | None:
    """The same split in a few string operations, for a message that starts with its header; else None.

    Right-stripped lines joined again have a blank line exactly where a
    paragraph ends, so one split on runs of blank lines gives the paragraphs
    that `_paragraphs` finds with a Python loop over lines; the loop cost more
    than all the rest of parsing a typical commit. tests/notes/test_fast_paths.py
    checks that both splits agree on any text.
    """
    if (not message or message[0].isspace() or message[0] == "#" or "\r" in message
            or "\n#" in message):
        return None  # leading blank lines, or something git's cleanup changes: rare
    end = message.find("\n")
    if end < 0:
        return message.strip(), [], ""
    blocks = body_blocks(message[end + 1:])
    return message[:end].strip(), [block.split("\n") for block in blocks], "\n\n".join(blocks)


def body_blocks(body: str) -> list[str]:
    """The paragraphs of a regular message's body (what follows the header line), each one string.

    Right-stripped lines joined again have a blank line exactly where a
    paragraph ends, so one split on runs of blank lines finds them.
    """
    body = "\n".join(map(str.rstrip, body.split("\n"))).strip("\n")
    if not body:
        return []
    return body.split("\n\n") if "\n\n\n" not in body else _BLANK_LINES_RE.split(body)


def _paragraphs(lines: list[str]) -> list[list[str]]:
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line.strip():
            current.append(line)
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return paragraphs


def _split_footers(paragraphs: list[list[str]]) -> tuple[list[list[str]], tuple[Footer, ...]]:
    """Find where the footer section starts: the earliest token paragraph from which all the rest parses.

    Trying starts from the first candidate on means a `Note: …` paragraph in
    the middle of the body stays body text, while a block of trailers at the
    end, however long, is read whole.
    """
    for start, paragraph in enumerate(paragraphs):
        if FOOTER_RE.fullmatch(paragraph[0]) is None:
            continue
        footers = _read_footers(paragraphs[start:])
        if footers is not None:
            return paragraphs[:start], footers
    return paragraphs, ()


def _read_footers(paragraphs: list[list[str]]) -> tuple[Footer, ...] | None:
    footers: list[list[str]] = []  # [token, separator, value lines...]
    match_footer = FOOTER_RE.fullmatch
    for paragraph in paragraphs:
        if footers:
            footers[-1].append("")  # a paragraph break inside a value that continues
        for n, line in enumerate(paragraph):
            match = match_footer(line) if line[0] not in " \t" else None
            if match is not None:
                token, sep, value = match.groups()
                footers.append([token, " #" if sep == " #" else ": ", value.strip()])
            elif n == 0 and (not footers or footers[-1][0] not in BREAKING_TOKENS):
                return None
            else:
                footers[-1].append(line.strip())
    result = []
    for token, separator, *value_lines in footers:
        value = "\n".join(value_lines).strip("\n") if len(value_lines) > 1 else value_lines[0]
        if "\n\n\n" in value:
            value = _BLANK_RUNS_RE.sub("\n\n", value)
        result.append(_footer(token, value, separator))
    return tuple(result)


def _footer(token: str, value: str, separator: str) -> Footer:
    """`Footer(...)` by filling the instance dict, as `_parsed` does (trailers are common)."""
    footer = _new(Footer)
    values = footer.__dict__
    values["token"] = token
    values["value"] = value
    values["separator"] = separator
    return footer


def looks_like_sha(value: str) -> bool:
    """A `Refs:` value that names a commit rather than a ticket (7-40 hex digits, not all decimal)."""
    return _SHA_RE.fullmatch(value) is not None and not value.isdigit()


# Trailers as the readers below take them: (token lower-cased, value), in message order. Plain
# pairs rather than Footer values, so that the plain lane need not make a Footer per trailer.
Trailers = Sequence[tuple[str, str]]


def _tickets(trailers: Trailers) -> tuple[tuple[str, ...], tuple[str, ...]]:
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


def _reader_trailers(trailers: Trailers) -> tuple[str | None, bool, str | None]:
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
