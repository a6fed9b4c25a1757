"""`orgs`, `channels` and `beta`: who the notices of each tier go to."""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import replace
from pathlib import Path

from channels.app import ChannelsApp
from channels.audience.audience import audiences
from channels.audience.contacts import (
    Contact,
    ContactChanges,
    load_contacts_file,
    make_contact,
    sample_contacts_csv,
)
from channels.cli import esc, local, plural, table
from channels.errors import ChannelsError

# ---------------------------------------------------------------- orgs import


def _setup_import(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE.csv",
                   help="columns organisation,name,email,role,time_zone (`quarterdeck orgs sample`)")


def _contact_label(contact: Contact) -> str:
    return f"{contact.organisation}: {contact.name} <{contact.email}>"


def _import_json(changes: ContactChanges) -> dict[str, object]:
    return {"changed": changes.changes_anything,
            "added": [_contact_label(c) for c in changes.added],
            "updated": [{"contact": _contact_label(u.after), "fields": list(u.fields)}
                        for u in changes.updated],
            "unchanged": len(changes.unchanged),
            "not_in_file": [_contact_label(c) for c in changes.not_in_file]}


def cmd_orgs_import(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.audience.directory import import_contacts

    path = Path(args.file)
    incoming = load_contacts_file(path, default_zone=app.config.timezone)  # every bad line, or nothing
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with app.ledger.write() as conn:
        changes = import_contacts(app.ledger, conn, incoming, source=path.name, sha256=digest)
    if app.json:
        app.emit_json(_import_json(changes))
        return 0
    counts = (f"{len(changes.added)} added, {len(changes.updated)} updated, "
              f"{len(changes.unchanged)} unchanged")
    if changes.changes_anything:
        app.out.print(f"imported [bold]{esc(path.name)}[/bold]: {counts}")
    else:
        app.out.print(f"[yellow]nothing changed[/yellow]: {esc(path.name)} matches the ledger ({counts})")
    for update in changes.updated:
        app.out.print(f"  updated {esc(_contact_label(update.after))}: {', '.join(update.fields)}")
    if changes.not_in_file:
        app.out.print(f"{plural(len(changes.not_in_file), 'contact')} in the ledger but not in "
                      f"{esc(path.name)} (kept; `quarterdeck orgs remove` removes them):")
        for contact in changes.not_in_file:
            app.out.print(f"  {esc(_contact_label(contact))}")
    return 0


# ---------------------------------------------------------------- orgs add / list / remove / sample

def _setup_add(p: argparse.ArgumentParser) -> None:
    p.add_argument("org", metavar="ORG", help="organisation (added if new)")
    p.add_argument("--name", required=True, help="the contact's name")
    p.add_argument("--email", required=True, help="the contact's email address")
    p.add_argument("--role", required=True, help="`staff` for the vendor's own people, else e.g. nurse")
    p.add_argument("--time-zone", default="", help="IANA zone (default: the project's)")
    p.add_argument("--opted-out", action="store_true",
                   help="send only mandatory notices (install notices), not optional ones")


def cmd_orgs_add(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.audience.directory import upsert_contact

    contact = make_contact(organisation=args.org, name=args.name, email=args.email, role=args.role,
                           time_zone=args.time_zone, default_zone=app.config.timezone)
    contact = replace(contact, opted_out=args.opted_out)
    with app.ledger.write() as conn:
        done = upsert_contact(app.ledger, conn, contact)
    label = esc(_contact_label(done.contact))
    if done.outcome == "added":
        app.out.print(f"added {label}")
    elif done.outcome == "updated":
        app.out.print(f"updated {label}: {', '.join(done.fields)}")
    else:
        app.out.print(f"[yellow]nothing changed[/yellow]: {label} is already in the ledger as given")
    return 0


def cmd_orgs_list(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.audience.directory import ledger_contacts
    from channels.store import active_orgs, enrolled_org_names

    with app.ledger.read() as conn:
        orgs = active_orgs(conn)
        people = ledger_contacts(conn, app.config.timezone)
        enrolled = set(enrolled_org_names(conn))
    by_org: dict[str, list[Contact]] = {org.name: [] for org in orgs}
    for person in people:
        by_org.setdefault(person.organisation, []).append(person)
    if app.json:
        app.emit_json([{"organisation": name, "enrolled": name in enrolled,
                        "contacts": [{"name": c.name, "email": c.email, "role": c.role,
                                      "time_zone": c.time_zone, "opted_out": c.opted_out}
                                     for c in members]}
                       for name, members in by_org.items()])
        return 0
    if not by_org:
        app.out.print("no organisations yet: [bold]quarterdeck orgs import FILE.csv[/bold] "
                      "(start from [bold]quarterdeck orgs sample[/bold])")
        return 0
    grid = table("Organisations and contacts", "organisation", "beta", "name", "email", "role",
                 "time zone", "optional notices")
    for name, members in by_org.items():
        beta = "[green]enrolled[/green]" if name in enrolled else ""
        if not members:
            grid.add_row(esc(name), beta, "[dim]no contacts[/dim]", "", "", "", "", end_section=True)
        for i, c in enumerate(members):
            grid.add_row(esc(name) if i == 0 else "", beta if i == 0 else "", esc(c.name), esc(c.email),
                         esc(c.role), c.time_zone, "[yellow]opted out[/yellow]" if c.opted_out else "yes",
                         end_section=i == len(members) - 1)
    app.out.print(grid)
    app.out.print(f"{plural(len(by_org), 'organisation')}, {plural(len(people), 'contact')}, "
                  f"{len(enrolled)} enrolled in the beta programme")
    return 0


def _setup_remove(p: argparse.ArgumentParser) -> None:
    p.add_argument("org", metavar="ORG", help="the organisation")
    p.add_argument("--email", help="remove only this contact of the organisation")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def cmd_orgs_remove(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.audience.directory import find_contact, remove_contact, remove_org
    from channels.store import require_org

    with app.ledger.read() as conn:  # name what is wrong before asking anything
        if args.email:
            org, email = find_contact(conn, args.org, args.email)
            what = f"the contact {email} of {org.name}"
        else:
            what = f"the organisation {require_org(conn, args.org).name} and all its contacts"
    if not app.confirm(f"Remove {what}?", args.yes):
        app.out.print("nothing removed")
        return 1
    with app.ledger.write() as conn:
        if args.email:
            org, email = remove_contact(app.ledger, conn, args.org, args.email)
            message = f"removed {esc(email)} from {esc(org.name)}"
        else:
            gone = remove_org(app.ledger, conn, args.org)
            message = (f"removed {esc(gone.organisation)} ({plural(gone.contacts, 'contact')}"
                       f"{'; it left the beta programme' if gone.left_beta else ''}); its sign-offs and "
                       "problem reports stay in the ledger")
    app.out.print(message)
    return 0


def cmd_orgs_sample(app: ChannelsApp, args: argparse.Namespace) -> int:
    app.out.print(sample_contacts_csv(), markup=False, highlight=False, soft_wrap=True, end="")
    return 0


# ---------------------------------------------------------------- channels

def cmd_channels(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.audience.directory import ledger_contacts
    from channels.store import enrolled_org_names

    with app.ledger.read() as conn:
        people = ledger_contacts(conn, app.config.timezone)
        enrolled = enrolled_org_names(conn)
    found = audiences([(t.name, t.channel) for t in app.config.tiers], people, enrolled)
    if app.json:
        app.emit_json([a.as_dict() for a in found])
        return 0
    grid = table("Channels", "channel", "tiers", "organisations", "contacts")
    for item in found:
        grid.add_row(item.channel, ", ".join(item.tiers) or "[dim]no tier[/dim]",
                     esc(", ".join(item.organisations)) or "[dim]none[/dim]", str(item.contacts))
    app.out.print(grid)
    return 0


# ---------------------------------------------------------------- beta

def _setup_org(p: argparse.ArgumentParser) -> None:
    p.add_argument("org", metavar="ORG", help="the organisation")


def cmd_beta_enroll(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.audience.directory import enroll

    with app.ledger.write() as conn:
        enrollment, made = enroll(app.ledger, conn, args.org)
    name = esc(enrollment.organisation)
    if made:
        app.out.print(f"enrolled [bold]{name}[/bold] in the beta programme; its contacts now get the "
                      "beta channel's notices")
    else:
        app.out.print(f"[yellow]nothing changed[/yellow]: {name} is enrolled since "
                      f"{local(enrollment.enrolled_at, app.config.timezone)} ({esc(enrollment.enrolled_by)})")
    return 0


def cmd_beta_approve(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.portal.joining import approve_join

    with app.ledger.write() as conn:
        enrollment, asked = approve_join(app.ledger, conn, args.org)
    app.out.print(f"enrolled [bold]{esc(enrollment.organisation)}[/bold] in the beta programme, as "
                  f"{esc(asked.requested_by)} asked on {local(asked.requested_at, app.config.timezone)}")
    return 0


def cmd_beta_leave(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.audience.directory import leave

    with app.ledger.write() as conn:
        ended = leave(app.ledger, conn, args.org)
    if ended is None:
        raise ChannelsError(f"{args.org.strip()} is not enrolled in the beta programme; nothing changed",
                            hint="`quarterdeck beta list` shows who is enrolled")
    app.out.print(f"{esc(ended.organisation)} left the beta programme (enrolled since "
                  f"{local(ended.enrolled_at, app.config.timezone)})")
    return 0


def cmd_beta_list(app: ChannelsApp, args: argparse.Namespace) -> int:
    from channels.audience.directory import enrollment_history

    with app.ledger.read() as conn:
        history = enrollment_history(conn)
    enrolled = sorted({e.organisation for e in history if e.left_at is None}, key=str.casefold)
    if app.json:
        app.emit_json({"enrolled": enrolled, "history": [e.as_dict() for e in history]})
        return 0
    if not history:
        app.out.print("no organisation has been enrolled yet: [bold]quarterdeck beta enroll ORG[/bold]")
        return 0
    zone = app.config.timezone
    grid = table("Beta programme", "organisation", "enrolled", "by", "left", "by")
    for e in history:
        grid.add_row(esc(e.organisation), local(e.enrolled_at, zone), esc(e.enrolled_by),
                     local(e.left_at, zone) if e.left_at else "[green]enrolled now[/green]",
                     esc(e.left_by or ""))
    app.out.print(grid)
    app.out.print(f"enrolled now: {esc(', '.join(enrolled)) or 'none'}")
    return 0
