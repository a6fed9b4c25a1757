"""What one commit contributes to release notes: zero, one or several changes.

A commit is not always one change. A merge commit's own header ("Merge pull
request #12 from …") says nothing to readers: the change is in its body (the
pull/merge request title). A squash commit may list several conventional
messages, one per squashed commit. A revert names the commit it undoes. This
module turns each raw commit into a `CommitChanges` value; `collect` then
decides, across the whole range, which of them readers see.

Rules:

- GitHub merges ("Merge pull request #N from …") and GitLab merges ("Merge
  branch 'x' into 'y'" … "See merge request group/project!N") take their
  changes from the body, conventional or not: the request title is the change.
  Other merges ("Merge branch 'main' into feature", "Merge remote-tracking
  branch …") contribute only conventional lines found in their body, so
  git's conflict lists and similar noise never reach readers.
- A message whose body holds two or more lines that are conventional headers
  (GitHub's "* feat: …" bullets, "- fix: …", or plain lines) is a squash: each
  such line starts one change whose text runs to the next one. The squash's
  own header is a summary and is dropped, unless it is a breaking change.
- A dependency update (`chore(deps): update dependency foo to v22.1.0`, a
  `deps`/`deps-dev` scope or type, Dependabot's `Bump foo from 1.0 to 2.0`,
  Renovate's `Update dependency foo to v2`) is one change, whatever its body
  quotes: the other project's changelog, bullets and `BREAKING CHANGE` lines
  included, is never read as changes or breaks of ours (only the header's `!`
  makes it breaking).
- `Revert "X"` + "This reverts commit SHA." (git) and `revert: X` + `Refs: SHA`
  (Conventional Commits) name their targets; `X` is kept to match by header
  when no commit id is given. Nested `Revert "Revert "X""` re-applies X.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .parsing import (
    HEADER_RE,
    ParsedCommit,
    RawCommit,
    clean_message,
    layout_problem,
    parse_header,
    parse_message,
)

GITHUB_MERGE_RE = re.compile(r"Merge pull request #(?P<number>\d+) from \S+.*")
GITLAB_MERGE_RE = re.compile(r"Merge branch '[^']+' into '[^']+'.*")
GITLAB_REQUEST_RE = re.compile(r"^See merge request (?P<project>\S*?)!(?P<number>\d+)\s*$", re.MULTILINE)
OTHER_MERGE_RE = re.compile(
    r"Merge (?:(?:remote-tracking )?branch(?:es)?|tags?|commit|remote branch|the branch)\b.*"
)
GIT_REVERT_RE = re.compile(r'Revert "(?P<inner>.*)"')
REVERTS_COMMIT_RE = re.compile(r"This reverts commit (?P<sha>[0-9a-fA-F]{7,40})")
CHERRY_PICK_RE = re.compile(r"\(cherry picked from commit (?P<sha>[0-9a-fA-F]{7,40})\)")
REQUEST_SUFFIX_RE = re.compile(r"\s*\((?P<mark>[#!])(?P<number>\d+)\)\s*$")
_BULLET_RE = re.compile(r"(?:[*-] +)?(?P<header>.+)")
# Dependency bots' own headers, when they are not conventional ones (Dependabot, Renovate).
DEPENDENCY_HEADER_RE = re.compile(r"(?:Bump \S+ from \S+|Update dependency \S+) to \S+.*")
DEPENDENCY_SCOPES = frozenset({"deps", "deps-dev", "dependencies"})

MAX_REVERT_NESTING = 16
# Types recognised on a squash body line without a scope; see `_squashed_header`.
SQUASH_TYPES = frozenset({
    "feat", "fix", "perf", "refactor", "docs", "style", "test", "tests", "chore", "build", "ci",
    "revert", "security", "deps", "i18n", "l10n", "a11y", "ux", "ui", "deprecate", "remove",
})


@dataclass(frozen=True, slots=True)
class CommitChanges:
    """A commit seen as changes for readers."""

    sha: str
    kind: str  # "commit" | "merge" | "squash" | "revert"
    changes: tuple[ParsedCommit, ...]  # what readers may see; empty for a bare merge
    header: str  # the commit's first line, for matching reverts and duplicates
    pull_request: str | None = None  # "#12" (GitHub) or "!42" (GitLab)
    reverts: tuple[str, ...] = ()  # commit ids (full or abbreviated) this commit undoes
    reverted_header: str | None = None  # the undone commit's header, when the message gives it
    cherry_picked_from: tuple[str, ...] = ()
    problem: str | None = None  # what the spec rules out in a plain commit's header layout (layout_problem)

    @property
    def is_revert(self) -> bool:
        return self.kind == "revert"


CHERRY_PICK_MARK = "cherry picked from"  # no cherry-pick line without it


def changes_of(raw: RawCommit) -> CommitChanges:
    """Classify one commit; pure and total (any message gives a value)."""
    message = raw.message
    text = (clean_message(message) if "\r" in message or "#" in message else message).strip("\n")
    header = text.partition("\n")[0].strip()
    cherry = (tuple(m["sha"].lower() for m in CHERRY_PICK_RE.finditer(text))
              if CHERRY_PICK_MARK in text else ())
    if len(raw.parents) > 1 or is_merge_header(header):
        merge = _merge_changes(raw, text, header, cherry)
        if merge is not None:
            return merge
    if is_revert_header(header):
        revert = _revert_changes(raw.sha, text, header, cherry)
        if revert is not None:
            return revert
    request = request_number(header)
    squashed = squash_changes(text) if "\n" in text else ()
    if squashed:
        return CommitChanges(raw.sha, "squash", squashed, header, request, cherry_picked_from=cherry)
    parsed = _one_change(text)
    problem = None
    if parsed.conventional:
        lead = text.lstrip()
        match = HEADER_RE.match(lead)
        problem = layout_problem(match, lead) if match is not None else None
    return CommitChanges(raw.sha, "commit", (parsed,), header, request, cherry_picked_from=cherry,
                         problem=problem)


def is_dependency_update(ctype: str | None, scope: str | None, header: str) -> bool:
    """Whether a change is a dependency update: a `deps` scope or type, or a dependency bot's header."""
    if ctype is not None:
        return ctype == "deps" or (scope is not None and scope.lower() in DEPENDENCY_SCOPES)
    return header[:1] in "BU" and DEPENDENCY_HEADER_RE.fullmatch(header) is not None


def _one_change(text: str) -> ParsedCommit:
    """The one change a message states; a dependency update's body is the other project's, not ours."""
    parsed = _strip_request(parse_message(text))
    if parsed.breaking and is_dependency_update(parsed.type, parsed.scope, parsed.header):
        fields = parse_header(parsed.header)
        bang = fields is not None and fields[2]  # a `BREAKING CHANGE` footer was quoted from its changelog
        return replace(parsed, breaking=bang, breaking_description=parsed.description if bang else None)
    return parsed


def is_merge_header(header: str) -> bool:
    """Whether a commit's header line reads as a merge's, whatever its parents."""
    return header.startswith("Merge ")


def is_revert_header(header: str) -> bool:
    """Whether a commit's header line may name a revert (`Revert "…"`, `revert: …`): only then is it
    read as one."""
    return header[:1] in "Rr" and header[:6].lower() == "revert"


def squash_changes(text: str) -> tuple[ParsedCommit, ...]:
    """The changes a squash commit lists after its header, or () when it is not a squash.

    Works on the whole cleaned message, not the parsed body: a plain line such as
    `fix: handle empty rows` at the end of a message also reads as a footer.
    """
    if not may_be_squash(text):
        return ()
    lines = text.split("\n")
    header, body_lines = lines[0], lines[1:]
    fields = parse_header(header)
    if is_dependency_update(fields[0] if fields else None, fields[1] if fields else None, header.strip()):
        return ()  # bullets quoted from the updated project's changelog are not our changes
    starts = [i for i, line in enumerate(body_lines) if _squashed_header(line) is not None]
    if len(starts) < 2:
        return ()
    changes: list[ParsedCommit] = []
    if fields is not None and fields[2]:  # a breaking summary must not be lost
        changes.append(_strip_request(parse_message(header)))
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(body_lines)
        segment = [_squashed_header(body_lines[start]) or "", *body_lines[start + 1:end]]
        changes.append(_strip_request(parse_message("\n".join(segment))))
    return tuple(changes)


def may_be_squash(text: str) -> bool:
    """Whether two lines below the header might start squashed changes (see `_may_start_squash`).

    Most messages have no such line, let alone two: this look at the text
    before each line's first ": " saves parsing every line as a header, which
    cost more than the rest of reading a typical commit.
    """
    start = text.find("\n")
    if start < 0 or text.find(": ", start) < 0:
        return False
    found = 0
    for line in text[start + 1:].split("\n"):
        if ": " in line and _may_start_squash(line):  # a call only for the few lines with a ": "
            found += 1
            if found == 2:
                return True
    return False


def _may_start_squash(line: str) -> bool:
    """A superset of the lines `_squashed_header` accepts, decided on the text before the first ": ".

    An accepted line is an optional bullet, whitespace, then a header whose
    type, scope and `!` all come before the first ": " (a scope may itself
    hold ": ", but then "(" comes first): with no "(" or "!" there, what is
    left once bullets and whitespace are stripped must be a well-known type.
    """
    head, colon, _ = line.partition(": ")
    if not colon:
        return False
    return "(" in head or "!" in head or head.lstrip("*- ").strip().lower() in SQUASH_TYPES


def _squashed_header(line: str) -> str | None:
    """The conventional header on this line, if it can start a squashed change.

    Footers look like headers (`Refs: #12`, `Signed-off-by: …`), so a line only
    counts when its type is a well-known one or it has a scope or `!`.
    """
    if not line or line[0] in " \t" or ":" not in line:
        return None
    match = _BULLET_RE.fullmatch(line)
    if match is None:
        return None
    candidate = match["header"].strip()
    fields = parse_header(candidate)
    if fields is None:
        return None
    ctype, scope, bang, _ = fields
    if ctype in SQUASH_TYPES or scope is not None or bang:
        return candidate
    return None


def _merge_changes(raw: RawCommit, text: str, header: str,
                   cherry: tuple[str, ...]) -> CommitChanges | None:
    github = GITHUB_MERGE_RE.fullmatch(header)
    gitlab = GITLAB_MERGE_RE.fullmatch(header)
    other = OTHER_MERGE_RE.fullmatch(header) if github is None and gitlab is None else None
    if github is None and gitlab is None and other is None:
        if not raw.is_merge:
            return None
        # A merge commit whose message is itself a change (`git merge --no-ff -m "feat: …"`).
        return CommitChanges(sha=raw.sha, kind="merge", changes=_body_changes(text, strict=False),
                             header=header, pull_request=request_number(header), cherry_picked_from=cherry)
    body = text.split("\n", 1)[1] if "\n" in text else ""
    request: str | None = None
    if github is not None:
        request = f"#{github['number']}"
    elif gitlab is not None:
        found = GITLAB_REQUEST_RE.search(body)
        if found is not None:
            request = f"!{found['number']}"
        body = GITLAB_REQUEST_RE.sub("", body)
    body = body.strip()
    if not body:
        return CommitChanges(sha=raw.sha, kind="merge", changes=(), header=header, pull_request=request,
                             cherry_picked_from=cherry)
    changes = _body_changes(body, strict=other is not None)
    return CommitChanges(sha=raw.sha, kind="merge", changes=changes, header=header, pull_request=request,
                         cherry_picked_from=cherry)


def _body_changes(text: str, *, strict: bool) -> tuple[ParsedCommit, ...]:
    squashed = squash_changes(text)
    if squashed:
        return squashed
    parsed = _one_change(text)
    if strict and not parsed.conventional:
        return ()
    return (parsed,)


def _revert_changes(sha: str, text: str, header: str, cherry: tuple[str, ...]) -> CommitChanges | None:
    git_style = GIT_REVERT_RE.fullmatch(strip_request_text(header))
    if git_style is not None:
        targets = tuple(m["sha"].lower() for m in REVERTS_COMMIT_RE.finditer(text))
        inner = git_style["inner"]
        trailers = parse_message(text)
    else:
        trailers = parse_message(text)
        if trailers.type != "revert":
            return None
        targets = trailers.commit_refs
        inner = trailers.description
    undone = _undone_change(inner, trailers)
    return CommitChanges(sha=sha, kind="revert", changes=(undone,), header=header,
                         pull_request=request_number(header), reverts=targets,
                         reverted_header=strip_request_text(inner), cherry_picked_from=cherry)


def _undone_change(inner: str, trailers: ParsedCommit) -> ParsedCommit:
    """The change readers see when the reverted commit is not in range.

    Unwraps nested reverts: an even number of `Revert "…"` layers re-applies the
    innermost change, so it is listed as that change, not as a revert.
    """
    depth = 1
    while depth < MAX_REVERT_NESTING:
        nested = GIT_REVERT_RE.fullmatch(inner.strip())
        if nested is None:
            break
        inner = nested["inner"]
        depth += 1
    inner = strip_request_text(inner)
    fields = parse_header(inner)
    if fields is None:
        ctype, scope, bang, description = None, None, False, inner.strip() or trailers.description
    else:
        ctype, scope, bang, description = fields
    # `replace` keeps the trailers' tickets, training, audience, release note, footers and body.
    if depth % 2 == 0:
        return replace(trailers, header=inner, type=ctype, scope=scope, breaking=bang,
                       breaking_description=description if bang else None, description=description,
                       conventional=ctype is not None)
    return replace(trailers, header=inner, type="revert", scope=scope, breaking=False,
                   breaking_description=None, description=description, conventional=True)


def request_number(header: str) -> str | None:
    if not header.endswith(")"):
        return None
    found = REQUEST_SUFFIX_RE.search(header)
    return f"{found['mark']}{found['number']}" if found else None


def strip_request_text(text: str) -> str:
    if not text.rstrip().endswith(")"):
        return text.strip()
    return REQUEST_SUFFIX_RE.sub("", text).strip()


def _strip_request(parsed: ParsedCommit) -> ParsedCommit:
    """Drop GitHub's " (#12)" from the text readers see; the number is kept on the commit."""
    if not parsed.description.endswith(")") or REQUEST_SUFFIX_RE.search(parsed.description) is None:
        return parsed
    description = strip_request_text(parsed.description) or parsed.description
    breaking_description = parsed.breaking_description
    if breaking_description == parsed.description:
        breaking_description = description
    return replace(parsed, description=description, breaking_description=breaking_description)
