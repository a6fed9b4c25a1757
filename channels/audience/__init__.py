"""Who hears about a release: organisations and their contacts, and each channel's audience."""
