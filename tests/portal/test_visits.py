"""The demo's sample visitors (channels.portal.visits) against the real `serve` process: what they
do when the server accepts them, and the clear error they give when it refuses."""

from __future__ import annotations

import pytest

from channels.portal import visits
from tests.conftest import Project
from tests.portal.server import serving
from tests.portal.test_beta_page import MARIE, beta, build_on_staging, fixed_clock  # noqa: F401


def test_a_visitor_signs_off_with_a_link_and_is_refused_once_it_is_revoked(beta: Project) -> None:  # noqa: F811
    link = beta.ok("portal", "link", MARIE).out.strip()
    with serving(beta) as base:
        assert visits.sign_off(base, link, "tested on our data") == build_on_staging(beta)
        beta.ok("portal", "revoke", MARIE)
        before = beta.query("SELECT count(*) FROM audit")
        with pytest.raises(visits.VisitFailed, match="the beta page answered 403"):
            visits.sign_off(base, link, "again")
        assert beta.query("SELECT count(*) FROM audit") == before
    assert beta.query("SELECT signed_by, note FROM signoffs") == [(MARIE, "tested on our data")]


def test_the_installation_reports_and_a_wrong_token_gets_the_apis_own_words(beta: Project) -> None:  # noqa: F811
    token = beta.ok("portal", "token", "Acadia Hospice").out.strip()
    report = {"build": build_on_staging(beta), "severity": "minor", "summary": "Slow census"}
    with serving(beta) as base:
        filed = visits.report_problem(base, token, report)
        assert (filed["status"], filed["duplicate"]) == ("open", False)
        assert visits.report_problem(base, token, report)["duplicate"] is True
        with pytest.raises(visits.VisitFailed, match="answered 401: this token is not valid"):
            visits.report_problem(base, "qdp_" + "x" * 43, report)
    assert beta.query("SELECT count(*) FROM problems") == [(1,)]
