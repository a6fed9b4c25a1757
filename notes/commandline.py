"""The notes package's commands as the command line lists them: show, correct, edit, approve.

Only names, help texts and "module:function" references: listing the commands (for
`--help`, and on every start) imports none of the implementation; pipeline imports a
command's module when it runs (issue 8: start-up).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Add = Callable[..., None]


def register(add: Add) -> None:
    notes = "notes.commands:"
    here = "notes.commandline:"
    add("notes", "show, correct, edit and approve release notes", notes + "cmd_notes")
    add("show", "print a build's release notes (stdout only)", notes + "cmd_show", notes + "_setup_show",
        parent="notes")
    add("skip", "leave a commit out of every build's notes", notes + "cmd_skip", notes + "_setup_skip",
        parent="notes")
    add("unskip", "undo `notes skip`", notes + "cmd_unskip", notes + "_setup_sha", parent="notes")
    add("reword", "replace what readers see for a commit", notes + "cmd_reword", notes + "_setup_reword",
        parent="notes")
    add("unreword", "undo `notes reword`", notes + "cmd_unreword", notes + "_setup_sha", parent="notes")
    add("corrections", "list the stored skips and rewords", notes + "cmd_corrections", here + "setup_json",
        parent="notes")
    add("edit", "edit a build's notes in $EDITOR; the result is its draft", notes + "cmd_edit",
        notes + "_setup_edit", parent="notes")
    add("approve", "approve a build's notes (the draft, else the generated notes)", notes + "cmd_approve",
        notes + "_setup_approve", parent="notes")
    add("status", "whether a build's notes are draft, approved, or approval withdrawn", notes + "cmd_status",
        here + "setup_build_json", parent="notes")


def setup_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON on stdout and nothing else")


def setup_build_json(p: argparse.ArgumentParser) -> None:
    from notes.commands import _setup_build

    _setup_build(p, json=True)
