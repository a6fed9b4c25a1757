"""The release tag and the CHANGELOG commit, on real repositories with a real remote."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from notes.errors import GitError
from notes.model import ReleaseNotes
from notes.render.changelog import changelog_section, prepend_changelog
from notes.render.render import sample_notes
from notes.review.publish import Identity, commit_changelog, tag_release

from .gitrepo import GitRepo

RELEASER = Identity("Release Bot", "releases@example.org")


@pytest.fixture
def remote(tmp_path: Path, repo: GitRepo) -> GitRepo:
    bare = GitRepo(tmp_path / "remote.git", bare=True)
    repo.git("remote", "add", "origin", str(bare.path))
    return bare


def test_annotated_tag_on_the_build_commit_pushed_and_idempotent(repo: GitRepo, remote: GitRepo) -> None:
    build = repo.commit("feat: shipped")
    repo.commit("fix: after the build")
    result = tag_release(repo.path, "2026.4.0", build, push=True, identity=RELEASER)
    assert (result.name, result.commit, result.created, result.pushed) == ("v2026.4.0", build, True, True)
    assert repo.git("cat-file", "-t", "v2026.4.0") == "tag"  # annotated, not lightweight
    assert repo.git("rev-parse", "v2026.4.0^{commit}") == build
    assert "Release 2026.4.0" in repo.git("tag", "-n1", "v2026.4.0")
    assert repo.git("for-each-ref", "--format=%(taggername)", "refs/tags/v2026.4.0") == "Release Bot"
    assert remote.git("rev-parse", "v2026.4.0^{commit}") == build
    again = tag_release(repo.path, "2026.4.0", build, push=True)
    assert (again.created, again.pushed) == (False, True)


def test_tag_is_never_moved(repo: GitRepo) -> None:
    first = repo.commit("feat: a")
    second = repo.commit("feat: b")
    tag_release(repo.path, "2026.4.0", first)
    with pytest.raises(GitError) as failure:
        tag_release(repo.path, "2026.4.0", second)
    assert "v2026.4.0" in str(failure.value) and first[:12] in str(failure.value)
    assert repo.git("rev-parse", "v2026.4.0^{commit}") == first


def test_bad_version_and_failed_push_are_errors(repo: GitRepo) -> None:
    build = repo.commit("feat: a")
    with pytest.raises(GitError):
        tag_release(repo.path, "2026..4", build)
    with pytest.raises(GitError) as failure:
        tag_release(repo.path, "2026.4.1", build, push=True, remote="nowhere")
    assert "nowhere" in str(failure.value)


def notes() -> ReleaseNotes:
    return sample_notes("production")


def test_changelog_section_follows_keep_a_changelog() -> None:
    section = changelog_section(notes(), "2026.4.0", date(2026, 4, 1))
    assert section == (
        "## [2026.4.0] - 2026-04-01\n\n### Added\n\n"
        "- **Breaking:** **api:** Remove the v1 export Use v2 (`0123456`)\n- New rota screen (`89abcde`)\n\n"
        "### Changed\n\n- Update some stuff (`fedcba9`)\n"
    )  # each entry once: the Training section's copies are not listed again


def test_prepend_keeps_unreleased_on_top_and_is_idempotent() -> None:
    existing = ("# Changelog\n\nIntro.\n\n## [Unreleased]\n\n- pending\n\n## [2026.1.0] - 2026-01-05\n\n"
                "### Fixed\n\n- old\n")
    section = "## [2026.4.0] - 2026-04-01\n\n### Added\n\n- new\n"
    updated = prepend_changelog(existing, section, "2026.4.0")
    assert updated == ("# Changelog\n\nIntro.\n\n## [Unreleased]\n\n- pending\n\n"
                       "## [2026.4.0] - 2026-04-01\n\n### Added\n\n- new\n\n"
                       "## [2026.1.0] - 2026-01-05\n\n### Fixed\n\n- old\n")
    assert prepend_changelog(updated, section, "2026.4.0") == updated
    fresh = prepend_changelog(None, section, "2026.4.0")
    assert fresh.startswith("# Changelog\n") and fresh.endswith("- new\n")


def test_changelog_commit_of_its_own_on_a_checked_out_branch(repo: GitRepo, remote: GitRepo) -> None:
    repo.commit("chore: start", {"CHANGELOG.md": "# Changelog\n\n## [2026.1.0] - 2026-01-05\n\n- old\n"})
    (repo.path / "staged.txt").write_text("someone's work in progress\n")
    repo.git("add", "staged.txt")
    before = repo.head()
    section = changelog_section(notes(), "2026.4.0", date(2026, 4, 1))
    result = commit_changelog(repo.path, section, "2026.4.0", branch="main", identity=RELEASER, push=True)
    assert result.commit == repo.head() and repo.head(f"{result.commit}^") == before
    assert repo.git("show", "--name-only", "--format=", result.commit) == "CHANGELOG.md"
    assert repo.git("log", "-1", "--format=%s|%an", result.commit) == "docs(changelog): 2026.4.0|Release Bot"
    text = (repo.path / "CHANGELOG.md").read_text()
    assert text.index("## [2026.4.0]") < text.index("## [2026.1.0]")
    assert repo.git("status", "--porcelain") == "A  staged.txt"  # the person's staged work is untouched
    assert remote.git("rev-parse", "main") == result.commit
    again = commit_changelog(repo.path, section, "2026.4.0", branch="main")
    assert again.commit is None and repo.head() == result.commit


def test_changelog_refuses_local_edits(repo: GitRepo) -> None:
    repo.commit("chore: start", {"CHANGELOG.md": "# Changelog\n"})
    (repo.path / "CHANGELOG.md").write_text("# Changelog\n\nhand edit\n")
    head = repo.head()
    with pytest.raises(GitError) as failure:
        commit_changelog(repo.path, "## [1.0.0] - 2026-04-01\n", "1.0.0", branch="main")
    assert "CHANGELOG.md" in str(failure.value)
    assert repo.head() == head


def test_changelog_on_a_branch_that_is_not_checked_out_creates_the_file(repo: GitRepo) -> None:
    repo.commit("chore: start")
    repo.branch("release", "main")
    repo.checkout("main")
    repo.branch("elsewhere")
    result = commit_changelog(repo.path, "## [1.0.0] - 2026-04-01\n\n- x\n", "1.0.0", branch="release",
                              path="docs/CHANGELOG.md", identity=RELEASER)
    assert repo.git("show", f"{result.commit}:docs/CHANGELOG.md").startswith("# Changelog")
    assert not (repo.path / "docs" / "CHANGELOG.md").exists()  # the working tree belongs to 'elsewhere'
    assert repo.git("rev-parse", "release") == result.commit
