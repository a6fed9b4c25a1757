"""Which releases a host keeps: never the running one, never the last verified one."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from releases.errors import DeployError
from releases.hosts.hostspec import HostSpec
from releases.hosts.remote import Remote
from releases.hosts.retention import archives_to_remove, choose_removals, prune_host

from .helpers import HostFactory

RELEASES = ["2026.3.0+b2", "2026.4.0+b9", "2026.4.0+b10", "2026.3.1+b1", "2026.4.1+b1"]


def test_the_newest_are_kept_in_build_order() -> None:
    plan = choose_removals(RELEASES, 2, running="2026.4.1+b1", last_verified="2026.4.1+b1")
    assert plan.keep == ("2026.4.1+b1", "2026.4.0+b10")  # b10 is newer than b9
    assert plan.remove == ("2026.3.0+b2", "2026.3.1+b1", "2026.4.0+b9")  # oldest first


def test_the_running_and_last_verified_releases_are_never_removed() -> None:
    plan = choose_removals(RELEASES, 1, running="2026.3.0+b2", last_verified="2026.3.1+b1")
    assert plan.keep == ("2026.3.1+b1", "2026.3.0+b2")
    assert plan.remove == ("2026.4.0+b9", "2026.4.0+b10", "2026.4.1+b1")
    plan = choose_removals(RELEASES, 3, running="2026.3.0+b2", last_verified=None)
    assert plan.keep == ("2026.4.1+b1", "2026.4.0+b10", "2026.3.0+b2")


def test_directories_that_are_not_releases_are_left_alone() -> None:
    plan = choose_removals([*RELEASES, "manual-backup", ".2026.4.2+b1.tmp-abc"], 1, running=None,
                           last_verified=None)
    assert plan.ignored == ("manual-backup",)
    assert "manual-backup" not in plan.remove and ".2026.4.2+b1.tmp-abc" not in plan.remove
    with pytest.raises(DeployError, match="keep = 0: a host must keep at least one release"):
        choose_removals(RELEASES, 0, running=None, last_verified=None)


def test_prune_host_reads_the_running_release_from_the_host(host: HostFactory,
                                                            remote_of: Callable[[HostSpec], Remote]) -> None:
    spec = host()
    releases = Path(spec.path, "releases")
    for name in [*RELEASES, "manual-backup"]:
        (releases / name).mkdir(parents=True)
        (releases / name / "VERSION").write_text(name)
    os.symlink("releases/2026.3.0+b2", Path(spec.path, "current"))
    result = prune_host(remote_of(spec), 2, last_verified="2026.4.0+b9", digests={})
    assert result.removed == ("2026.3.1+b1", "2026.4.0+b10", "2026.4.1+b1")
    assert result.kept == ("2026.4.0+b9", "2026.3.0+b2")
    assert sorted(os.listdir(releases)) == ["2026.3.0+b2", "2026.4.0+b9", "manual-backup"]


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def test_only_the_archives_of_kept_releases_are_kept() -> None:
    digests = {name: _digest(name) for name in RELEASES}
    archives = [f"{d}.tar.gz" for d in digests.values()] + [
        f"{_digest('unknown')}.tar.gz", f".{_digest('x')}.tar.gz.part-1a2b", "notes.txt"]
    gone = archives_to_remove(archives, ("2026.4.1+b1", "2026.4.0+b10"), digests)
    assert set(gone) == {f"{digests[n]}.tar.gz" for n in ("2026.3.0+b2", "2026.4.0+b9", "2026.3.1+b1")} | {
        f"{_digest('unknown')}.tar.gz"}
    assert f"{digests['2026.4.1+b1']}.tar.gz" not in gone and "notes.txt" not in gone


def test_prune_host_removes_the_archives_with_their_releases(host: HostFactory,
                                                             remote_of: Callable[[HostSpec], Remote]) -> None:
    """A host with keep = 3 once held 3 releases and 16 archives: archives follow their releases."""
    spec = host()
    root = Path(spec.path)
    digests = {}
    for name in RELEASES:
        (root / "releases" / name).mkdir(parents=True)
        digests[name] = _digest(name)
        (root / "artifacts").mkdir(exist_ok=True)
        (root / "artifacts" / f"{digests[name]}.tar.gz").write_bytes(b"archive of " + name.encode())
    (root / "artifacts" / f".{digests['2026.4.1+b1']}.tar.gz.part-0f0f").write_bytes(b"half")
    os.symlink("releases/2026.4.1+b1", root / "current")
    result = prune_host(remote_of(spec), 3, last_verified="2026.4.1+b1", digests=digests)
    assert result.kept == ("2026.4.1+b1", "2026.4.0+b10", "2026.4.0+b9")
    left = sorted(os.listdir(root / "artifacts"))
    assert left == sorted([f"{digests[n]}.tar.gz" for n in result.kept]
                          + [f".{digests['2026.4.1+b1']}.tar.gz.part-0f0f"])
    assert len(result.archives_removed) == 2
