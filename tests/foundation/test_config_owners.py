"""Each package owns its configuration keys and checks: `config check` refuses exactly what a
later command would refuse, with the same words, and no message repeats a password."""

from __future__ import annotations

import argparse
import re

import pytest

import pipeline
from notes.errors import SettingsError
from notify.errors import NotifySettingsError
from releases.settings import mask_password
from tests.conftest import Project

# The configuration file, not the ledger's database: SQLite is enough.
pytestmark = pytest.mark.backends("sqlite")


def _edit(project: Project, old: str, new: str) -> None:
    text = project.config.read_text()
    assert old in text, old
    project.config.write_text(text.replace(old, new, 1))


def _app(project: Project) -> pipeline.App:
    return pipeline.App(argparse.Namespace(config=str(project.config)), [])


FACTORY = "project.timezone: 'Factory' depends on the machine; name an IANA zone such as America/Chicago"


def test_a_host_dependent_zone_is_refused_at_init_check_and_status_naming_project_timezone(
        project: Project) -> None:
    before = project.config.read_text()
    refused = project.run("init", "--repo", str(project.repo.path), "--force", "--timezone", "Factory")
    assert refused.code == 2 and FACTORY in refused.err.replace("\n", " ")
    assert project.config.read_text() == before
    _edit(project, 'timezone = "America/Chicago"', 'timezone = "Factory"')
    for argv in (("config", "check"), ("status",)):
        result = project.run(*argv)
        assert result.code == 1, argv
        assert FACTORY in re.sub(r"\s+", " ", result.err) and "[calendar]" not in result.err


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("months = [2, 5, 8, 11]", "months = []",
     "calendar.months: expected a non-empty list of months 1-12"),
    ("months = [2, 5, 8, 11]", "months = [2, 5, 2]", "calendar.months: 2 listed twice"),
    ("reminder_days = [7, 1]", "reminder_days = [7, 7]", "calendar.reminder_days: an offset is listed twice"),
    ("reminder_days = [7, 1]", "reminder_days = [0]",
     "calendar.reminder_days: 0 minutes must be a positive length of time"),
    ('start = "22:00"', 'start = "7pm"', "calendar.start: '7pm' is not a time like 22:00"),
])
def test_calendar_values_get_one_answer_from_check_and_from_status(project: Project, old: str, new: str,
                                                                   expected: str) -> None:
    _edit(project, old, new)
    for argv in (("config", "check"), ("status",)):
        result = project.run(*argv)
        assert result.code == 1, argv
        assert expected in result.err, (argv, result.err)


@pytest.mark.parametrize(("old", "new", "expected", "error", "build"), [
    ('sender = "Release Team <releases@localhost>"', 'sender = "nobody"',
     "notify.sender: 'nobody' is not one email address", NotifySettingsError, "notify_settings"),
    ('message_domain = "localhost"', 'message_domain = "exa mple.org"',
     "notify.message_domain: 'exa mple.org' is not a valid domain name", NotifySettingsError,
     "notify_settings"),
    ('password_env = "QUARTERDECK_SMTP_PASSWORD"', 'password_env = "MY-PASSWORD"',
     "notify.password_env: 'MY-PASSWORD' is not an environment variable name", NotifySettingsError,
     "notify_settings"),
    ('ticket_url = ""', 'ticket_url = "https://tracker.example.org/browse"',
     "notes.ticket_url: 'https://tracker.example.org/browse' has no {ticket} placeholder", SettingsError,
     "notes_settings"),
    ('[notes]', '[notes]\npaths = ["--output=x"]',
     "notes.paths: holds '--output=x', which is not a path", SettingsError, "notes_settings"),
    ("\n[notes.areas]", '\n[notes.areas]\ncensus = 3\n',
     "notes.areas: census = 3 is not a string: write the name customers read", SettingsError,
     "notes_settings"),
    ('unmapped_scopes = "hide"', 'unmapped_scopes = "maybe"',
     "notes.unmapped_scopes: 'maybe' is not one of hide, show", SettingsError, "notes_settings"),
    ('dependency_section = "internal"', 'dependency_section = "training"',
     "notes.dependency_section: 'training' is not one of internal, other, fixes, features, performance",
     SettingsError, "notes_settings"),
    ('non_conventional = "internal"', 'non_conventional = "hide"',
     "notes.non_conventional: 'hide' is not one of internal, keep, drop, fail", SettingsError,
     "notes_settings"),
])
def test_package_values_get_one_answer_from_check_and_from_the_package(
        project: Project, old: str, new: str, expected: str, error: type[Exception], build: str) -> None:
    _edit(project, old, new)
    result = project.run("config", "check")
    assert result.code == 1 and expected in re.sub(r"\s+", " ", result.err), result.err
    with pytest.raises((error, pipeline.ConfigError)) as caught:  # a key's check, or the built value's
        getattr(_app(project), build)()
    assert expected in str(caught.value)


def test_check_lists_problems_of_every_package_at_once(project: Project) -> None:
    _edit(project, "parallel = 1", "parallel = 0")
    _edit(project, 'outbox = ".quarterdeck/outbox"', 'outbx = ".quarterdeck/outbox"')
    _edit(project, "push_tag = false", 'push_tag = "no"')
    _edit(project, 'sender = "Release Team <releases@localhost>"', 'sender = "nobody"')
    result = project.run("config", "check")
    assert result.code == 1
    err = re.sub(r"\s+", " ", result.err)
    assert "has 3 problems" in err  # the file's keys first; values of built settings need a valid file
    assert "tiers.dev.parallel: must be at least 1, got 0" in err
    assert "notify.outbx: unknown key (did you mean 'outbox'?)" in err
    assert "notes.push_tag: expected true or false, got 'no'" in err
    _edit(project, "parallel = 0", "parallel = 1")
    _edit(project, 'outbx = ".quarterdeck/outbox"', 'outbox = ".quarterdeck/outbox"')
    _edit(project, 'push_tag = "no"', "push_tag = false")
    result = project.run("config", "check")
    assert "has 1 problem:" in result.err and "notify.sender: 'nobody'" in result.err


def test_a_command_that_reads_notify_refuses_what_check_refuses(project: Project) -> None:
    _edit(project, 'outbox = ".quarterdeck/outbox"', 'outbx = ".quarterdeck/outbox"')
    assert project.run("config", "check").code == 1
    with pytest.raises(pipeline.ConfigError, match=r"notify\.outbx: unknown key \(did you mean 'outbox'\?\)"):
        _app(project).notify_settings()


def test_every_notify_setting_is_accepted_shown_and_built(project: Project) -> None:
    (project.root / "notice-templates").mkdir()
    for old, new in (("connect_timeout = 30", "connect_timeout = 5"),
                     ("command_timeout = 120", "command_timeout = 7.5"),
                     ("end_of_data_timeout = 600", "end_of_data_timeout = 90"),
                     ("max_attempts = 3", "max_attempts = 2"),
                     ('templates = ""', 'templates = "notice-templates"')):
        _edit(project, old, new)
    project.ok("config", "check")
    shown = project.ok("config", "show", "--json").json()["notify"]  # type: ignore[index]
    assert {k: shown[k] for k in ("connect_timeout", "command_timeout", "end_of_data_timeout", "max_attempts",
                                  "templates")} == {
        "connect_timeout": 5, "command_timeout": 7.5, "end_of_data_timeout": 90, "max_attempts": 2,
        "templates": "notice-templates"}
    settings = _app(project).notify_settings()
    assert (settings.connect_timeout, settings.command_timeout, settings.end_of_data_timeout,
            settings.max_attempts, settings.templates) == (5, 7.5, 90, 2, project.root / "notice-templates")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("connect_timeout = 30", "connect_timeout = 0", "notify.connect_timeout: must be at least 0.001, got 0"),
    ("command_timeout = 120", 'command_timeout = "2m"',
     "notify.command_timeout: expected an integer or a number"),
    ("end_of_data_timeout = 600", "end_of_data_timeout = -1", "notify.end_of_data_timeout: must be at least"),
    ("max_attempts = 3", "max_attempts = 0", "notify.max_attempts: must be at least 1, got 0"),
    ("max_attempts = 3", "max_attempts = 1.5", "notify.max_attempts: expected an integer, got 1.5"),
    ('templates = ""', "templates = 1", "notify.templates: expected a string, got 1"),
])
def test_bad_notify_settings_are_named(project: Project, old: str, new: str, expected: str) -> None:
    _edit(project, old, new)
    result = project.run("config", "check")
    assert result.code == 1 and expected in result.err


@pytest.mark.parametrize(("url", "masked"), [
    ("postgresql://quarterdeck:s3cret-pw@127.0.0.1/ledger", "postgresql://quarterdeck:***@127.0.0.1/ledger"),
    ("smtp://relay:hun@ter2@mail.example.org:25", "smtp://relay:***@mail.example.org:25"),
    ("smtp://relay:pa?ss#x@mail.example.org", "smtp://relay:***@mail.example.org"),
    ("ssh://deploy:hunter2@db1/srv/app", "ssh://deploy:***@db1/srv/app"),
    ("smtp://relay@mail.example.org", "smtp://relay@mail.example.org"),
    ("sqlite:////var/lib/quarterdeck/ledger.db", "sqlite:////var/lib/quarterdeck/ledger.db"),
    ("local:.quarterdeck/hosts/dev-1", "local:.quarterdeck/hosts/dev-1"),
    ("postgresql://quarterdeck:pa/ss:w@127.0.0.1:5432/ledger", "postgresql://quarterdeck:***@127.0.0.1:5432/ledger"),
    ("sqlite:////srv/a@b/ledger.db", "sqlite:////srv/a@b/ledger.db"),
])
def test_one_masking_of_passwords_in_urls(url: str, masked: str) -> None:
    assert mask_password(url) == masked


@pytest.mark.parametrize(("old", "new", "expected"), [
    ('url = "sqlite:///.quarterdeck/ledger.db"', 'url = "mysql://quarterdeck:hunter2@db1/ledger"',
     "ledger.url: 'mysql://quarterdeck:***@db1/ledger' must be a sqlite:/// or postgresql:// URL"),
    ('smtp_url = ""', 'smtp_url = "smtp://relay:hunter2@127.0.0.1:99999"',
     "notify.smtp_url: is not a valid URL"),
    ('smtp_url = ""', 'smtp_url = "smtp://relay:hunter2@127.0.0.1:25"',
     "notify.smtp_url: contains a password"),
    ('"local:.quarterdeck/hosts/staging-1"', '"ssh://deploy:hunter2@db1/srv"',
     "host 'ssh://deploy:***@db1/srv' carries a password"),
])
def test_no_configuration_message_repeats_a_password(project: Project, old: str, new: str,
                                                     expected: str) -> None:
    _edit(project, old, new)
    result = project.run("config", "check")
    assert result.code == 1 and expected in result.err
    assert "hunter2" not in result.err + result.out


@pytest.mark.parametrize(("url", "expected"), [
    ("mysql://u:SECRET@h/db", "ledger.url: 'mysql://u:***@h/db' must be a sqlite:/// or postgresql:// URL"),
    ("postgresql://u:SECRET@h:notaport/db",
     "ledger.url: 'postgresql://u:***@h:notaport/db' has the port 'notaport'; a port is a number from 1 "
     "to 65535"),
    ("postgresql://u:SECRET@[::1/db",
     "ledger.url: 'postgresql://u:***@[::1/db' has an unclosed [ in its host; write an IPv6 address as "
     "[2001:db8::5]"),
    ("postgresql://u:SE/CRET@[::1]:70000/db",
     "ledger.url: 'postgresql://u:***@[::1]:70000/db' has the port '70000'; a port is a number from 1 "
     "to 65535"),
])
def test_a_bad_ledger_url_gets_one_answer_from_check_and_status_without_its_password(
        project: Project, url: str, expected: str) -> None:
    _edit(project, 'url = "sqlite:///.quarterdeck/ledger.db"', f'url = "{url}"')
    for argv in (("config", "check"), ("status",), ("builds",)):
        result = project.run(*argv)
        assert result.code == 1, argv
        err = re.sub(r"\s+", " ", result.err)
        assert expected in err, (argv, err)
        assert "SECRET" not in err and "SE/CRET" not in err and "bug" not in err


def test_a_ledger_whose_driver_is_missing_is_named_without_its_password(project: Project) -> None:
    _edit(project, 'url = "sqlite:///.quarterdeck/ledger.db"',
          'url = "postgresql+pg8000://u:SE/CRET@127.0.0.1:1/db"')  # pg8000: a driver nobody installs
    result = project.run("status")
    err = re.sub(r"\s+", " ", result.err)
    assert result.code == 1 and "bug" not in err and "SE/CRET" not in err
    assert ("ledger.url: 'postgresql+pg8000://u:***@127.0.0.1:1/db' names the driver 'pg8000'; quarterdeck "
            "reaches PostgreSQL through psycopg 3") in err
    checked = re.sub(r"\s+", " ", project.run("config", "check").err)  # the same words, before any command
    assert "names the driver 'pg8000'" in checked and "SE/CRET" not in checked


def test_a_missing_local_host_directory_is_a_warning_in_check_and_the_rollouts_refusal(
        project: Project) -> None:
    missing = project.root / "not-made-yet" / "dev-1"
    _edit(project, '"local:.quarterdeck/hosts/dev-1"', f'"local:{missing}"')
    words = (f"local:{missing}: the deploy directory {missing} does not exist (create it on the host "
             f"(mkdir -p {missing}) for the deploy user)")
    checked = project.run("config", "check")
    assert checked.code == 0, checked.err
    assert f"warning: tiers.dev.hosts[0]: {words}" in re.sub(r"\s+", " ", checked.err)
    build = project.ok("build", "--json").json()["id"]  # type: ignore[index]
    refused = project.run("promote", str(build), "--to", "dev", "--json")  # the pre-flight check refuses
    assert refused.code == 1
    [host] = refused.json()  # type: ignore[misc]
    assert [f"local:{missing}: {problem}" for problem in host["problems"]] == [words]
    missing.mkdir(parents=True)
    assert "warning: tiers" not in project.ok("config", "check").err


def test_show_masks_every_secret_key(project: Project) -> None:
    _edit(project, 'url = "sqlite:///.quarterdeck/ledger.db"',
          'url = "postgresql://quarterdeck:s3cret-pw@127.0.0.1/ledger"')
    data = project.ok("config", "show", "--json").json()
    assert data["ledger"]["url"] == "postgresql://quarterdeck:***@127.0.0.1/ledger"  # type: ignore[index]
    assert data["notify"]["smtp_url"] == ""  # type: ignore[index]


def test_init_writes_each_packages_block_in_the_order_people_read_them(project: Project) -> None:
    text = project.config.read_text()
    heads = [line for line in text.splitlines() if line.startswith("[")]
    assert heads == ["[project]", "[build]", "[ledger]", "[artifacts]", "[ssh]", "[[tiers]]", "[[tiers]]",
                     "[[tiers]]", "[gates.production]", "[calendar]", "[notify]", "[notes]", "[notes.areas]",
                     "[portal]", "[backup]"]
    import tomllib

    written = tomllib.loads(text)
    for name, spec in (pipeline.section_specs() | {n: pipeline.deferred_spec(n) for n in pipeline.DEFERRED}
                       ).items():
        assert set(written[name]) <= set(spec), name  # every key init writes is one its owner declares


@pytest.mark.parametrize(("line", "words", "later"), [
    ('templates = "no-such-templates"', "notify.templates: {base}/no-such-templates is not a directory",
     ("notice", "preview", "advance", "latest", "--to", "x@example.org")),
    ('smtp_url = "smtp://127.0.0.1:2525"\nca_file = "no-such-ca.pem"',
     "notify.ca_file: {base}/no-such-ca.pem does not exist or is not a file", None),
])
def test_config_check_refuses_the_files_notices_would_refuse(project: Project, line: str, words: str,
                                                             later: tuple[str, ...] | None) -> None:
    """A templates directory or CA file that is missing: `config check` says so, as `notice` would."""
    project.ok("build")
    project.ok("schedule", "latest", "--next-window")
    _edit(project, line.split(" =")[0] + ' = ""', line)  # a CA file is read only with a server: both
    expected = words.format(base=project.root)
    checked = project.run("config", "check")
    assert checked.code == 1 and expected in re.sub(r"\s+", " ", checked.err)
    if later is not None:
        refused = project.run(*later)
        assert refused.code == 1 and expected in re.sub(r"\s+", " ", refused.err)
