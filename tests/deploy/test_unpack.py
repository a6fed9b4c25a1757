"""Artifacts built by hand, the way an attacker or a broken build script would, are refused by name."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest

from releases.errors import ArtifactError, UnsafeArchiveError
from releases.hosts.unpack import check_archive, check_members

from .helpers import build_artifact, member

SYM, LNK = tarfile.SYMTYPE, tarfile.LNKTYPE


def test_a_sound_artifact_passes_and_its_digest_covers_every_byte(tmp_path: Path) -> None:
    path = build_artifact(tmp_path / "good.tar.gz", {"VERSION": b"2026.4.0+b1\n", "app/index.html": b"hi"},
                          extra=[member("app/latest", SYM, linkname="index.html"),
                                 member("bin", tarfile.DIRTYPE, mode=0o755),
                                 member("bin/page", SYM, linkname="../app/index.html"),
                                 member("app/copy", LNK, linkname="app/index.html")])
    checked = check_archive(path)
    assert checked.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert checked.size == path.stat().st_size
    assert (checked.entries, checked.unpacked_bytes) == (7, 14)
    assert check_archive(path, checked.sha256) == checked


def test_a_digest_other_than_expected_is_refused(tmp_path: Path) -> None:
    path = build_artifact(tmp_path / "a.tar.gz", {"VERSION": b"1"})
    with pytest.raises(ArtifactError, match=r"a\.tar\.gz has sha256 [0-9a-f]{12}…, expected 000000000000…"):
        check_archive(path, "0" * 64)


@pytest.mark.parametrize(("extra", "message"), [
    ([member("../evil")], "entry '../evil' has a '..' component in its path '../evil'"),
    ([member("app/../../evil")], "entry 'app/../../evil' has a '..' component"),
    ([member("/etc/cron.d/evil")], "entry '/etc/cron.d/evil' has an absolute path"),
    ([member("passwd", SYM, linkname="/etc/passwd")],
     "entry 'passwd' is a symlink to the absolute path '/etc/passwd', outside the release directory"),
    ([member("up", SYM, linkname="../../outside")], "entry 'up' is a symlink to '../../outside', outside"),
    ([member("app/up", SYM, linkname="../..")], "entry 'app/up' is a symlink to '../..', outside"),
    ([member("here", SYM, linkname="."), member("escape", SYM, linkname="here/..")],
     "entry 'escape' is a symlink to 'here/..', outside"),
    ([member("a", SYM, linkname="app"), member("a/evil")],
     "entry 'a/evil' lies beneath 'a', which is not a directory"),
    ([member("shadow", LNK, linkname="/etc/shadow")], "entry 'shadow' has an absolute hardlink target"),
    ([member("up", LNK, linkname="../x")], "entry 'up' has a '..' component in its hardlink target"),
    ([member("later", LNK, linkname="app/nothing")],
     "entry 'later' is a hardlink to 'app/nothing', which is not"),
    ([member("tty", tarfile.CHRTYPE)], "entry 'tty' is a device file"),
    ([member("disk", tarfile.BLKTYPE)], "entry 'disk' is a device file"),
    ([member("pipe", tarfile.FIFOTYPE)], "entry 'pipe' is a fifo"),
    ([member("app/su", mode=0o4755)], "entry 'app/su' is setuid or setgid"),
    ([member("VERSION")], "entry 'VERSION' appears twice"),
    ([member("./VERSION")], "entry './VERSION' appears twice"),
])
def test_unsafe_entries_are_refused_by_name(tmp_path: Path, extra: list[tarfile.TarInfo],
                                            message: str) -> None:
    path = build_artifact(tmp_path / "bad.tar.gz", {"VERSION": b"1\n", "app/index.html": b"hi"}, extra=extra)
    with pytest.raises(UnsafeArchiveError) as caught:
        check_archive(path)
    assert message in str(caught.value)
    assert str(caught.value).endswith("refusing to unpack it")
    assert "rebuild the artifact" in (caught.value.hint or "")


def test_symlinks_are_followed_through_each_other_like_the_kernel_would() -> None:
    deep = [member("sub", tarfile.DIRTYPE), member("sub/deeper", tarfile.DIRTYPE),
            member("d", SYM, linkname="sub/deeper")]
    # sub/deeper/../.. is the release root itself: inside
    assert check_members([*deep, member("e", SYM, linkname="d/../..")]).entries == 4
    with pytest.raises(UnsafeArchiveError, match=r"'f' is a symlink to 'd/\.\./\.\./\.\.', outside"):
        check_members([*deep, member("f", SYM, linkname="d/../../..")])
    with pytest.raises(UnsafeArchiveError, match="symlink loop"):
        check_members([member("x", SYM, linkname="y/z"), member("y", SYM, linkname="x/w")])


def test_damaged_or_missing_artifacts_are_errors(tmp_path: Path) -> None:
    bad = tmp_path / "not.tar.gz"
    bad.write_bytes(b"this is no gzip")
    with pytest.raises(ArtifactError, match=r"not\.tar\.gz is not a readable tar\.gz"):
        check_archive(bad)
    with pytest.raises(ArtifactError, match=r"missing\.tar\.gz does not exist"):
        check_archive(tmp_path / "missing.tar.gz")

