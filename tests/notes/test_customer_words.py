"""What hospice staff read: customer notes in customer words, the internal notes with every
detail (issue 16: customer notes, training beside its change, dependency updates, spec breaks)."""

from __future__ import annotations

import pytest

from notes.collect.collect import collect
from notes.commits.changes import changes_of
from notes.commits.parsing import EMPTY_SCOPE, NO_BLANK_LINE, RawCommit
from notes.errors import SettingsError
from notes.model import ReleaseNotes
from notes.render.markdown import parse_notes_markdown
from notes.render.render import render
from notes.settings import NotesSettings

from .test_collect import chain
from .test_plain_lane import both_paths

TRACKER = "https://tracker.example.org/browse/{ticket}"


def titles(notes: ReleaseNotes) -> list[tuple[str, list[str]]]:
    return [(s.title, [e.text for e in s.entries]) for s in notes.sections]


def test_customer_notes_show_areas_and_no_commit_ids_scopes_or_tracker_links() -> None:
    commits = chain("feat(census): bed census export\n\nRefs: HOS-7", "fix(family-portal): keep photos",
                    "fix(api): retry uploads\n\nRefs: https://github.com/org/app/issues/9")
    settings = NotesSettings(ticket_url=TRACKER, areas={"census": "Census", "API": "Integrations"})
    for audience in ("production", "beta"):
        md = render(collect(commits, settings, audience), "md")
        assert md.count("\n# ") + md.startswith("# ") == 1  # one heading
        assert "- **Census:** Bed census export\n" in md
        assert "- Keep photos\n" in md  # unmapped scope: hidden by default
        assert "- **Integrations:** Retry uploads\n" in md  # scopes compare case-insensitively
        assert "HOS-7" not in md and "tracker" not in md and "github.com" not in md  # the tracker is internal
        for commit in commits:
            assert commit.sha[:7] not in md
    internal = render(collect(commits, settings, "internal"), "md")
    assert f"- **census:** Bed census export (`{commits[2].sha[:7]}`, [HOS-7](" in internal
    assert "- **family-portal:** Keep photos" in internal and "github.com/org/app/issues/9" in internal


def test_unmapped_scopes_are_shown_as_written_when_so_set_and_an_empty_name_hides_one() -> None:
    commits = chain("feat(census): export", "fix(rota): keep night shifts")
    settings = NotesSettings(areas={"census": ""}, unmapped_scopes="show")
    md = render(collect(commits, settings, "production"), "md")
    assert "- Export\n" in md and "- **rota:** Keep night shifts\n" in md


def test_a_public_ticket_pattern_links_tickets_for_customers_only_through_it() -> None:
    commits = chain("fix: keep night shifts\n\nRefs: HOS-12, https://internal.example.org/x/1")
    settings = NotesSettings(ticket_url="https://status.example.org/{ticket}", ticket_url_public=True)
    md = render(collect(commits, settings, "production"), "md")
    assert md.endswith("- Keep night shifts ([HOS-12](https://status.example.org/HOS-12))\n")
    entry = parse_notes_markdown(md)[0].entries[0]  # read back as the notes' own entry shape
    assert (entry.text, entry.short_sha, [(t.id, t.url) for t in entry.tickets]) == (
        "Keep night shifts", "", [("HOS-12", "https://status.example.org/HOS-12")])
    text = render(collect(commits, settings, "beta"), "text")
    assert "  * Keep night shifts (HOS-12 <https://status.example.org/HOS-12>)\n" in text


def test_non_conventional_commits_reach_only_the_internal_notes_flagged_by_default() -> None:
    commits = chain("feat: export", "Update some stuff")
    production = collect(commits, NotesSettings(), "production")
    assert titles(production) == [("New features", ["Export"])]
    assert [(f.sha, f.text) for f in production.flagged] == [(commits[0].sha, "Update some stuff")]
    internal = collect(commits, NotesSettings(), "internal")
    assert titles(internal) == [("New features", ["Export"]), ("Other changes", ["Update some stuff"])]
    md = render(internal, "md")
    assert md.endswith(f"- Update some stuff (`{commits[0].sha[:7]}`)\n"
                       "    - Needs rewording: not a Conventional Commits header (type: description)\n")
    kept = collect(commits, NotesSettings(non_conventional="keep"), "production")
    assert titles(kept)[-1] == ("Other changes", ["Update some stuff"])
    assert "Needs rewording" not in render(kept, "md")  # a flaw is for the internal notes only


def test_two_features_with_training_stay_under_new_features_and_are_listed_under_training() -> None:
    commits = chain("feat(rota): drag to swap shifts\n\nTraining: 5-minute video",
                    "feat(chart): medication chart\n\nTraining: yes", "fix: keep night shifts")
    notes = collect(commits, NotesSettings(areas={"rota": "Rota"}), "production")
    assert titles(notes) == [("New features", ["Drag to swap shifts", "Medication chart"]),
                             ("Fixes", ["Keep night shifts"]),
                             ("Training", ["Drag to swap shifts", "Medication chart"])]
    assert [e.training for e in notes.section("training").entries] == ["5-minute video", ""]  # type: ignore[union-attr]
    assert len(notes.entries) == 3  # each change once
    md = render(notes, "md")
    assert ("## New features\n\n- **Rota:** Drag to swap shifts\n    - Training: 5-minute video\n"
            "- Medication chart\n    - Training provided.\n") in md
    assert md.endswith("## Training\n\n- **Rota:** Drag to swap shifts\n    - Training: 5-minute video\n"
                       "- Medication chart\n    - Training provided.\n")


RENOVATE = """chore(deps): update dependency foo to v22.1.0 (#4263)

This PR contains the following updates: foo 22.0.0 -> 22.1.0

### Release Notes

* feat: add the frobnicator
* fix(core): stop leaking handles
- perf: faster startup

BREAKING CHANGE: foo drops Node 16
"""


@pytest.mark.parametrize("message", [
    RENOVATE, RENOVATE.replace("chore(deps)", "fix(deps)"),
    RENOVATE.replace("chore(deps)", "build(deps-dev)"),
    RENOVATE.replace("chore(deps): update dependency", "Update dependency"),
    "Bump foo from 22.0.0 to 22.1.0\n\n* feat: add the frobnicator\n* fix: stop leaking handles",
])
def test_a_dependency_update_is_one_internal_entry_never_the_other_projects_changes(message: str) -> None:
    change = changes_of(RawCommit("a" * 40, ("b" * 40,), message))
    assert change.kind == "commit" and len(change.changes) == 1
    assert change.changes[0].breaking is False  # foo's break, quoted, is not ours
    commits = chain("feat: ours", message)
    for audience in ("production", "beta"):
        assert titles(collect(commits, NotesSettings(), audience)) == [("New features", ["Ours"])]
    internal = collect(commits, NotesSettings(), "internal")
    assert len(internal.entries) == 2 and internal.sections[-1].title == "Internal changes"
    assert internal.sections[-1].entries[0].dependency


def test_a_merged_dependency_pull_request_is_one_change_and_its_section_can_be_configured() -> None:
    merge = RawCommit("c" * 40, ("a" * 40, "b" * 40),
                      "Merge pull request #4263 from org/renovate/foo\n\n" + RENOVATE.replace("chore", "fix"))
    assert [p.description for p in changes_of(merge).changes] == ["update dependency foo to v22.1.0"]
    commits = chain(RENOVATE.replace("chore(deps)", "fix(deps)"), "chore(deps): bump bar to 2")
    fixes = collect(commits, NotesSettings(dependency_section="fixes"), "production")
    assert titles(fixes) == [("Fixes", ["Update dependency foo to v22.1.0"])]  # chore is internal still
    bang = chain("fix(deps)!: update dependency node to v22\n\nBREAKING CHANGE: node 20 is gone")
    assert titles(collect(bang, NotesSettings(), "production")) == [
        ("Action required", ["Update dependency node to v22"])]  # our own `!` is our break


@pytest.mark.parametrize(("message", "reason"), [
    ("docs(): explain rota", EMPTY_SCOPE),
    ("fix( ): keep night shifts", EMPTY_SCOPE),
    ("feat(rota): drag to swap\nthe body starts at once", NO_BLANK_LINE),
    ("feat(rota): drag to swap\n  \nindented blank line is a blank line", None),
    ("feat(rota): drag to swap\n\nbody", None),
])
def test_headers_the_spec_rules_out_are_flagged_for_rewording(message: str, reason: str | None) -> None:
    commits = chain(message)
    internal = collect(commits, NotesSettings(), "internal")
    assert [(f.sha, f.reason) for f in internal.flagged] == ([(commits[0].sha, reason)] if reason else [])
    assert internal.entries[0].flaw == reason
    settings = NotesSettings(internal_types=())  # docs reach customers here: flagged for them too
    production = collect(commits, settings, "production")
    assert [f.reason for f in production.flagged] == ([reason] if reason else [])
    assert production.entries[0].flaw is None  # customers never read a flaw


def test_a_reworded_commit_is_no_longer_flagged() -> None:
    commits = chain("docs(): explain rota", "Update some stuff")
    from notes.model import Correction

    fixes = {commits[0].sha: Correction(text="fix: tidy the rota page"),
             commits[1].sha: Correction(text="docs(rota): explain rota")}
    notes = collect(commits, NotesSettings(), "internal", corrections=fixes)
    assert notes.flagged == ()
    assert "Needs rewording" not in render(notes, "md")


@pytest.mark.parametrize("message", [
    "docs(): x", "feat(a): b\nc", "chore(deps): update dependency foo to v2\n\n* feat: a\n* fix: b",
    "Bump foo from 1 to 2", "fix(deps): update bar\n\nRefs: HOS-1\nTraining: yes", "Update some stuff",
])
def test_the_one_pass_and_the_oracle_agree_on_these_commits(message: str) -> None:
    commits = chain("feat: first", message, "fix: last")
    for settings in (NotesSettings(), NotesSettings(non_conventional="keep", dependency_section="other"),
                     NotesSettings(areas={"a": "Area"}, unmapped_scopes="show", ticket_url=TRACKER,
                                   ticket_url_public=True)):
        for audience in ("production", "beta", "internal"):
            both_paths(commits, commits, settings, audience, {})


def test_bad_settings_name_the_setting() -> None:
    with pytest.raises(SettingsError, match=r"notes.areas: census = 3 is not a string"):
        NotesSettings(areas={"census": 3})  # type: ignore[dict-item]
    with pytest.raises(SettingsError, match=r"notes.unmapped_scopes is 'maybe'"):
        NotesSettings(unmapped_scopes="maybe")
    with pytest.raises(SettingsError, match=r"notes.dependency_section is 'training'"):
        NotesSettings(dependency_section="training")
