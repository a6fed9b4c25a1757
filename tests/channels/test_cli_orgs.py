"""`orgs import/add/list/remove/sample`, `channels` and `beta` through the CLI, on a real ledger."""

from __future__ import annotations

import pytest

from channels.audience.contacts import sample_contacts_csv
from tests.channels.cli_support import HEADER, NOW, audit_log, row_counts, sample_file, write_csv
from tests.conftest import Project

ACADIA, BAYOU, STAFF = "Acadia Hospice", "Bayou Palliative", "Quarterdeck Health"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARTERDECK_NOW", NOW)


def contacts_by_email(project: Project) -> dict[str, dict[str, object]]:
    listed = project.ok("orgs", "list", "--json").json()
    assert isinstance(listed, list)
    return {c["email"]: {**c, "organisation": org["organisation"]}
            for org in listed for c in org["contacts"]}


def channel(project: Project, name: str) -> dict[str, object]:
    found = project.ok("channels", "--json").json()
    assert isinstance(found, list)
    [item] = [c for c in found if c["channel"] == name]
    return item


# ---------------------------------------------------------------- import

def test_import_the_sample_then_reimport_changes_nothing(project: Project) -> None:
    path = sample_file(project)
    first = project.ok("orgs", "import", path, "--json").json()
    assert first == {"changed": True, "added": first["added"], "updated": [], "unchanged": 0,  # type: ignore[index]
                     "not_in_file": []}
    assert len(first["added"]) == 12  # type: ignore[index]

    people = contacts_by_email(project)
    assert len(people) == 12
    assert people["kenji.watanabe@quarterdeck.example"]["name"] == "渡辺 健二"
    assert people["fatima@cascade-hospice.example"]["name"] == "فاطمة الزهراء"
    assert people["a.okafor@bayou-palliative.example"]["name"] == "Okafor, Amara (Dr.)"
    okafor = people["a.okafor@bayou-palliative.example"]
    assert okafor["time_zone"] == "America/Chicago", "an empty cell is the project zone"
    assert people["siobhan@quarterdeck.example"]["time_zone"] == "Europe/London"
    assert people["zoe@delta-hospice.example"]["organisation"] == "Delta Hospice Care"
    assert not any(p["opted_out"] for p in people.values())

    before = row_counts(project)
    again = project.ok("orgs", "import", path)
    assert "nothing changed" in again.out and "0 added, 0 updated, 12 unchanged" in again.out
    assert row_counts(project) == before, "a re-import writes nothing, not even an audit entry"

    imports = audit_log(project, "contacts.import")
    assert len(imports) == 1 and imports[0]["subject"] == "file:contacts.csv"
    assert len(imports[0]["detail"]["added"]) == 12  # type: ignore[index]
    assert [e["subject"] for e in audit_log(project, "org.add")] == [
        f"org:{STAFF}", f"org:{ACADIA}", f"org:{BAYOU}", "org:Cascade Hospice", "org:Delta Hospice Care"]


def test_an_edited_file_updates_in_place_keeps_opt_outs_and_lists_the_missing(project: Project) -> None:
    project.ok("orgs", "import", sample_file(project))
    project.ok("orgs", "add", ACADIA, "--name", "Tom Baxter", "--email", "it@acadia-hospice.example",
               "--role", "administrator", "--time-zone", "America/New_York", "--opted-out")
    edited = sample_contacts_csv().replace("Tom Baxter,it@acadia-hospice.example,administrator",
                                           "Thomas Baxter,it@acadia-hospice.example,IT lead")
    edited = "\n".join(line for line in edited.splitlines() if "lukasz@" not in line) + "\n"
    edited += "Bayou Palliative,Ana Lima,ana.lima@bayou-palliative.example,nurse,America/Sao_Paulo\n"

    result = project.ok("orgs", "import", write_csv(project, "edited.csv", edited), "--json").json()
    assert result["added"] == ["Bayou Palliative: Ana Lima <ana.lima@bayou-palliative.example>"]  # type: ignore[index]
    assert result["updated"] == [{"contact": "Acadia Hospice: Thomas Baxter <it@acadia-hospice.example>",  # type: ignore[index]
                                  "fields": ["name", "role"]}]
    assert result["unchanged"] == 10  # type: ignore[index]
    assert result["not_in_file"] == ["Delta Hospice Care: Łukasz Wiśniewski <lukasz@delta-hospice.example>"]  # type: ignore[index]

    people = contacts_by_email(project)
    assert len(people) == 13 and "lukasz@delta-hospice.example" in people, \
        "a contact missing from the file is listed, not removed"
    tom = people["it@acadia-hospice.example"]
    assert (tom["name"], tom["role"], tom["opted_out"]) == ("Thomas Baxter", "IT lead", True)

    text = project.ok("orgs", "import", write_csv(project, "edited.csv", edited))
    assert "nothing changed" in text.out
    assert "lukasz@delta-hospice.example" in text.out and "not in edited.csv" in text.out


BAD_FILES = {
    "bad email": (HEADER + "Acadia Hospice,Ann,ann@acadia.example,nurse,\n"
                  "Acadia Hospice,Bob,bob at acadia,nurse,\n", ["line 3: email 'bob at acadia'"]),
    "unknown time zone": (HEADER + "Acadia Hospice,Ann,ann@acadia.example,nurse,America/Chicgo\n",
                          ["line 2: time_zone 'America/Chicgo'", "America/Chicago"]),
    "duplicate contact": (HEADER + "Acadia Hospice,Ann,ann@acadia.example,nurse,\n"
                          "Acadia Hospice,Ann B,ANN@acadia.example,nurse,\n", ["line 3: duplicate contact"]),
    "missing column": ("organisation,name,email,role\nAcadia Hospice,Ann,ann@acadia.example,nurse\n",
                       ["line 1: missing column 'time_zone'"]),
    "short row": (HEADER + "Acadia Hospice,Ann,ann@acadia.example\n", ["line 2: has 3 fields"]),
    "several bad lines": (HEADER + "Acadia Hospice,,ann@acadia.example,nurse,\n"
                          "Acadia Hospice,Bob,bob@acadia.example,nurse,\n"
                          ",Cy,cy@acadia.example,,Mars/Base\n",
                          ["2 bad lines", "line 2: name is empty", "line 4: organisation is empty",
                           "line 4: role is empty", "line 4: time_zone 'Mars/Base'"]),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_bad_file_is_rejected_whole_and_the_ledger_is_unchanged(project: Project, kind: str) -> None:
    project.ok("orgs", "import", sample_file(project))
    before = row_counts(project)
    text, expected = BAD_FILES[kind]
    result = project.run("orgs", "import", write_csv(project, "bad.csv", text))
    assert result.code == 1 and result.out == ""
    assert "nothing was imported" in result.err
    for fragment in expected:
        assert fragment in result.err
    assert row_counts(project) == before
    assert "bob@acadia.example" not in contacts_by_email(project)


def test_a_file_that_is_not_utf8_or_missing_is_refused(project: Project) -> None:
    latin1 = write_csv(project, "latin1.csv", HEADER + "Acadia Hospice,Zoë,zoe@acadia.example,nurse,\n",
                       encoding="latin-1")
    before = row_counts(project)
    result = project.run("orgs", "import", latin1)
    assert result.code == 1 and "line 2: is not UTF-8" in result.err
    missing = project.run("orgs", "import", str(project.root / "nope.csv"))
    assert missing.code == 1 and "nope.csv" in missing.err
    assert row_counts(project) == before


# ---------------------------------------------------------------- add, list, remove, sample

def test_orgs_add_adds_updates_and_refuses_bad_values(project: Project) -> None:
    added = project.ok("orgs", "add", "Évora Hospice", "--name", "Inês", "--email", "ines@evora.example",
                       "--role", "nurse")
    assert "added Évora Hospice: Inês <ines@evora.example>" in added.out
    same = project.ok("orgs", "add", "ÉVORA hospice", "--name", "Inês", "--email", "ines@EVORA.example",
                      "--role", "nurse")
    assert "nothing changed" in same.out, "an organisation is matched in any case, a domain too"
    local_case = project.ok("orgs", "add", "Évora Hospice", "--name", "Inês", "--email", "INES@evora.example",
                            "--role", "nurse")
    assert "updated Évora Hospice: Inês <INES@evora.example>: email" in local_case.out, \
        "the same address with its local part in another case is the same contact, respelled"
    project.ok("orgs", "add", "Évora Hospice", "--name", "Inês", "--email", "ines@evora.example",
               "--role", "nurse")
    updated = project.ok("orgs", "add", "Évora Hospice", "--name", "Inês", "--email", "ines@evora.example",
                         "--role", "nurse", "--opted-out")
    assert "updated" in updated.out and "opted_out" in updated.out
    people = contacts_by_email(project)
    assert list(people) == ["ines@evora.example"] and people["ines@evora.example"]["opted_out"] is True
    assert people["ines@evora.example"]["organisation"] == "Évora Hospice"

    before = row_counts(project)
    bad = project.run("orgs", "add", "Évora Hospice", "--name", "X", "--email", "x@@evora", "--role", "nurse")
    assert bad.code == 1 and "'x@@evora' is not a valid address" in bad.err
    zone = project.run("orgs", "add", "Évora Hospice", "--name", "X", "--email", "x@evora.example",
                       "--role", "nurse", "--time-zone", "Europe/Lisboa")
    assert zone.code == 1 and "Europe/Lisboa" in zone.err and "Europe/Lisbon" in zone.err
    assert row_counts(project) == before
    assert [e["action"] for e in audit_log(project, "org.add", "contact.add", "contact.update")] == [
        "org.add", "contact.add", "contact.update", "contact.update", "contact.update"]


def test_orgs_list_shows_names_as_text_not_markup(project: Project) -> None:
    project.ok("orgs", "add", "[bold]Hospice[/bold]", "--name", "Ann [red]", "--email", "ann@h.example",
               "--role", "nurse")
    out = project.ok("orgs", "list").out
    assert "[bold]Hospice[/bold]" in out and "Ann [red]" in out
    assert "1 organisation, 1 contact, 0 enrolled" in out


def test_orgs_remove_a_contact_or_an_organisation(project: Project) -> None:
    project.ok("orgs", "import", sample_file(project))
    project.ok("beta", "enroll", ACADIA)
    before = row_counts(project)
    unconfirmed = project.run("orgs", "remove", ACADIA, "--email", "it@acadia-hospice.example")
    assert unconfirmed.code == 2 and "--yes" in unconfirmed.err
    unknown = project.run("orgs", "remove", ACADIA, "--email", "nobody@acadia-hospice.example", "--yes")
    assert unknown.code == 1
    assert "Acadia Hospice has no contact 'nobody@acadia-hospice.example'" in unknown.err
    assert row_counts(project) == before

    project.ok("orgs", "remove", ACADIA, "--email", "IT@acadia-hospice.example", "--yes")
    assert "it@acadia-hospice.example" not in contacts_by_email(project)
    assert channel(project, "beta")["contacts"] == 4

    gone = project.ok("orgs", "remove", "acadia hospice", "--yes")
    assert "removed Acadia Hospice (1 contact; it left the beta programme)" in gone.out
    listed = project.ok("orgs", "list", "--json").json()
    assert ACADIA not in [o["organisation"] for o in listed]  # type: ignore[union-attr]
    assert channel(project, "beta")["organisations"] == [STAFF]
    assert channel(project, "everyone")["contacts"] == 10
    history = project.ok("beta", "list", "--json").json()
    assert history["enrolled"] == [] and history["history"][0]["left_at"] is not None  # type: ignore[index]
    assert project.run("orgs", "remove", ACADIA, "--yes").code == 1  # already removed

    project.ok("orgs", "add", ACADIA, "--name", "Ann", "--email", "ann@acadia-hospice.example",
               "--role", "nurse")
    assert ACADIA in [o["organisation"] for o in project.ok("orgs", "list", "--json").json()]  # type: ignore[union-attr]
    actions = [e["action"] for e in audit_log(project, "contact.remove", "org.remove", "beta.leave",
                                              "org.restore")]
    assert actions == ["contact.remove", "org.remove", "org.restore"]


def test_orgs_sample_prints_the_shipped_file_unchanged(project: Project) -> None:
    out = project.ok("orgs", "sample").out
    assert out == sample_contacts_csv()
    assert out.startswith(HEADER) and "Okafor, Amara (Dr.)" in out


# ---------------------------------------------------------------- channels and the beta programme

def test_channels_follow_enrollment_and_the_history_is_kept(project: Project,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    project.ok("orgs", "import", sample_file(project))
    internal, beta, everyone = (channel(project, c) for c in ("internal", "beta", "everyone"))
    assert internal == {"channel": "internal", "tiers": ["dev"], "organisations": [STAFF], "contacts": 3}
    assert beta == {"channel": "beta", "tiers": ["staging"], "organisations": [STAFF], "contacts": 3}
    assert everyone["tiers"] == ["production"] and everyone["contacts"] == 12
    assert len(everyone["organisations"]) == 5  # type: ignore[arg-type]

    project.ok("beta", "enroll", "acadia HOSPICE")
    project.ok("beta", "enroll", BAYOU)
    assert channel(project, "beta") == {"channel": "beta", "tiers": ["staging"],
                                        "organisations": [ACADIA, BAYOU, STAFF], "contacts": 7}
    before = row_counts(project)
    twice = project.ok("beta", "enroll", ACADIA)
    assert "nothing changed" in twice.out and row_counts(project) == before

    monkeypatch.setenv("QUARTERDECK_NOW", "2026-10-20T15:30:00+00:00")
    project.ok("beta", "leave", ACADIA)
    assert channel(project, "beta")["organisations"] == [BAYOU, STAFF]
    assert channel(project, "internal")["contacts"] == 3
    not_enrolled = project.run("beta", "leave", ACADIA)
    assert not_enrolled.code == 1 and "not enrolled" in not_enrolled.err
    unknown = project.run("beta", "enroll", "Bayou Paliative")
    assert unknown.code == 1 and "did you mean 'Bayou Palliative'" in unknown.err
    for stranger in ("Nonexistent Hospice", "Northern Hospice Care"):  # alike only in "Hospice"
        nowhere = project.run("beta", "enroll", stranger)
        assert nowhere.code == 1 and f"there is no organisation {stranger!r}" in nowhere.err
        assert "did you mean" not in nowhere.err and "`quarterdeck orgs list` shows" in nowhere.err

    history = project.ok("beta", "list", "--json").json()
    assert history["enrolled"] == [BAYOU]  # type: ignore[index]
    acadia = history["history"][0]  # type: ignore[index]
    assert acadia["organisation"] == ACADIA and acadia["enrolled_at"] == NOW
    assert acadia["left_at"] == "2026-10-20T15:30:00+00:00"
    assert acadia["enrolled_by"] == acadia["left_by"] and "@" in acadia["enrolled_by"]
    text = project.ok("beta", "list").out
    assert "2026-10-05 07:00 CDT" in text and "2026-10-20 10:30 CDT" in text and "enrolled now" in text
    assert [(e["action"], e["subject"]) for e in audit_log(project, "beta.enroll", "beta.leave")] == [
        ("beta.enroll", f"org:{ACADIA}"), ("beta.enroll", f"org:{BAYOU}"), ("beta.leave", f"org:{ACADIA}")]
