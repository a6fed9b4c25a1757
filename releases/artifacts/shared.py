"""Artifacts kept in a shared ledger, so that a build made on one machine can be promoted from
another that shares only the ledger's configuration.

On a PostgreSQL ledger every artifact is also stored in the ledger, in chunks, beside the
build that names it; each machine's artifacts directory is then a cache, filled from the
ledger the first time a build is read there. The digest is checked whenever the bytes are
read, from the cache or from the ledger, so a damaged copy is never deployed. A SQLite ledger
lives on one machine with its artifacts directory, which stays the only store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import Column, Connection, Integer, LargeBinary, MetaData, String, Table, func, select

from releases.artifacts.artifact import ArtifactStore
from releases.records.ledger import Ledger, Schema

CHUNK = 4 << 20  # rows of 4 MiB: a 50 MB artifact is a dozen rows, each well under any row limit

metadata = MetaData()
artifact_chunks = Table(
    "artifact_chunks", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)
SCHEMA = Schema("artifacts", 1, (metadata,))


@dataclass(frozen=True)
class LedgerArtifacts:
    """The artifacts a team's ledger holds, by digest."""

    ledger: Ledger

    def has(self, sha256: str) -> bool:
        with self.ledger.read() as conn:
            return conn.execute(select(func.count()).select_from(artifact_chunks)
                                .where(artifact_chunks.c.sha256 == sha256)).scalar_one() > 0

    def put(self, conn: Connection, sha256: str, path: Path) -> bool:
        """Store the file's bytes under its digest, once, in the caller's write transaction; False
        when the ledger already had them."""
        present = conn.execute(select(artifact_chunks.c.seq).where(artifact_chunks.c.sha256 == sha256)
                               .limit(1)).first()
        if present is not None:
            return False
        with path.open("rb") as source:
            for seq, chunk in enumerate(iter(lambda: source.read(CHUNK), b"")):
                conn.execute(artifact_chunks.insert().values(sha256=sha256, seq=seq, data=chunk))
        return True

    def fetch(self, sha256: str, dest: IO[bytes]) -> str | None:
        """Write the stored bytes to `dest`; their actual digest, or None when the ledger has none."""
        digest = hashlib.sha256()
        found = False
        with self.ledger.read() as conn:
            seqs = conn.execute(select(artifact_chunks.c.seq).where(artifact_chunks.c.sha256 == sha256)
                                .order_by(artifact_chunks.c.seq)).scalars().all()
            for seq in seqs:  # one chunk in memory at a time
                data = conn.execute(select(artifact_chunks.c.data).where(
                    artifact_chunks.c.sha256 == sha256, artifact_chunks.c.seq == seq)).scalar_one()
                digest.update(data)
                dest.write(data)
                found = True
        return digest.hexdigest() if found else None


def artifact_store(directory: Path, ledger: Ledger) -> ArtifactStore:
    """The store a command uses: on a SQLite ledger the directory alone; on a shared (PostgreSQL)
    ledger the ledger too, with the directory as this machine's cache."""
    shared = None if ledger.engine.dialect.name == "sqlite" else LedgerArtifacts(ledger)
    return ArtifactStore(directory, shared)
