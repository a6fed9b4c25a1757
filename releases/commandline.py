"""The releases package's commands as the command line lists them: builds, status, promotion, records.

Only names, help texts and "module:function" references: listing the commands (for
`--help`, and on every start) imports none of the implementation; pipeline imports a
command's module when it runs (issue 8: start-up).
"""

from __future__ import annotations

from collections.abc import Callable

Add = Callable[..., None]


def register(add: Add) -> None:
    builds = "releases.commands:"
    deploy = "releases.commands_deploy:"
    records = "releases.commands_records:"
    add("build", "make an immutable, checksummed build of a commit",
        builds + "cmd_build", builds + "_setup_build", json=True)
    add("builds", "list builds, newest first", builds + "cmd_builds", builds + "_setup_builds", json=True)
    add("show", "show one build and where it runs", builds + "cmd_show", builds + "_setup_show", json=True)
    add("status", "what runs where, the beta's sign-offs and problems, the next push",
        builds + "cmd_status", json=True)
    add("promote", "install a build on a tier, after the tier before it",
        deploy + "cmd_promote", deploy + "_setup_promote", json=True)
    add("rollback", "switch every host of a tier back to an earlier release",
        deploy + "cmd_rollback", deploy + "_setup_rollback", json=True)
    add("check", "ask every host of a tier whether it can take a build (what promote checks first)",
        "releases.commands_check:cmd_check", "releases.commands_check:_setup_check", json=True)
    add("unlock", "break a tier's stale deploy lock (audited)",
        deploy + "cmd_unlock", deploy + "_setup_unlock", json=True)
    add("log", "who did what, when and why (the audit trail)", records + "cmd_log", records + "_setup_log")
    add("verify", "check the audit trail's hash chain",
        records + "cmd_log_verify", records + "_setup_verify", parent="log")
    add("backup", "write a consistent backup of the ledger and its artifacts",
        records + "cmd_backup", records + "_setup_backup")
    add("restore", "restore a checked backup", records + "cmd_restore", records + "_setup_restore")
