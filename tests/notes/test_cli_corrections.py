"""`notes skip/reword/unskip/unreword/corrections`: stored in the ledger, audited, applied every time."""

from __future__ import annotations

from tests.conftest import Project

from .test_cli_support import History, audit, build, history

__all__ = ["history"]


def test_skip_is_applied_listed_audited_and_undone(project: Project, history: History) -> None:
    build_id = build(project)
    result = project.ok("notes", "skip", history.rota_fix[:8], "--reason", "fixed a bug nobody saw")
    assert result.out.startswith(f"commit {history.rota_fix[:12]} is left out of every build's notes")
    shown = project.ok("notes", "show", build_id).out
    assert "Keep night shifts" not in shown and "CSV export of visits" in shown
    listed = project.ok("notes", "corrections", "--json").json()
    assert listed == [{"sha": history.rota_fix, "skip": True, "reason": "fixed a bug nobody saw",
                       "text": None, "updated_by": "ada@example.org",
                       "updated_at": "2026-10-05T12:00:00+00:00"}]
    skipped = project.ok("notes", "show", build_id, "--format", "json").json()["skipped"]  # type: ignore[index]
    assert skipped == [{"sha": history.rota_fix, "reason": "fixed a bug nobody saw"}]
    table = project.ok("notes", "corrections").out
    assert history.rota_fix[:12] in table and "skipped: fixed a bug nobody saw" in table

    project.ok("notes", "unskip", history.rota_fix)
    assert "Keep night shifts" in project.ok("notes", "show", build_id).out
    assert project.ok("notes", "corrections", "--json").json() == []
    entries = audit(project)
    assert [(e["action"], e["subject"], e["reason"]) for e in entries] == [
        ("notes.skip", history.rota_fix, "fixed a bug nobody saw"),
        ("notes.unskip", history.rota_fix, None)]
    assert all(e["actor"] == "ada@example.org" for e in entries)


def test_reword_replaces_the_text_and_can_move_the_section(project: Project, history: History) -> None:
    build_id = build(project)
    project.ok("notes", "reword", history.hostile, "--text", "fix(ui): the visit list   escapes names")
    shown = project.ok("notes", "show", build_id, "--audience", "internal").out
    assert "- **ui:** The visit list escapes names" in shown and "script" not in shown
    project.ok("notes", "reword", history.hostile, "--text", "feat(ui): names are shown safely")
    data = project.ok("notes", "show", build_id, "--format", "json").json()
    features = [e["text"] for e in data["sections"][0]["entries"]]  # type: ignore[index]
    assert features == ["CSV export of visits", "Names are shown safely"]
    assert data["sections"][0]["entries"][1]["reworded"] is True  # type: ignore[index]

    rewords = audit(project)
    assert [e["action"] for e in rewords] == ["notes.reword", "notes.reword"]
    assert rewords[0]["detail"] == {"text": "fix(ui): the visit list escapes names"}
    assert rewords[1]["detail"] == {"text": "feat(ui): names are shown safely",
                                    "previous": "fix(ui): the visit list escapes names"}

    project.ok("notes", "unreword", history.hostile)
    assert "&lt;script>" in project.ok("notes", "show", build_id).out
    assert project.ok("notes", "corrections", "--json").json() == []


def test_skip_and_reword_of_one_commit_are_kept_apart(project: Project, history: History) -> None:
    build_id = build(project)
    project.ok("notes", "reword", history.rota_fix, "--text", "Night shifts stay put")
    project.ok("notes", "skip", history.rota_fix, "--reason", "duplicate of HOS-11")
    assert "Night shifts" not in project.ok("notes", "show", build_id).out
    project.ok("notes", "unskip", history.rota_fix)
    assert "Night shifts stay put" in project.ok("notes", "show", build_id).out
    [stored] = project.ok("notes", "corrections", "--json").json()  # type: ignore[misc]
    assert stored["skip"] is False and stored["text"] == "Night shifts stay put"


def test_bad_shas_exit_1_and_change_nothing(project: Project, history: History) -> None:
    build(project)
    before = project.ok("log", "--json").json()
    cases = [
        (("skip", "zz-top", "--reason", "x"), "'zz-top' is not a commit id"),
        (("skip", "HEAD", "--reason", "x"), "'HEAD' is not a commit id"),
        (("reword", "deadbeef42", "--text", "x"), "commit 'deadbeef42' is not a commit in"),
        (("skip", history.rota_fix, "--reason", "   "), "--reason is empty"),
        (("reword", history.rota_fix, "--text", ""), "--text is empty"),
        (("unskip", history.rota_fix), f"commit {history.rota_fix[:12]} is not skipped"),
        (("unreword", history.rota_fix), f"commit {history.rota_fix[:12]} is not reworded"),
    ]
    for argv, message in cases:
        result = project.run("notes", *argv)
        assert result.code == 1, argv
        assert message in result.err, (argv, result.err)
    missing = project.run("notes", "skip", history.rota_fix)
    assert missing.code == 2 and "--reason" in missing.err
    assert project.ok("notes", "corrections", "--json").json() == []
    assert project.ok("log", "--json").json() == before
