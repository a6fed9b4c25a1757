"""Contacts CSV import: good files, every kind of bad row listed by line, unicode, re-import as a diff."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest

from channels.audience.contacts import (
    Contact,
    LineProblem,
    diff_contacts,
    email_problem,
    load_contacts_file,
    make_contact,
    normalise_email,
    parse_contacts_csv,
    sample_contacts_csv,
)
from channels.errors import ChannelsError, ContactsImportError

HEADER = "organisation,name,email,role,time_zone\n"
ZONE = "America/Chicago"


def parse(text: str) -> list[Contact]:
    return parse_contacts_csv(text, source="contacts.csv", default_zone=ZONE)


def rejected(text: str) -> ContactsImportError:
    with pytest.raises(ContactsImportError) as caught:
        parse(text)
    return caught.value


GOOD = HEADER + (
    "Acadia Hospice,Ann Lee,ann.lee@Acadia-Hospice.EXAMPLE,nurse,America/New_York\n"
    "Acadia Hospice,Bob Stone,bob@acadia-hospice.example,administrator,\n"
    "Quarterdeck Health,Dana Whitfield,dana@quarterdeck.example,Staff,America/Chicago\n"
    '"Bayou Palliative","Okafor, Amara ""Mara""",mara@bayou.example,clinician,Europe/London\n'
)


def test_good_file() -> None:
    contacts = parse(GOOD)
    assert contacts == [
        Contact("Acadia Hospice", "Ann Lee", "ann.lee@acadia-hospice.example", "nurse", "America/New_York"),
        # an empty cell stays empty: notices then name the project's zone instead of "your time zone"
        Contact("Acadia Hospice", "Bob Stone", "bob@acadia-hospice.example", "administrator", ""),
        Contact("Quarterdeck Health", "Dana Whitfield", "dana@quarterdeck.example", "Staff", ZONE),
        Contact("Bayou Palliative", 'Okafor, Amara "Mara"', "mara@bayou.example", "clinician",
                "Europe/London"),
    ]
    assert [c.is_staff for c in contacts] == [False, False, True, False]
    assert contacts[0].key == ("Acadia Hospice", "ann.lee@acadia-hospice.example")
    assert not any(c.opted_out for c in contacts)


def test_bom_crlf_blank_lines_spaces_and_column_order() -> None:
    text = ("\ufeffEmail , Organisation,NAME,role,time_zone\r\n"
            "\r\n"
            "  ann@acadia.example ,  Acadia   Hospice ,  Ann  Lee ,nurse,  America/New_York \r\n"
            ",,,,\r\n"
            "bob@bayou.example,Bayou Palliative,Bob,clinician,\r\n"
            "\r\n\r\n")
    contacts = parse(text)
    assert contacts == [
        Contact("Acadia Hospice", "Ann Lee", "ann@acadia.example", "nurse", "America/New_York"),
        Contact("Bayou Palliative", "Bob", "bob@bayou.example", "clinician", ""),
    ]


def test_unicode_names_are_kept_and_normalised() -> None:
    names = ["Marie-Hélène Thériault", "渡辺 健二", "فاطمة الزهراء", "נועה כהן", "Łukasz Wiśniewski"]
    rows = "".join(f"Cascade Hospice,{name},p{i}@cascade.example,nurse,\n" for i, name in enumerate(names))
    assert [c.name for c in parse(HEADER + rows)] == names
    decomposed = unicodedata.normalize("NFD", "Zoë Brontë")
    assert decomposed != "Zoë Brontë"
    [zoe] = parse(HEADER + f"Delta Hospice Care,{decomposed},zoe@delta.example,nurse,\n")
    assert zoe.name == "Zoë Brontë"  # NFC: the same name typed on a Mac or a PC is one spelling


def test_every_kind_of_bad_row_is_listed_with_its_line() -> None:
    text = HEADER + (
        "Acadia Hospice,Ann Lee,ann@acadia.example,nurse,America/New_York\n"   # 2 good
        "Acadia Hospice,Bob,bob@,nurse,\n"                                     # 3 bad email
        "Acadia Hospice,Cy,cy@acadia.example,nurse,America/Chicgo\n"           # 4 unknown zone
        "Acadia Hospice,Ann Again,ANN@Acadia.example,nurse,\n"                 # 5 duplicate of 2
        "Acadia Hospice,Dee,dee@acadia.example,nurse\n"                        # 6 missing field
        "Acadia Hospice,Eve,eve@acadia.example,nurse,,extra\n"                 # 7 too many fields
        ",Fay,fay@acadia.example,,\n"                                          # 8 empty required x2
        '"Acadia Hospice","Gus\nBcc: all@evil.example",gus@acadia.example,nurse,\n'  # 9-10 line break
        "Acadia Hospice,Hal\x07,hal@acadia.example,nurse,\n"                   # 11 control character
        "acadia hospice,Ivy,ivy@acadia.example,nurse,\n"                       # 12 other spelling of org
        "Bayou Palliative,Jo,Jo Smith <jo@bayou.example>,nurse,\n"             # 13 display name
        "Bayou Palliative,Kim,kim@bayou,nurse,Europe/London\n"                 # 14 no dotted domain
        "Bayou Palliative,Lou,lou@bayou.example,nurse,\n"                      # 15 good
        "\n"
    )
    error = rejected(text)
    assert [(p.line, p.message) for p in error.problems] == [
        (3, "email 'bob@' is not a valid address"),
        (4, "time_zone 'America/Chicgo' is not an IANA time zone (did you mean America/Chicago?)"),
        (5, "duplicate contact: ANN@acadia.example at Acadia Hospice is already on line 2"),
        (6, "has 4 fields, expected 5 (organisation,name,email,role,time_zone); "
            "quote a field that contains a comma"),
        (7, "has 6 fields, expected 5 (organisation,name,email,role,time_zone); "
            "quote a field that contains a comma"),
        (8, "organisation is empty"),
        (8, "role is empty"),
        (9, "name contains a line break (a quoted field spanning lines, or a quote left open)"),
        (11, "name contains the control character U+0007"),
        (12, "organisation 'acadia hospice' is spelled 'Acadia Hospice' on line 2; use one spelling"),
        (13, "email 'Jo Smith <jo@bayou.example>' is not a valid address: give the bare address, "
             "without a name or <>"),
        (14, "email 'kim@bayou' is not a valid address"),
    ]
    message = str(error)
    assert message.startswith("contacts.csv: 11 bad lines, nothing was imported\n")
    assert "contacts.csv line 3: email 'bob@' is not a valid address" in message
    assert "contacts.csv line 14: email 'kim@bayou' is not a valid address" in message
    assert error.hint == "fix every line listed and import the whole file again"
    assert isinstance(error, ChannelsError)


def test_one_row_reports_all_of_its_problems() -> None:
    error = rejected(HEADER + "Acadia Hospice,,not-an-address,nurse,Mars/Base\n")
    assert [str(p) for p in error.problems] == [
        "contacts.csv line 2: name is empty",
        "contacts.csv line 2: email 'not-an-address' is not a valid address",
        "contacts.csv line 2: time_zone 'Mars/Base' is not an IANA time zone (e.g. America/Chicago)",
    ]
    assert str(error).startswith("contacts.csv: 1 bad line, nothing")


@pytest.mark.parametrize(("header", "messages"), [
    ("organisation,name,email,role\n", ["missing column 'time_zone'"]),
    ("organisation,name,e-mail,role,time_zone\n",
     ["unknown column 'e-mail' (did you mean email?)", "missing column 'email'"]),
    ("organisation,name,email,email,role,time_zone\n", ["column 'email' appears twice"]),
    ("organisation;name;email;role;time_zone\n",
     ["the columns are separated by ';': save the file as comma-separated CSV"]),
    ("Acadia Hospice,Ann,ann@acadia.example,nurse,\n",
     ["unknown column 'acadia hospice'", "unknown column 'ann'"]),
])
def test_bad_header(header: str, messages: list[str]) -> None:
    error = rejected(header + "Acadia Hospice,Ann,ann@acadia.example,nurse,\n")
    found = [p.message for p in error.problems]
    for message in messages:
        assert message in found
    assert all(p.line == 1 for p in error.problems)
    if ";" not in header:
        assert found[-1] == "the header must name the columns organisation,name,email,role,time_zone"


def test_empty_file_and_header_only() -> None:
    empty = ("contacts.csv line 1: the file is empty; expected a header row "
             "organisation,name,email,role,time_zone")
    assert [str(p) for p in rejected("").problems] == [empty]
    assert [str(p) for p in rejected("\n,,\n").problems] == [empty]
    assert [str(p) for p in rejected(HEADER + "\n").problems] == [
        "contacts.csv line 1: there are no contacts after the header row"]


def test_broken_quoting_is_a_line_problem_and_later_lines_are_still_checked() -> None:
    text = HEADER + (
        'Acadia Hospice,"Ann" Lee,ann@acadia.example,nurse,\n'  # 2 text after a closing quote
        "Acadia Hospice,Bob,bob@,nurse,\n"                      # 3 still reported
        'Acadia Hospice,"Cy,cy@acadia.example,nurse,\n'         # 4 a quote never closed
    )
    error = rejected(text)
    assert [p.line for p in error.problems] == [2, 3, 4]
    assert error.problems[0].message.startswith("cannot be read as CSV (',' expected after '\"')")
    assert error.problems[1].message == "email 'bob@' is not a valid address"
    assert error.problems[2].message.startswith("cannot be read as CSV (unexpected end of data)")


@pytest.mark.parametrize("address", [
    "ann@acadia.example", "ann.lee+beta@mail.acadia-hospice.example", "o'brien@x.org", "a@b.co",
    "first_last@sub.domain.xn--p1ai", "UPPER@Case.Example",
])
def test_valid_addresses(address: str) -> None:
    assert email_problem(address) is None


@pytest.mark.parametrize(("address", "reason"), [
    ("bob@", ""), ("@acadia.example", ""), ("bob", ""), ("bob@acadia", ""), ("bob@@acadia.example", ""),
    ("bob@acadia..example", ""), (".bob@acadia.example", ""), ("bob.@acadia.example", ""),
    ("bob..lee@acadia.example", ""), ("bob lee@acadia.example", ""), ('"bob lee"@acadia.example', ""),
    ("bob@-acadia.example", ""), ("bob@acadia-.example", ""), ("bob@acadia.123", ""),
    ("bob@acadia.example, eve@evil.example", ""), ("bob@acadia.example (Bob)", ""),
    ("Bob <bob@acadia.example>", ": give the bare address"), ("josé@acadia.example", " (only plain ASCII"),
    ("bob@acädia.example", " (only plain ASCII"), ("b" * 65 + "@acadia.example", ": it is too long"),
    ("bob@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 60 + ".example", ": it is too long"),
])
def test_invalid_addresses(address: str, reason: str) -> None:
    problem = email_problem(address)
    assert problem is not None
    assert problem.startswith(f"email {address!r} is not a valid address{reason}")


def test_normalise_email_lowercases_only_the_domain() -> None:
    assert normalise_email(" Ann.Lee@Acadia-Hospice.EXAMPLE ") == "Ann.Lee@acadia-hospice.example"


def test_make_contact_checks_like_a_row() -> None:
    contact = make_contact(organisation="Acadia  Hospice", name="Ann", email="ann@ACADIA.example",
                           role="staff", default_zone=ZONE)
    assert contact == Contact("Acadia Hospice", "Ann", "ann@acadia.example", "staff", "")
    with pytest.raises(ChannelsError, match="contact: name is empty; email 'ann@' is not a valid address"):
        make_contact(organisation="Acadia Hospice", name=" ", email="ann@", role="nurse", default_zone=ZONE)
    with pytest.raises(ChannelsError, match="contact: name contains a line break"):
        make_contact(organisation="Acadia Hospice", name="Ann\r\nBcc: x@y.example", email="ann@a.example",
                     role="nurse", default_zone=ZONE)
    with pytest.raises(ChannelsError, match="default zone: 'Nowhere' is not an IANA time zone"):
        make_contact(organisation="A", name="B", email="c@d.example", role="e", default_zone="Nowhere")


def test_shipped_sample_parses() -> None:
    contacts = parse_contacts_csv(sample_contacts_csv(), source="contacts-sample.csv", default_zone=ZONE)
    orgs = {c.organisation for c in contacts}
    assert {"Acadia Hospice", "Bayou Palliative", "Cascade Hospice", "Delta Hospice Care"} <= orgs
    assert len(orgs - {"Quarterdeck Health"}) == 4
    assert sum(c.is_staff for c in contacts) >= 2
    assert {c.time_zone for c in contacts} >= {"America/Chicago", "America/New_York", "America/Los_Angeles",
                                               "Europe/London", "Asia/Tokyo"}
    assert ",,\n" not in sample_contacts_csv() and sample_contacts_csv().count(",\n") == 1  # one empty zone
    scripts = {unicodedata.name(ch).split()[0] for c in contacts for ch in c.name if not ch.isascii()}
    assert {"CJK", "ARABIC", "HEBREW", "LATIN"} <= scripts


def test_load_file_with_bom_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode("utf-8"))
    assert load_contacts_file(path, default_zone=ZONE) == parse(GOOD)


def test_load_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "Acadia Hospice,Ann,ann@acadia.example,nurse,\n"
                      "Acadia Hospice,José,jose@acadia.example,nurse,\n").encode("latin-1"))
    with pytest.raises(ContactsImportError) as caught:
        load_contacts_file(path, default_zone=ZONE)
    assert caught.value.problems == (LineProblem(
        "latin1.csv", 3, "is not UTF-8 (byte 0xe9); save the file as CSV UTF-8"),)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ChannelsError, match=r"cannot read the contacts file .*nope\.csv: No such file"):
        load_contacts_file(tmp_path / "nope.csv", default_zone=ZONE)


class TestDiff:
    def test_reimporting_the_same_file_changes_nothing(self) -> None:
        first = parse(GOOD)
        changes = diff_contacts([], first)
        assert changes.added == tuple(first) and changes.changes_anything
        stored = [replace(first[0], opted_out=True), *first[1:]]
        again = diff_contacts(stored, parse(GOOD))
        assert again.added == () and again.updated == () and again.not_in_file == ()
        assert again.unchanged == tuple(stored)
        assert not again.changes_anything

    def test_an_edited_file_updates_in_place(self) -> None:
        stored = [replace(c, opted_out=c.name == "Ann Lee") for c in parse(GOOD)]
        edited = GOOD.replace("Ann Lee", "Ann Lee-Parker").replace("administrator,", "director,Asia/Tokyo")
        edited = edited.replace("dana@quarterdeck.example", "DANA@Quarterdeck.example")
        edited = edited.replace('"Bayou Palliative","Okafor, Amara ""Mara""",mara@bayou.example,clinician,'
                                "Europe/London\n", "")
        edited += "Bayou Palliative,Sam Reed,sam@bayou.example,clinician,\n"
        changes = diff_contacts(stored, parse(edited))
        assert [c.email for c in changes.added] == ["sam@bayou.example"]
        assert [(u.before.email, u.fields) for u in changes.updated] == [
            ("ann.lee@acadia-hospice.example", ("name",)),
            ("bob@acadia-hospice.example", ("role", "time_zone")),
            ("dana@quarterdeck.example", ("email",)),
        ]
        ann = changes.updated[0]
        assert ann.after.name == "Ann Lee-Parker" and ann.after.opted_out  # the ledger's opt-out is kept
        assert changes.unchanged == ()
        assert [c.name for c in changes.not_in_file] == ['Okafor, Amara "Mara"']  # reported, not removed

    def test_duplicate_incoming_is_refused(self) -> None:
        ann = parse(GOOD)[0]
        with pytest.raises(ChannelsError, match="is listed twice"):
            diff_contacts([], [ann, replace(ann, email=ann.email.upper())])
