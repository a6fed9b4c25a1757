"""The commits of a range: git log, which range a build covers, the commit graph."""
