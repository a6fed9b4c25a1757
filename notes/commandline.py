"""The notes package's commands as the command line lists them: show, correct, edit, approve.

Only names, help texts and "module:function" references: listing the commands (for
`--help`, and on every start) imports none of the implementation; pipeline imports a
command's module when it runs (issue 8: start-up).
"""

from __future__ import annotations

from collections.abc import Callable

Add = Callable[..., None]


def register(add: Add) -> None:
    notes = "notes.commands:"
    add("notes", "show, correct, edit and approve release notes")
    add("show", "print a build's release notes (stdout only)", notes + "cmd_show", notes + "_setup_show",
        parent="notes")
    add("skip", "leave a commit out of every build's notes", notes + "cmd_skip", notes + "_setup_skip",
        parent="notes")
    add("unskip", "undo `notes skip`", notes + "cmd_unskip", notes + "_setup_sha", parent="notes")
    add("reword", "replace what readers see for a commit", notes + "cmd_reword", notes + "_setup_reword",
        parent="notes")
    add("unreword", "undo `notes reword`", notes + "cmd_unreword", notes + "_setup_sha", parent="notes")
    add("corrections", "list the stored skips and rewords", notes + "cmd_corrections", parent="notes",
        json=True)
    add("edit", "edit a build's notes in $EDITOR; the result is its draft", notes + "cmd_edit",
        notes + "_setup_edit", parent="notes")
    add("approve", "approve a build's notes (the draft, else the generated notes)", notes + "cmd_approve",
        notes + "_setup_approve", parent="notes", json=True)
    add("status", "whether a build's notes are draft, approved, or approval withdrawn", notes + "cmd_status",
        notes + "setup_build", parent="notes", json=True)

