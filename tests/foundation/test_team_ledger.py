"""A ledger a team shares on PostgreSQL: how it is reached, and what is said when it cannot be.

Each failure names what is wrong and what to do, and never shows the password.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import Project
from tests.support.postgres import PgServer
from tests.support.sshd import free_port

pytestmark = pytest.mark.backends("postgresql")


def _use(project: Project, url: str) -> None:
    text = project.config.read_text(encoding="utf-8")
    project.config.write_text(re.sub(r'(?m)^url = "postgresql://[^"]*"', f'url = "{url}"', text, count=1),
                              encoding="utf-8")


def test_the_readme_form_of_the_url_works_whatever_sqlalchemy_defaults_to(project: Project) -> None:
    """`postgresql://` (what README shows) reaches the server through psycopg 3."""
    assert project.ledger_url.startswith("postgresql://")
    built = project.ok("build", "--json").json()
    assert project.ok("builds", "--json").json()[0]["id"] == built["id"]  # type: ignore[index]
    assert project.query("SELECT count(*) FROM builds") == [(1,)]


def test_another_driver_in_the_url_is_refused_by_name(project: Project) -> None:
    _use(project, project.ledger_url.replace("postgresql://", "postgresql+psycopg2://"))
    result = project.run("status")
    assert result.code == 1 and "unexpected" not in result.err
    said = " ".join(result.err.split())
    assert "names the driver 'psycopg2'" in said and "postgresql://USER@HOST/DATABASE" in said


def test_a_refused_connection_says_so_without_the_password(project: Project, postgres: PgServer) -> None:
    port = free_port()  # nothing listens there
    _use(project, project.ledger_url.replace(f":{postgres.port}/", f":{port}/"))
    result = project.run("status")
    assert result.code == 1 and "unexpected" not in result.err
    assert "connection refused" in result.err and "is the server running" in result.err
    assert postgres.password not in result.out + result.err
    assert "another quarterdeck may hold it" not in result.err


def test_a_wrong_password_is_named_and_not_shown(project: Project, postgres: PgServer) -> None:
    database = project.ledger_url.rsplit("/", 1)[1]
    _use(project, postgres.url(database, password="not-the-password"))
    result = project.run("builds")
    assert result.code == 1 and "unexpected" not in result.err
    assert "wrong password" in result.err and "~/.pgpass" in result.err
    assert "not-the-password" not in result.out + result.err
    assert "***" in result.err  # the URL is shown masked, so the reader knows which one


def test_a_missing_database_says_how_to_create_it(project: Project, postgres: PgServer) -> None:
    _use(project, postgres.url("no_such_ledger"))
    result = project.run("status")
    assert result.code == 1 and "unexpected" not in result.err
    assert "database does not exist" in result.err and "createdb" in result.err
    assert postgres.password not in result.out + result.err
