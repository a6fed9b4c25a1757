"""Release notes: from git history to reviewed, audience-specific notes.

The package stands alone (it imports no other Quarterdeck package) so that the
rules for reading commit messages and grouping them for readers can be tested,
and reused, without a ledger or a configuration file.

Pure modules: `commits` (Conventional Commits parser), `changes` (what one
commit contributes: merges, squashes, reverts), `history` (the commit graph of
a range), `reverts` (what cancels out), `collect` (which commits an audience
sees, drafted), `entries` (drafts merged, sectioned and frozen), `settings` and
`model` (the values), `render`, `layout` and `markdown` (templates, the shipped
ones written out in Python, HTML, reading Markdown back), `changelog` (Keep a
Changelog text).
I/O lives in `gitlog` (one streaming `git log`) and `publish` (release tag,
CHANGELOG commit).
"""
