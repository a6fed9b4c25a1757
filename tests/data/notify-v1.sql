-- A ledger as notify's first schema wrote it (core 1, notify 1: deliveries without message_id
-- and queue_id), with one notice, one sent and one unknown delivery. Kept to prove in-place upgrades.
BEGIN TRANSACTION;
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
CREATE TABLE deliveries (
	id INTEGER NOT NULL,
	notice_id INTEGER NOT NULL,
	email VARCHAR(320) NOT NULL,
	email_key VARCHAR(320) NOT NULL,
	name VARCHAR(300) NOT NULL,
	organisation VARCHAR(300) NOT NULL,
	time_zone VARCHAR(64) NOT NULL,
	state VARCHAR(16) NOT NULL,
	attempts INTEGER NOT NULL,
	code INTEGER,
	reply TEXT,
	phase VARCHAR(16),
	run_id INTEGER,
	next_attempt_at DATETIME,
	last_attempt_at DATETIME,
	sent_at DATETIME,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_deliveries_recipient UNIQUE (notice_id, email_key),
	FOREIGN KEY(notice_id) REFERENCES notices (id) ON DELETE CASCADE
);
INSERT INTO "deliveries" VALUES(1,1,'it@acadia.example','it@acadia.example','Person 0','Org 0','America/Chicago','sent',1,250,'250 2.0.0 Ok: queued as 4F2A1','end-of-data',1,NULL,'2026-11-02 15:00:00.000000','2026-11-02 15:00:00.000000','2026-11-02 15:00:00.000000');
INSERT INTO "deliveries" VALUES(2,1,'admin@birch.example','admin@birch.example','Person 1','Org 1','America/Chicago','unknown',1,NULL,'the sending process (pid 4242 on relay-1) stopped during this attempt; the message may or may not have been delivered','end-of-data',1,NULL,'2026-11-02 15:00:00.000000',NULL,'2026-11-02 15:00:00.000000');
CREATE TABLE notice_runs (
	id INTEGER NOT NULL,
	notice_id INTEGER NOT NULL,
	host VARCHAR(255) NOT NULL,
	pid INTEGER NOT NULL,
	transport VARCHAR(400) NOT NULL,
	started_at DATETIME NOT NULL,
	heartbeat_at DATETIME NOT NULL,
	finished_at DATETIME,
	result VARCHAR(32),
	PRIMARY KEY (id),
	FOREIGN KEY(notice_id) REFERENCES notices (id) ON DELETE CASCADE
);
CREATE TABLE notices (
	id INTEGER NOT NULL,
	kind VARCHAR(32) NOT NULL,
	build_id VARCHAR(64) NOT NULL,
	event VARCHAR(200) NOT NULL,
	generation INTEGER NOT NULL,
	channel VARCHAR(32) NOT NULL,
	notes_sha256 VARCHAR(64),
	window_start DATETIME,
	window_end DATETIME,
	previous_start DATETIME,
	previous_end DATETIME,
	reason TEXT,
	recipients INTEGER NOT NULL,
	retry_deadline DATETIME NOT NULL,
	superseded_by INTEGER,
	created_at DATETIME NOT NULL,
	created_by VARCHAR(320) NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_notices_event UNIQUE (kind, build_id, event, generation)
);
INSERT INTO "notices" VALUES(1,'advance','2026.4.0+b3','schedule:1',1,'everyone','0000000000000000000000000000000000000000000000000000000000000000',NULL,NULL,NULL,NULL,NULL,2,'2026-11-02 15:00:00.000000',NULL,'2026-11-02 15:00:00.000000','rm@carenotes.example.org');
CREATE TABLE schema_versions (
	component VARCHAR(64) NOT NULL,
	version INTEGER NOT NULL,
	upgraded_at DATETIME NOT NULL,
	PRIMARY KEY (component)
);
INSERT INTO "schema_versions" VALUES('core',1,'2026-11-02 15:00:00.000000');
INSERT INTO "schema_versions" VALUES('notify',1,'2026-11-02 15:00:00.000000');
CREATE TABLE trainings (
	id INTEGER NOT NULL,
	build_id VARCHAR(64) NOT NULL,
	title VARCHAR(300) NOT NULL,
	at DATETIME NOT NULL,
	link VARCHAR(2000) NOT NULL,
	created_at DATETIME NOT NULL,
	created_by VARCHAR(320) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_notices_build ON notices (build_id, kind);
CREATE INDEX ix_trainings_build_id ON trainings (build_id);
CREATE INDEX ix_deliveries_notice_state ON deliveries (notice_id, state, sent_at);
CREATE INDEX ix_deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX ix_notice_runs_open ON notice_runs (notice_id, finished_at);
COMMIT;
