"""The portal's ledger tables: each contact's link generation and the organisations' API tokens.

Neither holds a secret: links are signed with a secret from the environment and verified
against the generation here; tokens are kept as their sha256 only.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, UniqueConstraint

from releases.records.ledger import Schema, UTCDateTime

metadata = MetaData()

# One row per contact whose links were revoked: a link carries the generation it was made in,
# and only links of the current generation open (a contact never revoked is in generation 0).
# Keyed by the organisation and the address, not the contacts row, so that a contact removed
# and added again does not get their revoked links back.
link_generations = Table(
    "portal_link_generations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", Integer, nullable=False),
    Column("email_key", String(320), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=False),
    Column("revoked_by", String(320), nullable=False),
    UniqueConstraint("org_id", "email_key", name="uq_portal_link_generations_contact"),
)

api_tokens = Table(
    "portal_api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", Integer, nullable=False),  # channels' organisations.id (another MetaData)
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
)

# Every report the application sent through the intake API, with its diagnostics: a report
# whose fingerprint matches an open problem's is counted on it instead of filing another.
intake_reports = Table(
    "portal_intake_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("problem_id", Integer, nullable=False, index=True),  # channels' problems.id
    Column("org_id", Integer, nullable=False),
    Column("token_id", Integer, nullable=False),
    Column("fingerprint", String(64), nullable=False, index=True),
    Column("diagnostics", Text),  # JSON, bounded by channels.portal.intake
    Column("received_at", UTCDateTime, nullable=False),
)

# A contact's request that their organisation join the beta programme, waiting for
# `quarterdeck beta approve ORG` (which enrolls it and closes the request).
join_requests = Table(
    "portal_join_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", Integer, nullable=False, index=True),
    Column("requested_by", String(320), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("approved_at", UTCDateTime),
    Column("approved_by", String(320)),
)

SCHEMA = Schema("portal", 1, (metadata,))
