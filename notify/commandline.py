"""The notify package's commands as the command line lists them: notices and trainings.

Only names, help texts and "module:function" references: listing the commands (for
`--help`, and on every start) imports none of the implementation; pipeline imports a
command's module when it runs (issue 8: start-up).
"""

from __future__ import annotations

from collections.abc import Callable

Add = Callable[..., None]


def register(add: Add) -> None:
    notices = "notify.commands:"
    add("notice", "preview, send and follow install notices")
    add("preview", "show exactly what a recipient would receive, without sending",
        notices + "cmd_preview", notices + "_setup_preview", parent="notice", json=True)
    add("send", "send a notice (or resume it: only pending and temporarily failed recipients)",
        notices + "cmd_send", notices + "_setup_send", parent="notice", json=True)
    add("status", "per notice: sent, pending, failed, unknown; and who failed",
        notices + "cmd_status", notices + "_setup_status", parent="notice", json=True)
    add("resend", "send again to failed or unknown recipients only",
        notices + "cmd_resend", notices + "_setup_resend", parent="notice", json=True)
    add("confirm", "record whether an unknown delivery arrived",
        notices + "cmd_confirm", notices + "_setup_confirm", parent="notice")
    add("training", "training sessions that notices list")
    add("add", "add a training session to a build",
        notices + "cmd_training_add", notices + "_setup_training_add", parent="training", json=True)
    add("list", "list a build's training sessions",
        notices + "cmd_training_list", notices + "_setup_build_json", parent="training", json=True)
