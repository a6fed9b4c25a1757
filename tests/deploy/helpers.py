"""Test helpers: artifacts built by hand (including malicious ones a build would never make)."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Callable
from pathlib import Path

from releases.hosts.hostspec import HostSpec

HostFactory = Callable[..., HostSpec]  # makes a host with a fresh deploy directory


def build_artifact(path: Path, files: dict[str, bytes], *,
                   executable: set[str] | frozenset[str] = frozenset(),
                   extra: list[tarfile.TarInfo] | None = None) -> Path:
    """Write a tar.gz with `files` (and their directories) plus raw `extra` members, in that order."""
    with gzip.GzipFile(path, "wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:  # same bytes every time
        dirs: set[str] = set()
        for name in sorted(files):
            parts = name.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth])
                if directory not in dirs:
                    dirs.add(directory)
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            data = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755 if name in executable else 0o644
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, *, linkname: str = "", mode: int = 0o644,
           size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.size = kind, linkname, mode, size
    return info
