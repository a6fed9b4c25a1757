"""Grouping commits into notes for an audience (pure: commits are built in memory)."""

from __future__ import annotations

import hashlib

import pytest

from notes.collect.collect import collect
from notes.commits.parsing import RawCommit
from notes.errors import CorrectionError, NonConventionalError, SettingsError
from notes.model import Correction, ReleaseNotes
from notes.settings import NotesSettings


def sha_of(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


def chain(*messages: str) -> list[RawCommit]:
    """A linear history, oldest message first; returned newest first like git log."""
    commits: list[RawCommit] = []
    parent: tuple[str, ...] = ()
    for n, message in enumerate(messages):
        sha = sha_of(f"{n}:{message}")
        commits.append(RawCommit(sha=sha, parents=parent, message=message))
        parent = (sha,)
    return commits[::-1]


def layout(notes: ReleaseNotes) -> list[tuple[str, list[str]]]:
    return [(s.title, [e.text for e in s.entries]) for s in notes.sections]


SETTINGS = NotesSettings(ticket_url="https://tracker.example.org/browse/{ticket}")


def test_sections_in_order_with_internal_types_left_out_for_customers() -> None:
    commits = chain("feat(rota): drag to swap shifts", "fix: keep night shifts", "chore: bump deps",
                    "perf(db): index visits", "feat!: new login page", "Tidy the code",
                    "feat: chart\n\nTraining: 10-minute video", "docs: explain rota", "ci: cache pip")
    notes = collect(commits, SETTINGS, "production")
    assert layout(notes) == [
        ("Action required", ["New login page"]),
        ("New features", ["Drag to swap shifts", "Chart"]),
        ("Fixes", ["Keep night shifts"]),
        ("Performance", ["Index visits"]),
        ("Training", ["Chart"]),
    ]
    internal = collect(commits, SETTINGS, "internal")
    assert layout(internal)[-2:] == [("Other changes", ["Tidy the code"]),
                                     ("Internal changes", ["Bump deps", "Explain rota", "Cache pip"])]
    assert notes.commit_count == 9


def test_entry_fields_tickets_and_links() -> None:
    commits = chain("feat(api)!: drop v1 export\n\nBREAKING CHANGE: use /v2/export instead\nRefs: HOS-1, #22")
    public = NotesSettings(ticket_url="https://tracker.example.org/browse/{ticket}", ticket_url_public=True)
    entry = collect(commits, public, "beta").entries[0]
    assert (entry.section, entry.type, entry.scope, entry.text, entry.action, entry.breaking) == (
        "breaking", "feat", "api", "Drop v1 export", "use /v2/export instead", True)
    assert [(t.id, t.url) for t in entry.tickets] == [
        ("HOS-1", "https://tracker.example.org/browse/HOS-1"), ("22", "https://tracker.example.org/browse/22")]
    assert entry.short_sha == commits[0].sha[:7]
    assert entry.shas == (commits[0].sha,)


def test_tickets_without_url_pattern_and_hostile_ticket_values() -> None:
    commits = chain("fix: x\n\nTicket: HOS-2, <script>, javascript:alert(1), https://t.example.org/9")
    entry = collect(commits, NotesSettings(), "internal").entries[0]
    assert [(t.id, t.url) for t in entry.tickets] == [
        ("HOS-2", None), ("https://t.example.org/9", "https://t.example.org/9")]


def test_custom_section_order_and_titles() -> None:
    settings = NotesSettings(section_order=("fixes", "features"), section_titles={"fixes": "Bug fixes"})
    notes = collect(chain("feat: a", "fix: b", "feat!: c"), settings, "production")
    assert [s.title for s in notes.sections] == ["Bug fixes", "New features", "Action required"]


def test_docs_can_be_made_customer_facing() -> None:
    settings = NotesSettings(internal_types=("chore", "ci"), type_sections={"docs": "features"})
    assert layout(collect(chain("docs: user guide for rota"), settings, "production")) == [
        ("New features", ["User guide for rota"])]


def test_audience_internal_and_release_note_none_are_internal_only() -> None:
    commits = chain("feat: admin switch\n\nAudience: internal", "fix: tidy\n\nRelease-note: NONE",
                    "feat: public")
    assert layout(collect(commits, SETTINGS, "production")) == [("New features", ["Public"])]
    assert layout(collect(commits, SETTINGS, "internal")) == [
        ("New features", ["Public"]), ("Internal changes", ["Admin switch", "Tidy"])]


def test_breaking_change_under_internal_type_still_reaches_readers() -> None:
    notes = collect(chain("refactor!: remove the v1 API"), SETTINGS, "production")
    assert layout(notes) == [("Action required", ["Remove the v1 API"])]


def test_release_note_override_is_used_verbatim() -> None:
    commits = chain("fix(pdf): off-by-one\n\n"
                    "Release-note: printed care plans no longer end with a blank page.")
    assert collect(commits, SETTINGS, "production").entries[0].text == (
        "printed care plans no longer end with a blank page.")


def test_non_conventional_policies() -> None:
    commits = chain("feat: a", "Quick fix", "Another one")
    assert layout(collect(commits, NotesSettings(non_conventional="keep"), "production"))[-1] == (
        "Other changes", ["Quick fix", "Another one"])
    assert layout(collect(commits, NotesSettings(non_conventional="drop"), "production")) == [
        ("New features", ["A"])]
    with pytest.raises(NonConventionalError) as failure:
        collect(commits, NotesSettings(non_conventional="fail"), "production")
    assert commits[0].sha[:12] in str(failure.value) and commits[1].sha[:12] in str(failure.value)
    assert "2 commit(s)" in str(failure.value)
    assert "reword" in (failure.value.hint or "")


def test_fail_policy_is_satisfied_by_corrections() -> None:
    commits = chain("feat: a", "Quick fix", "WIP")
    corrections = {commits[1].sha: Correction(text="fix(rota): keep night shifts"),
                   commits[0].sha[:10]: Correction(skip=True, reason="work in progress")}
    notes = collect(commits, NotesSettings(non_conventional="fail"), "production", corrections=corrections)
    assert layout(notes) == [("New features", ["A"]), ("Fixes", ["Keep night shifts"])]
    assert notes.entries[1].reworded and notes.entries[1].scope == "rota"
    assert [(s.sha, s.reason) for s in notes.skipped] == [(commits[0].sha, "work in progress")]


def test_reword_with_plain_text_keeps_section() -> None:
    commits = chain("fix: typo in the thing")
    notes = collect(commits, SETTINGS, "production",
                    corrections={commits[0].sha: Correction(text="The  rota\nprint-out shows   all shifts")})
    assert layout(notes) == [("Fixes", ["The rota print-out shows all shifts"])]


def test_corrections_for_other_commits_are_ignored_and_ambiguous_ones_fail() -> None:
    commits = chain("feat: a")
    notes = collect(commits, SETTINGS, "production", corrections={"deadbeef" * 5: Correction(skip=True)})
    assert len(notes.entries) == 1
    twins = [RawCommit(sha="abcd" + str(n) * 36, parents=(), message=f"feat: twin {n}") for n in (1, 2)]
    with pytest.raises(CorrectionError) as failure:
        collect(twins, SETTINGS, "production", corrections={"abcd": Correction(skip=True)})
    assert "abcd" in str(failure.value)
    with pytest.raises(CorrectionError):
        collect(commits, SETTINGS, "production", corrections={commits[0].sha: Correction(text="  ")})


def test_identical_changes_are_listed_once_with_both_ids() -> None:
    commits = chain("fix(rota): keep night shifts", "feat: other", "fix(rota): Keep night shifts")
    notes = collect(commits, SETTINGS, "production")
    assert layout(notes) == [("New features", ["Other"]), ("Fixes", ["Keep night shifts"])]
    assert notes.entries[1].shas == (commits[2].sha, commits[0].sha)


def test_revert_in_range_cancels_and_revert_of_older_change_is_a_fix() -> None:
    base = chain("feat: dark mode", "fix: keep")
    dark = base[1].sha
    revert = RawCommit(sha=sha_of("revert"), parents=(base[0].sha,),
                       message=f'Revert "feat: dark mode"\n\nThis reverts commit {dark}.')
    notes = collect([revert, *base], SETTINGS, "production")
    assert layout(notes) == [("Fixes", ["Keep"])]
    only_revert = collect([revert, base[0]], SETTINGS, "production")
    assert layout(only_revert) == [("Fixes", ["Keep", "Reverted: Dark mode"])]


def test_revert_matched_by_header_when_no_id_is_given() -> None:
    commits = chain("feat: dark mode", "revert: feat: dark mode", "feat: light mode")
    assert layout(collect(commits, SETTINGS, "production")) == [("New features", ["Light mode"])]


def test_revert_of_revert_brings_the_change_back() -> None:
    first = chain("feat: dark mode")
    dark = first[0].sha
    r1 = RawCommit(sha=sha_of("r1"), parents=(dark,),
                   message=f'Revert "feat: dark mode"\n\nThis reverts commit {dark}.')
    r2 = RawCommit(sha=sha_of("r2"), parents=(r1.sha,),
                   message=f'Revert "Revert "feat: dark mode""\n\nThis reverts commit {r1.sha[:9]}.')
    assert layout(collect([r2, r1, *first], SETTINGS, "production")) == [("New features", ["Dark mode"])]
    assert layout(collect([r2, r1], SETTINGS, "production")) == []  # net effect in this range: nothing
    assert layout(collect([r2], SETTINGS, "production")) == [("New features", ["Dark mode"])]


def test_upper_first_leaves_mixed_case_words_alone() -> None:
    notes = collect(chain("feat: iOS app shows rota", "fix: npm audit"), SETTINGS, "production")
    assert [e.text for e in notes.entries] == ["iOS app shows rota", "Npm audit"]


def test_empty_range_and_bad_audience() -> None:
    assert collect([], SETTINGS, "production").sections == ()
    with pytest.raises(SettingsError):
        collect([], SETTINGS, "everyone")


@pytest.mark.parametrize("kwargs", [
    {"non_conventional": "explode"}, {"ticket_url": "https://t.example.org/browse"},
    {"ticket_url": "ftp://t.example.org/{ticket}"}, {"section_order": ("features", "bogus")},
    {"section_order": ("features", "features")}, {"type_sections": {"feat": "breaking"}},
    {"section_titles": {"nope": "x"}}, {"paths": ("--output=x",)},
])
def test_settings_are_validated_with_the_field_named(kwargs: dict[str, object]) -> None:
    with pytest.raises(SettingsError) as failure:
        NotesSettings(**kwargs)  # type: ignore[arg-type]
    assert "notes." in str(failure.value)
