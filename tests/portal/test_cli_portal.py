"""`portal link`, `portal revoke` and `portal token` on the command line; the link secret never shown."""

from __future__ import annotations

import pytest

from tests.channels.cli_support import NOW, sample_file
from tests.conftest import Project
from tests.portal.server import SECRET, set_portal

MARIE = "mh.theriault@acadia-hospice.example"


@pytest.fixture
def contacts(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)
    project.ok("orgs", "import", sample_file(project))
    return project


def test_a_link_needs_the_secret_from_the_environment(contacts: Project,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUARTERDECK_PORTAL_SECRET", raising=False)
    before = contacts.query("SELECT count(*) FROM audit")
    unset = contacts.run("portal", "link", MARIE)
    assert unset.code == 1 and "QUARTERDECK_PORTAL_SECRET is not set" in unset.err
    assert "openssl rand -hex 32" in unset.err
    monkeypatch.setenv("QUARTERDECK_PORTAL_SECRET", "hunter2")
    short = contacts.run("portal", "link", MARIE)
    assert short.code == 1 and "fewer than 32" in short.err and "hunter2" not in short.err
    set_portal(contacts, secret_env='"HOSPICE_LINKS"', link_days="7")
    monkeypatch.setenv("HOSPICE_LINKS", SECRET)
    assert contacts.query("SELECT count(*) FROM audit") == before
    made = contacts.ok("portal", "link", MARIE, "--json").json()
    assert isinstance(made, dict)
    assert made["organisation"] == "Acadia Hospice" and made["expires"] == "2026-10-12T12:00:00+00:00"
    assert SECRET not in str(made) and SECRET not in str(contacts.query("SELECT * FROM audit"))


def test_a_link_names_one_contact_of_one_organisation(contacts: Project,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_PORTAL_SECRET", SECRET)
    unknown = contacts.run("portal", "link", "nobody@acadia-hospice.example")
    assert unknown.code == 1 and "no organisation has a contact" in unknown.err
    contacts.ok("orgs", "add", "Bayou Palliative", "--name", "M-H T", "--email", MARIE, "--role", "nurse")
    both = contacts.run("portal", "link", MARIE)
    assert both.code == 1 and "Acadia Hospice, Bayou Palliative" in both.err and "--org" in both.err
    assert contacts.ok("portal", "link", MARIE, "--org", "Bayou Palliative").out.startswith("http://")
    revoked = contacts.ok("portal", "revoke", MARIE, "--org", "acadia hospice")
    assert "Acadia Hospice" in revoked.out
    assert contacts.query("SELECT generation FROM portal_link_generations") == [(1,)]
    token = contacts.ok("portal", "token", "Acadia Hospice").out.strip()
    assert token.startswith("qdp_")
    assert token not in str(contacts.query("SELECT * FROM portal_api_tokens"))


@pytest.mark.backends("sqlite")  # about the configuration file and the environment only
def test_serve_and_config_check_refuse_a_missing_secret_and_bad_portal_values(
        contacts: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUARTERDECK_PORTAL_SECRET", raising=False)
    unset = contacts.run("serve", "--port", "1")
    assert unset.code == 1 and "QUARTERDECK_PORTAL_SECRET is not set" in unset.err
    set_portal(contacts, secret_env='"9 lives"', link_days="0", base_url='"ftp://x"')
    checked = contacts.run("config", "check")
    assert checked.code != 0
    for key in ("portal.secret_env", "portal.link_days", "portal.base_url"):
        assert key in checked.err, checked.err


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"])
def test_config_check_warns_when_notices_would_carry_links_to_this_machine(
        project: Project, monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    set_portal(project, base_url=f'"{base_url}"')
    monkeypatch.delenv("QUARTERDECK_PORTAL_SECRET", raising=False)
    assert "portal.base_url" not in project.ok("config", "check").err, "no secret: no links, no warning"
    monkeypatch.setenv("QUARTERDECK_PORTAL_SECRET", SECRET)
    checked = project.ok("config", "check")
    said = " ".join(checked.err.split())
    assert f"warning: portal.base_url is {base_url}, an address on this machine" in said
    assert "reverse proxy's https:// address" in said and SECRET not in checked.err
    set_portal(project, base_url='"https://beta.hospice-suite.example"')
    assert "portal.base_url" not in project.ok("config", "check").err
