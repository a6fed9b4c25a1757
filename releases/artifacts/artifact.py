"""Reproducible artifacts and the content-addressed store that keeps them.

The same commit and build command must give the same bytes, so that a rebuild
is recognised and the artifact on production can be proven to be the one
tested on staging. Entries are sorted, owners and times fixed, and gzip
carries no timestamp or file name.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, Protocol

from releases.errors import ArtifactError

if TYPE_CHECKING:
    from sqlalchemy import Connection

CHUNK = 1 << 20
VERSION_FILE = "VERSION"


def size_text(n: int) -> str:
    """A size as people read it: "532 B", "48.3 MiB"."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


@dataclass(frozen=True)
class Artifact:
    sha256: str
    size: int
    path: Path


@dataclass(frozen=True)
class SourceEntry:
    """One file, directory or symlink to pack, read from a tar stream or a directory."""

    name: str
    kind: str  # "file", "dir" or "symlink"
    executable: bool = False
    linkname: str = ""
    size: int = 0


def _normalise(info: tarfile.TarInfo, mtime: int) -> tarfile.TarInfo:
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.pax_headers = {}
    if info.isdir():
        info.mode = 0o755
    elif info.issym():
        info.mode = 0o777
    else:
        info.mode = 0o755 if info.mode & 0o111 else 0o644
    return info


def pack_tar(source: tarfile.TarFile, dest: IO[bytes], *, mtime: int, version_text: str | None) -> None:
    """Re-pack `source` into a normalised tar.gz on `dest`, adding VERSION at the root.

    Only regular files, directories and symlinks are carried; anything else in
    the source is an error rather than being dropped silently.
    """
    members: dict[str, tarfile.TarInfo] = {}
    for info in source.getmembers():
        if info.name in ("pax_global_header",) or info.type == tarfile.XGLTYPE:
            continue
        name = info.name.rstrip("/")
        if name in ("", "."):
            continue
        if not (info.isfile() or info.isdir() or info.issym()):
            raise ArtifactError(f"build output entry {name!r} is not a file, directory or symlink")
        if name == VERSION_FILE and version_text is not None:
            raise ArtifactError("the build output already has a VERSION file at its root",
                                hint="quarterdeck writes VERSION itself; rename the application's file")
        members[name] = info
    with gzip.GzipFile(filename="", mode="wb", fileobj=dest, mtime=0, compresslevel=6) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as out:
        names = sorted([*members, *([VERSION_FILE] if version_text is not None else [])])
        for name in names:
            if name == VERSION_FILE and version_text is not None:
                data = version_text.encode("utf-8")
                info = tarfile.TarInfo(VERSION_FILE)
                info.size = len(data)
                out.addfile(_normalise(info, mtime), io.BytesIO(data))
                continue
            original = members[name]
            info = _normalise(tarfile.TarInfo(name), mtime)
            info.type = original.type
            info.mode = _normalise(original, mtime).mode
            if original.isfile():
                info.size = original.size
                out.addfile(info, source.extractfile(original))
            else:
                info.linkname = original.linkname
                out.addfile(info)


def tar_directory(root: Path, dest: BinaryIO) -> None:
    """Write an uncompressed tar of `root`'s contents (the build command's output).

    Symlinks are kept as symlinks; sockets, devices and fifos are refused. A file with
    several names (hard links) is stored once per name, as a file of its own: the release
    on a host gets the same contents either way, and the artifact needs no link kind.
    """
    if not root.is_dir():
        raise ArtifactError(f"the build output directory {root} does not exist",
                            hint="check [build].output: the build command should create it")
    with tarfile.open(fileobj=dest, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                full = Path(dirpath) / name
                rel = full.relative_to(root).as_posix()
                found = full.lstat()
                if not (stat.S_ISREG(found.st_mode) or stat.S_ISDIR(found.st_mode)
                        or stat.S_ISLNK(found.st_mode)):
                    raise ArtifactError(f"build output {rel!r} is not a file, directory or symlink")
                info = tar.gettarinfo(full, arcname=rel)
                if info.islnk():  # another name of a file packed already: a file again here
                    info.type, info.linkname, info.size = tarfile.REGTYPE, "", found.st_size
                if info.isreg():
                    with full.open("rb") as handle:
                        tar.addfile(info, handle)
                else:
                    tar.addfile(info)


def has_entries(source: IO[bytes]) -> bool:
    """Whether an uncompressed tar holds any entry; leaves `source` at its start.

    Read by hand: `git archive` of a commit without files writes only its global header
    (the commit id) and the end-of-archive blocks, which tarfile refuses to open at all.
    """
    source.seek(0)
    try:
        while True:
            header = source.read(tarfile.BLOCKSIZE)
            if len(header) < tarfile.BLOCKSIZE or not header.strip(b"\0"):
                return False
            if header[156:157] != tarfile.XGLTYPE:
                return True
            size = int(header[124:136].strip(b"\0 ") or b"0", 8)
            source.seek(-(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE, os.SEEK_CUR)
    finally:
        source.seek(0)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _damaged(path: Path, actual: str, expected: str) -> ArtifactError:
    return ArtifactError(
        f"artifact {path} is damaged: its sha256 is {actual[:12]}…, expected {expected[:12]}…",
        hint="put a good copy back under the same name (a backup's artifacts/ or a host's artifacts/ "
             "holds one) or restore a backup; never deploy it",
    )


class SharedArtifacts(Protocol):
    """Where a team's artifacts live beside their ledger (releases.artifacts.shared)."""

    def has(self, sha256: str) -> bool: ...

    def put(self, conn: Connection, sha256: str, path: Path) -> bool: ...

    def fetch(self, sha256: str, dest: IO[bytes]) -> str | None: ...


class ArtifactStore:
    """Artifacts kept by digest: `<dir>/<sha256>.tar.gz`, verified whenever they are read.

    With `shared` (a PostgreSQL ledger), every artifact added is also kept there, and one missing
    from this machine's directory is fetched from there first: the directory is then a cache.
    """

    def __init__(self, root: Path, shared: SharedArtifacts | None = None) -> None:
        self.root = root
        self.shared = shared

    def path_for(self, sha256: str) -> Path:
        return self.root / f"{sha256}.tar.gz"

    def add(self, temp_path: Path) -> Artifact:
        """Move a finished artifact into the store under its digest (atomically)."""
        digest = sha256_file(temp_path)
        size = temp_path.stat().st_size
        final = self.path_for(digest)
        if final.exists() and sha256_file(final) == digest:
            temp_path.unlink()
        else:
            os.replace(temp_path, final)
            os.chmod(final, 0o444)
        return Artifact(digest, size, final)

    def share(self, conn: Connection, artifact: Artifact) -> None:
        """Keep the artifact in the team's ledger too, in the transaction that records its build,
        so that no build is ever recorded whose bytes another machine cannot fetch."""
        if self.shared is not None:
            self.shared.put(conn, artifact.sha256, artifact.path)

    def verified(self, sha256: str) -> Path:
        """The artifact's path, after proving its bytes still hash to its name."""
        path = self._present(sha256)
        actual = sha256_file(path)
        if actual != sha256:
            raise _damaged(path, actual, sha256)
        return path

    def copy_verified(self, sha256: str, dest: Path) -> None:
        """Copy the artifact to `dest`, hashing the bytes as they are copied: a damaged artifact is
        refused and leaves nothing at `dest`, so a backup never carries one."""
        path = self._present(sha256)
        digest = hashlib.sha256()
        try:
            with path.open("rb") as source, dest.open("wb") as out:
                for chunk in iter(lambda: source.read(CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha256:
                raise _damaged(path, digest.hexdigest(), sha256)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise

    def _present(self, sha256: str) -> Path:
        path = self.path_for(sha256)
        if not path.exists() and self.shared is not None:
            self._fetch(sha256, path)
        if not path.exists():
            where = f"{self.root} and from the ledger" if self.shared is not None else str(self.root)
            raise ArtifactError(f"artifact {sha256[:12]} is missing from {where}",
                                hint="restore it from a backup or rebuild the commit")
        return path

    def _fetch(self, sha256: str, path: Path) -> None:
        """Fill this machine's copy from the team's ledger, proven by its digest before it is kept."""
        assert self.shared is not None
        with self.temp_file() as temp:
            actual = self.shared.fetch(sha256, temp)
        if actual is None:
            os.unlink(temp.name)
            return
        if actual != sha256:
            os.unlink(temp.name)
            raise ArtifactError(
                f"the ledger's copy of artifact {sha256[:12]} is damaged: its sha256 is {actual[:12]}…",
                hint="restore the ledger from a backup, or put a good copy in the artifacts directory "
                     "of a machine that has one and build there; never deploy it")
        os.replace(temp.name, path)
        os.chmod(path, 0o444)

    def temp_file(self) -> IO[bytes]:
        self.root.mkdir(parents=True, exist_ok=True)
        return tempfile.NamedTemporaryFile(dir=self.root, prefix=".incoming-", suffix=".tar.gz",
                                           delete=False)
