"""What a single commit contributes: merges, squashes, reverts, cherry-picks."""

from __future__ import annotations

from notes.commits.changes import changes_of
from notes.commits.parsing import RawCommit

SHA = "f" * 40


def raw(message: str, parents: tuple[str, ...] = ("a" * 40,)) -> RawCommit:
    return RawCommit(sha=SHA, parents=parents, message=message)


MERGE_PARENTS = ("a" * 40, "b" * 40)


def headers(message: str, parents: tuple[str, ...] = ("a" * 40,)) -> list[tuple[str | None, str | None, str]]:
    return [(c.type, c.scope, c.description) for c in changes_of(raw(message, parents)).changes]


def test_plain_commit_is_one_change_and_drops_the_request_number() -> None:
    change = changes_of(raw("feat(ui): dark mode (#123)"))
    assert change.kind == "commit"
    assert change.pull_request == "#123"
    assert [(c.type, c.scope, c.description) for c in change.changes] == [("feat", "ui", "dark mode")]


def test_github_merge_takes_its_entry_from_the_body() -> None:
    change = changes_of(raw("Merge pull request #12 from org/feature-export\n\nfeat(api): add export\n",
                            MERGE_PARENTS))
    assert (change.kind, change.pull_request) == ("merge", "#12")
    assert [(c.type, c.scope, c.description) for c in change.changes] == [("feat", "api", "add export")]


def test_github_merge_with_a_plain_title_is_a_non_conventional_change() -> None:
    change = changes_of(raw("Merge pull request #13 from org/x\n\nAdd the export button", MERGE_PARENTS))
    assert [(c.conventional, c.description) for c in change.changes] == [(False, "Add the export button")]


def test_gitlab_merge_reads_title_and_request_and_keeps_footers() -> None:
    message = ("Merge branch 'feature/rota' into 'main'\n\nfix(rota): keep night shifts\n\nTicket: HOS-7\n\n"
               "See merge request care/app!42")
    change = changes_of(raw(message, MERGE_PARENTS))
    assert change.pull_request == "!42"
    assert [(c.type, c.scope, c.description, c.tickets) for c in change.changes] == [
        ("fix", "rota", "keep night shifts", ("HOS-7",))]


def test_gitlab_merge_without_title_is_bare() -> None:
    change = changes_of(raw("Merge branch 'x' into 'main'\n\nSee merge request care/app!43", MERGE_PARENTS))
    assert (change.kind, change.changes, change.pull_request) == ("merge", (), "!43")


def test_plain_git_merges_are_bare_and_ignore_conflict_lists() -> None:
    assert headers("Merge branch 'main' into feature", MERGE_PARENTS) == []
    conflicts = "Merge remote-tracking branch 'origin/main'\n\nConflicts:\n\tsrc/a.py"
    assert headers(conflicts, MERGE_PARENTS) == []
    assert headers("Merge branch 'hotfix'\n\n# Conflicts:\n#\tsrc/a.py\n", MERGE_PARENTS) == []


def test_merge_with_a_conventional_message_of_its_own() -> None:
    assert headers("feat: merge the rota work\n\nBody.", MERGE_PARENTS) == [
        ("feat", None, "merge the rota work")]


def test_github_squash_bullets_are_one_change_each_with_their_own_footers() -> None:
    message = ("Rota improvements (#40)\n\n* feat(rota): drag to swap shifts\n\nLonger body of the first.\n\n"
               "* fix: keep night shifts\n\nBREAKING CHANGE: shift ids changed\n\n* chore: lint\n\n"
               "Co-authored-by: B <b@example.org>")
    change = changes_of(raw(message))
    assert change.kind == "squash"
    assert change.pull_request == "#40"
    assert [(c.type, c.scope, c.description, c.breaking) for c in change.changes] == [
        ("feat", "rota", "drag to swap shifts", False),
        ("fix", None, "keep night shifts", True),
        ("chore", None, "lint", False),
    ]
    assert change.changes[1].breaking_description == "shift ids changed"


def test_squash_of_plain_lines_and_dashes() -> None:
    assert headers("Sprint 12\n\nfeat: a\nfix(api): b\n- perf: c") == [
        ("feat", None, "a"), ("fix", "api", "b"), ("perf", None, "c")]


def test_one_conventional_line_in_a_body_is_not_a_squash() -> None:
    assert headers("feat: main thing\n\nfix: mentioned in passing") == [("feat", None, "main thing")]


def test_footers_are_not_mistaken_for_squashed_headers() -> None:
    change = changes_of(raw("feat: x\n\nRefs: #1\nSigned-off-by: A <a@example.org>"))
    assert change.kind == "commit"


def test_breaking_squash_summary_is_kept() -> None:
    assert headers("feat!: new config (#5)\n\n* feat: a\n* fix: b") == [
        ("feat", None, "new config"), ("feat", None, "a"), ("fix", None, "b")]


def test_git_revert_names_target_and_header() -> None:
    target = "0123456789abcdef0123456789abcdef01234567"
    change = changes_of(raw(f'Revert "feat(api): add export (#12)"\n\nThis reverts commit {target}.\n'))
    assert change.kind == "revert"
    assert change.reverts == (target,)
    assert change.reverted_header == "feat(api): add export"
    assert [(c.type, c.scope, c.description) for c in change.changes] == [("revert", "api", "add export")]


def test_github_revert_pull_request_title() -> None:
    change = changes_of(raw('Revert "feat: x (#12)" (#13)\n\nReverts org/app#12'))
    assert (change.kind, change.pull_request, change.reverted_header, change.reverts) == (
        "revert", "#13", "feat: x", ())


def test_conventional_revert_with_refs() -> None:
    change = changes_of(raw("revert: feat(ui): dark mode\n\nRefs: 676104e, a215868"))
    assert change.reverts == ("676104e", "a215868")
    assert [(c.type, c.scope, c.description) for c in change.changes] == [("revert", "ui", "dark mode")]


def test_revert_of_a_revert_reapplies_the_change() -> None:
    change = changes_of(raw('Revert "Revert "feat: dark mode""\n\nThis reverts commit abcdef1.'))
    assert change.kind == "revert"
    assert [(c.type, c.description) for c in change.changes] == [("feat", "dark mode")]


def test_reverting_word_is_not_a_revert() -> None:
    assert changes_of(raw("Reverting is hard")).kind == "commit"


def test_cherry_pick_marker() -> None:
    change = changes_of(raw("fix: x\n\n(cherry picked from commit 0123456789abcdef0123456789abcdef01234567)"))
    assert change.cherry_picked_from == ("0123456789abcdef0123456789abcdef01234567",)
