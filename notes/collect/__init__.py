"""Which commits an audience sees, drafted, merged and sectioned (pure)."""
