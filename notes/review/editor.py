"""Opening notes in the user's editor (I/O).

$VISUAL, then $EDITOR, as git and most Unix tools choose; the value may carry
arguments ("code --wait"). Without either, `vi` is used only on a terminal:
a script or a cron job would otherwise wait forever for an editor nobody
sees, so it gets a clear refusal instead.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..errors import NotesError


class EditorError(NotesError):
    """No editor could be chosen, or the editor failed; nothing was saved."""


def choose_editor(env: Mapping[str, str], interactive: bool) -> list[str]:
    for name in ("VISUAL", "EDITOR"):
        value = env.get(name, "").strip()
        if value:
            try:
                words = shlex.split(value)
            except ValueError as err:
                raise EditorError(f"${name}={value!r} cannot be split into a command: {err}",
                                  hint=f"fix ${name}") from err
            if words:
                return words
    if interactive:
        return ["vi"]
    raise EditorError("no editor: neither $VISUAL nor $EDITOR is set and there is no terminal",
                      hint="set EDITOR (for example EDITOR=nano) and run again")


def edit_text(text: str, name: str, env: Mapping[str, str] | None = None,
              interactive: bool | None = None) -> str:
    """`text` as the user left it after editing a temporary file called `name`."""
    env = os.environ if env is None else env
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
    command = choose_editor(env, interactive)
    with tempfile.TemporaryDirectory(prefix="quarterdeck-notes-") as scratch:
        path = Path(scratch) / name
        path.write_text(text, encoding="utf-8")
        try:
            done = subprocess.run([*command, str(path)], check=False)
        except OSError as err:
            raise EditorError(f"cannot start the editor {command[0]!r}: {err}",
                              hint="set VISUAL or EDITOR to an installed editor") from err
        if done.returncode != 0:
            raise EditorError(f"the editor {' '.join(command)} exited with {done.returncode}: "
                              "nothing was saved",
                              hint="save and quit the editor normally to keep the edit")
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError as err:
            raise EditorError("the editor removed the notes file: nothing was saved") from err
        except UnicodeDecodeError as err:
            raise EditorError("the edited notes are not UTF-8 text: nothing was saved",
                              hint="save the file as UTF-8") from err
