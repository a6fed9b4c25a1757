-- A ledger as the first schema wrote it (core 1, releases 1: builds without `subject`,
-- no deployment tables), with one build and its audit entry. Kept to prove in-place upgrades.
CREATE TABLE audit (
	id INTEGER NOT NULL,
	at DATETIME NOT NULL,
	actor VARCHAR(320) NOT NULL,
	command VARCHAR(200) NOT NULL,
	action VARCHAR(64) NOT NULL,
	subject VARCHAR(300) NOT NULL,
	reason TEXT,
	detail TEXT,
	prev_hash VARCHAR(64) NOT NULL,
	hash VARCHAR(64) NOT NULL,
	PRIMARY KEY (id)
);
CREATE TABLE schema_versions (
	component VARCHAR(64) NOT NULL,
	version INTEGER NOT NULL,
	upgraded_at DATETIME NOT NULL,
	PRIMARY KEY (component)
);
CREATE TABLE builds (
	id VARCHAR(64) NOT NULL,
	version VARCHAR(32) NOT NULL,
	build_number INTEGER NOT NULL,
	"commit" VARCHAR(64) NOT NULL,
	ref VARCHAR(300) NOT NULL,
	branch VARCHAR(300),
	sha256 VARCHAR(64) NOT NULL,
	size BIGINT NOT NULL,
	build_command TEXT,
	source_key VARCHAR(64) NOT NULL,
	created_by VARCHAR(320) NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_builds_version_number UNIQUE (version, build_number)
);
CREATE INDEX ix_builds_created_at ON builds (created_at);
CREATE INDEX ix_builds_sha256 ON builds (sha256);
CREATE INDEX ix_builds_source_key ON builds (source_key);
INSERT INTO schema_versions VALUES ('core', 1, '2026-08-01 09:00:00.000000');
INSERT INTO schema_versions VALUES ('releases', 1, '2026-08-01 09:00:00.000000');
INSERT INTO builds VALUES ('2026.3.0+b4', '2026.3.0', 4, '1111111111111111111111111111111111111111',
  'main', 'main', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 12345, NULL,
  'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'ada@example.org',
  '2026-08-01 09:00:00.000000');
INSERT INTO audit VALUES (1, '2026-08-01 09:00:00.000000', 'ada@example.org', 'quarterdeck build',
  'build.create', '2026.3.0+b4', NULL, NULL,
  '0000000000000000000000000000000000000000000000000000000000000000',
  '9f1229ea2aad2e2aa626fa5458b4592b4d2a9720d1529e74f9a063b927bce63a');
