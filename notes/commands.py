"""`quarterdeck notes ...`: show, correct, edit, approve and check a build's release notes.

Handlers get pipeline's App as a `notes.app.NotesApp` (declared there, never imported)
and leave the work to notes.review.workflow. `notes show` writes the notes and
nothing else to stdout, in every format, so that it can be piped; remarks
about the range go to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import NotesError
from .render.render import FORMATS
from .settings import AUDIENCES

if TYPE_CHECKING:
    from .app import NotesApp
    from .model import Flagged
    from .review.ledgerview import StoredCorrection
    from .review.review import Review, ToApprove

# The handlers import notes.review.workflow (and with it SQLAlchemy, and the parsers) when they
# run, not at module level: start-up reads this module's argument set-ups (issue 8).


Add = Callable[..., None]


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _remarks(app: NotesApp, remarks: tuple[str, ...]) -> None:
    for remark in remarks:
        app.err.print(f"[yellow]note:[/yellow] {_escape(remark)}")


MAX_LISTED_FLAGGED = 20


def flagged_remarks(flagged: tuple[Flagged, ...]) -> tuple[str, ...]:
    """One line per commit whose message breaks Conventional Commits, and what to do about it."""
    if not flagged:
        return ()
    lines = [f"{len(flagged)} commit(s) break Conventional Commits; reword them before approval "
             "(`quarterdeck notes reword SHA --text 'fix(area): ...'`) or skip them:"]
    lines += [f"{f.sha[:12]} {f.text!r}: {f.reason}" for f in flagged[:MAX_LISTED_FLAGGED]]
    if len(flagged) > MAX_LISTED_FLAGGED:
        extra = len(flagged) - MAX_LISTED_FLAGGED
        lines.append(f"and {extra} more (`quarterdeck notes status BUILD --json` lists them all)")
    return tuple(lines)


def setup_build(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", metavar="BUILD", help="build id, sha256 prefix, latest or @TIER")
    p.add_argument("--audience", choices=AUDIENCES, default="production",
                   help="whose notes (default: production)")


# ---------------------------------------------------------------- show

def _setup_show(p: argparse.ArgumentParser) -> None:
    setup_build(p)
    p.add_argument("--format", choices=FORMATS, default="md", help="md (default), html, text or json")
    p.add_argument("--since", metavar="REF", help="start the range here instead of at what the tier runs")
    p.add_argument("--draft", action="store_true",
                   help="show the edited draft (the generated notes when there is none)")


def cmd_show(app: NotesApp, args: argparse.Namespace) -> int:
    build = app.resolve_build(args.build)
    if args.draft:
        from .review import workflow

        if args.format == "json" or args.since:
            raise NotesError("--draft shows an edited text: it has no json form and no --since",
                                      hint="use --format md, html or text")
        current, generated = workflow.current_review(app, build, args.audience)
        _remarks(app, generated.range.remarks + flagged_remarks(generated.listing.head.flagged))
        text = workflow.render_markdown(current.draft.markdown if current.draft else generated.markdown,
                                        args.format)
    else:
        from .review import (
            generation,  # not workflow: its store and publishing side import SQLAlchemy and git
        )

        generated = generation.generate(app, build, args.audience, since=args.since)
        _remarks(app, generated.range.remarks + flagged_remarks(generated.listing.head.flagged))
        text = generation.render_generated(app, generated, args.format)
    # Straight to stdout, as pipeline's emit_json does: the notes are data, not Rich markup,
    # and Rich's console (what app.out.file would be) costs its import on every run.
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


# ---------------------------------------------------------------- corrections

def _setup_sha(p: argparse.ArgumentParser) -> None:
    p.add_argument("sha", metavar="SHA", help="the commit's id in the application repository")


def _setup_skip(p: argparse.ArgumentParser) -> None:
    _setup_sha(p)
    p.add_argument("--reason", required=True, help="why readers should not see it (kept in the ledger)")


def _setup_reword(p: argparse.ArgumentParser) -> None:
    _setup_sha(p)
    p.add_argument("--text", required=True,
                   help="what readers see instead; a header like 'fix(api): ...' also moves the entry")


def cmd_skip(app: NotesApp, args: argparse.Namespace) -> int:
    from .review import workflow

    full = workflow.skip(app, args.sha, args.reason)
    app.out.print(f"commit [bold]{full[:12]}[/bold] is left out of every build's notes "
                  f"(reason: {_escape(args.reason.strip())})")
    return 0


def cmd_reword(app: NotesApp, args: argparse.Namespace) -> int:
    from .collect.collect import one_line
    from .review import workflow

    full = workflow.reword(app, args.sha, args.text)
    app.out.print(f"commit [bold]{full[:12]}[/bold] now reads: {_escape(one_line(args.text))}")
    return 0


def cmd_unskip(app: NotesApp, args: argparse.Namespace) -> int:
    from .review import workflow

    full = workflow.unskip(app, args.sha)
    app.out.print(f"commit [bold]{full[:12]}[/bold] is no longer skipped")
    return 0


def cmd_unreword(app: NotesApp, args: argparse.Namespace) -> int:
    from .review import workflow

    full = workflow.unreword(app, args.sha)
    app.out.print(f"commit [bold]{full[:12]}[/bold] reads as its commit message again")
    return 0


def _correction_json(c: StoredCorrection) -> dict[str, Any]:
    return {"sha": c.sha, "skip": c.skip, "reason": c.skip_reason, "text": c.text,
            "updated_by": c.updated_by, "updated_at": c.updated_at.isoformat()}


def cmd_corrections(app: NotesApp, args: argparse.Namespace) -> int:
    from .review import workflow

    items = workflow.list_corrections(app)
    if app.json:
        app.emit_json([_correction_json(c) for c in items])
        return 0
    if not items:
        app.out.print("no corrections: every commit reads as its message says")
        return 0
    from rich.table import Table

    table = Table(title="Notes corrections", title_justify="left")
    for col in ("commit", "correction", "by", "when (UTC)"):
        table.add_column(col, overflow="fold")
    for c in items:
        what = []
        if c.skip:
            what.append(f"skipped: {c.skip_reason}")
        if c.text is not None:
            what.append(f"reworded: {c.text}")
        table.add_row(c.sha[:12], _escape("; ".join(what)), c.updated_by, f"{c.updated_at:%Y-%m-%d %H:%M}")
    app.out.print(table)
    return 0


# ---------------------------------------------------------------- edit

def _setup_edit(p: argparse.ArgumentParser) -> None:
    setup_build(p)
    p.add_argument("--fresh", action="store_true",
                   help="start from the generated notes, not the draft "
                        "(saving them unchanged drops the draft)")


def cmd_edit(app: NotesApp, args: argparse.Namespace) -> int:
    from .render.render import notes_sha256
    from .review import workflow
    from .review.editor import edit_text
    from .review.review import ReviewError

    build = app.resolve_build(args.build)
    current, generated = workflow.current_review(app, build, args.audience)
    _remarks(app, generated.range.remarks)
    draft = current.draft
    if draft is not None and current.draft_stale and not args.fresh:
        show = f"quarterdeck notes show {_escape(build.id)} --audience {args.audience}"
        app.err.print("[yellow]note:[/yellow] the generated notes changed since this draft was edited; "
                      "the editor shows the draft: saving it marks it as reviewed against the new notes "
                      f"(see them with `{show}`)")
    start = generated.markdown if args.fresh or draft is None else draft.markdown
    edited = edit_text(start, f"{_file_safe(build.id)}-{args.audience}.md")
    try:
        saved = workflow.save_draft(app, build, args.audience, edited, generated, draft)
    except ReviewError as err:
        kept = _keep_rejected(edited, build.id, args.audience)
        raise ReviewError(str(err), hint=f"your text is kept in {kept}; {err.hint}") from err
    if saved.discarded:
        app.out.print(f"the text is the generated notes again: the {args.audience} draft of "
                      f"[bold]{_escape(build.id)}[/bold] was dropped")
    elif saved.changed:
        app.out.print(f"saved the {args.audience} draft of [bold]{_escape(build.id)}[/bold] "
                      f"(sha256 {notes_sha256(edited)[:16]}…); approve it with "
                      f"`quarterdeck notes approve {_escape(build.id)} --audience {args.audience}`")
    else:
        app.out.print("unchanged: nothing was saved")
    return 0


def _file_safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in ".-_+" else "_" for c in text)


def _keep_rejected(text: str, build_id: str, audience: str) -> str:
    fd, path = tempfile.mkstemp(prefix=f"quarterdeck-notes-{_file_safe(build_id)}-{audience}-", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


# ---------------------------------------------------------------- approve and status

def _setup_approve(p: argparse.ArgumentParser) -> None:
    setup_build(p)
    p.add_argument("--yes", action="store_true", help="approve without asking")


def cmd_approve(app: NotesApp, args: argparse.Namespace) -> int:
    from .review import workflow

    build = app.resolve_build(args.build)

    def confirm(candidate: ToApprove, current: Review) -> bool:
        if args.yes:
            return True
        source = "the edited draft" if candidate.from_draft else "the generated notes"
        app.out.file.write(candidate.markdown)
        return app.confirm(f"approve {source} above as the {args.audience} notes of {build.id}?", args.yes)

    done = workflow.approve(app, build, args.audience, confirm=confirm)
    a = done.approval
    if app.json:
        app.emit_json({"build": build.id, "audience": args.audience, "new": done.new,
                       "notes_sha256": a.notes_sha256, "generated_sha256": a.generated_sha256,
                       "from_draft": a.from_draft, "approved_by": a.approved_by,
                       "approved_at": a.approved_at.isoformat()})
        return 0
    if not done.new:
        app.out.print(f"already approved by {_escape(a.approved_by)} at {a.approved_at:%Y-%m-%d %H:%M} UTC: "
                      "nothing changed")
        return 0
    source = "the edited draft" if a.from_draft else "the generated notes"
    app.out.print(f"[green]approved[/green] {source} as the {args.audience} notes of "
                  f"[bold]{_escape(build.id)}[/bold] (sha256 {a.notes_sha256[:16]}…)")
    return 0


def cmd_status(app: NotesApp, args: argparse.Namespace) -> int:
    from .review import workflow
    from .review.review import APPROVED, WITHDRAWN

    build = app.resolve_build(args.build)
    current, generated = workflow.current_review(app, build, args.audience)
    span = generated.range
    approval = current.approval
    payload = {
        "build": build.id, "audience": args.audience, "state": current.state,
        "message": current.message(), "generated_sha256": current.generated_sha256,
        "entries": len(generated.notes.entries),
        "flagged": [{"sha": f.sha, "text": f.text, "reason": f.reason} for f in generated.notes.flagged],
        "range": {"since": span.since, "label": span.label, "until": span.until, "basis": span.basis,
                  "remarks": list(span.remarks)},
        "draft": None if current.draft is None else {
            "sha256": current.draft.sha256, "saved_by": current.draft.saved_by,
            "saved_at": current.draft.saved_at.isoformat(), "stale": current.draft_stale},
        "approval": None if approval is None else {
            "notes_sha256": approval.notes_sha256, "generated_sha256": approval.generated_sha256,
            "approved_by": approval.approved_by, "approved_at": approval.approved_at.isoformat(),
            "from_draft": approval.from_draft, "standing": current.approved},
    }
    if app.json:
        app.emit_json(payload)
        return 0
    colour = {APPROVED: "green", WITHDRAWN: "red"}.get(current.state, "yellow")
    app.out.print(f"[bold]{_escape(build.id)}[/bold] {args.audience} notes: "
                  f"[{colour}]{current.state}[/{colour}] ({_escape(current.message())})")
    start = span.label or "the first commit"
    app.out.print(f"  range: {_escape(start)} → {span.until[:12]} ({len(generated.notes.entries)} entries, "
                  f"{generated.notes.commit_count} commits)")
    _remarks(app, span.remarks + flagged_remarks(generated.notes.flagged))
    return 0
