"""Organisation contacts and their CSV import, all-or-nothing.

The file is the list a support team keeps in a spreadsheet, so the checks are
strict and the report is complete: every bad line is listed with what is
wrong, because a half-imported list would leave a hospice without its
install notice and nobody would notice. The text is parsed here, purely;
reading the file is the one small I/O function at the bottom.

Every field ends up in an email header sooner or later (To:, a greeting), so
no field may contain a line break or another control character: that is the
header-injection guard, applied before anything else.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from email.utils import parseaddr
from importlib import resources
from pathlib import Path

from channels.errors import ChannelsError, ContactsImportError
from channels.settings import load_zone, zone_problem

CSV_COLUMNS = ("organisation", "name", "email", "role", "time_zone")
REQUIRED = ("organisation", "name", "email", "role")
STAFF_ROLE = "staff"
MAX_TEXT = 200  # characters in an organisation, name or role: longer is a paste accident
SAMPLE_RESOURCE = "data/contacts-sample.csv"


@dataclass(frozen=True)
class LineProblem:
    """One bad line of an imported file: kept apart so the CLI can list or count them.

    A value of the contacts import, defined beside the import that finds them; the error
    that carries them (channels.errors.ContactsImportError) only refers to it.
    """

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source} line {self.line}: {self.message}"


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLD = r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"({_ATEXT}(?:\.{_ATEXT})*)@((?:{_LABEL}\.)+{_TLD})", re.ASCII)
# Characters that end a line somewhere: csv, email headers or str.splitlines.
_LINE_BREAKS = frozenset("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")


@dataclass(frozen=True)
class Contact:
    """A person notices go to. `time_zone` is a valid IANA name, or "" when the CSV cell was empty:
    kept empty so that notices say "your time zone" only to those who gave one (readers of the
    ledger fill in the project zone where they need a zone, see `ledger_contacts`). `opted_out` is
    about optional notices only and is kept by the ledger, not by the CSV."""

    organisation: str
    name: str
    email: str
    role: str
    time_zone: str
    opted_out: bool = False

    @property
    def is_staff(self) -> bool:
        return self.role.casefold() == STAFF_ROLE

    @property
    def key(self) -> tuple[str, str]:
        """Identity across imports: the same address at the same organisation is the same contact."""
        return self.organisation, self.email.lower()


def email_problem(value: str) -> str | None:
    """Why `value` is not a plain, deliverable-looking address (None when it is).

    Strict on purpose: ASCII dot-atom local part, a dotted domain of valid
    labels, no display name, no quoted local parts or comments, within
    RFC 5321's lengths. email.utils must read it back unchanged, so nothing
    that parses differently in a header gets through.
    """
    shown = f"email {value!r} is not a valid address"
    if not value.isascii():
        return f"{shown} (only plain ASCII addresses are accepted)"
    if "<" in value or ">" in value:
        return f"{shown}: give the bare address, without a name or <>"
    match = _ADDRESS.fullmatch(value)
    if not match or parseaddr(value) != ("", value):
        return shown
    if len(match[1]) > 64 or len(value) > 254:
        return f"{shown}: it is too long"
    return None


def normalise_email(value: str) -> str:
    """The stored spelling: the domain lower-cased, the local part as given (it may be case-sensitive)."""
    local, _, domain = value.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def _text_problem(column: str, raw: str) -> str | None:
    if any(char in _LINE_BREAKS for char in raw):
        return (f"{column} contains a line break (a quoted field spanning lines, or a quote "
                "left open)")
    bad = next((char for char in raw if unicodedata.category(char) == "Cc"), None)
    if bad is not None:
        return f"{column} contains the control character U+{ord(bad):04X}"
    return None


def _squeeze(text: str) -> str:
    """One spelling per name: NFC (a Mac and a PC type "é" differently) and single spaces."""
    return unicodedata.normalize("NFC", " ".join(text.split()))


def _check_fields(values: Mapping[str, str]) -> tuple[Contact | None, list[str]]:
    """One contact's fields checked together, so each row reports all of its problems."""
    problems = [p for column in CSV_COLUMNS if (p := _text_problem(column, values[column]))]
    if problems:
        return None, problems
    fields = {column: values[column].strip() for column in CSV_COLUMNS}
    for column in ("organisation", "name", "role"):
        fields[column] = _squeeze(fields[column])
        if len(fields[column]) > MAX_TEXT:
            problems.append(f"{column} is longer than {MAX_TEXT} characters")
    problems.extend(f"{column} is empty" for column in REQUIRED if not fields[column])
    if fields["email"]:
        bad_email = email_problem(fields["email"])
        if bad_email:
            problems.append(bad_email)
    zone = fields["time_zone"]
    if zone:
        bad_zone = zone_problem(fields["time_zone"])
        if bad_zone:
            problems.append(f"time_zone {bad_zone}")
    if problems:
        return None, problems
    return Contact(organisation=fields["organisation"], name=fields["name"],
                   email=normalise_email(fields["email"]), role=fields["role"], time_zone=zone), []


def make_contact(*, organisation: str, name: str, email: str, role: str, time_zone: str = "",
                 default_zone: str) -> Contact:
    """One contact from loose values (`orgs add`), checked exactly like a CSV row."""
    load_zone(default_zone, field="default zone")
    contact, problems = _check_fields({"organisation": organisation, "name": name, "email": email,
                                       "role": role, "time_zone": time_zone})
    if contact is None:
        raise ChannelsError("contact: " + "; ".join(problems))
    return contact


def _header_problems(header: list[str]) -> list[str]:
    names = [_squeeze(name).lower() for name in header]
    if len(header) == 1 and ";" in header[0]:
        return ["the columns are separated by ';': save the file as comma-separated CSV"]
    problems = []
    for name in names:
        if name not in CSV_COLUMNS:
            close = difflib.get_close_matches(name, CSV_COLUMNS, n=1)
            problems.append(f"unknown column {name!r}" + (f" (did you mean {close[0]}?)" if close else ""))
    problems.extend(f"column {name!r} appears twice" for name in CSV_COLUMNS if names.count(name) > 1)
    problems.extend(f"missing column {name!r}" for name in CSV_COLUMNS if name not in names)
    if problems:
        problems.append(f"the header must name the columns {','.join(CSV_COLUMNS)}")
    return problems


def parse_contacts_csv(text: str, *, source: str, default_zone: str) -> list[Contact]:
    """Every contact of a CSV text, in file order, or one ContactsImportError listing every bad line.

    Line numbers are the file's physical lines (a quoted field may span
    several; a row is numbered by the line it starts on). Blank lines and
    rows of empty cells are ignored; a byte-order mark is dropped. The header
    may list the columns in any order.
    """
    load_zone(default_zone, field="default zone")
    problems: list[LineProblem] = []

    def bad(line: int, message: str) -> None:
        problems.append(LineProblem(source, line, message))

    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    header: list[str] | None = None
    contacts: list[Contact] = []
    first_seen: dict[tuple[str, str], int] = {}
    spelling: dict[str, tuple[str, int]] = {}
    line = 1  # the last non-blank row's line
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            bad(start, f"cannot be read as CSV ({err}); a field with a comma or quote must be "
                       'quoted, with quotes inside doubled: "Smith, ""Jo"""')
            continue
        if not any(cell.strip() for cell in row):
            continue
        line = start
        if header is None:
            header = [_squeeze(name).lower() for name in row]
            header_problems = _header_problems(row)
            if header_problems:
                for message in header_problems:
                    bad(line, message)
                raise ContactsImportError(source, problems)
            continue
        if len(row) != len(header):
            bad(line, f"has {len(row)} fields, expected {len(header)} ({','.join(header)}); "
                      "quote a field that contains a comma")
            continue
        contact, row_problems = _check_fields(dict(zip(header, row, strict=True)))
        for message in row_problems:
            bad(line, message)
        if contact is None:
            continue
        if contact.key in first_seen:
            bad(line, f"duplicate contact: {contact.email} at {contact.organisation} is already "
                      f"on line {first_seen[contact.key]}")
            continue
        first_seen[contact.key] = line
        folded = contact.organisation.casefold()
        known, known_line = spelling.setdefault(folded, (contact.organisation, line))
        if known != contact.organisation:
            bad(line, f"organisation {contact.organisation!r} is spelled {known!r} on line "
                      f"{known_line}; use one spelling")
            continue
        contacts.append(contact)
    if header is None:
        bad(1, f"the file is empty; expected a header row {','.join(CSV_COLUMNS)}")
    elif not contacts and not problems:
        bad(line, "there are no contacts after the header row")
    if problems:
        raise ContactsImportError(source, sorted(problems, key=lambda p: p.line))
    return contacts


def load_contacts_file(path: Path, *, default_zone: str) -> list[Contact]:
    """Read and parse a contacts file; undecodable bytes are a line problem like any other."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ChannelsError(f"cannot read the contacts file {path}: {err.strerror or err}",
                            hint="check the path and its permissions") from err
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ContactsImportError(path.name, [LineProblem(
            path.name, line, f"is not UTF-8 (byte 0x{data[err.start]:02x}); save the file as "
                             "CSV UTF-8")]) from err
    return parse_contacts_csv(text, source=path.name, default_zone=default_zone)


def sample_contacts_csv() -> str:
    """The sample file shipped with the package, to copy and edit (`orgs import` documents it)."""
    return resources.files("channels").joinpath(SAMPLE_RESOURCE).read_text(encoding="utf-8-sig")


@dataclass(frozen=True)
class ContactUpdate:
    """A contact whose CSV fields changed; `after` keeps the ledger's opt-out (the CSV has none)."""

    before: Contact
    after: Contact

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(name for name in ("name", "email", "role", "time_zone")
                     if getattr(self.before, name) != getattr(self.after, name))


@dataclass(frozen=True)
class ContactChanges:
    """What importing a file would do; `not_in_file` is reported but kept (removal is `orgs remove`)."""

    added: tuple[Contact, ...]
    updated: tuple[ContactUpdate, ...]
    unchanged: tuple[Contact, ...]
    not_in_file: tuple[Contact, ...]

    @property
    def changes_anything(self) -> bool:
        return bool(self.added or self.updated)


def diff_contacts(existing: Iterable[Contact], incoming: Iterable[Contact]) -> ContactChanges:
    """Compare the ledger's contacts with an imported list, keyed by organisation + lower-cased email.

    Re-importing the same file yields only `unchanged`; an edited row becomes
    an update in place, so the contact keeps its history and opt-out.
    """
    current = {contact.key: contact for contact in existing}
    added: list[Contact] = []
    updated: list[ContactUpdate] = []
    unchanged: list[Contact] = []
    seen: set[tuple[str, str]] = set()
    for contact in incoming:
        if contact.key in seen:
            raise ChannelsError(f"contact {contact.email} at {contact.organisation} is listed twice")
        seen.add(contact.key)
        before = current.get(contact.key)
        if before is None:
            added.append(contact)
            continue
        after = replace(contact, opted_out=before.opted_out)
        if after == before:
            unchanged.append(before)
        else:
            updated.append(ContactUpdate(before, after))
    not_in_file = tuple(contact for key, contact in current.items() if key not in seen)
    return ContactChanges(tuple(added), tuple(updated), tuple(unchanged), not_in_file)
