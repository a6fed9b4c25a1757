"""Notes over ranges of real repositories: merges, squashes, reverts, tags and beta builds."""

from __future__ import annotations

from collections import Counter

import pytest

from notes.collect.collect import collect
from notes.history.gitlog import iter_commits
from notes.model import ReleaseNotes
from notes.settings import NotesSettings

from .gitrepo import GitRepo

SETTINGS = NotesSettings(ticket_url="https://tracker.example.org/browse/{ticket}", ticket_url_public=True)


def notes_for(repo: GitRepo, since: str | None, until: str, audience: str = "production",
              settings: NotesSettings = SETTINGS) -> ReleaseNotes:
    return collect(iter_commits(repo.path, until, since), settings, audience, since=since, until=until)


def layout(notes: ReleaseNotes) -> list[tuple[str, list[str]]]:
    return [(s.title, [f"{e.scope}: {e.text}" if e.scope else e.text for e in s.entries])
            for s in notes.sections]


def build_quarter(repo: GitRepo) -> None:
    """A quarter of work: last production release, then three beta builds."""
    repo.commit("chore: initial import")
    repo.tag("v2026.1.0")

    # Beta 1: a GitHub pull request merge (branch commits also in range) and a direct fix.
    repo.branch("feature-export")
    repo.commit("feat(export): add csv export")
    repo.commit("fix(export): typo in header\n\nTicket: HOS-31")
    repo.commit("test: export tests")
    repo.checkout("main")
    repo.commit("fix(rota): keep night shifts\n\nTicket: HOS-12")
    repo.merge("feature-export",
               "Merge pull request #1 from care/feature-export\n\nfeat(export): CSV export of visits")
    repo.tag("beta1")

    # Beta 2: a GitHub squash, a GitLab merge with training, a feature that will be reverted.
    repo.branch("rota-work")
    repo.commit("feat(rota): drag to swap shifts")
    repo.commit("fix(rota): no double booking")
    repo.checkout("main")
    repo.squash("rota-work", "Rota improvements (#2)\n\n* feat(rota): drag to swap shifts\n\n"
                             "* fix(rota): no double booking\n")
    repo.branch("feature/chart")
    repo.commit("feat(chart): medication chart")
    repo.commit("fix(chart): axis labels")
    repo.checkout("main")
    repo.merge("feature/chart", "Merge branch 'feature/chart' into 'main'\n\n"
                                "feat(chart): medication chart\n\n"
                                "Training: 10-minute video for nurses\n\nSee merge request care/app!3")
    remember = repo.commit("feat(login): remember me")
    repo.tag("beta2")

    # Beta 3: the revert, a breaking change made on a branch, noise and a plain message.
    repo.revert(remember)
    repo.commit("perf(db): index visits by patient")
    repo.commit("Update copyright year")
    repo.commit("chore(deps): bump jinja2")
    repo.branch("api-v2")
    repo.commit("feat(api): v2 endpoints")
    repo.commit("refactor(api)!: remove v1 endpoints\n\nBREAKING CHANGE: clients must call /v2")
    repo.checkout("main")
    repo.merge("api-v2", "Merge pull request #4 from care/api-v2\n\nfeat(api): version 2 of the API")
    repo.tag("beta3")


@pytest.fixture(scope="module")
def quarter(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """Built once for the module; tests only read it."""
    repo = GitRepo(tmp_path_factory.mktemp("quarter") / "app")
    build_quarter(repo)
    return repo


# A feature with training stays under New features and is listed again under Training; the
# non-conventional "Update copyright year" is in the internal notes only.
PRODUCTION = [
    ("Action required", ["api: Version 2 of the API"]),
    ("New features", ["export: CSV export of visits", "rota: Drag to swap shifts",
                      "chart: Medication chart"]),
    ("Fixes", ["rota: Keep night shifts", "rota: No double booking"]),
    ("Performance", ["db: Index visits by patient"]),
    ("Training", ["chart: Medication chart"]),
]


def test_production_notes_after_three_betas_list_every_change_exactly_once(quarter: GitRepo) -> None:
    repo = quarter
    production = notes_for(repo, "v2026.1.0", "beta3")
    assert layout(production) == PRODUCTION

    # Every customer-facing change any beta carried, and not reverted since, is in production exactly once.
    counts = Counter(e.text for e in production.entries)
    assert all(n == 1 for n in counts.values()), counts
    beta_texts: set[str] = set()
    for since, until in (("v2026.1.0", "beta1"), ("beta1", "beta2"), ("beta2", "beta3")):
        beta_texts |= {e.text for e in notes_for(repo, since, until, "beta").entries}
    assert beta_texts - set(counts) == {"Remember me", "Reverted: Remember me"}
    assert set(counts) <= beta_texts

    api = production.section("breaking").entries[0]  # type: ignore[union-attr]
    assert api.action == "clients must call /v2"
    assert api.pull_request == "#4" and len(api.shas) == 3  # the merge and both branch commits
    export = production.section("features").entries[0]  # type: ignore[union-attr]
    assert [t.id for t in export.tickets] == ["HOS-31"]  # folded in from the branch commit
    chart = production.section("training").entries[0]  # type: ignore[union-attr]
    assert chart.training == "10-minute video for nurses" and chart.pull_request == "!3"


def test_beta_notes_cover_only_their_build(quarter: GitRepo) -> None:
    repo = quarter
    assert layout(notes_for(repo, "beta1", "beta2", "beta")) == [
        ("New features", ["rota: Drag to swap shifts", "chart: Medication chart", "login: Remember me"]),
        ("Fixes", ["rota: No double booking"]),
        ("Training", ["chart: Medication chart"]),
    ]
    assert layout(notes_for(repo, "beta2", "beta3", "beta")) == [
        ("Action required", ["api: Version 2 of the API"]),
        ("Fixes", ["login: Reverted: Remember me"]),
        ("Performance", ["db: Index visits by patient"]),
    ]


def test_internal_notes_include_internal_changes_but_not_absorbed_branch_commits(quarter: GitRepo) -> None:
    repo = quarter
    internal = notes_for(repo, "v2026.1.0", "beta3", "internal")
    assert layout(internal)[-1] == ("Internal changes", ["deps: Bump jinja2"])
    assert "Test: export tests" not in {e.text for e in internal.entries}


def test_all_ancestors_when_since_is_none(quarter: GitRepo) -> None:
    repo = quarter
    everything = notes_for(repo, None, "beta3", "internal")
    assert "Initial import" in {e.text for e in everything.entries}
    assert everything.commit_count == int(repo.git("rev-list", "--count", "beta3"))


def test_merge_with_plain_title_steps_aside_for_its_branch_commits(repo: GitRepo) -> None:
    repo.commit("chore: start")
    repo.tag("v1")
    repo.branch("topic")
    repo.commit("feat: first part")
    repo.commit("fix: second part")
    repo.checkout("main")
    repo.merge("topic", "Merge pull request #9 from care/topic\n\nTopic work")
    assert layout(notes_for(repo, "v1", "main")) == [("New features", ["First part"]),
                                                     ("Fixes", ["Second part"])]


def test_bare_merges_and_back_merges_add_nothing(repo: GitRepo) -> None:
    repo.commit("chore: start")
    repo.tag("v1")
    repo.branch("topic")
    repo.commit("feat(topic): work")
    repo.checkout("main")
    repo.commit("fix(main): mainline fix")
    repo.checkout("topic")
    repo.merge("main", "Merge branch 'main' into topic")
    repo.commit("feat(topic): more work")
    repo.checkout("main")
    repo.merge("topic", "Merge branch 'topic'")
    notes = notes_for(repo, "v1", "main")
    assert layout(notes) == [("New features", ["topic: Work", "topic: More work"]),
                             ("Fixes", ["main: Mainline fix"])]


def test_nested_pull_requests_belong_to_the_outer_merge(repo: GitRepo) -> None:
    repo.commit("chore: start")
    repo.tag("v1")
    repo.branch("epic")
    repo.branch("story")
    repo.commit("feat: story part")
    repo.checkout("epic")
    repo.merge("story", "Merge pull request #5 from care/story\n\nfeat: the story")
    repo.checkout("main")
    repo.merge("epic", "Merge pull request #6 from care/epic\n\nfeat: the epic")
    notes = notes_for(repo, "v1", "main")
    assert layout(notes) == [("New features", ["The epic"])]
    assert len(notes.entries[0].shas) == 3


def test_cherry_picked_fix_on_release_branch_is_listed_once(repo: GitRepo) -> None:
    repo.commit("chore: start")
    repo.tag("v1")
    fix = repo.commit("fix(pdf): blank last page")
    repo.branch("release/2026.1", "v1")
    picked = repo.cherry_pick(fix)
    repo.checkout("main")
    repo.merge("release/2026.1", "Merge branch 'release/2026.1'")
    notes = notes_for(repo, "v1", "main")
    assert layout(notes) == [("Fixes", ["pdf: Blank last page"])]
    assert set(notes.entries[0].shas) == {fix, picked}


def test_revert_of_a_change_released_earlier_is_a_fix(repo: GitRepo) -> None:
    repo.commit("chore: start")
    dark = repo.commit("feat(ui): dark mode")
    repo.tag("v1")
    repo.revert(dark)
    assert layout(notes_for(repo, "v1", "main")) == [("Fixes", ["ui: Reverted: Dark mode"])]


def test_reverted_merge_cancels_the_whole_pull_request(repo: GitRepo) -> None:
    repo.commit("chore: start")
    repo.tag("v1")
    repo.branch("topic")
    repo.commit("feat: risky")
    repo.checkout("main")
    merge = repo.merge("topic", "Merge pull request #7 from care/topic\n\nfeat: risky thing")
    repo.commit("fix: unrelated")
    repo.git("revert", "--no-edit", "-m", "1", merge)
    assert layout(notes_for(repo, "v1", "main")) == [("Fixes", ["Unrelated"])]


def test_path_filters_are_passed_to_git(repo: GitRepo) -> None:
    repo.commit("chore: start", {"README": "x\n"})
    repo.tag("v1")
    repo.commit("feat(app): app change", {"app/main.py": "1\n"})
    repo.commit("docs: docs change", {"docs/guide.md": "1\n"})
    repo.commit("fix(app): second app change", {"app/main.py": "2\n"})
    commits = list(iter_commits(repo.path, "main", "v1", paths=["app"]))
    assert [c.message.split("\n")[0] for c in commits] == ["fix(app): second app change",
                                                             "feat(app): app change"]
    settings = NotesSettings(paths=("app",))
    notes = collect(iter_commits(repo.path, "main", "v1", settings.paths), settings, "internal")
    assert layout(notes) == [("New features", ["app: App change"]), ("Fixes", ["app: Second app change"])]


@pytest.mark.parametrize("audience", ["production", "beta", "internal"])
def test_same_notes_whichever_way_the_commits_arrive(quarter: GitRepo, audience: str) -> None:
    commits = list(iter_commits(quarter.path, "beta3", "v2026.1.0"))
    forward = collect(commits, SETTINGS, audience)
    backward = collect(list(reversed(commits)), SETTINGS, audience)
    assert layout(forward) == layout(backward)
