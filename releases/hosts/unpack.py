"""Proving an artifact safe to unpack before any host unpacks it.

The artifact is read here, entry by entry, while its sha256 is computed over
the very bytes being read. Each host later verifies that the uploaded file has
that same digest before its own `tar` runs, so the bytes checked here are the
bytes unpacked there, and the check runs once per rollout instead of once per
host. GNU tar on the host adds its own refusal of `..` and leading `/` as a
second line of defence.

Refused: absolute paths, `..` components, symlinks whose target (followed
through the archive's other symlinks, as the kernel would after unpacking)
leaves the release directory, hardlinks to anything but an earlier regular
file, entries placed beneath a symlink (writing through a link), device files,
fifos, setuid/setgid files and names that appear twice (which entry wins would
depend on the unpacker).
"""

from __future__ import annotations

import hashlib
import stat
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from releases.errors import ArtifactError, UnsafeArchiveError

CHUNK = 1 << 20
MAX_LINK_DEPTH = 40  # the kernel's own limit on nested symlinks
_HINT = "rebuild the artifact; entries that could land outside the release directory are never unpacked"


@dataclass(frozen=True)
class ArchiveSummary:
    entries: int
    unpacked_bytes: int


@dataclass(frozen=True)
class CheckedArtifact:
    """An artifact whose bytes (this digest) were read and found safe to unpack."""

    path: Path
    sha256: str
    size: int
    entries: int
    unpacked_bytes: int


def _refuse(entry: str, reason: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(f"artifact entry {entry!r} {reason}; refusing to unpack it", hint=_HINT)


def _clean_parts(name: str, entry: str, what: str = "path") -> list[str]:
    """Split an archive path; refuse absolute paths and `..` wherever they appear."""
    if name.startswith("/"):
        raise _refuse(entry, f"has an absolute {what} {name!r}")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse(entry, f"has a '..' component in its {what} {name!r}")
    return parts


def _walk(start: list[str], target: str, links: dict[str, str], entry: str,
          depth: int = 0) -> list[str] | None:
    """Follow `target` from directory `start` through the archive's symlinks, as the kernel would
    after unpacking; the path reached, or None if the walk leaves the release directory.

    Lexical normalisation is not enough: with `a -> .` inside, `b -> a/..`
    looks harmless as text but points at the parent of the release.
    """
    if depth > MAX_LINK_DEPTH:
        raise _refuse(entry, "is part of a symlink loop")
    if target.startswith("/"):
        return None
    parts = list(start)
    for component in target.split("/"):
        if component in ("", "."):
            continue
        if component == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(component)
        key = "/".join(parts)
        if key in links:
            inner = _walk(parts[:-1], links[key], links, entry, depth + 1)
            if inner is None:
                return None
            parts = inner
    return parts


def check_members(members: Iterable[tarfile.TarInfo]) -> ArchiveSummary:
    """The pure check: raise UnsafeArchiveError naming the first bad entry, else summarise."""
    seen: dict[str, tarfile.TarInfo] = {}
    links: dict[str, str] = {}
    files: set[str] = set()
    total = 0
    for info in members:
        entry = info.name
        parts = _clean_parts(info.name, entry)
        if not parts:
            if info.isdir():
                continue  # the archive's own root, "./"
            raise _refuse(entry, "has an empty name")
        name = "/".join(parts)
        if info.ischr() or info.isblk():
            raise _refuse(entry, "is a device file")
        if info.isfifo():
            raise _refuse(entry, "is a fifo")
        if info.issparse() or not (info.isreg() or info.isdir() or info.issym() or info.islnk()):
            raise _refuse(entry, f"has an unsupported entry type {info.type!r}")
        if name in seen:
            raise _refuse(entry, "appears twice in the archive")
        if info.isreg() and info.mode & (stat.S_ISUID | stat.S_ISGID):
            raise _refuse(entry, "is setuid or setgid")
        if info.islnk():
            target = "/".join(_clean_parts(info.linkname, entry, "hardlink target"))
            if target not in files:
                raise _refuse(entry, f"is a hardlink to {info.linkname!r}, which is not an earlier "
                                     "regular file of the archive")
        if info.issym():
            if not info.linkname:
                raise _refuse(entry, "is a symlink with an empty target")
            if info.linkname.startswith("/"):
                raise _refuse(entry, f"is a symlink to the absolute path {info.linkname!r}, "
                                     "outside the release directory")
            links[name] = info.linkname
        if info.isreg():
            files.add(name)
            total += info.size
        seen[name] = info
    for name, info in seen.items():
        parts = name.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in links or parent in files:
                raise _refuse(info.name, f"lies beneath {parent!r}, which is not a directory")
    for name, target in links.items():
        if _walk(name.split("/")[:-1], target, links, seen[name].name) is None:
            raise _refuse(seen[name].name, f"is a symlink to {target!r}, outside the release directory")
    return ArchiveSummary(entries=len(seen), unpacked_bytes=total)


class _HashingReader:
    """A file wrapper that hashes every byte tarfile reads, so the digest covers what was checked."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        for chunk in iter(lambda: self.read(CHUNK), b""):
            del chunk


def check_archive(path: Path, expected_sha256: str | None = None) -> CheckedArtifact:
    """Read the tar.gz once: check every entry and hash every byte; refuse a digest other than expected."""
    try:
        with path.open("rb") as raw:
            reader = _HashingReader(raw)
            try:
                with tarfile.open(fileobj=reader, mode="r|gz") as tar:  # type: ignore[call-overload]
                    members = list(tar)
            except (tarfile.TarError, EOFError, OSError) as err:
                if isinstance(err, FileNotFoundError):
                    raise
                raise ArtifactError(f"artifact {path} is not a readable tar.gz: {err}",
                                    hint="rebuild it; a damaged artifact is never deployed") from err
            summary = check_members(members)
            reader.drain()
    except FileNotFoundError as err:
        raise ArtifactError(f"artifact {path} does not exist",
                            hint="rebuild the commit or restore the artifact store") from err
    except OSError as err:
        raise ArtifactError(f"cannot read artifact {path}: {err.strerror or err}") from err
    digest = reader.digest.hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise ArtifactError(f"artifact {path} has sha256 {digest[:12]}…, expected {expected_sha256[:12]}…",
                            hint="the artifact store is damaged; restore it or rebuild, never deploy it")
    return CheckedArtifact(path=path, sha256=digest, size=reader.size,
                           entries=summary.entries, unpacked_bytes=summary.unpacked_bytes)


# gzip(1) inflates stored blocks a byte at a time: 0.25 s of CPU for a 50 MB artifact of already
# compressed data, where zlib (through the host's python3) takes 0.06 s. The filter only turns the
# verified .tar.gz into the tar stream; GNU tar still does every extraction and its own checks.
# It fails exactly where `gzip -d` fails (truncated or damaged input, CRC or length mismatch,
# garbage after the data) and accepts what it accepts (several members, zero padding at the end);
# it never holds more than 4 MiB of output, and like gzip it dies quietly of SIGPIPE if tar stops
# reading early. Written without quotes, `$` or backslashes so that it survives tar's splitting of
# the program into words unchanged.
_GUNZIP_PY = """import os,signal,sys,zlib
signal.signal(signal.SIGPIPE,signal.SIG_DFL)
N=1<<22
R=1<<20
d=zlib.decompressobj(31)
z=0
b=os.read(0,R)
while 1:
 if d.eof and b:
  if b.strip(bytes(1)):
   if z:sys.exit(1)
   d=zlib.decompressobj(31)
  else:
   z=1
   b=os.read(0,R)
   if not b:break
   continue
 o=d.decompress(b,N)
 m=memoryview(o)
 while m:m=m[os.write(1,m):]
 if d.unconsumed_tail or len(o)==N:
  b=d.unconsumed_tail
  continue
 b=d.unused_data if d.eof else bytes()
 if not b:b=os.read(0,R)
 if not b:break
sys.exit(0 if d.eof else 1)
"""
# tar runs this as `PROGRAM -d`; without a working python3 (zlib included) it is plain gzip.
GUNZIP_PROGRAM = ("sh -c 'if python3 -E -S -c \"import zlib\" >/dev/null 2>&1; "
                  "then exec python3 -E -S -c \"$0\"; fi; exec gzip \"$@\"' "
                  f"'{_GUNZIP_PY}'")


def extract_argv(artifact: str, into: str) -> list[str]:
    """GNU tar on the host, into an empty directory, files owned by the deploy user."""
    return ["tar", "--extract", f"--use-compress-program={GUNZIP_PROGRAM}", "--file", artifact,
            "--directory", into, "--no-same-owner"]
