"""Generated notes stored per build, corrections, edits, approval and publishing."""
