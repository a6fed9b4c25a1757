"""After a production promotion: the release tag and the CHANGELOG commit (I/O).

Both are safe to repeat: an existing tag on the same commit, or a changelog
that already has the version, is success with nothing done; a tag of the same
name on another commit is an error, never a silent move.

The CHANGELOG commit is made with plumbing (a private index, `commit-tree`,
then a compare-and-swap `update-ref`), so it contains that one file and
nothing a person has staged, and fails instead of overwriting a branch that
moved meanwhile. When the branch is checked out, the file in the working
tree is brought up to date too, after checking it had no local edits.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import GitError
from ..history.gitlog import check_ref, git_env, resolve_commit
from ..render.changelog import prepend_changelog


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


@dataclass(frozen=True)
class TagResult:
    name: str
    commit: str
    created: bool  # False: the tag was already there, on this commit
    pushed: bool


@dataclass(frozen=True)
class ChangelogResult:
    path: str
    branch: str
    commit: str | None  # the new commit; None when the changelog already had this version
    pushed: bool


def tag_name(version: str) -> str:
    return f"v{version}"


def tag_release(repo: Path, version: str, commit: str, *, message: str | None = None, push: bool = False,
                remote: str = "origin", identity: Identity | None = None) -> TagResult:
    """Annotated tag vVERSION on `commit`; pushed to `remote` when asked."""
    name = tag_name(version)
    _git(repo, ["check-ref-format", f"refs/tags/{name}"], what=f"tag name {name!r}")
    target = resolve_commit(repo, commit, "build commit")
    existing = _maybe(repo, ["rev-parse", "--verify", "--quiet", f"refs/tags/{name}^{{commit}}"])
    if existing is not None and existing != target:
        raise GitError(f"tag {name} already exists on {existing[:12]}, "
                       f"not on the build's commit {target[:12]}",
                       hint="a released version's tag is never moved; check which build was promoted")
    created = existing is None
    if created:
        _git(repo, ["tag", "-a", "-m", message or f"Release {version}", name, target],
             env=_identity_env(identity), what=f"creating tag {name}")
    pushed = False
    if push:
        check_ref(remote, "remote")
        _git(repo, ["push", "--quiet", remote, f"refs/tags/{name}"], what=f"pushing tag {name} to {remote}")
        pushed = True
    return TagResult(name=name, commit=target, created=created, pushed=pushed)


def commit_changelog(repo: Path, section: str, version: str, *, branch: str, path: str = "CHANGELOG.md",
                     message: str | None = None, identity: Identity | None = None, push: bool = False,
                     remote: str = "origin") -> ChangelogResult:
    """Prepend `section` (see changelog.changelog_section) to `path` on `branch`, in a commit of its own."""
    ref = f"refs/heads/{branch}"
    _git(repo, ["check-ref-format", ref], what=f"branch name {branch!r}")
    if path.startswith(("/", "-")) or ".." in Path(path).parts:
        raise GitError(f"changelog path {path!r} is not a path inside the repository",
                       hint="use a relative path like CHANGELOG.md")
    old = resolve_commit(repo, ref, "branch")
    existing = _maybe(repo, ["cat-file", "blob", f"{old}:{path}"], strip=False)
    new_text = prepend_changelog(existing, section, version)
    if existing is not None and new_text == existing:
        return ChangelogResult(path=path, branch=branch, commit=None, pushed=False)

    checked_out = _checked_out(repo, ref)
    if checked_out and _maybe(repo, ["diff", "--quiet", "HEAD", "--", path]) is None:
        raise GitError(f"{path} has local changes in {repo}",
                       hint=f"commit or discard them, then run again; the {version} section was not added")
    if checked_out and existing is None and (repo / path).exists():
        raise GitError(f"{path} exists in {repo} but is not committed",
                       hint=f"commit or remove it, then run again; the {version} section was not added")
    blob = _git(repo, ["hash-object", "-w", "--stdin"], input_text=new_text, what="storing CHANGELOG")
    with tempfile.TemporaryDirectory() as scratch:
        index_env = {"GIT_INDEX_FILE": os.path.join(scratch, "index")}
        _git(repo, ["read-tree", old], env=index_env, what="reading the branch's tree")
        _git(repo, ["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"], env=index_env,
             what="staging CHANGELOG")
        tree = _git(repo, ["write-tree"], env=index_env, what="writing the tree")
    new = _git(repo, ["commit-tree", tree, "-p", old, "-m", message or f"docs(changelog): {version}"],
               env=_identity_env(identity), what="committing CHANGELOG")
    _git(repo, ["update-ref", "-m", f"quarterdeck: changelog for {version}", ref, new, old],
         what=f"moving {branch} (did it move meanwhile? run again)")
    if checked_out:
        _git(repo, ["checkout", "HEAD", "--", path], what=f"updating {path} in the working tree")
    pushed = False
    if push:
        check_ref(remote, "remote")
        _git(repo, ["push", "--quiet", remote, ref], what=f"pushing {branch} to {remote}")
        pushed = True
    return ChangelogResult(path=path, branch=branch, commit=new, pushed=pushed)


def _checked_out(repo: Path, ref: str) -> bool:
    if _git(repo, ["rev-parse", "--is-bare-repository"], what="inspecting the repository") == "true":
        return False
    return _maybe(repo, ["symbolic-ref", "-q", "HEAD"]) == ref


def _identity_env(identity: Identity | None) -> dict[str, str]:
    if identity is None:
        return {}
    return {"GIT_AUTHOR_NAME": identity.name, "GIT_AUTHOR_EMAIL": identity.email,
            "GIT_COMMITTER_NAME": identity.name, "GIT_COMMITTER_EMAIL": identity.email}


def _run(repo: Path, args: Sequence[str], env: dict[str, str] | None,
         input_text: str | None) -> subprocess.CompletedProcess[bytes]:
    full_env = git_env()
    full_env.update(env or {})
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, env=full_env, check=False,
                              input=input_text.encode("utf-8") if input_text is not None else None)
    except OSError as err:
        raise GitError(f"cannot run git for {repo}: {err}", hint="install git") from err


def _git(repo: Path, args: Sequence[str], *, what: str, env: dict[str, str] | None = None,
         input_text: str | None = None) -> str:
    done = _run(repo, args, env, input_text)
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
        raise GitError(f"{what} failed in {repo}: {detail}", hint="see git's message above")
    return done.stdout.decode("utf-8", "replace").strip()


def _maybe(repo: Path, args: Sequence[str], *, strip: bool = True) -> str | None:
    """stdout of a git query, or None when git says no (non-zero exit)."""
    done = _run(repo, args, None, None)
    if done.returncode != 0:
        return None
    out = done.stdout.decode("utf-8", "replace")
    return out.strip() if strip else out
