"""Release notes: from git history to reviewed, audience-specific notes.

The package stands alone (it imports no other Quarterdeck package) so that the
rules for reading commit messages and grouping them for readers can be tested,
and reused, without a ledger or a configuration file.

The sub-packages follow the path the data takes:

- `history`: the commits of a range (`gitlog`, one streaming `git log`, in
  `batches` of columns), which range a build's notes cover (`ranges`), and the
  commit graph inside it (`graph`: order, abbreviated ids, merged branches).
- `commits`: what one commit says (`parsing`: Conventional Commits), what it
  contributes (`changes`: merges, squashes, reverts, cherry-picks) and what
  cancels out (`reverts`).
- `collect`: which commits an audience sees, drafted (`collect`, `reading`,
  `plainlane`, `rangewide`, `drafting`) and then merged, sectioned and frozen
  (`entries`, `listing`).
- `render`: Markdown, plain text, HTML and JSON (`render`, the shipped
  templates written out in Python in `layout`, `markdown`, `plaintext`) and
  Keep a Changelog text (`changelog`).
- `review`: generated notes stored per build (`generation`, `ledgerview`,
  `store`), corrections, edits and approval (`workflow`, `review`, `editor`),
  and publishing (`publish`: release tag, CHANGELOG commit).

At the root: `settings` and `model` (the values), `errors`, and the command
line (`commandline`, `commands`).
"""
