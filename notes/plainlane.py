"""The plain lane: the draft of an ordinary commit, read without the general parser (pure).

Most commits of a range are ordinary: not a merge, a header that is neither
"Merge …" nor a revert, no cherry-pick line, no squashed changes, no
breaking-change trailer, nothing git's cleanup would change (`\r`, `#` lines,
leading blank space), and trailers, if any, in one block of one-line
`Token: value` lines at the end. For such a commit the general path
(`changes_of`, `parse_message`, `drafting.drafts_of`) comes down to the
header's type, scope, `!` and description, GitHub's request number, and the
few trailers readers see (tickets, training, audience, release note); all it
builds on the way (CommitChanges, paragraphs, every footer read twice) is
thrown away, and that was most of the time per commit. This lane computes
just those values, with the general path's own functions where it reads
trailers.

It decides whether it may with a few substring tests, which run at C speed,
and answers None for anything it cannot prove ordinary: the caller then takes
the general path, so the lane can only be faster, never different. A commit
the customer audiences never see (a non-breaking change of an internal type)
is known from its header, "BREAKING" and "release-note" alone: its tickets
and training do not matter, so its trailers are not read at all (~40% of a
typical range). tests/notes/test_plain_lane.py checks on generated histories
that notes made with and without the lane are the same, for every audience.

The caller (`notes.reading`) checks what needs the whole range: that the
commit has at most one parent, that no revert or cherry-pick in range touches
it, that no correction is stored for it.
"""

from __future__ import annotations

from .changes import may_be_squash, request_number, strip_request_text
from .commits import (
    FOOTER_RE,
    HEADER_LINE_RE,
    Trailers,
    _reader_trailers,
    _tickets,
    body_blocks,
)
from .entries import EMPTY_TEXT, Draft, one_line, upper_first

# A quiet commit: (type, lower-case scope, description as the header gives it), enough to
# tell whether a breaking duplicate brings it back (see collect._revived).
QuietKey = tuple[str, str, str]

# Trailer tokens that change what readers see of a change (notes.commits: _tickets,
# _reader_trailers), lower-cased, as they are compared; "BREAKING" is looked for apart,
# as its tokens are case-sensitive. Any of them in a body that can hold a trailer (a line
# with ": " or " #") makes the lane read the trailer block, or leave the commit to the
# general path when the trailers are not one plain block.
RELEASE_NOTE = "release-note"  # also finds "release-notes"
READER_TOKENS = ("refs", "ticket", "training", "audience", RELEASE_NOTE)  # "ticket" finds "tickets"


def plain_draft(sha: str, message: str, rank: int, quiet_types: frozenset[str]) -> Draft | QuietKey | None:
    """The one draft of an ordinary commit; its QuietKey when it is held back; None when not ordinary.

    `quiet_types`: the internal types when the audience is a customer one
    (their non-breaking changes are held back), else empty.
    """
    if "\r" in message or "\n#" in message or "cherry picked from" in message:
        return None  # something git's cleanup changes, or a cherry-pick
    match = HEADER_LINE_RE.match(message)  # (it starts with a letter: no "#" or blank space first)
    if match is not None:  # a conventional header: neither "Merge …" nor, unless its type is, a revert
        ctype, scope, bang_mark, description = match.groups()
        ctype = ctype.lower()
        if ctype.startswith("revert"):
            return None
        end = match.end()
        if scope is not None:
            scope = scope.strip() or None
        bang = bang_mark is not None
        conventional = True
    else:
        if not message or message[0] == "#" or message[0].isspace():
            return None  # empty, or something git's cleanup changes
        end = message.find("\n")
        if end < 0:
            end = len(message)
        header = message[:end].strip()
        if header.startswith("Merge ") or (header[:1] in "Rr" and header[:6].lower() == "revert"):
            return None
        description = header
        ctype = scope = None
        bang = conventional = False
    body = message[end + 1:]
    if body and ("BREAKING" in body or (": " in body and may_be_squash(message))):
        return None  # breaking notes, or squashed changes

    if ctype in quiet_types and not bang:
        if body and RELEASE_NOTE in body.lower():
            return None  # it would change the text a breaking duplicate is matched by
        return ctype, (scope or "").lower(), description
    request = None
    if description[-1] == ")":  # (the description ends the header)
        request = request_number(message[:end].strip())
        description = strip_request_text(description) or description
    # A trailer line holds ": " or " #" (FOOTER_RE): a body with neither has no trailers to read.
    if body and (":" in body or " #" in body) and _names_reader_token(body.lower()):
        trailers = _trailer_block(body)
        if trailers is None:
            return None
        tickets = list(_tickets(trailers)[0])
        training, internal, release_note = _reader_trailers(trailers)  # one-line values: one_line_training
    else:
        tickets, training, internal, release_note = [], None, False, None
    # What drafting.draft makes of it: with `!` the breaking note is the description itself,
    # so no "What to do" is added.
    text = one_line(release_note) if release_note else upper_first(one_line(description) or EMPTY_TEXT)
    return Draft(rank, 0, ctype, scope, text, bang, [], training, tickets, [sha], request, conventional,
                 internal)


def _names_reader_token(lowered: str) -> bool:
    """READER_TOKENS, unrolled: no generator per commit."""
    return ("refs" in lowered or "ticket" in lowered or "training" in lowered or "audience" in lowered
            or RELEASE_NOTE in lowered)


def _trailer_block(body: str) -> Trailers | None:
    """The trailers of a body whose trailers are one block of one-line `Token: value` lines; else None.

    The common shape (`Refs: …` and `Signed-off-by: …` under the body). When
    the last paragraph is all trailer lines and no other paragraph starts with
    one, `commits._split_footers` finds exactly that paragraph, and each line
    is one trailer; anything else (continuation lines, an earlier paragraph
    that starts like a trailer) is left to the general parser.
    """
    blocks = body_blocks(body)
    if not blocks:
        return None
    match_footer = FOOTER_RE.fullmatch
    for block in blocks[:-1]:
        if match_footer(block.partition("\n")[0]) is not None:
            return None
    trailers = []
    for line in blocks[-1].split("\n"):
        match = match_footer(line)
        if match is None:
            return None
        trailers.append((match[1].lower(), match[3].strip()))  # (token, value): what the readers take
    return trailers
