"""Notes as Markdown, plain text, HTML, JSON and changelog text (pure)."""
