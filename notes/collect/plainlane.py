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
the general path. Every rule it applies is the general path's own function
(`parse_header`'s `header_fields`, `request_number`, `footer_fields`,
`ticket_refs`, `reader_trailers`, `reader_text`, `is_quiet_change`,
`layout_problem`, `is_dependency_update`), so the
lane can only be faster, never different. A commit the customer audiences
never see (a non-breaking change of an internal type) is known from its
header and "BREAKING" alone: its trailers are not read at all.
tests/notes/test_plain_lane.py checks on generated histories that the notes
are those of the oracle in tests/notes/oracle.py, for every audience.

The caller (`notes.collect.reading`) checks what needs the whole range: that the
commit has at most one parent, that no revert or cherry-pick in range touches
it, that no correction is stored for it.
"""

from __future__ import annotations

from ..commits.changes import (
    CHERRY_PICK_MARK,
    is_dependency_update,
    is_merge_header,
    is_revert_header,
    may_be_squash,
    request_number,
    strip_request_text,
)
from ..commits.parsing import (
    HEADER_RE,
    body_blocks,
    footer_fields,
    header_fields,
    layout_problem,
    reader_trailers,
    ticket_refs,
)
from .drafting import is_quiet_change, reader_text
from .entries import NOT_CONVENTIONAL, Draft, one_line_training

# A quiet commit: (type, lower-case scope, description as the header gives it), enough to
# tell whether a breaking duplicate brings it back (see collect._revived and `plain_text`).
QuietKey = tuple[str, str, str]

# Trailer tokens that change what readers see of a change (notes.commits: ticket_refs,
# reader_trailers), lower-cased, as they are compared; "BREAKING" is looked for apart,
# as its tokens are case-sensitive. Only a body that names one of them (in a line with
# ": " or " #") has its trailers read.
RELEASE_NOTE = "release-note"  # also finds "release-notes"
READER_TOKENS = ("refs", "ticket", "training", "audience", RELEASE_NOTE)  # "ticket" finds "tickets"


def plain_draft(sha: str, message: str, rank: int, quiet_types: frozenset[str]) -> Draft | QuietKey | None:
    """The one draft of an ordinary commit; its QuietKey when it is held back; None when not ordinary.

    `quiet_types`: the internal types when the audience is a customer one
    (their non-breaking changes are held back), else empty.
    """
    if "\r" in message or "\n#" in message or CHERRY_PICK_MARK in message:
        return None  # something git's cleanup changes, or a cherry-pick
    ctype: str | None
    scope: str | None
    match = HEADER_RE.match(message)  # (it starts with a letter: no "#" or blank space first)
    if match is not None:  # a conventional header: neither "Merge …" nor, unless its type is, a revert
        ctype, scope, bang, description = header_fields(match)
        if ctype.startswith("revert"):
            return None
        end = match.end()
        conventional = True
    else:
        if not message or message[0] == "#" or message[0].isspace():
            return None  # empty, or something git's cleanup changes
        end = message.find("\n")
        if end < 0:
            end = len(message)
        header = message[:end].strip()
        if is_merge_header(header) or is_revert_header(header):
            return None
        description = header
        ctype = scope = None
        bang = conventional = False
    body = message[end + 1:]
    if body and ("BREAKING" in body or (": " in body and may_be_squash(message))):
        return None  # breaking notes, or squashed changes

    if is_quiet_change(ctype, bang, quiet_types):
        if body and RELEASE_NOTE in body.lower():
            return None  # its text is not its description: the general path holds it back
        return ctype, (scope or "").lower(), description  # type: ignore[return-value]  # a quiet type is a str
    if not conventional:
        flaw: str | None = NOT_CONVENTIONAL
    elif body[:1] not in ("", "\n") or (scope is None and match.start(2) >= 0):  # type: ignore[union-attr]
        flaw = layout_problem(match, message)  # type: ignore[arg-type]  # (conventional: a match)
    else:
        flaw = None
    request = None
    if description[-1] == ")":  # (the description ends the header)
        request = request_number(message[:end].strip())
    # A trailer line holds ": " or " #" (FOOTER_RE): a body with neither has no trailers to read.
    if body and (":" in body or " #" in body) and _names_reader_token(body.lower()):
        trailers = [(token.lower(), value) for token, _, value in footer_fields(body_blocks(body))[1]]
        tickets = list(ticket_refs(trailers)[0])
        training, internal, release_note = reader_trailers(trailers)
        training = one_line_training(training)
    else:
        tickets, training, internal, release_note = [], None, False, None
    # What drafting.draft makes of it: with `!` the breaking note is the description itself,
    # so no "What to do" is added.
    text = plain_text(description, release_note)
    return Draft(rank, 0, ctype, scope, text, bang, [], training, tickets, [sha], request, conventional,
                 internal, False, flaw, is_dependency_update(ctype, scope, description))


def plain_text(description: str, release_note: str | None) -> str:
    """What readers see of an ordinary commit's change: `reader_text`, the request number dropped."""
    if description[-1:] == ")":
        description = strip_request_text(description) or description
    return reader_text(release_note, description, False)


def names_no_reader_trailer(message: str) -> bool:
    """Whether the body cannot hold a trailer readers see (tickets, training, audience, release note):
    the lane then drafts the commit with none of them."""
    end = message.find("\n")
    return end < 0 or not _names_reader_token(message[end + 1:].lower())


def _names_reader_token(lowered: str) -> bool:
    """READER_TOKENS, unrolled: no generator per commit."""
    return ("refs" in lowered or "ticket" in lowered or "training" in lowered or "audience" in lowered
            or RELEASE_NOTE in lowered)
