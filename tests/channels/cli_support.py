"""Helpers for the channels CLI tests: CSV files, ledger row counts, the audit log, staged builds."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import create_engine, func, select

import pipeline
from channels import store
from releases.records.ledger import Actor, Ledger, audit
from releases.tiers.deployments import finish_deployment, start_deployment
from tests.conftest import Project

# A fixed "now": Monday 5 October 2026, 07:00 in Chicago. The next push (second Saturday of
# Feb/May/Aug/Nov, 22:00 America/Chicago) is Saturday 14 November 2026, 04:00-08:00 UTC on the 15th.
NOW = "2026-10-05T12:00:00+00:00"
HEADER = "organisation,name,email,role,time_zone\n"

CHANNEL_TABLES = (store.organisations, store.contacts, store.enrollments, store.signoffs, store.problems,
                  store.schedules, store.holds, store.gate_overrides)


def write_csv(project: Project, name: str, text: str, *, encoding: str = "utf-8") -> str:
    path = project.root / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def sample_file(project: Project) -> str:
    """The shipped sample, as a user gets it: through `orgs sample`."""
    return write_csv(project, "contacts.csv", project.ok("orgs", "sample").out)


def _ledger_url(project: Project) -> str:
    return pipeline.load_config(project.config).ledger_url


def row_counts(project: Project) -> dict[str, int]:
    """Rows in every channels table and the audit trail: "nothing changed" means these are equal."""
    open_ledger(project).close()  # the CLI creates the tables on first use; so does this
    engine = create_engine(_ledger_url(project))
    try:
        with engine.connect() as conn:
            counts = {table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                      for table in (*CHANNEL_TABLES, audit)}
    finally:
        engine.dispose()
    return counts


def audit_log(project: Project, *actions: str) -> list[dict[str, object]]:
    """The audit entries (oldest first) through `quarterdeck log --json`, optionally of some actions."""
    entries = project.ok("log", "--json").json()
    assert isinstance(entries, list)
    ordered = sorted(entries, key=lambda e: e["id"])
    return [e for e in ordered if not actions or e["action"] in actions]


def make_build(project: Project, change: str | None = None) -> str:
    """A new build of a new commit (or of HEAD); returns its id."""
    if change:
        name = re.sub(r"\W+", "_", change)
        project.repo.commit(f"fix: {change}", {f"app/{name}.py": f"# {change}\n"})
    built = project.ok("build", "--json").json()
    assert isinstance(built, dict)
    return str(built["id"])


def open_ledger(project: Project, at: str = NOW) -> Ledger:
    moment = datetime.fromisoformat(at)
    return Ledger(_ledger_url(project), pipeline.ledger_schemas(),
                  actor=Actor("tests@quarterdeck.example", "tests"), clock=lambda: moment)


def stage(project: Project, build_id: str, *, tier: str = "staging", at: str = NOW) -> None:
    """Record that the build completed a rollout on `tier` at `at`.

    Stands in for `quarterdeck promote`, which another helper is writing: the
    channels commands only read these deployment rows (succeeded_on /
    first_success_at), so they are inserted with the releases functions that
    promotion itself uses.
    """
    ledger = open_ledger(project, at)
    try:
        with ledger.write() as conn:
            deployment = start_deployment(ledger, conn, build_id=build_id, tier=tier, kind="promote",
                                          previous={f"local:{tier}-1": None})
            finish_deployment(ledger, conn, deployment, "succeeded")
    finally:
        ledger.close()


def set_production_gates(project: Project, lines: Iterable[str]) -> None:
    """Replace the [gates.production] table of the project's configuration."""
    text = project.config.read_text(encoding="utf-8")
    start = text.index("[gates.production]")
    end = text.index("[calendar]")
    project.config.write_text(text[:start] + "[gates.production]\n" + "\n".join(lines) + "\n\n" + text[end:],
                              encoding="utf-8")


def set_calendar(project: Project, **values: str) -> None:
    """Change keys of the [calendar] table (values are TOML text, e.g. months="[3]")."""
    text = project.config.read_text(encoding="utf-8")
    for key, value in values.items():
        text, count = re.subn(rf"(?m)^{key} = [^#\n]*", f"{key} = {value}   ", text)
        assert count == 1, key
    project.config.write_text(text, encoding="utf-8")
