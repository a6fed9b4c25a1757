"""The problem intake API's rules: the shape of a report the application sends, its fingerprint,
and filing it (a new problem, or one more occurrence of an open one with the same fingerprint).

The report is filed through channels.gates.beta.report_problem, as the page's and the CLI's
are, with the organisation's token as the reporter.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, select

from channels.errors import ChannelsError
from channels.gates.beta import (
    DETAILS_MAX,
    SUMMARY_MAX,
    ProblemRecord,
    clean_text,
    get_problem,
    report_problem,
)
from channels.gates.gates import OPEN, SEVERITIES
from channels.portal.access import TokenHolder
from channels.portal.links import PortalRefused
from channels.portal.store import intake_reports
from releases.artifacts.builds import get_build
from releases.records.ledger import Ledger

FIELDS = ("build", "severity", "summary", "details", "diagnostics")
DIAGNOSTICS_MAX = 16 * 1024  # bytes of the diagnostics object as JSON
DIAGNOSTICS_DEPTH = 4


class IntakeRefused(PortalRefused):
    """A report of the wrong shape or content; the message names the field."""


@dataclass(frozen=True)
class IntakeReport:
    build: str
    severity: str
    summary: str
    details: str | None
    diagnostics: str | None  # canonical JSON

    def fingerprint(self, org_id: int) -> str:
        """The same report twice: same organisation, build, severity, summary and details
        (diagnostics differ between occurrences: times, memory, a request id)."""
        key = json.dumps([org_id, self.build, self.severity, self.summary, self.details], ensure_ascii=False)
        return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def parse_report(payload: Any) -> IntakeReport:
    """The report in a request's JSON, or IntakeRefused naming what is wrong."""
    if not isinstance(payload, dict):
        raise IntakeRefused("the body must be a JSON object with build, severity and summary")
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise IntakeRefused(f"unknown field {unknown[0]!r}", hint=f"the fields are {', '.join(FIELDS)}")
    for field in ("build", "severity", "summary"):
        if not isinstance(payload.get(field), str):
            raise IntakeRefused(f"{field} must be a string")
    if payload.get("details") is not None and not isinstance(payload["details"], str):
        raise IntakeRefused("details must be a string or null")
    if payload["severity"] not in SEVERITIES:
        raise IntakeRefused(f"severity {payload['severity']!r} is not one of {', '.join(SEVERITIES)}")
    diagnostics = payload.get("diagnostics")
    text = None
    if diagnostics is not None:
        if not isinstance(diagnostics, dict):
            raise IntakeRefused("diagnostics must be a JSON object")
        if _depth(diagnostics) > DIAGNOSTICS_DEPTH:
            raise IntakeRefused(f"diagnostics nest deeper than {DIAGNOSTICS_DEPTH} levels")
        text = json.dumps(diagnostics, ensure_ascii=False, sort_keys=True)
        if len(text.encode("utf-8")) > DIAGNOSTICS_MAX:
            raise IntakeRefused(f"diagnostics are larger than {DIAGNOSTICS_MAX} bytes as JSON",
                                hint="send a summary; keep logs on the installation")
    try:
        summary = clean_text(payload["summary"], "summary", limit=SUMMARY_MAX, one_line=True)
        details = clean_text(payload.get("details"), "details", limit=DETAILS_MAX, one_line=False,
                             required=False)
    except ChannelsError as err:  # the one check of a person's text, naming the field
        raise IntakeRefused(str(err)) from None
    assert summary is not None
    return IntakeReport(payload["build"].strip(), payload["severity"], summary, details, text)


@dataclass(frozen=True)
class Filed:
    problem: ProblemRecord
    occurrences: int
    new: bool


def file_report(ledger: Ledger, conn: Connection, holder: TokenHolder, report: IntakeReport) -> Filed:
    """File the application's report, or count it on the open problem it repeats."""
    if get_build(conn, report.build) is None:
        raise IntakeRefused(f"there is no build {report.build!r}",
                            hint="send the build id from the installation's VERSION file")
    acting = holder.acting(ledger)
    fingerprint = report.fingerprint(holder.org_id)
    earlier = conn.execute(select(intake_reports.c.problem_id).where(and_(
        intake_reports.c.org_id == holder.org_id, intake_reports.c.fingerprint == fingerprint))
        .order_by(intake_reports.c.id.desc()).limit(1)).scalar()
    problem = get_problem(conn, earlier) if earlier is not None else None
    new = problem is None or problem.status != OPEN
    if new:
        problem = report_problem(acting, conn, build_id=report.build, org_name=holder.org,
                                 severity=report.severity, summary=report.summary, details=report.details)
    assert problem is not None
    conn.execute(intake_reports.insert().values(
        problem_id=problem.id, org_id=holder.org_id, token_id=holder.token_id, fingerprint=fingerprint,
        diagnostics=report.diagnostics, received_at=ledger.clock()))
    occurrences = conn.execute(select(func.count()).select_from(intake_reports)
                               .where(intake_reports.c.problem_id == problem.id)).scalar_one()
    if not new:
        acting.record(conn, "problem.repeat", f"problem:{problem.id}",
                      detail={"build": report.build, "occurrences": occurrences})
    return Filed(problem, int(occurrences), new)


def openapi(base_url: str) -> dict[str, object]:
    """The intake API's OpenAPI description, served at /api/v1/openapi.json."""
    error = {"type": "object", "required": ["error"],
             "properties": {"error": {"type": "string"}, "hint": {"type": ["string", "null"]}}}
    answer = {"type": "object", "required": ["id", "status", "occurrences", "duplicate"], "properties": {
        "id": {"type": "integer"}, "status": {"type": "string", "enum": ["open", "resolved"]},
        "occurrences": {"type": "integer", "minimum": 1}, "duplicate": {"type": "boolean"}}}

    def refused(what: str) -> dict[str, object]:
        return {"description": what, "content": {"application/json": {"schema": error}}}

    return {
        "openapi": "3.1.0",
        "info": {"title": "Quarterdeck problem intake", "version": "1"},
        "servers": [{"url": base_url}],
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
        "paths": {"/api/v1/problems": {"post": {
            "summary": "Report a problem found by a running build",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False,
                "required": ["build", "severity", "summary"],
                "properties": {
                    "build": {"type": "string", "description": "the id in the installation's VERSION file"},
                    "severity": {"type": "string", "enum": list(SEVERITIES)},
                    "summary": {"type": "string", "minLength": 1, "maxLength": SUMMARY_MAX},
                    "details": {"type": ["string", "null"], "maxLength": DETAILS_MAX},
                    "diagnostics": {"type": ["object", "null"],
                                    "description": f"at most {DIAGNOSTICS_MAX} bytes as JSON, "
                                                   f"{DIAGNOSTICS_DEPTH} levels deep"}}}}}},
            "responses": {
                "201": {"description": "a new problem was filed",
                        "content": {"application/json": {"schema": answer}}},
                "200": {"description": "the same report as an open problem's: counted on it",
                        "content": {"application/json": {"schema": answer}}},
                "400": refused("the body is not JSON"),
                "401": refused("no token, or not a valid one"),
                "413": refused("the body is too large"),
                "415": refused("the body is not application/json"),
                "422": refused("a field is missing, unknown or wrong, or the build is unknown"),
                "429": refused("too many reports from this token; wait and retry"),
            }}}},
    }
