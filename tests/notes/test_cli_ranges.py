"""Ranges by audience once builds run on staging and production, and publishing after production."""

from __future__ import annotations

import pytest

from notes.errors import GitError
from notes.review import workflow
from tests.conftest import Project

from .test_cli_support import History, audit, build, history, hooked_app, make_app, run_on

__all__ = ["history"]


def _texts(project: Project, build_id: str, *extra: str) -> list[str]:
    data = project.ok("notes", "show", build_id, "--format", "json", *extra).json()
    return [e["text"] for s in data["sections"] for e in s["entries"]]  # type: ignore[index]


def test_production_notes_start_at_what_production_runs(project: Project, history: History) -> None:
    first = build(project)
    run_on(project, first, "production")
    project.repo.commit("feat(rota): print the rota\n\nTicket: HOS-40")
    second = build(project)
    assert _texts(project, second) == ["Print the rota"]
    status = project.ok("notes", "status", second, "--json").json()
    assert status["range"]["basis"] == "production"  # type: ignore[index]
    assert status["range"]["since"] == history.head  # type: ignore[index]


def test_beta_notes_start_at_staging_and_production_notes_carry_every_beta(
        project: Project, history: History) -> None:
    first = build(project)
    run_on(project, first, "staging")
    project.repo.commit("fix(chart): axis labels")
    second = build(project)
    run_on(project, second, "staging")
    project.repo.commit("feat(chart): zoom")
    third = build(project)
    assert _texts(project, third, "--audience", "beta") == ["Zoom"]
    assert _texts(project, third) == ["CSV export of visits", "Zoom", "Keep night shifts",
                                      "<script>alert(1)</script> <img src=x onerror=alert(2)> "
                                      "[click](javascript:alert(3)) {{ 7*7 }}", "Axis labels"]
    # The build staging runs now: its beta notes start at the build staging ran before it.
    result = project.ok("notes", "show", second, "--audience", "beta")
    assert "Axis labels" in result.out and "CSV export of visits" not in result.out


def test_approved_notes_survive_the_build_reaching_production(project: Project, history: History) -> None:
    build_id = build(project)
    project.ok("notes", "approve", build_id, "--yes")
    before = project.ok("notes", "show", build_id).out
    run_on(project, build_id, "production")
    status = project.ok("notes", "status", build_id, "--json").json()
    assert status["state"] == "approved"  # type: ignore[index]
    assert status["range"]["basis"] == "approval"  # type: ignore[index]
    assert project.ok("notes", "show", build_id).out == before


def test_a_released_build_without_approval_counts_from_the_tag_before_it(
        project: Project, history: History) -> None:
    build_id = build(project)
    run_on(project, build_id, "production")
    project.repo.git("tag", "-a", "-m", "Release 2026.4.0", "v2026.4.0", history.head)
    result = project.ok("notes", "show", build_id)
    assert "Keep night shifts" in result.out
    assert "already runs on production: notes start at the release before it" in result.err


def test_production_moving_withdraws_an_approval(project: Project, history: History) -> None:
    project.repo.git("checkout", "-q", "-b", "next")
    project.repo.commit("feat(rota): swap shifts")
    candidate = build(project, "--ref", "next")
    project.ok("notes", "approve", candidate, "--yes")
    assert "Keep night shifts" in project.ok("notes", "show", candidate).out
    project.repo.git("checkout", "-q", "main")
    hotfix = build(project)  # production gets main's head first
    run_on(project, hotfix, "production")
    status = project.ok("notes", "status", candidate, "--json").json()
    assert status["state"] == "withdrawn"  # type: ignore[index]
    assert _texts(project, candidate) == ["Swap shifts"]


def test_publish_release_tags_and_commits_the_changelog_once(project: Project, history: History) -> None:
    config = project.config.read_text()
    project.config.write_text(config.replace("changelog = false", "changelog = true"))
    build_id = build(project)
    project.ok("notes", "approve", build_id, "--yes")
    run_on(project, build_id, "production")
    app = make_app(project)
    try:
        b = app.resolve_build(build_id)
        first = workflow.publish_release(app, b)
        second = workflow.publish_release(app, b)
    finally:
        app.close()
    assert first.tag is not None and first.tag.created and first.tag.name == "v2026.4.0"
    assert project.repo.git("rev-parse", "v2026.4.0^{commit}") == history.head
    assert first.changelog is not None and first.changelog.commit == project.repo.head()
    changelog = project.repo.git("show", "HEAD:CHANGELOG.md")
    assert "## [2026.4.0] - 2026-10-05" in changelog and "Keep night shifts" in changelog
    assert "Remember me" not in changelog  # reverted in range
    assert second.tag is not None and not second.tag.created
    assert second.changelog is not None and second.changelog.commit is None
    assert second.lines() == [f"tag already there: v2026.4.0 on {history.head[:12]}",
                              "CHANGELOG.md already has this version"]
    published = audit(project, "notes.publish")
    assert len(published) == 1 and published[0]["detail"]["tag"] == "v2026.4.0"
    # Published, tagged and on production: the notes are still the approved ones.
    assert project.ok("notes", "status", build_id, "--json").json()["state"] == "approved"  # type: ignore[index]


def test_publish_release_never_moves_a_tag(project: Project, history: History) -> None:
    build_id = build(project)
    project.repo.git("tag", "-a", "-m", "wrong", "v2026.4.0", history.rota_fix)
    app = make_app(project)
    try:
        with pytest.raises(GitError, match=r"tag v2026\.4\.0 already exists on"):
            workflow.publish_release(app, app.resolve_build(build_id))
    finally:
        app.close()
    assert audit(project, "notes.publish") == []


def test_the_build_before_on_the_tier_starts_the_range_when_pipeline_knows_it(
        project: Project, history: History) -> None:
    first = build(project)
    run_on(project, first, "staging")
    run_on(project, first, "production")
    project.repo.commit("fix(chart): axis labels")
    second = build(project)
    run_on(project, second, "staging")  # the beta-available notice goes out now
    app = hooked_app(project)
    try:
        b = app.resolve_build(second)
        beta = workflow.generate(app, b, "beta")
        run_on(project, second, "production")
        production = workflow.generate(app, b, "production")
    finally:
        app.close()
    assert [e.text for e in beta.notes.entries] == ["Axis labels"]
    assert beta.range.since == history.head and beta.range.basis == "staging" and beta.range.remarks == ()
    assert [e.text for e in production.notes.entries] == ["Axis labels"]
    assert production.range.label == f"production before it ({history.head[:7]})"
    result = project.ok("notes", "show", second, "--audience", "beta")
    assert result.err == "" and "Axis labels" in result.out
