"""The releases package's tables as one versioned schema.

Version 1 (the first release) had the builds table only; version 2 added the
commit subject to builds and the deployment tables.
"""

from __future__ import annotations

from releases.artifacts import builds
from releases.records.ledger import Schema
from releases.records.reads import RELEASES_SCHEMA_VERSION
from releases.tiers import deployments

SCHEMA = Schema(
    component="releases",
    version=RELEASES_SCHEMA_VERSION,  # kept in reads, whose sqlite3 route reads only a ledger at it
    metadata=(builds.metadata, deployments.metadata),
    upgrades={2: builds.add_subject_column},
)
