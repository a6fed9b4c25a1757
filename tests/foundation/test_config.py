"""`init`, `config check` and `config show`: every bad configuration names its key and what to do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import pipeline
from tests.conftest import Project

# The configuration file, not the ledger's database: SQLite is enough.
pytestmark = pytest.mark.backends("sqlite")


def test_init_then_check_passes(project: Project) -> None:
    result = project.ok("config", "check")
    assert "3 tiers (dev → staging → production), 4 hosts" in result.out
    state = project.root / ".quarterdeck"
    for sub in ("artifacts", "hosts/dev-1", "hosts/production-2", "outbox/new"):
        assert (state / sub).is_dir(), sub
    text = project.config.read_text()
    assert text.count("#") > 30, "the written configuration is commented"


def test_init_refuses_to_clobber_without_force(project: Project) -> None:
    project.config.write_text(project.config.read_text() + "\n# my edit\n")
    result = project.run("init", "--repo", str(project.repo.path))
    assert result.code == 2
    assert "already exists" in result.err and "--force" in result.err
    assert "# my edit" in project.config.read_text()
    project.ok("init", "--repo", str(project.repo.path), "--force")
    assert "# my edit" not in project.config.read_text()


def test_init_rejects_a_directory_that_is_not_a_repository(project: Project, tmp_path: Path) -> None:
    result = project.run("init", "--repo", str(tmp_path), "--force")
    assert result.code == 1
    assert "is not a git repository" in result.err


def test_config_found_through_environment_then_cwd(project: Project, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    import pipeline

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert pipeline.main(["config", "check"]) == 1  # no ./quarterdeck.toml here
    monkeypatch.setenv("QUARTERDECK_CONFIG", str(project.config))
    assert pipeline.main(["config", "check"]) == 0
    monkeypatch.delenv("QUARTERDECK_CONFIG")
    monkeypatch.chdir(project.root)
    assert pipeline.main(["config", "check"]) == 0


def _edit(project: Project, old: str, new: str) -> None:
    text = project.config.read_text()
    assert old in text, old
    project.config.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('branch = "main"', 'brnach = "main"',
         "project.brnach: unknown key (did you mean 'branch'?)"),
        ("keep = 5", 'keep = "five"', "tiers.dev.keep: expected an integer, got 'five'"),
        ("parallel = 1", "parallel = 0", "tiers.dev.parallel: must be at least 1, got 0"),
        ('name = "staging"', 'name = "dev"', "the tier 'dev' is listed twice"),
        ('"local:.quarterdeck/hosts/staging-1"', '"ftp://backup/x"',
         "tiers.staging.hosts[0]: host 'ftp://backup/x' is neither local:PATH nor ssh://"),
        ('"local:.quarterdeck/hosts/staging-1"', '"ssh://deploy@127.0.0.1:99999/srv"',
         "tiers.staging.hosts[0]: host 'ssh://deploy@127.0.0.1:99999/srv' has an invalid port"),
        ('"local:.quarterdeck/hosts/staging-1"', '"ssh://deploy:hunter2@db1/srv"',
         "carries a password"),
        ('production-2", role = "standby"', 'production-2", role = "backup"',
         "tiers.production.hosts[1]: host role 'backup' is not one of primary, standby"),
        ("[gates.production]", "[gates.prod]", "gates.prod: there is no tier 'prod'"),
        ('timezone = "America/Chicago"', 'timezone = "America/Chicgo"',
         "project.timezone: 'America/Chicgo' is not an IANA time zone"),
        ('channel = "beta"', 'channel = "customers"',
         "tiers.staging.channel: 'customers' is not one of internal, beta, everyone"),
        ("months = [2, 5, 8, 11]", "months = [2, 5, 13]", "calendar.months: 13 is not a month"),
        ('start = "22:00"', 'start = "25:00"', "calendar.start: '25:00' is not a time like 22:00"),
        ('smtp_url = ""', 'smtp_url = "smtp://relay:secret@127.0.0.1:25"',
         "notify.smtp_url: contains a password"),
        ("[notes]", "[notse]", "notse: unknown section (did you mean 'notes'?)"),
    ],
)
def test_each_bad_configuration_names_its_key(project: Project, old: str, new: str,
                                              expected: str) -> None:
    before = project.config.read_text()
    _edit(project, old, new)
    result = project.run("config", "check")
    assert result.code == 1, result.out
    assert expected in result.err
    assert "Traceback" not in result.err
    assert "hunter2" not in result.err and "secret" not in result.err
    project.config.write_text(before)
    project.ok("config", "check")


def test_missing_repository_and_every_problem_listed_at_once(project: Project) -> None:
    _edit(project, 'repo = "', 'repo = "../no-such-repo" # was "')
    _edit(project, "keep = 5", "keep = -1")
    _edit(project, "[ssh]", "[ssh]\nport = 22")
    result = project.run("config", "check")
    assert result.code == 1
    assert "has 3 problems" in result.err
    assert re.search(r"project\.repo: .*no-such-repo is not a git repository", result.err)
    assert "tiers.dev.keep: must be at least 1" in result.err
    assert "ssh.port: unknown key" in result.err


def test_invalid_toml_is_a_clear_error(project: Project) -> None:
    project.config.write_text("[project\nname = 1\n")
    result = project.run("config", "check")
    assert result.code == 1
    assert "is not valid TOML" in result.err and str(project.config) in result.err


def test_config_show_masks_secrets(project: Project) -> None:
    _edit(project, 'url = "sqlite:///.quarterdeck/ledger.db"',
          'url = "postgresql://quarterdeck:s3cret-pw@127.0.0.1/ledger"')
    result = project.ok("config", "show", "--json")
    data = result.json()
    assert isinstance(data, dict)
    assert "s3cret-pw" not in result.out
    assert data["ledger"]["url"] == "postgresql://quarterdeck:***@127.0.0.1/ledger"
    assert [t["name"] for t in data["tiers"]] == ["dev", "staging", "production"]
    assert data["tiers"][2]["hosts"][1]["role"] == "standby"
    text = project.ok("config", "show")
    assert "s3cret-pw" not in text.out and "production" in text.out


def test_usage_errors_exit_2(project: Project) -> None:
    result = project.run("build", "--no-such-flag")
    assert result.code == 2
    assert "unrecognized arguments: --no-such-flag" in result.err


def test_config_show_prints_toml_that_reads_back_as_the_same_configuration(project: Project) -> None:
    """Not a Python dict (True, single quotes): what is shown can be pasted into a file."""
    import tomllib

    _edit(project, 'url = "sqlite:///.quarterdeck/ledger.db"',
          'url = "postgresql://quarterdeck:s3cret-pw@127.0.0.1/ledger"')
    shown = project.ok("config", "show").out
    assert "s3cret-pw" not in shown and "True" not in shown and "'" not in shown.split("\n", 1)[1]
    as_toml = tomllib.loads(shown)
    as_json = project.ok("config", "show", "--json").json()
    assert as_toml == as_json
    assert as_toml["ssh"]["strict_host_keys"] is True
    assert as_toml["tiers"][2]["hosts"][1]["role"] == "standby"


def test_a_directory_as_config_names_it_and_says_what_to_give(project: Project,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert pipeline.main(["--config", str(project.root), "config", "check"]) == 1
    err = capsys.readouterr().err
    assert f"{project.root} is a directory, not a configuration file" in err
    assert "--config" in err and "quarterdeck.toml" in err and "unexpected" not in err
    assert project.run("status").code == 0  # the project is untouched
