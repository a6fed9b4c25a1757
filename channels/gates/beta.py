"""The beta programme's evidence in the ledger: sign-offs and problem reports.

The rules are judged by the pure gates module (check_signoff,
applicable_problems); this module reads the facts they need (through
channels.gates.betaview, the one copy of each query, on the caller's
connection) and writes what they allow, each write with its audit entry in
the caller's transaction.
Evidence is never deleted: a resolved problem can be reopened, and its
resolution stays in the audit trail.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from sqlalchemy import Connection, and_, select
from sqlalchemy.exc import IntegrityError

from channels.audience.directory import find_contact
from channels.errors import ChannelsError, SignoffError
from channels.gates import betaview
from channels.gates.betaview import ProblemRecord as ProblemRecord
from channels.gates.gates import OPEN, RESOLVED, SEVERITIES, SignOff, check_signoff
from channels.store import enrolled_org_names, problems, require_org, signoffs
from releases.records.ledger import Ledger, inserted_id
from releases.records.reads import rows_of
from releases.tiers.deployments import first_success_at, succeeded_on

SUMMARY_MAX = 200
TEXT_MAX = 4000
DETAILS_MAX = 64 * 1024


def clean_text(value: str | None, field: str, *, limit: int, one_line: bool,
               required: bool = True) -> str | None:
    """A person's text as stored: trimmed, NFC, no control characters (it ends up in emails),
    and on one line where it is a title. Names the option at fault."""
    text = unicodedata.normalize("NFC", (value or "").strip())
    if not text:
        if required:
            raise ChannelsError(f"{field} is empty", hint=f"give {field} TEXT")
        return None
    allowed = "" if one_line else "\n\t"
    bad = next((c for c in text.replace("\r\n", "\n")
                if unicodedata.category(c) in ("Cc", "Zl", "Zp") and c not in allowed), None)
    if bad is not None:
        what = ("a line break" if bad in "\r\n\v\f\u2028\u2029\x85"
                else f"the control character U+{ord(bad):04X}")
        raise ChannelsError(f"{field} contains {what}",
                            hint="keep it to one line" if one_line else "remove it")
    if len(text) > limit:
        raise ChannelsError(f"{field} is {len(text)} characters long, more than {limit}",
                            hint="shorten it" + ("" if one_line else "; put long text in --details FILE"))
    return text.replace("\r\n", "\n")


# ---------------------------------------------------------------- sign-offs

def signoffs_for(conn: Connection, build_id: str) -> list[SignOff]:
    return betaview.signoffs_for(rows_of(conn), build_id)


def _contact_of(conn: Connection, org_name: str, by: str) -> str:
    """The stored spelling of `by`, a contact of the organisation: only its own people speak for it."""
    try:
        return find_contact(conn, org_name, by)[1]
    except ChannelsError as err:
        raise ChannelsError(f"--by: {err}", hint=err.hint) from None


def add_signoff(ledger: Ledger, conn: Connection, *, build_id: str, org_name: str, by: str,
                note: str | None, beta_tier: str) -> SignOff:
    """Record a beta organisation's sign-off if the programme's rules allow it (else SignoffError)."""
    org = require_org(conn, org_name)
    note = clean_text(note, "--note", limit=TEXT_MAX, one_line=False, required=False)
    check_signoff(org=org.name, by=by.strip(), build=build_id, enrolled_orgs=enrolled_org_names(conn),
                  staged_at=first_success_at(conn, build_id, beta_tier),
                  existing=signoffs_for(conn, build_id))
    by = _contact_of(conn, org.name, by)
    now = ledger.clock()
    try:
        with conn.begin_nested():
            conn.execute(signoffs.insert().values(build_id=build_id, org_id=org.id, signed_by=by,
                                                  note=note, signed_at=now, recorded_by=ledger.actor.who))
    except IntegrityError as err:  # a concurrent sign-off on a shared (PostgreSQL) ledger won the race
        raise SignoffError(f"{org.name} already signed off {build_id}") from err
    ledger.record(conn, "signoff.add", f"{build_id}:{org.name}", detail={"by": by, "note": note})
    return SignOff(org.name, by, now)


def withdraw_signoff(ledger: Ledger, conn: Connection, *, build_id: str, org_name: str, by: str,
                     push_tier: str | None) -> SignOff:
    """Take back an organisation's sign-off: only the contact who gave it, and only while the build
    has not gone on to `push_tier` (after the push it is history). The row goes; the audit entry
    keeps who signed, when and what they said, as a reopened problem keeps its resolution."""
    org = require_org(conn, org_name)
    row = conn.execute(select(signoffs).where(and_(signoffs.c.build_id == build_id,
                                                   signoffs.c.org_id == org.id))).first()
    if row is None:
        raise SignoffError(f"{org.name} has not signed off {build_id}", hint="there is nothing to withdraw")
    if row.signed_by.lower() != by.strip().lower():
        raise SignoffError(f"--by: {org.name}'s sign-off of {build_id} was given by {row.signed_by}",
                           hint="only the contact who signed off can withdraw it")
    if push_tier is not None and succeeded_on(conn, build_id, push_tier):
        raise SignoffError(f"{build_id} is already on {push_tier}: its sign-off can no longer be withdrawn")
    conn.execute(signoffs.delete().where(signoffs.c.id == row.id))
    ledger.record(conn, "signoff.withdraw", f"{build_id}:{org.name}",
                  detail={"by": row.signed_by, "note": row.note, "signed_at": row.signed_at.isoformat()})
    return SignOff(org.name, row.signed_by, row.signed_at)


# ---------------------------------------------------------------- problem reports

def all_problems(conn: Connection) -> list[ProblemRecord]:
    return betaview.all_problems(rows_of(conn))


def get_problem(conn: Connection, problem_id: int) -> ProblemRecord:
    found = betaview.find_problem(rows_of(conn), problem_id)
    if found is None:
        raise ChannelsError(f"there is no problem #{problem_id}",
                            hint="`quarterdeck problem list` shows the problem reports")
    return found


def report_problem(ledger: Ledger, conn: Connection, *, build_id: str, org_name: str, severity: str,
                   summary: str, details: str | None, by: str | None = None) -> ProblemRecord:
    """Record a problem report; `by` (a contact of the organisation) is the reporter, else whoever
    acts (the release manager typing it in, or the API token the application used)."""
    if severity not in SEVERITIES:
        raise ChannelsError(f"--severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    org = require_org(conn, org_name)
    reporter = _contact_of(conn, org.name, by) if by is not None else ledger.actor.who
    title = clean_text(summary, "--summary", limit=SUMMARY_MAX, one_line=True)
    body = clean_text(details, "--details", limit=DETAILS_MAX, one_line=False, required=False)
    result = conn.execute(problems.insert().values(
        build_id=build_id, org_id=org.id, severity=severity, summary=title, details=body, status=OPEN,
        reported_at=ledger.clock(), reported_by=reporter))
    problem_id = inserted_id(result)
    ledger.record(conn, "problem.report", f"problem:{problem_id}",
                  detail={"build": build_id, "organisation": org.name, "severity": severity,
                          "summary": title, "by": reporter})
    return get_problem(conn, problem_id)


def resolve_problem(ledger: Ledger, conn: Connection, problem_id: int, *, resolution: str,
                    fixed_in: str | None, order: Mapping[str, int]) -> ProblemRecord:
    """Close a problem; `fixed_in` (a build later than the one it was reported against) keeps it
    counting against the builds before the fix."""
    problem = get_problem(conn, problem_id)
    if problem.status == RESOLVED:
        raise ChannelsError(f"problem #{problem_id} is already resolved "
                            f"({problem.resolved_by}: {problem.resolution})",
                            hint=f"reopen it first: quarterdeck problem reopen {problem_id}")
    text = clean_text(resolution, "--resolution", limit=TEXT_MAX, one_line=False)
    if fixed_in is not None and order.get(fixed_in, 0) <= order.get(problem.build, 0):
        raise ChannelsError(f"--fixed-in {fixed_in} is not later than {problem.build}, the build "
                            f"problem #{problem_id} was reported against",
                            hint="name the first build that carries the fix, or leave --fixed-in out")
    conn.execute(problems.update().where(problems.c.id == problem_id).values(
        status=RESOLVED, resolved_at=ledger.clock(), resolved_by=ledger.actor.who, resolution=text,
        fixed_in=fixed_in))
    ledger.record(conn, "problem.resolve", f"problem:{problem_id}", reason=text,
                  detail={"fixed_in": fixed_in, "build": problem.build})
    return get_problem(conn, problem_id)


def reopen_problem(ledger: Ledger, conn: Connection, problem_id: int, *, reason: str | None) -> ProblemRecord:
    problem = get_problem(conn, problem_id)
    if problem.status == OPEN:
        raise ChannelsError(f"problem #{problem_id} is already open")
    conn.execute(problems.update().where(problems.c.id == problem_id).values(
        status=OPEN, resolved_at=None, resolved_by=None, resolution=None, fixed_in=None))
    ledger.record(conn, "problem.reopen", f"problem:{problem_id}", reason=reason,
                  detail={"was_resolved_by": problem.resolved_by, "resolution": problem.resolution,
                          "fixed_in": problem.fixed_in})
    return get_problem(conn, problem_id)
