"""releases package."""
