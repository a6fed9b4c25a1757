"""`collect` gives exactly what the oracle gives (pure).

`collect` reads ordinary commits through `notes.collect.plainlane` in one pass
(`notes.collect.reading`) and applies the range-wide rules to the commits they concern
(`notes.collect.rangewide`); the oracle in tests/notes/oracle.py applies every rule to
every commit. Generated histories mix everything the lane must step aside
for: merges, reverts, squashes, cherry-picks, every trailer, corrections,
`\\r`, `#` lines, unicode, duplicates, clock skew.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notes.collect.collect import collect
from notes.collect.entries import Draft, one_line, upper_first
from notes.collect.plainlane import plain_draft
from notes.collect.rangewide import range_rules
from notes.collect.reading import RangeReading
from notes.commits.parsing import RawCommit
from notes.errors import NotesError
from notes.history.batches import CommitBatch
from notes.history.gitlog import LOG_FORMAT, iter_commits, parse_log_batches
from notes.model import Correction
from notes.settings import AUDIENCES, NotesSettings

from .gitrepo import GitRepo
from .oracle import oracle_notes
from .test_collect import chain
from .test_properties import MESSAGES

HEADERS = st.sampled_from([
    "feat(rota): drag to swap shifts", "fix: keep night shifts", "chore: bump deps", "chore(API): Bump deps",
    "perf(db)!: index visits", "docs: explain rota", "refactor: y", "test: z", "feat!: new login page",
    "fix(ui): dark mode (#12)", "feat: chart (!7)", "Tidy the code", "FEAT(Ui):  spaced   words ",
    "fix: iOS app", "fix: ünïcödé ✓ rota", "ci: cache", "revert: feat: chart",
    "Revert \"fix: keep night shifts\"", "Reverting is hard", "Merge pull request #3 from org/x",
    "Merge branch 'topic'", "security: patch", "feat(scope with: colon): x", "docs!: guide",
    "chore: bump deps (#5)", "fix:no space", "x", "feat(): empty", "docs( ): blank scope",
    "chore(deps): update dependency foo to v22.1.0 (#4263)", "fix(Deps): bump bar", "deps: pin baz",
    "Bump foo from 1.0 to 2.0", "Update dependency foo to v2 (#7)", "fix(deps)!: drop node 16",
    "fix: a tab at the end\t", "feat: no-break space\u00a0", "docs: separators\u2028\x1f ", "feat:  \u00a0",
])
TRAILERS = st.sampled_from([
    "Refs: HOS-1", "Refs: #12, HOS-2", "Refs: 0123456789abcdef", "Ticket: T-9", "tickets: a b",
    "Signed-off-by: Dev <dev@example.org>", "Training: 10-minute video", "Training: no", "Training:",
    "Audience: internal", "Release-note: Shown instead", "Release-note: NONE", "RELEASE-NOTES: loud",
    "Release-note: spaced  \t out", "Training: two  spaces",
    "BREAKING CHANGE: the export format changed", "BREAKING-CHANGE: x", "Reviewed-by: Z",
    "Refs: HOS-3\n  continued", "Note #5", "This reverts commit 0000000000000000000000000000000000000001.",
    "(cherry picked from commit 0000000000000000000000000000000000000002)",
])
BODIES = st.sampled_from([
    "A body paragraph explaining the change.", "Note: body text that looks like a trailer.",
    "* feat: one\n* fix(api): two", "- chore: a\n- docs: b", "feat: squashed\nfix: also", "fix!: one line",
    "# a comment line", "# ------------------------ >8 ------------------------\nbelow",
    "line one\r\nline two", "    indented code", "ünïcödé body ✓", "Refs in prose, training too", "",
    "Refs: HOS-9\nwith a continuation line", "Training: in the body",
    "Example:\nfoo()", "See: https://example.org", "* feat: quoted from another changelog\n* fix: another",
])


@st.composite
def messages(draw: st.DrawFn) -> str:
    """Commit messages of the shapes the lane reads or must refuse."""
    header = draw(HEADERS)
    paragraphs = [header, *draw(st.lists(BODIES, max_size=2)),
                  *draw(st.lists(TRAILERS, max_size=3).map(lambda t: ["\n".join(t)] if t else []))]
    text = draw(st.sampled_from(["\n\n", "\n", "\n\n\n"])).join(paragraphs)
    return draw(st.sampled_from(["", "\n", "\n\n", "  \n"])).join([text, ""]) if draw(st.booleans()) else text


def _sha(n: int) -> str:
    return hashlib.sha1(str(n).encode()).hexdigest()


@st.composite
def histories(draw: st.DrawFn) -> list[RawCommit]:
    """A commit graph, newest first: mostly a line, with merges, roots, picks, reverts and skewed order."""
    count = draw(st.integers(1, 14))
    mixed = draw(st.booleans())  # else a line of commits, as most ranges are: the lane's own ground
    commits: list[RawCommit] = []
    for n in range(count):
        shape = draw(st.sampled_from(["line"] * 6 + ["merge", "root"])) if mixed else "line"
        parents: tuple[str, ...] = ()
        if n and shape == "line":
            parents = (_sha(n - 1),)
        elif n > 1 and shape == "merge":
            parents = (_sha(n - 1), _sha(draw(st.integers(0, n - 2))))
        message = draw(st.one_of(messages(), messages(), MESSAGES))
        older = draw(st.integers(0, n - 1)) if n else None
        if mixed and older is not None and draw(st.integers(0, 9)) == 0:  # a revert or a pick of an older one
            message = draw(st.sampled_from([
                f'Revert "x"\n\nThis reverts commit {_sha(older)}.', f"revert: x\n\nRefs: {_sha(older)[:9]}",
                f"{message}\n\n(cherry picked from commit {_sha(older)})"]))
        commits.append(RawCommit(sha=_sha(n), parents=parents, message=message))
    newest_first = commits[::-1]
    if mixed and len(newest_first) > 2 and draw(st.integers(0, 5)) == 0:  # clock skew: two commits swapped
        i = draw(st.integers(0, len(newest_first) - 2))
        newest_first[i], newest_first[i + 1] = newest_first[i + 1], newest_first[i]
    return newest_first


SETTINGS = st.sampled_from([
    NotesSettings(), NotesSettings(ticket_url="https://t.example.org/{ticket}"),
    NotesSettings(non_conventional="drop"), NotesSettings(non_conventional="fail"),
    NotesSettings(internal_types=("chore", "docs", "feat", "revert")),
    NotesSettings(non_conventional="keep", dependency_section="fixes", unmapped_scopes="show",
                  areas={"rota": "Rota", "ui": ""}, ticket_url="https://t.example.org/{ticket}",
                  ticket_url_public=True),
    NotesSettings(dependency_section="other", internal_types=("ci",)),
])


@st.composite
def corrections(draw: st.DrawFn, commits: list[RawCommit]) -> dict[str, Correction]:
    chosen = draw(st.lists(st.sampled_from(commits), max_size=2, unique=True))
    fixes = {}
    for commit in chosen:
        key = commit.sha[:draw(st.sampled_from([4, 7, 40]))]
        fixes[key] = draw(st.sampled_from([Correction(skip=True, reason="noise"), Correction(text="  "),
                                           Correction(text="fix: reworded"), Correction(text="Plain words")]))
    return fixes


def both_paths(commits: object, raws: list[RawCommit], settings_: NotesSettings, audience: str,
               fixes: dict[str, Correction]) -> None:
    try:
        expected = oracle_notes(raws, settings_, audience, fixes)
    except NotesError as err:
        with pytest.raises(type(err)) as again:
            collect(commits, settings_, audience, corrections=fixes)  # type: ignore[arg-type]
        assert str(again.value) == str(err)
        return
    assert collect(commits, settings_, audience, corrections=fixes) == expected  # type: ignore[arg-type]


@given(histories(), SETTINGS, st.data())
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_the_notes_are_the_oracles_for_every_audience(
        commits: list[RawCommit], settings_: NotesSettings, data: st.DataObject) -> None:
    fixes = data.draw(st.one_of(st.just({}), corrections(commits)))
    for audience in AUDIENCES:
        both_paths(commits, commits, settings_, audience, fixes)


def test_a_quiet_commit_joins_its_breaking_twin_whatever_the_case_and_request_suffix() -> None:
    """A held-back chore that a breaking chore duplicates (type, scope and text compared without
    case, a request suffix dropped) is listed with it, by the lane as by the general path."""
    for quiet in ("chore(API): Bump  deps", "chore(api): bump deps (#5)", "CHORE(Api): BUMP DEPS"):
        commits = chain(quiet, "fix: other", "chore(api): Bump deps\n\nBREAKING CHANGE: pin v2")
        notes = collect(commits, NotesSettings(), "production")
        assert [len(e.shas) for e in notes.entries] == [2, 1], quiet
        for audience in AUDIENCES:
            both_paths(commits, commits, NotesSettings(), audience, {})


MERGE_TITLES = st.sampled_from([
    "feat(rota): drag to swap shifts", "chore: bump deps", "fix: keep night shifts", "Update the rota page",
    "feat!: new login page", "docs: explain rota", "fix(ui): dark mode (#12)", "",
    "feat: chart\n\nRefs: HOS-7\nTraining: 5 minutes", "perf(db): index visits\n\nBREAKING CHANGE: reindex",
])


def _merge_message(draw: st.DrawFn, number: int, branch: str) -> str:
    """What GitHub, GitLab or plain git write on a merge commit."""
    title = draw(MERGE_TITLES)
    return draw(st.sampled_from([
        f"Merge pull request #{number} from org/{branch}\n\n{title}",
        f"Merge pull request #{number} from org/{branch}\n\n{title}",
        f"Merge branch '{branch}' into 'main'\n\n{title}\n\nSee merge request grp/app!{number}",
        f"Merge branch '{branch}'", f"Merge branch 'main' into {branch}", f"feat: {branch} merged by hand",
    ]))


@st.composite
def pull_request_histories(draw: st.DrawFn) -> list[RawCommit]:
    """GitHub/GitLab flow, newest first: branches of a few commits merged (nested, octopus, main merged
    back into a branch), direct commits, reverts (of merges too) and cherry-picks (of branch commits too)."""
    made: list[RawCommit] = []

    def add(parents: tuple[str, ...], message: str) -> str:
        sha = _sha(1000 + len(made))
        made.append(RawCommit(sha=sha, parents=parents, message=message))
        return sha

    main = add((), draw(messages()))
    branches: list[tuple[str, str | None]] = []  # open: (tip, the branch it forks from; None: main)
    for number in range(draw(st.integers(1, 16))):
        action = draw(st.sampled_from(["main", "open", "open", "work", "work", "work", "merge", "merge",
                                       "nested", "octopus", "back", "revert", "pick"]))
        older = draw(st.sampled_from(made)).sha
        if action == "main":
            main = add((main,), draw(st.one_of(messages(), messages(), MESSAGES)))
        elif action == "open" or (action == "nested" and not branches):
            branches.append((add((main,), draw(messages())), None))
        elif action == "nested":
            at = draw(st.integers(0, len(branches) - 1))
            branches.append((add((branches[at][0],), draw(messages())), branches[at][0]))
        elif action == "work" and branches:
            at = draw(st.integers(0, len(branches) - 1))
            branches[at] = (add((branches[at][0],), draw(messages())), branches[at][1])
        elif action == "back" and branches:  # main merged into a branch to catch up
            at = draw(st.integers(0, len(branches) - 1))
            branches[at] = (add((branches[at][0], main), f"Merge branch 'main' into b{at}"), branches[at][1])
        elif action == "merge" and branches:
            tip, base = branches.pop(draw(st.integers(0, len(branches) - 1)))
            into = main if base is None or draw(st.booleans()) else base
            merged = add((into, tip), _merge_message(draw, number, f"b{number}"))
            if into == main:
                main = merged
            else:
                branches = [(merged if t == into else t, b) for t, b in branches]
        elif action == "octopus" and len(branches) >= 2:
            (one, _), (two, _) = branches.pop(), branches.pop()
            main = add((main, one, two), f"Merge branches 'b1' and 'b2'\n\n{draw(MERGE_TITLES)}")
        elif action == "revert":
            main = add((main,), draw(st.sampled_from([
                f'Revert "x"\n\nThis reverts commit {older}.', f"revert: x\n\nRefs: {older[:9]}",
                'Revert "Merge pull request #1 from org/b1"', 'Revert "fix: keep night shifts"'])))
        elif action == "pick":
            main = add((main,), f"{draw(messages())}\n\n(cherry picked from commit {older})")
    for tip, _ in branches:  # some branches stay open: their commits are not in the range
        made = [c for c in made if c.sha != tip or draw(st.booleans())]
    reachable = {main}
    by_sha = {c.sha: c for c in made}
    for commit in reversed(made):
        if commit.sha in reachable:
            reachable.update(commit.parents)
    newest_first = [c for c in reversed(made) if c.sha in reachable and c.sha in by_sha]
    if len(newest_first) > 2 and draw(st.integers(0, 9)) == 0:  # clock skew: two commits swapped
        i = draw(st.integers(0, len(newest_first) - 2))
        newest_first[i], newest_first[i + 1] = newest_first[i + 1], newest_first[i]
    if draw(st.integers(0, 4)) == 0:  # a range that starts above the oldest commits
        newest_first = newest_first[:draw(st.integers(1, len(newest_first)))]
    return newest_first


@given(pull_request_histories(), SETTINGS, st.data())
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_merge_heavy_ranges_give_the_oracles_notes_for_every_audience(
        commits: list[RawCommit], settings_: NotesSettings, data: st.DataObject) -> None:
    fixes = data.draw(st.one_of(st.just({}), corrections(commits)))
    for audience in AUDIENCES:
        both_paths(commits, commits, settings_, audience, fixes)


class _Log:
    """What notes.history.gitlog.CommitLog offers collect: batches cut from git's raw output."""

    def __init__(self, data: bytes, size: int) -> None:
        self.chunks = [data[i:i + size] for i in range(0, len(data), size)]

    def batches(self) -> object:
        return parse_log_batches(iter(self.chunks))


@given(histories(), SETTINGS, st.integers(1, 400))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_batches_cut_from_git_output_give_the_same_notes(commits: list[RawCommit], settings_: NotesSettings,
                                                         size: int) -> None:
    commits = [c for c in commits if "\0" not in c.message]  # git cannot print a NUL inside a message
    data = b"\0".join(
        f"{c.sha}\0{' '.join(c.parents)}\0{c.message}".encode() for c in commits)
    assert LOG_FORMAT.count("%x00") == 2  # the three fields written above
    for audience in AUDIENCES:
        both_paths(_Log(data, size), commits, settings_, audience, {})


def test_ordinary_commits_take_the_lane_and_a_plain_range_needs_no_second_pass() -> None:
    quiet = frozenset({"chore", "docs"})
    made = plain_draft("a" * 40, "feat(ui): dark mode (#12)\n\nWhy.\n\nRefs: HOS-1\nSigned-off-by: D <d@x>\n",
                       3, quiet)
    assert isinstance(made, Draft)
    assert (made.type, made.scope, made.text, made.tickets, made.pull_request, made.rank) == (
        "feat", "ui", "Dark mode", ["HOS-1"], "#12", 3)
    assert plain_draft("a" * 40, "chore(API): bump\n\nRefs: X-1\n", 0, quiet) == ("chore", "api", "bump")
    # a reader token in prose, with no ": " or " #" anywhere below the header, is no trailer: still the lane
    prose = plain_draft("a" * 40, "fix: tickets\n\nThe ticket refs in prose, training too.", 0, quiet)
    assert isinstance(prose, Draft) and (prose.text, prose.tickets, prose.training) == ("Tickets", [], None)
    # trailers over several lines are read by the general path's own footer rules
    continued = plain_draft("a" * 40, "feat: x\n\nRefs: A\n  B\nTraining: a\n  b", 0, quiet)
    assert isinstance(continued, Draft) and (continued.tickets, continued.training) == (["A", "B"], "a b")
    for refused in ("Merge branch 'x'", "Revert \"feat: x\"", "feat: x\n\nBREAKING CHANGE: y", "feat: x\r\n",
                    "feat: x\n# comment", "feat: x\n\n* feat: a\n* fix: b", " feat: x",
                    "fix: x\n\n(cherry picked from commit 0123456)"):
        assert plain_draft("a" * 40, refused, 0, quiet) is None, refused

    reading = RangeReading(NotesSettings(), "production", {})
    reading.read(CommitBatch.from_commits(chain("feat: a", "chore: b", "fix: c\n\nRefs: T-1")))
    assert not reading.changes  # no commit needed the general path
    assert [d.text for d in reading.newest_first[::-1]] == ["A", "C"] and len(reading.quiet) == 1  # type: ignore[union-attr]
    ruled = range_rules(reading, NotesSettings(), "production", {})
    assert ruled is not None and [d.text for d in ruled.every] == ["A", "C"]
    merged = RangeReading(NotesSettings(), "production", {})
    merged.read(CommitBatch.from_commits([RawCommit(_sha(2), (_sha(1), _sha(0)), "feat: m"),
                                          *chain("fix: b")]))
    assert list(merged.changes) == [0]  # a merge: the general path reads it


TEXTS = st.one_of(st.text(), st.text(st.sampled_from(list("abzAZ \t\n\xa0\u2028\u3000é1.-")), max_size=12))


@given(TEXTS)
@settings(max_examples=1000)
def test_text_shortcuts_give_what_the_plain_definitions_give(text: str) -> None:
    """entries.one_line and upper_first take shortcuts for the usual text (see their comments)."""
    assert one_line(text) == " ".join(text.split())
    end = text.find(" ")
    first = text if end < 0 else text[:end]
    lower_word = "a" <= text[:1] <= "z" and first.isascii() and first.isalpha() and first.islower()
    assert upper_first(text) == (text[0].upper() + text[1:] if lower_word else text)


def test_a_real_repository_read_in_batches_gives_the_oracles_notes(repo: GitRepo) -> None:
    """Through notes.history.gitlog's batches, on a real history: a line, a merge, a revert, a pick."""
    repo.commit("feat(ui): dark mode (#12)\n\nWhy.\n\nRefs: HOS-1\nSigned-off-by: D <d@example.org>\n")
    repo.commit("chore: bump deps")
    fix = repo.commit("fix: keep night shifts\n\nTraining: 5 minutes")
    settings_ = NotesSettings(ticket_url="https://t.example.org/{ticket}")
    lined = RangeReading(settings_, "production", {})
    for batch in iter_commits(repo.path, "main").batches():
        lined.read(batch)
    assert not lined.changes  # every commit through the lane
    repo.branch("topic")
    repo.commit("feat: on topic")
    repo.checkout("main")
    repo.revert(fix)
    repo.cherry_pick(repo.head("topic"))
    repo.merge("topic", "Merge branch 'topic'")
    for audience in AUDIENCES:
        expected = oracle_notes(list(iter_commits(repo.path, "main")), settings_, audience)
        assert collect(iter_commits(repo.path, "main"), settings_, audience) == expected
        partly = iter_commits(repo.path, "main")
        newest = next(partly)  # a log already read in part: the rest, in batches
        rest = oracle_notes(list(iter_commits(repo.path, "main"))[1:], settings_, audience)
        assert collect(partly, settings_, audience) == rest and newest.message.startswith("Merge")


def test_a_merged_pull_request_is_decided_without_reading_its_branch_again() -> None:
    """Only the merge goes through the general path; its branch commits' lane drafts are absorbed."""
    base = RawCommit(_sha(0), (), "feat: base")
    one = RawCommit(_sha(1), (_sha(0),), "fix: on branch\n\nRefs: HOS-4")
    two = RawCommit(_sha(2), (_sha(1),), "chore: tidy\n\nTraining: 5 minutes")
    merge = RawCommit(_sha(3), (_sha(0), _sha(2)),
                      "Merge pull request #7 from org/b\n\nfeat(rota): swap shifts")
    reading = RangeReading(NotesSettings(), "production", {})
    reading.read(CommitBatch.from_commits([merge, two, one, base]))
    assert list(reading.changes) == [0]  # the merge alone was read in full
    ruled = range_rules(reading, NotesSettings(), "production", {})
    assert ruled is not None
    assert [(d.text, d.shas, d.tickets, d.training) for d in ruled.every] == [
        ("Base", [_sha(0)], [], None), ("Swap shifts", [_sha(3), _sha(1), _sha(2)], ["HOS-4"], "5 minutes")]
    skewed = RangeReading(NotesSettings(), "production", {})
    skewed.read(CommitBatch.from_commits([merge, two, base, one]))  # a parent listed before its child
    assert range_rules(skewed, NotesSettings(), "production", {}) is None
    for audience in AUDIENCES:  # collect then reads it again in a topological order
        assert collect([merge, two, base, one], NotesSettings(), audience) == oracle_notes(
            [merge, two, base, one], NotesSettings(), audience)
