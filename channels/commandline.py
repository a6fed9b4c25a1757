"""The channels package's commands as the command line lists them: audiences, evidence, calendar.

Only names, help texts and "module:function" references: listing the commands (for
`--help`, and on every start) imports none of the implementation; pipeline imports a
command's module when it runs (issue 8: start-up).
"""

from __future__ import annotations

from collections.abc import Callable

Add = Callable[..., None]


def register(add: Add) -> None:
    audience = "channels.commands_audience:"
    evidence = "channels.commands_evidence:"
    calendar = "channels.commands_calendar:"
    portal = "channels.commands_portal:"
    add("orgs", "manage organisations and their contacts")
    add("import", "import contacts from a CSV file, all or nothing",
        audience + "cmd_orgs_import", audience + "_setup_import", parent="orgs", json=True)
    add("add", "add a contact (or update it in place)",
        audience + "cmd_orgs_add", audience + "_setup_add", parent="orgs")
    add("list", "list organisations and contacts",
        audience + "cmd_orgs_list", parent="orgs", json=True)
    add("remove", "remove an organisation, or one contact with --email",
        audience + "cmd_orgs_remove", audience + "_setup_remove", parent="orgs")
    add("sample", "print a sample contacts CSV to start from", audience + "cmd_orgs_sample", parent="orgs")
    add("channels", "each channel with its tiers, organisations and contact count",
        audience + "cmd_channels", json=True)
    add("beta", "the beta programme: enroll, approve, leave, list")
    add("enroll", "enroll an organisation in the beta programme",
        audience + "cmd_beta_enroll", audience + "_setup_org", parent="beta")
    add("approve", "enroll an organisation that asked to join from its beta page",
        audience + "cmd_beta_approve", audience + "_setup_org", parent="beta")
    add("leave", "take an organisation out of the beta programme",
        audience + "cmd_beta_leave", audience + "_setup_org", parent="beta")
    add("list", "who is enrolled, and the enrollment history",
        audience + "cmd_beta_list", parent="beta", json=True)
    add("signoff", "record a beta organisation's sign-off of a build on staging",
        evidence + "cmd_signoff", evidence + "_setup_signoff", json=True)
    add("problem", "problem reports from the beta programme, tracked to resolution")
    add("report", "report a problem found in a build",
        evidence + "cmd_problem_report", evidence + "_setup_report", parent="problem", json=True)
    add("list", "list problem reports",
        evidence + "cmd_problem_list", evidence + "_setup_list", parent="problem", json=True)
    add("resolve", "resolve a problem",
        evidence + "cmd_problem_resolve", evidence + "_setup_resolve", parent="problem", json=True)
    add("reopen", "reopen a resolved problem",
        evidence + "cmd_problem_reopen", evidence + "_setup_reopen", parent="problem", json=True)
    add("calendar", "the next quarterly pushes with their freeze, beta start and notice deadline",
        calendar + "cmd_calendar", calendar + "_setup_calendar", json=True)
    add("schedule", "schedule, move, cancel or show a build's production push",
        calendar + "cmd_schedule", calendar + "_setup_schedule", json=True)
    add("hold", "veto every promotion of a build", calendar + "cmd_hold", calendar + "_setup_hold")
    add("release-hold", "lift a build's hold",
        calendar + "cmd_release_hold", calendar + "_setup_release_hold")
    add("gates", "check a build against a tier's gates (exit 3 if any fails)",
        calendar + "cmd_gates", calendar + "_setup_gates", json=True)
    add("serve", "serve the beta testers' page and the problem intake API (behind a reverse proxy)",
        portal + "cmd_serve", portal + "_setup_serve")
    add("portal", "personal links to the beta page, and API tokens")
    add("link", "print a contact's personal link to their beta page",
        portal + "cmd_portal_link", portal + "_setup_contact", parent="portal", json=True)
    add("revoke", "revoke every link a contact has been given so far",
        portal + "cmd_portal_revoke", portal + "_setup_contact", parent="portal")
    add("token", "print a new problem intake API token for an organisation",
        portal + "cmd_portal_token", portal + "_setup_token", parent="portal")
