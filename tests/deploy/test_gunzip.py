"""The host-side gunzip filter: zlib through python3 when the host has it, gzip otherwise, with the
same verdict as `tar --gzip` on every artifact, sound or damaged."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from releases.hosts.hostspec import HostSpec
from releases.hosts.install import Commands, InstallJob, install_host
from releases.hosts.remote import Remote
from releases.hosts.unpack import CheckedArtifact, extract_argv

from .helpers import HostFactory

Opener = Callable[[HostSpec], Remote]
PAYLOAD = os.urandom(3_000_000)


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


TAR = _tar({"VERSION": b"2026.4.0+b1\n", "data/blob.bin": PAYLOAD})
GOOD = gzip.compress(TAR, mtime=0)
VARIANTS = {
    "one member": (GOOD, True),
    "two members": (gzip.compress(TAR[:1000], mtime=0) + gzip.compress(TAR[1000:], mtime=0), True),
    "zero padding after the data": (GOOD + bytes(100), True),
    "data after the tar's end": (gzip.compress(TAR + os.urandom(500_000), mtime=0), True),
    "very compressible (output far beyond one read)": (
        gzip.compress(_tar({"VERSION": b"x\n", "log.txt": b"abc" * 5_000_000}), compresslevel=9), True),
    "truncated": (GOOD[:-100], False),
    "length field cut off": (GOOD[:-4], False),
    "CRC damaged": (GOOD[:-8] + bytes([GOOD[-8] ^ 1]) + GOOD[-7:], False),
    "garbage after the data": (GOOD + b"garbage!", False),
    "zeros, then garbage": (GOOD + bytes(64) + b"x", False),
    "empty file": (b"", False),
}


def _extract(remote: Remote, archive: Path, into: Path, argv: list[str]) -> tuple[bool, bytes | None]:
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir()
    ok = remote.run(argv, timeout=60).ok
    blob = into / "data" / "blob.bin"
    return ok, blob.read_bytes() if ok and blob.exists() else None


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_filter_agrees_with_tar_gzip(variant: str, host: HostFactory, remote_of: Opener,
                                         tmp_path: Path) -> None:
    data, sound = VARIANTS[variant]
    spec = host()
    remote = remote_of(spec)
    archive = Path(spec.path, "a.tar.gz")
    archive.write_bytes(data)
    ours = _extract(remote, archive, Path(spec.path, "ours"), extract_argv(str(archive), f"{spec.path}/ours"))
    reference = _extract(remote, archive, Path(spec.path, "ref"),
                         ["tar", "--extract", "--gzip", "--file", str(archive), "--directory",
                          f"{spec.path}/ref", "--no-same-owner"])
    assert ours[0] is sound
    assert ours == reference
    if sound and "compressible" not in variant:
        assert ours[1] == PAYLOAD


def _tools_without(tmp_path: Path, missing: tuple[str, ...], broken: tuple[str, ...] = ()) -> str:
    """A PATH holding the few programs an install needs, minus `missing`; `broken` ones exit 1."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sh", "tar", "gzip", "sha256sum", "openssl", "python3", "rm", "test", "env"):
        if name in missing:
            continue
        if name in broken:
            (bin_dir / name).write_text("#!/bin/sh\necho broken >&2\nexit 1\n")
            (bin_dir / name).chmod(0o755)
            continue
        real = shutil.which(name, path="/usr/bin:/bin")
        if real is not None:
            (bin_dir / name).symlink_to(real)
    return str(bin_dir)


@pytest.mark.parametrize(("missing", "broken"), [
    (("python3", "openssl"), ()),
    ((), ("python3", "openssl")),
])
def test_hosts_without_python3_or_openssl_install_the_same(
        missing: tuple[str, ...], broken: tuple[str, ...], local_host: HostFactory, remote_of: Opener,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        artifact: Callable[..., CheckedArtifact]) -> None:
    built = artifact("2026.4.0+b1", {"data/blob.bin": PAYLOAD})
    monkeypatch.setenv("PATH", _tools_without(tmp_path, missing, broken))
    spec = local_host()
    remote = remote_of(spec)
    stored = f"{spec.path}/stored.tar.gz"
    shutil.copyfile(built.path, stored)
    assert remote.sha256(stored) == built.sha256  # sha256sum when openssl is absent or fails
    job = InstallJob("2026.4.0+b1", built, (), Commands(health_check="test -f VERSION"))
    result = install_host(remote, job)
    assert (result.state, result.error) == ("verified", None)
    assert Path(spec.path, "current", "data", "blob.bin").read_bytes() == PAYLOAD
    assert remote.sha256(f"{spec.path}/nothing-here") is None
