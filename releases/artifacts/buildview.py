"""Builds read from the ledger: by id, newest first, by sha256 prefix, and what ran on a tier.

Resolving BUILD on the command line (`latest`, an id, a sha256 prefix,
`@TIER`) comes before nearly every command, `notes show` among them, whose
start-up counts against raw `git log` (issue 8). So the queries are written
once, as plain SQL run by a `releases.records.reads.Rows` (stdlib sqlite3 on a
SQLite ledger, SQLAlchemy everywhere else); releases.artifacts.builds keeps the table
and everything that writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from releases.records.reads import Rows
from releases.tiers.tierview import host_statuses

PROMOTIONS = ("promote", "resume")  # the kinds that put a build on a tier for the first time (not rollbacks)
_PROMOTED = " AND kind IN (" + ", ".join(f"'{kind}'" for kind in PROMOTIONS) + ")"
NEWEST_FIRST = "ORDER BY created_at DESC, id DESC"


@dataclass(frozen=True)
class Build:
    id: str
    version: str
    build_number: int
    commit: str
    ref: str
    branch: str | None
    subject: str | None
    sha256: str
    size: int
    build_command: str | None
    created_by: str
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id, "version": self.version, "build_number": self.build_number,
            "commit": self.commit, "ref": self.ref, "branch": self.branch, "subject": self.subject,
            "sha256": self.sha256, "size": self.size, "build_command": self.build_command,
            "created_by": self.created_by, "created_at": self.created_at.isoformat(),
        }


_COLUMNS = tuple(f.name for f in fields(Build))


TIMES = ("created_at",)


def build_of(row: Mapping[str, Any]) -> Build:
    """A builds row, its TIMES read as times."""
    return Build(**{name: row[name] for name in _COLUMNS})


def get_build(rows: Rows, build_id: str) -> Build | None:
    found = rows("SELECT * FROM builds WHERE id = :id", {"id": build_id}, times=TIMES)
    return build_of(found[0]) if found else None


def list_builds(rows: Rows, limit: int | None = None) -> list[Build]:
    if limit:
        return [build_of(r) for r in rows(f"SELECT * FROM builds {NEWEST_FIRST} LIMIT :limit",
                                          {"limit": limit}, times=TIMES)]
    return [build_of(r) for r in rows(f"SELECT * FROM builds {NEWEST_FIRST}", times=TIMES)]


def latest_build(rows: Rows) -> Build | None:
    found = list_builds(rows, limit=1)
    return found[0] if found else None


def artifact_digests(rows: Rows) -> dict[str, str]:
    """Every build's artifact sha256 by build id: which uploaded archive belongs to which release."""
    return {r["id"]: r["sha256"] for r in rows("SELECT id, sha256 FROM builds")}


def find_by_sha_prefix(rows: Rows, prefix: str) -> list[Build]:
    """At most five builds whose artifact's sha256 starts with `prefix` (enough to call it ambiguous)."""
    return [build_of(r) for r in rows("SELECT * FROM builds WHERE sha256 LIKE :pattern LIMIT 5",
                                      {"pattern": f"{prefix.lower()}%"}, times=TIMES)]


def build_before(rows: Rows, tier: str, build_id: str) -> str | None:
    """The build promoted to the tier before `build_id` was (last) promoted there: what a rollback returns to.

    Walking promotions, not rollbacks, means rolling back twice goes two releases back.
    """
    found = rows(f"SELECT build_id FROM deployments WHERE tier = :tier AND state = 'succeeded'{_PROMOTED} "
                 "ORDER BY id DESC", {"tier": tier})
    seen = False
    for row in found:
        candidate = row["build_id"]
        if candidate == build_id:
            seen = True
        elif seen:
            return str(candidate)
    return None


def newest_running(rows: Rows, tier: str) -> Build | None:
    """The newest build running on any host of the tier (a mixed tier runs several)."""
    running = {s.build_id for s in host_statuses(rows, tier) if s.build_id}
    builds = [b for b in (get_build(rows, i) for i in running) if b]
    return max(builds, key=lambda b: b.created_at) if builds else None
