"""The pipeline's own records: the ledger, its schema, one way to read it, the audit chain, backups."""
