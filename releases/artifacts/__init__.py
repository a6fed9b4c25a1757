"""Making a build: the commit, its version, the checksummed artifact and the builds the ledger holds."""
