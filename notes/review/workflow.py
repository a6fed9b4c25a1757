"""A build's notes through their life: generated, corrected, edited, approved, sent, published.

This is the notes package's face towards pipeline: it takes an app-like
object (`NotesApp`: the configuration, the ledger and two hooks) instead of
importing the releases or channels packages, and a build-like value with
`id`, `version` and `commit`. Every state change writes its audit entry in
the transaction that makes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from notes.app import NotesApp

from ..collect.collect import one_line
from ..errors import CorrectionError, NotesError
from ..history.gitlog import resolve_commit
from ..render.changelog import changelog_section
from ..render.markdown import parse_notes_markdown
from ..render.plaintext import markdown_to_text
from ..render.render import markdown_to_html, notes_sha256
from . import generation, ledgerview, store
from .generation import PRODUCTION, Generated, render_generated
from .publish import ChangelogResult, TagResult, commit_changelog, tag_release
from .review import Review, ReviewError, ToApprove, already_approved, review, text_to_approve

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from ..settings import NotesSettings

SHA_RE = re.compile(r"[0-9a-fA-F]{4,64}")


@dataclass(frozen=True)
class NotesForNotice:
    """What a notice carries: one Markdown text and the text and HTML made from it."""

    markdown: str
    text: str
    html: str  # sanitised (render.markdown_to_html)
    sha256: str  # render.notes_sha256 of `markdown`
    approved: bool
    # What readers must do, from the text the notice carries: each action-required change (a
    # breaking change, or any change with a "what to do" line) and that text ("" if none).
    actions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Published:
    tag: TagResult | None
    changelog: ChangelogResult | None
    remarks: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        said: list[str] = []
        if self.tag is not None:
            what = "tagged" if self.tag.created else "tag already there:"
            said.append(f"{what} {self.tag.name} on {self.tag.commit[:12]}"
                        + (" (pushed)" if self.tag.pushed else ""))
        if self.changelog is not None:
            said.append(f"{self.changelog.path}: section committed as {self.changelog.commit[:12]} "
                        f"on {self.changelog.branch}" if self.changelog.commit
                        else f"{self.changelog.path} already has this version")
        return [*said, *self.remarks]


# ---------------------------------------------------------------- generating

def generate(app: NotesApp, build: Any, audience: str = PRODUCTION, *, since: str | None = None,
             conn: Connection | None = None) -> Generated:
    """notes.review.generation.generate, inside the caller's transaction when `conn` is given."""
    rows = store.rows_of(conn) if conn is not None else None
    return generation.generate(app, build, audience, since=since, rows=rows)


def render_markdown(markdown: str, fmt: str) -> str:
    """A stored (edited or approved) Markdown text in `fmt`: md, html or text."""
    if fmt == "md":
        return markdown
    if fmt == "html":
        return markdown_to_html(markdown)
    if fmt == "text":
        return markdown_to_text(markdown)
    raise NotesError(f"edited notes have no {fmt!r} form", hint="use md, html or text")


# ---------------------------------------------------------------- corrections

def commit_id(app: NotesApp, sha: str) -> str:
    """The full id of the commit `sha` names in the application repository."""
    if SHA_RE.fullmatch(sha.strip()) is None:
        raise CorrectionError(f"{sha!r} is not a commit id",
                              hint="give the commit's id (at least 4 hex digits), as `git log` shows it")
    return resolve_commit(app.config.repo, sha.strip().lower(), "commit")


def skip(app: NotesApp, sha: str, reason: str) -> str:
    return _correct(app, sha, "skip", reason=_required(reason, "--reason"))


def reword(app: NotesApp, sha: str, text: str) -> str:
    return _correct(app, sha, "reword", text=one_line(_required(text, "--text")))


def unskip(app: NotesApp, sha: str) -> str:
    return _correct(app, sha, "unskip")


def unreword(app: NotesApp, sha: str) -> str:
    return _correct(app, sha, "unreword")


def list_corrections(app: NotesApp) -> list[ledgerview.StoredCorrection]:
    with app.ledger.read() as conn:
        return store.list_corrections(conn)


def _correct(app: NotesApp, sha: str, action: str, *, reason: str | None = None,
             text: str | None = None) -> str:
    full = commit_id(app, sha)
    ledger = app.ledger
    listed = "`quarterdeck notes corrections` lists the stored corrections"
    with ledger.write() as conn:
        old = store.get_correction(conn, full)
        skipped, why, words = (old.skip, old.skip_reason, old.text) if old else (False, None, None)
        detail: dict[str, Any] = {}
        if action == "skip":
            skipped, why = True, reason
        elif action == "reword":
            detail = {"text": text, **({"previous": words} if words is not None else {})}
            words = text
        elif action == "unskip":
            if not skipped:
                raise CorrectionError(f"commit {full[:12]} is not skipped", hint=listed)
            skipped, why = False, None
        elif action == "unreword":
            if words is None:
                raise CorrectionError(f"commit {full[:12]} is not reworded", hint=listed)
            detail, words = {"previous": words}, None
        store.put_correction(conn, full, skip=skipped, skip_reason=why, text=words,
                             who=ledger.actor.who, at=ledger.clock())
        ledger.record(conn, f"notes.{action}", full, reason=reason, detail=detail or None)
    return full


def _required(value: str, option: str) -> str:
    if not value or not value.strip():
        raise CorrectionError(f"{option} is empty", hint=f"say it in words: {option} \"...\"")
    return value.strip()


# ---------------------------------------------------------------- review

def current_review(app: NotesApp, build: Any, audience: str = PRODUCTION) -> tuple[Review, Generated]:
    with app.ledger.read() as conn:
        generated = generate(app, build, audience, conn=conn)
        draft = store.get_draft(conn, build.id, audience)
        approval = store.latest_approval(conn, build.id, audience)
    return review(build.id, audience, generated.sha256, draft, approval), generated


@dataclass(frozen=True)
class DraftSaved:
    changed: bool
    discarded: bool  # the text was the generated notes again, so the draft went
    stale_before: bool  # the draft had been edited from older generated notes


def save_draft(app: NotesApp, build: Any, audience: str, markdown: str, generated: Generated,
               previous: store.Draft | None) -> DraftSaved:
    """Keep an edited text as the build's draft; the generated text itself needs no draft."""
    if not markdown.strip():
        raise NotesError("the edited notes are empty: nothing was saved",
                         hint="to start again from the generated notes use `notes edit --fresh`")
    sha = notes_sha256(markdown)
    stale = previous is not None and previous.base_sha256 != generated.sha256
    ledger = app.ledger
    subject = f"{build.id}:{audience}"
    if sha == generated.sha256:
        if previous is None:
            return DraftSaved(changed=False, discarded=False, stale_before=False)
        with ledger.write() as conn:
            _same_draft(conn, build, audience, previous)
            store.delete_draft(conn, build.id, audience)
            ledger.record(conn, "notes.draft-discard", subject, detail={"sha256": previous.sha256})
        return DraftSaved(changed=True, discarded=True, stale_before=stale)
    if previous is not None and previous.sha256 == sha and not stale:
        return DraftSaved(changed=False, discarded=False, stale_before=False)
    draft = store.Draft(build.id, audience, markdown, sha, generated.sha256, ledger.actor.who, ledger.clock())
    with ledger.write() as conn:
        _same_draft(conn, build, audience, previous)
        store.put_draft(conn, draft)
        ledger.record(conn, "notes.draft", subject,
                      detail={"sha256": sha, "generated_sha256": generated.sha256,
                              "previous_sha256": previous.sha256 if previous else None})
    return DraftSaved(changed=True, discarded=False, stale_before=stale)


def _same_draft(conn: Connection, build: Any, audience: str, previous: store.Draft | None) -> None:
    """Refuse to overwrite a draft someone else saved while this one was in the editor."""
    now = store.get_draft(conn, build.id, audience)
    if (now.sha256 if now else None) != (previous.sha256 if previous else None):
        who = f" by {now.saved_by}" if now else ""
        raise ReviewError(f"the {audience} draft of {build.id} was changed{who} while you were editing: "
                          "your edit was not saved",
                          hint="run `quarterdeck notes edit` again and merge your change into theirs")


@dataclass(frozen=True)
class Approved:
    approval: ledgerview.Approval
    new: bool  # False: this text was already approved over the same generated notes


def approve(app: NotesApp, build: Any, audience: str = PRODUCTION,
            confirm: Callable[[ToApprove, Review], bool] | None = None) -> Approved:
    """Record the draft (else the generated notes) as approved, with both sha256s.

    `confirm` sees what would be approved and may refuse; it runs outside the
    write transaction (a person may take a while to answer), so the notes
    are generated again inside it and a change in between refuses instead
    of approving something nobody saw.
    """
    seen, candidate, generated = _approval_candidate(app, build, audience)
    if already_approved(seen, candidate) and seen.approval is not None:
        return Approved(seen.approval, new=False)
    if confirm is not None and not confirm(candidate, seen):
        raise NotesError("nothing was approved", hint="run again and answer yes, or pass --yes")
    ledger = app.ledger
    with ledger.write() as conn:
        now, again, generated = _approval_candidate(app, build, audience, conn)
        if again != candidate or now.generated_sha256 != seen.generated_sha256:
            raise ReviewError(f"the {audience} notes of {build.id} changed while waiting for confirmation",
                              hint="run `quarterdeck notes approve` again to see the new text")
        added = store.add_approval(
            conn, build_id=build.id, audience=audience, markdown=candidate.markdown,
            notes_sha256=candidate.sha256, generated_sha256=generated.sha256,
            since_commit=generated.range.since, until_commit=generated.range.until,
            from_draft=candidate.from_draft, who=ledger.actor.who, at=ledger.clock())
        ledger.record(conn, "notes.approve", f"{build.id}:{audience}",
                      detail={"notes_sha256": candidate.sha256, "generated_sha256": generated.sha256,
                              "from_draft": candidate.from_draft, "since": generated.range.since,
                              "until": generated.range.until,
                              "replaces": seen.approval.id if seen.approval else None})
    return Approved(added, new=True)


def _approval_candidate(app: NotesApp, build: Any, audience: str, conn: Connection | None = None
                        ) -> tuple[Review, ToApprove, Generated]:
    if conn is None:
        with app.ledger.read() as reading:
            return _approval_candidate(app, build, audience, reading)
    generated = generate(app, build, audience, conn=conn)
    current = review(build.id, audience, generated.sha256, store.get_draft(conn, build.id, audience),
                     store.latest_approval(conn, build.id, audience))
    return current, text_to_approve(current, generated.markdown, generated.sha256), generated


def approved_notes(app: NotesApp, build: Any, audience: str = PRODUCTION) -> ledgerview.Approval | None:
    """The approval in force for the build's notes, or None (never approved, or withdrawn)."""
    current, _ = current_review(app, build, audience)
    return current.approval if current.approved else None


def notes_for_notice(app: NotesApp, build: Any, audience: str = PRODUCTION) -> NotesForNotice:
    """The notes a notice carries: the approved text while approval stands, else the generated notes."""
    current, generated = current_review(app, build, audience)
    if current.approved and current.approval is not None:
        markdown = current.approval.markdown
        return NotesForNotice(markdown=markdown, text=_text_of(app, markdown, generated),
                              html=markdown_to_html(markdown), sha256=current.approval.notes_sha256,
                              approved=True, actions=actions_of(markdown, app.notes_settings()))
    return NotesForNotice(markdown=generated.markdown, text=render_generated(app, generated, "text"),
                          html=markdown_to_html(generated.markdown), sha256=generated.sha256, approved=False,
                          actions=actions_of(generated.markdown, app.notes_settings()))


def actions_of(markdown: str, settings: NotesSettings) -> tuple[tuple[str, str], ...]:
    """The action-required changes of notes as written (an approved text may have been edited):
    every entry of the breaking-changes section and every entry with a "what to do" line, once."""
    breaking = settings.title_of("breaking")
    found: dict[tuple[str, str], None] = {}
    for section in parse_notes_markdown(markdown):
        for entry in section.entries:
            if entry.action or section.title == breaking:
                change = f"{entry.scope}: {entry.text}" if entry.scope else entry.text
                found[(change, entry.action or "")] = None
    return tuple(found)


def _text_of(app: NotesApp, markdown: str, generated: Generated) -> str:
    """The text template's form when the approved text is the generated one, else made from the Markdown."""
    if notes_sha256(markdown) == generated.sha256:
        return render_generated(app, generated, "text")
    return markdown_to_text(markdown)


# ---------------------------------------------------------------- after production

def publish_release(app: NotesApp, build: Any) -> Published:
    """Tag vVERSION on the build's commit and commit the CHANGELOG section, as configured; safe to repeat."""
    settings = app.notes_settings()
    repo = app.config.repo
    tag = None
    changelog = None
    remarks: list[str] = []
    if settings.tag_on_production:
        tag = tag_release(repo, build.version, build.commit, message=f"Release {build.version} ({build.id})",
                          push=settings.push_tag, remote=settings.tag_remote)
    if settings.changelog:
        generated = generate(app, build, PRODUCTION)
        section = changelog_section(generated.notes, build.version, app.ledger.clock().date())
        changelog = commit_changelog(repo, section, build.version, branch=app.config.branch,
                                     path=settings.changelog_path)
        if changelog.commit:
            remarks.append(f"the {changelog.path} commit is on the local {changelog.branch} branch of "
                           f"{repo}: push it with the branch")
    did = (tag is not None and (tag.created or tag.pushed)) or (changelog is not None and changelog.commit)
    if did:
        ledger = app.ledger
        with ledger.write() as conn:
            ledger.record(conn, "notes.publish", build.id, detail={
                "tag": tag.name if tag else None, "tag_created": bool(tag and tag.created),
                "tag_pushed": bool(tag and tag.pushed),
                "changelog_commit": changelog.commit if changelog else None})
    return Published(tag, changelog, tuple(remarks))
