"""The beta programme read from the ledger: who is enrolled, who signed off, which problems are known.

`status` shows the beta's sign-offs and the problems counting against its build, and must
start without SQLAlchemy (issue 8). So these queries are written once, as plain SQL that
SQLite and PostgreSQL both accept, run by a `releases.records.reads.Rows` (stdlib sqlite3
for `status` on a SQLite ledger, SQLAlchemy everywhere else, and inside a writer's
transaction through `rows_of(conn)`). The gates, the beta page, `signoff` and `problem`
read through the same functions (channels.gates.beta and channels.store hand them their
connection); the tables and every write stay in channels.store and channels.gates.beta.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channels.gates.betafacts import SEVERITIES, Problem, SignOff, applicable_problems
from releases.artifacts.buildview import list_builds
from releases.artifacts.version import Version
from releases.errors import ReleasesError
from releases.records.reads import Rows
from releases.tiers.tierview import build_on

SCHEMA_VERSION = 1  # channels.store.SCHEMA's version: the sqlite3 route reads only a ledger at it

SIGNOFF_TIMES = ("signed_at",)
PROBLEM_TIMES = ("reported_at", "resolved_at")
_PROBLEMS = "SELECT p.*, o.name AS org FROM problems p JOIN organisations o ON o.id = p.org_id"


@dataclass(frozen=True)
class ProblemRecord:
    """A problem report as stored, with its organisation's name."""

    id: int
    build: str
    organisation: str
    severity: str
    summary: str
    details: str | None
    status: str
    reported_at: datetime
    reported_by: str
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    fixed_in: str | None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out

    def for_gates(self, order: Mapping[str, int]) -> Problem:
        """The gates' view, with builds placed in build order (see `build_order`)."""
        return Problem(id=self.id, severity=self.severity, status=self.status, opened_at=self.reported_at,
                       summary=self.summary, org=self.organisation, build=self.build,
                       build_seq=order.get(self.build, 0), fixed_in=self.fixed_in,
                       fixed_in_seq=order.get(self.fixed_in, 0) if self.fixed_in else None)


def _problem(row: Mapping[str, Any]) -> ProblemRecord:
    return ProblemRecord(row["id"], row["build_id"], row["org"], row["severity"], row["summary"],
                         row["details"], row["status"], row["reported_at"], row["reported_by"],
                         row["resolved_at"], row["resolved_by"], row["resolution"], row["fixed_in"])


# ---------------------------------------------------------------- the queries

def enrolled_org_names(rows: Rows) -> list[str]:
    """The organisations in the beta programme now (enrolled, not left, not removed), by name."""
    found = rows("SELECT o.name FROM organisations o JOIN enrollments e ON e.org_id = o.id "
                 "WHERE e.left_at IS NULL AND o.removed_at IS NULL")
    return sorted({r["name"] for r in found}, key=str.casefold)


def signoffs_for(rows: Rows, build_id: str) -> list[SignOff]:
    """The build's sign-offs in the order they were given."""
    found = rows("SELECT o.name, s.signed_by, s.signed_at FROM signoffs s "
                 "JOIN organisations o ON o.id = s.org_id WHERE s.build_id = :build ORDER BY s.id",
                 {"build": build_id}, times=SIGNOFF_TIMES)
    return [SignOff(r["name"], r["signed_by"], r["signed_at"]) for r in found]


def all_problems(rows: Rows) -> list[ProblemRecord]:
    """Every problem report, in the order they were filed."""
    return [_problem(r) for r in rows(f"{_PROBLEMS} ORDER BY p.id", times=PROBLEM_TIMES)]


def find_problem(rows: Rows, problem_id: int) -> ProblemRecord | None:
    found = rows(f"{_PROBLEMS} WHERE p.id = :id", {"id": problem_id}, times=PROBLEM_TIMES)
    return _problem(found[0]) if found else None


def _version_key(version: str) -> tuple[int, ...]:
    try:
        parsed = Version.parse(version)
    except ReleasesError:  # a malformed version sorts first rather than hiding a build
        return (0, 0, 0)
    return (parsed.year, parsed.quarter, parsed.patch)


def build_order(rows: Rows) -> dict[str, int]:
    """Every build's place in build order, 1 for the first build made (see channels.gates.evidence)."""
    builds = sorted(list_builds(rows),
                    key=lambda b: (b.created_at, _version_key(b.version), b.build_number, b.id))
    return {build.id: place for place, build in enumerate(builds, start=1)}


def counting_against(records: Iterable[ProblemRecord], order: Mapping[str, int],
                     build_id: str) -> list[ProblemRecord]:
    """The reports that count against the build, by the gates' rule (betafacts.applicable_problems)."""
    records = list(records)
    applying = {p.id for p in applicable_problems([r.for_gates(order) for r in records], order[build_id])}
    return [r for r in records if r.id in applying]


# ---------------------------------------------------------------- what `status` shows

@dataclass(frozen=True)
class BetaSummary:
    """The beta at a glance: its build, who signed it off and who has not yet, and the problems
    counting against it (counts per severity, in SEVERITIES order, and the blockers themselves).
    Read by `status` through the app (releases.app.BetaSummary is what releases sees of it)."""

    tier: str
    build: str | None
    signed_off: tuple[SignOff, ...]
    waiting_for: tuple[str, ...]
    open_problems: Mapping[str, int]
    blockers: tuple[ProblemRecord, ...]


def beta_summary(rows: Rows, tier: str) -> BetaSummary:
    """The summary for the build the beta tier's last completed deployment installed (as the beta
    page shows it); no build there yet: nobody to wait for and nothing counting."""
    build = build_on(rows, tier)
    if build is None:
        return BetaSummary(tier, None, (), (), {severity: 0 for severity in SEVERITIES}, ())
    signed = tuple(signoffs_for(rows, build))
    done = {s.org for s in signed}
    against = counting_against(all_problems(rows), build_order(rows), build)
    return BetaSummary(
        tier, build, signed, tuple(name for name in enrolled_org_names(rows) if name not in done),
        {severity: sum(p.severity == severity for p in against) for severity in SEVERITIES},
        tuple(p for p in against if p.severity == "blocker"))
