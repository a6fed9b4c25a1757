"""What one commit says and contributes: parsing, changes, reverts."""
