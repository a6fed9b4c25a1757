"""Real-world commit messages and what the parser must read from them.

Each row: message, type, scope, breaking, description, footers (token, value),
and optionally more fields to check. Messages come from the Conventional
Commits spec, Angular, GitHub/GitLab defaults, Kubernetes, Linux-style
trailers, and the mistakes people actually make.
"""

from __future__ import annotations

from typing import Any

import pytest

from notes.commits.parsing import parse_message

NO: tuple[tuple[str, str], ...] = ()

Row = tuple[str, str, str | None, str | None, bool, str, tuple[tuple[str, str], ...], dict[str, Any]]
ROWS: list[Row] = [
    # --- headers ------------------------------------------------------------------------------
    ("plain-feat", "feat: allow provided config object to extend other configs",
     "feat", None, False, "allow provided config object to extend other configs", NO, {}),
    ("scope", "feat(lang): add Polish language", "feat", "lang", False, "add Polish language", NO, {}),
    ("fix-scope", "fix(api): prevent racing of requests", "fix", "api", False, "prevent racing of requests",
     NO, {}),
    ("upper-type", "FEAT: shout the feature", "feat", None, False, "shout the feature", NO, {}),
    ("mixed-type", "Fix(Parser): Handle Empty Input", "fix", "Parser", False, "Handle Empty Input", NO, {}),
    ("scope-slash", "fix(api/v2): return 404 for unknown ids", "fix", "api/v2", False,
     "return 404 for unknown ids", NO, {}),
    ("scope-at", "chore(@quarterdeck/ui): bump version", "chore", "@quarterdeck/ui", False, "bump version",
     NO, {}),
    ("scope-dash", "build(deps-dev): bump pytest from 8.0 to 8.1", "build", "deps-dev", False,
     "bump pytest from 8.0 to 8.1", NO, {}),
    ("scope-dot", "fix(v1.2): patch the legacy endpoint", "fix", "v1.2", False, "patch the legacy endpoint",
     NO, {}),
    ("scope-comma", "feat(api,ui): shared date picker", "feat", "api,ui", False, "shared date picker",
     NO, {}),
    ("empty-scope", "fix(): nothing in the parentheses", "fix", None, False, "nothing in the parentheses",
     NO, {}),
    ("digits-type", "i18n: translate the rota screen", "i18n", None, False, "translate the rota screen",
     NO, {}),
    ("perf", "perf(db): index visits by patient", "perf", "db", False, "index visits by patient", NO, {}),
    ("docs", "docs: correct spelling of CHANGELOG", "docs", None, False, "correct spelling of CHANGELOG",
     NO, {}),
    ("extra-spaces", "feat:   tolerate extra spaces  ", "feat", None, False, "tolerate extra spaces", NO, {}),
    ("colon-in-desc", "fix: handle 'key: value' pairs", "fix", None, False, "handle 'key: value' pairs",
     NO, {}),
    ("pr-suffix", "feat(ui): dark mode (#123)", "feat", "ui", False, "dark mode (#123)", NO, {}),
    ("leading-blank", "\n\nfix: leading blank lines are ignored", "fix", None, False,
     "leading blank lines are ignored", NO, {}),
    ("crlf", "fix: windows line endings\r\n\r\nBody line.\r\n\r\nRefs: #7\r\n", "fix", None, False,
     "windows line endings", (("Refs", "#7"),), {"body": "Body line.", "tickets": ("7",)}),
    # --- not conventional ---------------------------------------------------------------------
    ("no-space", "feat:no space after colon", None, None, False, "feat:no space after colon", NO,
     {"conventional": False}),
    ("space-before-colon", "feat : space before colon", None, None, False, "feat : space before colon", NO,
     {"conventional": False}),
    ("empty-description", "feat: ", None, None, False, "feat:", NO, {"conventional": False}),
    ("plain-english", "Update README.md", None, None, False, "Update README.md", NO,
     {"conventional": False}),
    ("wip", "wip", None, None, False, "wip", NO, {"conventional": False}),
    # A lone "type: text" paragraph at the end reads as a footer; notes.changes parses merge bodies alone.
    ("github-merge-header", "Merge pull request #42 from org/feature-x\n\nfeat: add x", None, None, False,
     "Merge pull request #42 from org/feature-x", (("feat", "add x"),), {"conventional": False, "body": ""}),
    ("empty", "", None, None, False, "", NO, {"conventional": False}),
    ("non-conv-with-trailer", "Tidy the rota page\n\nTicket: HOS-12", None, None, False,
     "Tidy the rota page", (("Ticket", "HOS-12"),), {"conventional": False, "tickets": ("HOS-12",)}),
    # --- breaking -----------------------------------------------------------------------------
    ("bang", "feat!: send an email to the customer when a product is shipped", "feat", None, True,
     "send an email to the customer when a product is shipped", NO,
     {"breaking_description": "send an email to the customer when a product is shipped"}),
    ("bang-scope", "feat(api)!: send an email to the customer when a product is shipped", "feat", "api",
     True, "send an email to the customer when a product is shipped", NO, {}),
    ("footer-breaking", "feat: allow provided config object to extend other configs\n\n"
     "BREAKING CHANGE: `extends` key in config file is now used for extending other config files",
     "feat", None, True, "allow provided config object to extend other configs",
     (("BREAKING CHANGE", "`extends` key in config file is now used for extending other config files"),),
     {"breaking_description": "`extends` key in config file is now used for extending other config files"}),
    ("bang-and-footer", "chore!: drop support for Node 6\n\n"
     "BREAKING CHANGE: use JavaScript features not available in Node 6.", "chore", None, True,
     "drop support for Node 6", (("BREAKING CHANGE", "use JavaScript features not available in Node 6."),),
     {"breaking_description": "use JavaScript features not available in Node 6."}),
    ("hyphen-breaking", "fix: rename the flag\n\nBREAKING-CHANGE: --old is now --new", "fix", None, True,
     "rename the flag", (("BREAKING-CHANGE", "--old is now --new"),), {}),
    ("lowercase-breaking-is-body", "fix: rename the flag\n\nbreaking change: --old is now --new", "fix",
     None, False, "rename the flag", NO, {"body": "breaking change: --old is now --new"}),
    ("titlecase-breaking-is-plain-footer", "fix: rename\n\nBreaking-Change: maybe", "fix", None, False,
     "rename", (("Breaking-Change", "maybe"),), {}),
    ("breaking-prose", "refactor: split the parser\n\nBREAKING CHANGE was discussed and rejected.",
     "refactor", None, False, "split the parser", NO,
     {"body": "BREAKING CHANGE was discussed and rejected."}),
    ("breaking-changes-plural", "feat: new API\n\nBREAKING CHANGES: several things", "feat", None, False,
     "new API", NO, {"body": "BREAKING CHANGES: several things"}),
    ("breaking-multiline", "feat(config): new format\n\nBREAKING CHANGE: the config file moved.\n"
     "Move ~/.app.toml to ~/.config/app.toml.\n\nRun `app migrate` afterwards.\nRefs: HOS-9",
     "feat", "config", True, "new format",
     (("BREAKING CHANGE", "the config file moved.\nMove ~/.app.toml to ~/.config/app.toml.\n\n"
       "Run `app migrate` afterwards."), ("Refs", "HOS-9")), {"tickets": ("HOS-9",)}),
    # issue 16: a `Token:` line (prose) or a prose paragraph after the footers never loses the break
    ("breaking-then-example-and-prose", "feat: x\n\nBREAKING CHANGE: a\n\nExample:\nfoo()\n\nmore prose",
     "feat", None, True, "x", (("BREAKING CHANGE", "a\n\nExample:\nfoo()\n\nmore prose"),),
     {"body": "", "breaking_description": "a\n\nExample:\nfoo()\n\nmore prose"}),
    ("breaking-then-link-and-prose",
     "feat: x\n\nBREAKING CHANGE: a\n\nSee: https://example.org\n\nmore prose", "feat", None, True, "x",
     (("BREAKING CHANGE", "a"), ("See", "https://example.org\n\nmore prose")),
     {"body": "", "breaking_description": "a"}),
    ("example-line-is-prose", "fix: x\n\nExample:\nfoo()", "fix", None, False, "x", NO,
     {"body": "Example:\nfoo()"}),
    ("breaking-empty-first-line", "feat: x\n\nBREAKING CHANGE:\nthe value starts on the next line",
     "feat", None, True, "x", (("BREAKING CHANGE", "the value starts on the next line"),),
     {"breaking_description": "the value starts on the next line"}),
    ("breaking-twice-once", "feat(api)!: remove v1\n\nBREAKING CHANGE: v1 is gone", "feat", "api", True,
     "remove v1", (("BREAKING CHANGE", "v1 is gone"),), {"breaking_description": "v1 is gone"}),
    # --- bodies and footers -------------------------------------------------------------------
    ("spec-multi-paragraph", "fix: prevent racing of requests\n\nIntroduce a request id and a reference "
     "to latest request. Dismiss\nincoming responses other than from latest request.\n\nRemove timeouts "
     "which were used to mitigate the racing issue but are\nobsolete now.\n\nReviewed-by: Z\nRefs: #123",
     "fix", None, False, "prevent racing of requests", (("Reviewed-by", "Z"), ("Refs", "#123")),
     {"tickets": ("123",), "body": "Introduce a request id and a reference to latest request. Dismiss\n"
      "incoming responses other than from latest request.\n\nRemove timeouts which were used to mitigate "
      "the racing issue but are\nobsolete now."}),
    ("hash-separator", "fix: crash on empty rota\n\nFixes #45\nCloses #46", "fix", None, False,
     "crash on empty rota", (("Fixes", "45"), ("Closes", "46")), {}),
    ("signed-off", "fix(net): retry on reset\n\nSigned-off-by: Ada Lovelace <ada@example.org>\n"
     "Co-authored-by: Alan Turing <alan@example.org>", "fix", "net", False, "retry on reset",
     (("Signed-off-by", "Ada Lovelace <ada@example.org>"),
      ("Co-authored-by", "Alan Turing <alan@example.org>")),
     {}),
    ("multi-line-footer", "feat: x\n\nReviewed-by: A\n  who also tested it\nRefs: HOS-1", "feat", None, False,
     "x", (("Reviewed-by", "A\nwho also tested it"), ("Refs", "HOS-1")), {}),
    ("indented-kv-is-body", "fix: parse config\n\nThe file looks like:\n  key: value\n  other: thing",
     "fix", None, False, "parse config", NO, {"body": "The file looks like:\n  key: value\n  other: thing"}),
    ("indented-kv-last-paragraph", "fix: x\n\n  Note: indented", "fix", None, False, "x", NO,
     {"body": "  Note: indented"}),
    ("token-paragraph-in-middle", "feat: y\n\nNote: this is important\nand continues.\n\nMore prose.\n\n"
     "Refs: #9", "feat", None, False, "y", (("Refs", "#9"),),
     {"body": "Note: this is important\nand continues.\n\nMore prose."}),
    ("url-not-footer", "docs: link the guide\n\nhttps://example.org/guide", "docs", None, False,
     "link the guide", NO, {"body": "https://example.org/guide"}),
    ("no-blank-before-footer", "fix: tight\nRefs: HOS-3", "fix", None, False, "tight", (("Refs", "HOS-3"),),
     {"tickets": ("HOS-3",)}),
    ("footer-only-body", "chore: release\n\nRelease-As: 2.0.0", "chore", None, False, "release",
     (("Release-As", "2.0.0"),), {}),
    # --- git cleanup --------------------------------------------------------------------------
    ("scissors", "fix: keep above\n\nBody.\n# ------------------------ >8 ------------------------\n"
     "# Do not modify or remove the line above.\ndiff --git a/x b/x\nBREAKING CHANGE: not really",
     "fix", None, False, "keep above", NO, {"body": "Body."}),
    ("comment-lines", "feat: commented\n\n# Please enter the commit message\nReal body.\n# trailing comment",
     "feat", None, False, "commented", NO, {"body": "Real body."}),
    ("comment-breaking-ignored", "feat: x\n\n# BREAKING CHANGE: only a comment", "feat", None, False, "x", NO,
     {}),
    # --- trailers for notes -------------------------------------------------------------------
    ("ticket", "feat: rota export\n\nTicket: HOS-101", "feat", None, False, "rota export",
     (("Ticket", "HOS-101"),), {"tickets": ("HOS-101",)}),
    ("refs-several", "fix: x\n\nRefs: HOS-1, HOS-2 #3", "fix", None, False, "x",
     (("Refs", "HOS-1, HOS-2 #3"),),
     {"tickets": ("HOS-1", "HOS-2", "3")}),
    ("ticket-lowercase-token", "fix: x\n\nticket: HOS-5", "fix", None, False, "x", (("ticket", "HOS-5"),),
     {"tickets": ("HOS-5",)}),
    ("training-text", "feat: new medication chart\n\nTraining: 15-minute video for nurses", "feat", None,
     False, "new medication chart", (("Training", "15-minute video for nurses"),),
     {"training": "15-minute video for nurses"}),
    ("training-yes", "feat: new chart\n\nTraining: yes", "feat", None, False, "new chart",
     (("Training", "yes"),), {"training": ""}),
    # `Token:` with nothing after the colon is prose to the spec (it needs ": " or " #")
    ("training-bare-is-prose", "feat: new chart\n\nTraining:", "feat", None, False, "new chart", NO,
     {"training": None, "body": "Training:"}),
    ("training-no", "feat: new chart\n\nTraining: no", "feat", None, False, "new chart",
     (("Training", "no"),),
     {"training": None}),
    ("audience-internal", "feat: admin-only switch\n\nAudience: internal", "feat", None, False,
     "admin-only switch", (("Audience", "internal"),), {"internal": True}),
    ("audience-other", "feat: everyone\n\nAudience: everyone", "feat", None, False, "everyone",
     (("Audience", "everyone"),), {"internal": False}),
    ("release-note", "fix(pdf): off-by-one in page count\n\nRelease-note: Printed care plans no longer end "
     "with a blank page.", "fix", "pdf", False, "off-by-one in page count",
     (("Release-note", "Printed care plans no longer end with a blank page."),),
     {"release_note": "Printed care plans no longer end with a blank page."}),
    ("release-note-none", "fix: internal tidy\n\nRelease-note: NONE", "fix", None, False, "internal tidy",
     (("Release-note", "NONE"),), {"internal": True, "release_note": None}),
    # --- reverts ------------------------------------------------------------------------------
    ("spec-revert", "revert: let us never again speak of the noodle incident\n\nRefs: 676104e, a215868",
     "revert", None, False, "let us never again speak of the noodle incident",
     (("Refs", "676104e, a215868"),),
     {"commit_refs": ("676104e", "a215868"), "tickets": ()}),
    ("git-revert", 'Revert "feat(api): add export"\n\nThis reverts commit '
     "0123456789abcdef0123456789abcdef01234567.", None, None, False, 'Revert "feat(api): add export"', NO,
     {"conventional": False}),
    ("refs-numeric-is-ticket", "fix: x\n\nRefs: 1234567", "fix", None, False, "x", (("Refs", "1234567"),),
     {"tickets": ("1234567",), "commit_refs": ()}),
    # --- squash bodies (parsed as one message here; notes.changes splits them) ----------------
    ("github-squash", "feat: export (#12)\n\n* feat: add csv export\n\n* fix: handle empty rows", "feat",
     None, False, "export (#12)", NO, {"body": "* feat: add csv export\n\n* fix: handle empty rows"}),
]


@pytest.mark.parametrize(("message", "ctype", "scope", "breaking", "description", "footers", "more"),
                         [pytest.param(*row[1:], id=row[0]) for row in ROWS])
def test_parse_table(message: str, ctype: str | None, scope: str | None, breaking: bool, description: str,
                     footers: tuple[tuple[str, str], ...], more: dict[str, Any]) -> None:
    parsed = parse_message(message)
    assert (parsed.type, parsed.scope, parsed.breaking, parsed.description) == (ctype, scope, breaking,
                                                                                description)
    assert tuple((f.token, f.value) for f in parsed.footers) == footers
    assert parsed.conventional is more.get("conventional", ctype is not None)
    for name, expected in more.items():
        assert getattr(parsed, name) == expected, name


def test_table_is_large_enough() -> None:
    assert len(ROWS) >= 60
    assert len({row[0] for row in ROWS}) == len(ROWS)
