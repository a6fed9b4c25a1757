"""`quarterdeck build`: versions, numbering, reproducible artifacts, refusals."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import Project
from tests.support.gitrepo import GitRepo

# A fixed "now" in October 2026: the next push (months 2,5,8,11; second Saturday) is in November.
NOW = "2026-10-05T12:00:00+00:00"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)


def _members(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_build_versions_for_the_next_push_and_numbers_per_version(project: Project) -> None:
    first = project.ok("build", "--json").json()
    assert isinstance(first, dict)
    assert first["id"] == "2026.4.0+b1" and first["version"] == "2026.4.0"
    assert first["build_number"] == 1 and first["created"] is True
    assert first["commit"] == project.repo.head()
    project.repo.commit("fix: second change")
    second = project.ok("build", "--json").json()
    assert isinstance(second, dict)
    assert second["id"] == "2026.4.0+b2" and second["commit"] == project.repo.head()
    listed = project.ok("builds", "--json").json()
    assert [b["id"] for b in listed] == ["2026.4.0+b2", "2026.4.0+b1"]  # type: ignore[index]
    for item in listed:  # type: ignore[union-attr]
        assert {"id", "version", "build_number", "commit", "sha256", "size", "created_at"} <= set(item)


def test_after_the_november_push_builds_are_for_the_next_quarter(project: Project,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", "2026-11-20T12:00:00+00:00")
    built = project.ok("build", "--json").json()
    assert built["version"] == "2027.1.0"  # type: ignore[index]
    listed = " ".join(project.ok("builds").out.split())
    assert "2026-11-20 12:00 UTC" in listed  # a time without its zone would be read as local


def test_rebuilding_the_same_commit_is_detected(project: Project) -> None:
    first = project.ok("build", "--json").json()
    again = project.ok("build", "--json").json()
    assert again["created"] is False and again["id"] == first["id"]  # type: ignore[index]
    text = project.ok("build")
    assert "already built" in text.out and "2026.4.0+b1" in text.out
    assert len(project.ok("builds", "--json").json()) == 1  # type: ignore[arg-type]
    assert len(list((project.root / ".quarterdeck/artifacts").glob("*.tar.gz"))) == 1


def test_artifact_contents_version_file_and_digest(project: Project) -> None:
    build = project.ok("build", "--json").json()
    artifact = project.root / ".quarterdeck/artifacts" / f"{build['sha256']}.tar.gz"  # type: ignore[index]
    data = artifact.read_bytes()
    assert hashlib.sha256(data).hexdigest() == build["sha256"]  # type: ignore[index]
    assert len(data) == build["size"]  # type: ignore[index]
    members = _members(artifact)
    assert sorted(members) == list(members), "entries are sorted"
    assert {"README.md", "app/main.py", "bin/start", "VERSION"} <= set(members)
    assert all(m.uid == 0 and m.gid == 0 and m.uname == "" for m in members.values())
    assert members["bin/start"].mode == 0o755 and members["README.md"].mode == 0o644
    assert data[4:8] == b"\x00\x00\x00\x00", "gzip header carries no timestamp"
    with tarfile.open(artifact) as tar:
        version = tar.extractfile("VERSION").read().decode()  # type: ignore[union-attr]
    assert version == (f"BUILD=2026.4.0+b1\nVERSION=2026.4.0\nCOMMIT={project.repo.head()}\n")


def test_two_clean_directories_give_byte_identical_artifacts(tmp_path: Path, app_repo: GitRepo,
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    digests = []
    for name in ("one", "two"):
        root = tmp_path / name
        root.mkdir()
        monkeypatch.chdir(root)
        proj = Project(root, app_repo, capsys)
        proj.ok("init", "--repo", str(app_repo.path))
        digests.append(proj.ok("build", "--json").json()["sha256"])  # type: ignore[index]
    assert digests[0] == digests[1]
    one = (tmp_path / "one/.quarterdeck/artifacts" / f"{digests[0]}.tar.gz").read_bytes()
    two = (tmp_path / "two/.quarterdeck/artifacts" / f"{digests[1]}.tar.gz").read_bytes()
    assert one == two


def test_build_command_output_is_packed(project: Project) -> None:
    project.repo.write("Makefile", "dist:\n\tmkdir -p out && cp -r app out/ && echo built > out/stamp\n")
    project.repo.commit("build: add a dist target", {})
    text = project.config.read_text().replace('command = ""', 'command = "make -s dist"', 1)
    project.config.write_text(text.replace('output = ""', 'output = "out"', 1))
    build = project.ok("build", "--json").json()
    members = _members(project.root / ".quarterdeck/artifacts" / f"{build['sha256']}.tar.gz")  # type: ignore[index]
    assert set(members) == {"app", "app/main.py", "stamp", "VERSION"}
    assert build["build_command"] == "make -s dist"  # type: ignore[index]


def test_failing_build_command_records_nothing(project: Project) -> None:
    text = project.config.read_text().replace('command = ""', 'command = "echo broken >&2; exit 3"', 1)
    project.config.write_text(text)
    result = project.run("build")
    assert result.code == 1
    assert "failed with exit code 3" in result.err and "broken" in result.err
    assert project.ok("builds", "--json").json() == []


def test_unknown_ref_and_dirty_tree_are_refused(project: Project) -> None:
    result = project.run("build", "--ref", "no-such-branch")
    assert result.code == 1
    assert "ref 'no-such-branch' is not known" in result.err
    (project.repo.path / "README.md").write_text("edited but not committed\n")
    result = project.run("build")
    assert result.code == 1
    assert "has uncommitted changes on main (README.md)" in result.err
    assert project.ok("builds", "--json").json() == []
    # a named ref is built from its commit, whatever lies in the working tree
    project.repo.git("tag", "v-test")
    assert project.ok("build", "--ref", "v-test", "--json").json()["id"] == "2026.4.0+b1"  # type: ignore[index]


def test_hotfix_from_release_branch(project: Project) -> None:
    project.repo.git("checkout", "-q", "-b", "release/2026.3")
    project.repo.commit("fix: urgent dosage rounding fix")
    build = project.ok("build", "--ref", "release/2026.3", "--json").json()
    assert build["version"] == "2026.3.0" and build["branch"] == "release/2026.3"  # type: ignore[index]


def test_artifact_store_verifies_digest_when_reading(project: Project, tmp_path: Path) -> None:
    from releases.artifacts.artifact import ArtifactStore
    from releases.errors import ArtifactError

    build = project.ok("build", "--json").json()
    store = ArtifactStore(project.root / ".quarterdeck/artifacts")
    path = store.verified(build["sha256"])  # type: ignore[index]
    os.chmod(path, 0o644)
    with path.open("r+b") as handle:
        handle.seek(100)
        handle.write(b"X")
    with pytest.raises(ArtifactError, match="is damaged"):
        store.verified(build["sha256"])  # type: ignore[index]
    with pytest.raises(ArtifactError, match="is missing"):
        store.verified("0" * 64)


def test_unsafe_build_output_is_refused(tmp_path: Path) -> None:
    from releases.artifacts.artifact import pack_tar
    from releases.errors import ArtifactError

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("dev/null0")
        info.type = tarfile.CHRTYPE
        tar.addfile(info)
    raw.seek(0)
    with tarfile.open(fileobj=raw) as src, pytest.raises(ArtifactError, match="dev/null0"):
        pack_tar(src, io.BytesIO(), mtime=0, version_text="x")


def test_concurrent_builds_never_share_a_number(project: Project) -> None:
    """Two processes started together, building two different commits, get two numbers."""
    first = project.repo.head()
    second = project.repo.commit("feat: another change")
    procs = [
        subprocess.Popen([sys.executable, "-m", "pipeline", "--config", str(project.config), "build",
                          "--ref", ref, "--json"], cwd=project.root, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
        for ref in (first, second)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    import json

    numbers = sorted(json.loads(out)["build_number"] for out, _ in outputs)
    assert numbers == [1, 2]


def _use_build_command(project: Project, command: str, output: str) -> None:
    text = project.config.read_text().replace('command = ""', f"command = {json.dumps(command)}", 1)
    project.config.write_text(text.replace('output = ""', f"output = {json.dumps(output)}", 1))


@pytest.mark.parametrize("output", ["/etc", "..", "out/../../.."])
def test_a_build_output_outside_the_checkout_is_refused_by_the_configuration(project: Project,
                                                                             output: str) -> None:
    _use_build_command(project, "true", output)
    for argv in (("config", "check"), ("build",)):
        result = project.run(*argv)
        assert result.code == 1, result.out
        said = " ".join(result.err.split())
        assert f"build.output: {output!r} is outside the build's checkout" in said
    assert not (project.root / ".quarterdeck/artifacts").exists() or not list(
        (project.root / ".quarterdeck/artifacts").glob("*.tar.gz"))


def test_a_build_output_that_leaves_the_checkout_through_a_symlink_is_refused(project: Project,
                                                                             tmp_path: Path) -> None:
    secrets = tmp_path / "build-machine-secrets"
    secrets.mkdir()
    (secrets / "shadow").write_text("root:$6$hash\n")
    os.symlink(secrets, project.repo.path / "dist")  # committed: git stores the link itself
    project.repo.commit("build: dist is a link", {})
    _use_build_command(project, "true", "dist")
    project.ok("config", "check")
    result = project.run("build")
    assert result.code == 1
    said = " ".join(result.err.split())
    assert "build.output: 'dist' is outside the build's checkout" in said
    assert "unexpected" not in said
    assert project.ok("builds", "--json").json() == []
    assert not list((project.root / ".quarterdeck/artifacts").glob("*.tar.gz"))


def test_a_commit_without_files_is_refused_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    repo = GitRepo(tmp_path / "empty-app")
    repo.git("commit", "-q", "--allow-empty", "-m", "chore: start the repository")
    root = tmp_path / "home"
    root.mkdir()
    monkeypatch.chdir(root)
    proj = Project(root, repo, capsys)
    proj.ok("init", "--repo", str(repo.path))
    result = proj.run("build")
    assert result.code == 1
    said = " ".join(result.err.split())
    assert f"commit {repo.head()[:12]} (main) has no files: there is nothing to build" in said
    assert "git commit --allow-empty" in said and "unexpected" not in said
    assert proj.ok("builds", "--json").json() == []
    assert proj.ok("log", "verify").code == 0


def test_a_build_command_that_leaves_its_output_empty_is_refused(project: Project) -> None:
    _use_build_command(project, "mkdir -p out", "out")
    result = project.run("build")
    assert result.code == 1
    said = " ".join(result.err.split())
    assert "the build command left nothing in build.output 'out'" in said and "unexpected" not in said
    assert project.ok("builds", "--json").json() == []


def test_hard_links_in_the_build_output_are_stored_as_files(project: Project) -> None:
    _use_build_command(project, "mkdir -p out && echo shared > out/a && ln out/a out/b", "out")
    build = project.ok("build", "--json").json()
    artifact = project.root / ".quarterdeck/artifacts" / f"{build['sha256']}.tar.gz"  # type: ignore[index]
    members = _members(artifact)
    assert members["a"].isreg() and members["b"].isreg()
    with tarfile.open(artifact) as tar:
        assert [tar.extractfile(n).read() for n in ("a", "b")] == [b"shared\n"] * 2  # type: ignore[union-attr]


def test_a_nul_in_the_commit_subject_keeps_the_text_after_it(project: Project) -> None:
    """git refuses to write such a commit, so it is written as raw object bytes, as other tools can."""
    tree, parent = project.repo.git("write-tree"), project.repo.head()
    raw = (f"tree {tree}\nparent {parent}\nauthor Ada <ada@example.org> 1780000000 +0000\n"
           f"committer Ada <ada@example.org> 1780000000 +0000\n\nfix: dosage\0rounding in the census\n")
    made = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--literally", "--stdin"],
                          cwd=project.repo.path, input=raw.encode(), capture_output=True, check=True)
    project.repo.git("update-ref", "refs/heads/main", made.stdout.decode().strip())
    build = project.ok("build", "--json").json()
    assert build["subject"] == "fix: dosage\ufffdrounding in the census"  # type: ignore[index]
    shown = project.ok("show", "latest")
    assert "\0" not in shown.out and "rounding in the census" in shown.out


def test_the_version_file_names_its_build_and_one_without_a_build_is_refused() -> None:
    from releases.artifacts.builds import build_in_version_file, version_file
    from releases.artifacts.version import BuildId
    from releases.errors import ReleasesError

    written = version_file(BuildId.parse("2027.1.0+b3"), "a" * 40)
    assert build_in_version_file(written) == "2027.1.0+b3"
    for broken in ("", "VERSION=2027.1.0\nCOMMIT=abc\n", "BUILD=\n"):
        with pytest.raises(ReleasesError, match="the VERSION file names no BUILD"):
            build_in_version_file(broken)
