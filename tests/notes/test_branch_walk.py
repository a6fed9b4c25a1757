"""`history.branch_commits` gives each merge the branch the plain definition gives.

A merge's branch is what its other parents reach inside the range and its
first parent does not; the heap walk stops as soon as it has proved that,
so generated graphs mix the shapes where stopping early could go wrong:
pull requests forked at the first parent, long-lived branches the main line
passed, branches forked from branches, merges on branches, criss-cross and
octopus merges, merges of merges, duplicate parents, roots, parents outside
the range, and log orders other than creation order. `rangewide.log_ranks`
and `history.absorbed_by` take shortcuts too; they are compared with their
plain definitions here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notes.collect.rangewide import log_ranks
from notes.history.gitlog import iter_commits
from notes.history.graph import _absorbed_by_size, absorbed_by, branch_commits

from .gitrepo import GitRepo

Graph = list[tuple[str, tuple[str, ...]]]  # (id, parent ids), newest first


def _sha(n: int) -> str:
    return hashlib.sha1(str(n).encode()).hexdigest()


OUTSIDE = ("f" * 40, "e" * 40)  # parents below the range


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    """A commit graph grown from heads (tips of branches), then listed in a topological order."""
    count = draw(st.integers(1, 40))
    made: list[tuple[str, ...]] = []  # parents by creation number
    heads: list[int | str | None] = [draw(st.sampled_from([None, *OUTSIDE]))]  # head 0: the main line
    for n in range(count):
        step = draw(st.sampled_from(["commit"] * 6 + ["fork"] * 2 + ["merge"] * 4 + [
            "octopus", "root", "criss-cross", "twice", "any"]))
        h = draw(st.integers(0, len(heads) - 1))
        tip = heads[h]
        parents: tuple[str, ...] = () if tip is None else (tip if isinstance(tip, str) else _sha(tip),)
        if step == "fork" and made:
            heads.append(draw(st.integers(0, n - 1)))  # a branch from any commit so far
            h = len(heads) - 1
            parents = (_sha(heads[h]),)  # type: ignore[arg-type]
        elif step in ("merge", "octopus") and len(heads) > 1:
            if draw(st.booleans()):  # a pull request merged into the main line, the usual merge
                h, tip = 0, heads[0]
                parents = () if tip is None else (tip if isinstance(tip, str) else _sha(tip),)
            choices = [g for g in range(len(heads)) if g != h]
            others = draw(st.lists(st.sampled_from(choices), min_size=1,
                                   max_size=1 if step == "merge" else 3, unique=True))
            for g in others:
                other = heads[g]
                if other is not None:
                    parents += (other if isinstance(other, str) else _sha(other),)
            if draw(st.booleans()):  # the merged branch is done with
                heads = [head for g, head in enumerate(heads) if g not in others or g == 0]
                h = min(h, len(heads) - 1)
        elif step == "root":
            parents = ()
        elif step == "criss-cross" and made:
            parents += (_sha(draw(st.integers(0, n - 1))),)  # any older commit as another parent
        elif step == "twice" and parents:
            parents += parents[:1]
        elif step == "any" and made:
            parents = tuple(_sha(p) for p in draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3)))
        made.append(parents)
        if h >= len(heads):
            heads.append(n)
        else:
            heads[h] = n
    return _listed(draw, made)


def _listed(draw: st.DrawFn, made: list[tuple[str, ...]]) -> Graph:
    """The commits newest first: creation order reversed, or another order with children first."""
    children: dict[int, int] = dict.fromkeys(range(len(made)), 0)
    number = {_sha(n): n for n in range(len(made))}
    for parents in made:
        for parent in parents:
            if parent in number:
                children[number[parent]] += 1
    if draw(st.booleans()):
        order = list(range(len(made) - 1, -1, -1))
    else:
        order = []
        ready = sorted(n for n, c in children.items() if c == 0)
        while ready:
            n = ready.pop(draw(st.integers(0, len(ready) - 1)))
            order.append(n)
            for parent in made[n]:
                if parent in number:
                    children[number[parent]] -= 1
                    if children[number[parent]] == 0:
                        ready.append(number[parent])
    return [(_sha(n), made[n]) for n in order]


def _columns(graph: Graph) -> tuple[list[str], list[str], dict[str, int]]:
    shas = [sha for sha, _ in graph]
    lines = [" ".join(parents) for _, parents in graph]
    position = log_ranks(shas, lines)
    assert position is not None  # every order drawn lists children first
    return shas, lines, position


def _by_heap(graph: Graph, position: Mapping[str, int]) -> dict[str, set[str]]:
    parents = dict(graph)
    return {sha: branch_commits(sha, parents, position) for sha, own in graph if len(own) > 1}


def _reachable(start: str, parents: Mapping[str, tuple[str, ...]]) -> set[str]:
    """Commits of the range `start` reaches, itself included."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        sha = stack.pop()
        if sha in parents and sha not in seen:
            seen.add(sha)
            stack.extend(parents[sha])
    return seen


def _by_definition(graph: Graph) -> dict[str, set[str]]:
    """What each merge's other parents reach in the range, less what its first parent reaches."""
    parents = dict(graph)
    return {sha: set().union(*(_reachable(p, parents) for p in own[1:])) - _reachable(own[0], parents)
            for sha, own in graph if len(own) > 1}


@given(graphs())
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_every_merge_has_the_branch_the_definition_gives(graph: Graph) -> None:
    _, _, position = _columns(graph)
    assert _by_heap(graph, position) == _by_definition(graph)
    stranger = OUTSIDE[0]  # an id not in the range: no branch
    assert branch_commits(stranger, dict(graph), position) == set()


@given(graphs())
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_the_outermost_merge_owns_each_branch_commit_as_the_plain_definition_says(graph: Graph) -> None:
    _, _, position = _columns(graph)
    branches = _by_heap(graph, position)
    speaking = {sha: branch for n, (sha, branch) in enumerate(branches.items()) if n % 3 != 1}
    assert absorbed_by(speaking, position) == _absorbed_by_size(speaking, position)


@given(graphs(), st.data())
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_log_ranks_are_positions_exactly_when_every_parent_is_listed_after_its_child(
        graph: Graph, data: st.DataObject) -> None:
    listed = list(graph)
    if len(listed) > 1 and data.draw(st.booleans()):  # clock skew or a commit listed twice
        i = data.draw(st.integers(0, len(listed) - 2))
        if data.draw(st.booleans()):
            listed[i], listed[i + 1] = listed[i + 1], listed[i]
        else:
            listed[i + 1] = listed[i]
    shas = [sha for sha, _ in listed]
    lines = [" ".join(parents) for _, parents in listed]
    position = {sha: i for i, sha in enumerate(shas)}
    topological = len(position) == len(shas) and all(
        position.get(parent, len(shas)) > i for i, (_, parents) in enumerate(listed) for parent in parents)
    assert log_ranks(shas, lines) == (position if topological else None)


def test_pull_requests_of_a_real_repository_have_their_branches(repo: GitRepo) -> None:
    """GitHub flow, with a branch the main line passed and a branch forked from a branch."""
    repo.commit("feat: base")
    repo.branch("short")
    short = [repo.commit("fix: on short"), repo.commit("chore: tidy short")]
    repo.checkout("main")
    first = repo.merge("short", "Merge pull request #1 from org/short\n\nfix: short")
    repo.branch("long")
    long = [repo.commit("feat: on long")]
    repo.checkout("main")
    repo.commit("docs: main moves on")
    repo.branch("stacked", short[0])
    stacked = [repo.commit("feat: on stacked")]
    repo.checkout("main")
    second = repo.merge("long", "Merge pull request #2 from org/long\n\nfeat: long")
    third = repo.merge("stacked", "Merge pull request #3 from org/stacked\n\nfeat: stacked")
    commits = list(iter_commits(repo.path, "main"))
    graph = [(c.sha, c.parents) for c in commits]
    _, _, position = _columns(graph)
    assert _by_heap(graph, position) == {
        first: set(short), second: set(long), third: set(stacked)} == _by_definition(graph)
