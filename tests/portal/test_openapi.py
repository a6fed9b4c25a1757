"""schemathesis against the served OpenAPI description: every answer the intake API gives to
generated reports (valid or not) is one the description documents, and never a server error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.channels.cli_support import NOW, make_build, sample_file
from tests.conftest import Project
from tests.portal.server import SECRET, ledger_state, serving


@pytest.fixture
def served(project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Project, str, str]]:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    monkeypatch.setenv("QUARTERDECK_PORTAL_SECRET", SECRET)
    project.ok("orgs", "import", sample_file(project))
    make_build(project)
    token = project.ok("portal", "token", "Acadia Hospice").out.strip()
    with serving(project) as base:
        yield project, base, token


def test_the_intake_api_answers_as_described(served: tuple[Project, str, str]) -> None:
    project, base, token = served
    schema = schemathesis.openapi.from_url(base + "/api/v1/openapi.json")
    operation = schema["/api/v1/problems"]["POST"]
    calls: list[int] = []

    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    def answers(case: Any) -> None:
        before = ledger_state(project)
        response = case.call_and_validate(
            base_url=base, headers={"authorization": f"Bearer {token}"},
            # A report can match the description and still be refused: the description cannot
            # list which builds exist, nor say that a summary is one line without control characters.
            excluded_checks=[positive_data_acceptance])
        calls.append(response.status_code)
        if response.status_code >= 400:
            assert ledger_state(project) == before, "a refused report changed the ledger"

    answers()
    assert len(calls) >= 10 and set(calls) & {201, 422}, calls
