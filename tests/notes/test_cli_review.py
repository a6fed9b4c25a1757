"""`notes edit/approve/status`, approval withdrawn when the generated notes change, and the notice hooks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from notes.render.plaintext import markdown_to_text
from notes.render.render import markdown_to_html, notes_sha256
from notes.review import workflow
from tests.conftest import Project

from .test_cli_support import (
    History,
    audit,
    build,
    editor_script,
    get_build,
    history,
    make_app,
    replacing_editor,
)

__all__ = ["history"]


def test_edit_saves_a_draft_and_approve_records_it(project: Project, history: History, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    build_id = build(project)
    assert project.ok("notes", "status", build_id, "--json").json()["state"] == "draft"  # type: ignore[index]
    monkeypatch.setenv("EDITOR", replacing_editor(tmp_path, "Keep night shifts",
                                                  "Night shifts are kept when a rota is copied"))
    edited = project.ok("notes", "edit", build_id)
    assert f"saved the production draft of {build_id}" in edited.out
    draft = project.ok("notes", "show", build_id, "--draft").out
    assert "- Night shifts are kept when a rota is copied\n" in draft
    assert "Keep night shifts" in project.ok("notes", "show", build_id).out  # generated notes unchanged
    status = project.ok("notes", "status", build_id, "--json").json()
    assert status["state"] == "draft" and status["draft"]["stale"] is False  # type: ignore[index]
    assert status["message"] == "not approved; edited draft"  # type: ignore[index]

    refused = project.run("notes", "approve", build_id)  # no terminal, no --yes
    assert refused.code == 2 and "needs confirmation and there is no terminal" in refused.err
    assert [e["action"] for e in audit(project)] == ["notes.draft"]

    approved = project.ok("notes", "approve", build_id, "--yes", "--json").json()
    assert approved["new"] is True and approved["from_draft"] is True  # type: ignore[index]
    assert approved["notes_sha256"] == hashlib.sha256(draft.encode()).hexdigest()  # type: ignore[index]
    generated = project.ok("notes", "show", build_id).out
    assert approved["generated_sha256"] == notes_sha256(generated)  # type: ignore[index]
    status = project.ok("notes", "status", build_id, "--json").json()
    assert status["state"] == "approved" and status["approval"]["standing"] is True  # type: ignore[index]
    assert status["message"] == "approved by ada@example.org at 2026-10-05 12:00 UTC"  # type: ignore[index]
    again = project.ok("notes", "approve", build_id, "--yes")
    assert "already approved by ada@example.org" in again.out and "nothing changed" in again.out
    entries = audit(project)
    assert [e["action"] for e in entries] == ["notes.draft", "notes.approve"]
    assert entries[1]["subject"] == f"{build_id}:production"
    assert entries[1]["detail"]["notes_sha256"] == approved["notes_sha256"]  # type: ignore[index]


def test_unchanged_edit_is_a_no_op(project: Project, history: History, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    build_id = build(project)
    monkeypatch.setenv("VISUAL", editor_script(tmp_path, "look", "path.read_text()"))
    monkeypatch.setenv("EDITOR", "false")  # VISUAL comes first
    assert "unchanged: nothing was saved" in project.ok("notes", "edit", build_id).out
    assert audit(project) == []
    assert project.ok("notes", "status", build_id, "--json").json()["draft"] is None  # type: ignore[index]


def test_edit_refuses_without_an_editor_and_keeps_nothing_from_a_failed_one(
        project: Project, history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_id = build(project)
    none = project.run("notes", "edit", build_id)
    assert none.code == 1
    assert "no editor: neither $VISUAL nor $EDITOR is set and there is no terminal" in none.err
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, "crash", "path.write_text('half'); sys.exit(3)"))
    failed = project.run("notes", "edit", build_id)
    assert failed.code == 1 and "exited with 3: nothing was saved" in failed.err
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, "blank", "path.write_text('  \\n')"))
    blank = project.run("notes", "edit", build_id)
    assert blank.code == 1 and "the edited notes are empty: nothing was saved" in blank.err
    assert audit(project) == []


def test_a_new_correction_withdraws_the_approval(project: Project, history: History) -> None:
    build_id = build(project)
    project.ok("notes", "approve", build_id, "--yes")
    project.ok("notes", "skip", history.hostile, "--reason", "test commit")
    status = project.ok("notes", "status", build_id, "--json").json()
    assert status["state"] == "withdrawn" and status["approval"]["standing"] is False  # type: ignore[index]
    assert status["message"].startswith(  # type: ignore[index]
        "approval withdrawn: generated notes changed since 2026-10-05 12:00 UTC")
    text = project.ok("notes", "status", build_id).out
    assert "withdrawn" in text and "approval withdrawn: generated notes changed since" in text

    app = make_app(project)
    try:
        b = app.resolve_build(build_id)
        assert workflow.approved_notes(app, b) is None
        notice = workflow.notes_for_notice(app, b, "production")
    finally:
        app.close()
    assert notice.approved is False and "script" not in notice.markdown  # the generated notes, skip applied

    project.ok("notes", "approve", build_id, "--yes")
    assert project.ok("notes", "status", build_id, "--json").json()["state"] == "approved"  # type: ignore[index]
    project.ok("notes", "unskip", history.hostile)  # back to the notes of the first approval
    assert project.ok("notes", "status", build_id, "--json").json()["state"] == "withdrawn"  # type: ignore[index]


def test_a_stale_draft_is_not_approved_until_reviewed(project: Project, history: History, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    build_id = build(project)
    monkeypatch.setenv("EDITOR", replacing_editor(tmp_path, "CSV export of visits", "Export visits as CSV"))
    project.ok("notes", "edit", build_id)
    project.ok("notes", "reword", history.rota_fix, "--text", "fix(rota): night shifts survive copying")
    stale = project.run("notes", "approve", build_id, "--yes")
    assert stale.code == 1 and "was edited from generated notes that have changed since" in stale.err
    assert project.ok("notes", "status", build_id, "--json").json()["draft"]["stale"] is True  # type: ignore[index]

    monkeypatch.setenv("EDITOR", editor_script(tmp_path, "keep", "path.read_text()"))
    kept = project.ok("notes", "edit", build_id)
    assert "the generated notes changed since this draft was edited" in kept.err
    assert "saved the production draft" in kept.out  # reviewed against the new notes
    project.ok("notes", "approve", build_id, "--yes")
    draft = project.ok("notes", "show", build_id, "--draft").out
    assert "Export visits as CSV" in draft and "Keep night shifts" in draft  # the draft kept its own text

    fresh = project.ok("notes", "edit", build_id, "--fresh")  # generated notes, saved unchanged
    assert "the text is the generated notes again" in fresh.out
    assert project.ok("notes", "status", build_id, "--json").json()["draft"] is None  # type: ignore[index]
    assert [e["action"] for e in audit(project)] == [
        "notes.draft", "notes.reword", "notes.draft", "notes.approve", "notes.draft-discard"]


def test_notes_for_notice_sends_the_approved_text_in_three_forms(project: Project, history: History,
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    build_id = build(project)
    monkeypatch.setenv("EDITOR", replacing_editor(
        tmp_path, "## New features", "Nothing changes for you on the day.\n\n## New features"))
    project.ok("notes", "edit", build_id)
    project.ok("notes", "approve", build_id, "--yes")
    app = make_app(project)
    try:
        b = app.resolve_build(build_id)
        notice = workflow.notes_for_notice(app, b, "production")
        approval = workflow.approved_notes(app, b)
        beta = workflow.notes_for_notice(app, b, "beta")
    finally:
        app.close()
    assert approval is not None and notice.approved is True
    assert notice.markdown == approval.markdown and notice.sha256 == approval.notes_sha256
    assert notice.sha256 == notes_sha256(notice.markdown)
    assert "Nothing changes for you on the day." in notice.markdown
    assert notice.html == markdown_to_html(notice.markdown)
    assert "<p>Nothing changes for you on the day.</p>" in notice.html
    assert "&lt;script&gt;" in notice.html and "<script" not in notice.html
    assert notice.text.splitlines()[:6] == ["Release notes — app 2026.4.0", "=" * 28, "",
                                            "Nothing changes for you on the day.", "", "NEW FEATURES"]
    assert "  * <script>alert(1)</script>" in notice.text  # plain text: the characters, not escapes
    assert beta.approved is False and beta.markdown.startswith("# Beta release notes")
    assert get_build(project, build_id).id == build_id


def test_an_unedited_approval_sends_the_text_template_form(project: Project, history: History) -> None:
    build_id = build(project)
    project.ok("notes", "approve", build_id, "--yes")
    app = make_app(project)
    try:
        notice = workflow.notes_for_notice(app, app.resolve_build(build_id), "production")
    finally:
        app.close()
    assert notice.approved is True
    assert notice.markdown == project.ok("notes", "show", build_id).out
    assert notice.text == project.ok("notes", "show", build_id, "--format", "text").out
    assert notice.html == project.ok("notes", "show", build_id, "--format", "html").out


def test_plain_text_of_edited_markdown() -> None:
    markdown = ("# Notes\n\nRead *this* first: [the guide](https://example.org/guide) & "
                "<b onclick=x>bold</b>.\n\n> Quoted line\n\n1. one\n2. two\n\nThen:\n\n"
                "- item with `code`\n    - nested detail\n\n---\n\nEnd \\*literally\\*.\n")
    assert markdown_to_text(markdown) == (
        "Notes\n=====\n\n"
        "Read this first: the guide <https://example.org/guide> & bold.\n\n"
        "> Quoted line\n\n"
        "  1. one\n  2. two\n\n"
        "Then:\n\n"
        "  * item with code\n      - nested detail\n\n"
        + "-" * 40 + "\n\nEnd *literally*.\n")


def test_draft_view_has_no_json_form(project: Project, history: History) -> None:
    build_id = build(project)
    result = project.run("notes", "show", build_id, "--draft", "--format", "json")
    assert result.code == 1 and result.out == "" and "--draft shows an edited text" in result.err
    assert project.ok("notes", "show", build_id, "--draft").out == project.ok("notes", "show", build_id).out


def test_a_draft_saved_meanwhile_is_not_overwritten(project: Project, history: History, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    build_id = build(project)
    # The editor stands for two people: while this one edits, a colleague saves a draft of their own.
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, "race", f"""
from sqlalchemy import create_engine, text
from releases.records.connection import engine_url
path.write_text(path.read_text().replace("Keep night shifts", "Mine"))
with create_engine(engine_url({project.ledger_url!r})).begin() as db:
    db.execute(text("INSERT INTO notes_drafts VALUES (:b, 'production', 'theirs', :h1, :h2, "
                    "'bo@example.org', '2026-10-05 11:00:00')"),
               {{"b": {build_id!r}, "h1": "1" * 64, "h2": "2" * 64}})
"""))
    result = project.run("notes", "edit", build_id)
    assert result.code == 1
    assert "was changed by bo@example.org while you were editing: your edit was not saved" in result.err
    kept = Path(result.err.split("your text is kept in ")[1].split(";")[0].strip())
    try:
        assert "- Mine\n" in kept.read_text()
    finally:
        kept.unlink()
    assert project.ok("notes", "show", build_id, "--draft").out == "theirs"
    assert audit(project) == []
