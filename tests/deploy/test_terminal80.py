"""What a release manager reads at an 80-column terminal: whole times and headers, no empty columns,
short host labels that are the same in every table, and a live display whose words agree.

Commands run with COLUMNS=80 (Rich's width without a terminal); the live display is rendered with
Rich at width 80.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from rich.console import Console

from releases.commands_deploy import Watch
from releases.hosts.hostspec import labels, parse_host
from releases.hosts.rollout import TierTarget
from tests.conftest import Project
from tests.notify.test_cli import BUILD as NOTICE_BUILD
from tests.notify.test_cli import prepared
from tests.support.sshd import SshdCluster

from .test_promote_support import Deploy, make_deploy

TIME_RANGE = re.compile(r"\d\d:\d\d–\d\d:\d\d")
LOCAL_TIERS: list[dict[str, Any]] = [
    {"name": "dev", "channel": "internal",
     "hosts": [("local", "dev-1", "primary"), ("local", "dev-2", "primary")]},
    {"name": "staging", "channel": "beta",
     "hosts": [("local", "staging-1", "primary"), ("local", "staging-2", "standby")]},
    {"name": "production", "channel": "everyone",
     "hosts": [("local", "production-1", "primary"), ("local", "production-2", "standby")]},
]


@pytest.fixture
def deploy(project: Project, cluster: SshdCluster, monkeypatch: pytest.MonkeyPatch) -> Deploy:
    found = make_deploy(project, cluster, monkeypatch)
    found.configure(LOCAL_TIERS)
    monkeypatch.setenv("COLUMNS", "80")
    return found


def fits(text: str) -> list[str]:
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), "\n".join(line for line in lines if len(line) > 80)
    return lines


def headers(text: str) -> list[str]:
    """The words of a table's header row (the line after the top border)."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("┏"))
    return [cell.strip() for cell in lines[top + 1].strip("┃").split("┃")]


def test_status_shows_each_host_on_one_line_without_empty_columns(deploy: Deploy) -> None:
    build = deploy.build()
    deploy.project.ok("promote", build, "--to", "dev")
    lines = fits(deploy.project.ok("status").out)
    text = "\n".join(lines)
    assert headers(text) == ["tier", "channel", "build", "host", "role", "state"]  # step and note: empty
    for host in ("dev-1", "dev-2", "staging-1", "staging-2", "production-1", "production-2"):
        assert sum(f" {host} " in line for line in lines) == 1
    assert "local:" not in text and str(deploy.project.root) not in text


def test_promote_names_hosts_as_status_does_and_its_gate_table_as_gates_does(deploy: Deploy) -> None:
    build = deploy.build()
    promoted = deploy.project.ok("promote", build, "--to", "dev")
    lines = fits(promoted.out)
    assert f"Gates for {build} → dev" in [line.rstrip() for line in lines]  # not wrapped to the table
    gates_shown = promoted.out[:promoted.out.index("promote ")]
    assert headers(gates_shown) == ["gate", "result", "facts"]
    assert headers(deploy.project.run("gates", build, "--to", "staging").out) == ["gate", "result", "facts"]
    outcome = promoted.out[promoted.out.index(f"promote {build} → dev"):]
    assert headers(outcome) == ["host", "role", "state", "now runs", "s"]  # no failed step, no error
    assert sum(" dev-1 " in line for line in lines) == 1 and " dev-2 " in outcome
    assert promoted.err.splitlines()[-2:] == ["  dev-1: verified", "  dev-2: verified"]  # the same labels


def test_a_rollback_reports_the_time_it_took(deploy: Deploy) -> None:
    first, second = deploy.build(), deploy.build()
    deploy.configure(LOCAL_TIERS, dev={"health_check": "sleep 1"})
    for build in (first, second):
        deploy.project.ok("promote", build, "--to", "dev")
    back = deploy.project.ok("rollback", "dev", "--to", first)
    said = " ".join(back.out.split())
    took = re.search(r"rollback \S+ → dev: succeeded \(deployment #\d+, ([\d.]+)s\)", said)
    assert took is not None and float(took.group(1)) >= 1.0  # it said 0.0s
    per_host = [float(s) for s in re.findall(r"│ +(\d+\.\d) │", back.out)]
    assert len(per_host) == 2 and all(s >= 1.0 for s in per_host)


def test_calendar_never_splits_a_time_and_says_when_a_window_ends_the_next_day(deploy: Deploy) -> None:
    text = "\n".join(fits(deploy.project.ok("calendar", "--count", "4").out))
    assert len(TIME_RANGE.findall(text)) == 8  # each window's, in the project's zone and in UTC
    assert text.count("next") == 4 and "22:00–02:00" in text
    assert headers(text) == ["push window", "code freeze", "beta start", "notice deadline"]


def test_notice_status_keeps_its_headers_whole(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    ready = prepared(project, monkeypatch)
    ready.ok("notes", "approve", NOTICE_BUILD, "--yes")
    ready.ok("notice", "send", "advance", NOTICE_BUILD, "--yes")
    monkeypatch.setenv("COLUMNS", "80")
    text = "\n".join(fits(ready.ok("notice", "status", NOTICE_BUILD).out))
    assert headers(text) == ["notice", "created", "recipients", "deliveries"] and "…" not in text
    assert "5 sent" in text and "schedule:1@2026-11-15T04:00Z" in text


def test_the_live_display_shows_one_word_per_host_in_the_labels_of_the_tables() -> None:
    hosts = (parse_host("local:/srv/clinic/hosts/db-1"),
             parse_host("local:/srv/clinic/hosts/db-2", role="standby"))
    ticks = iter(range(100))
    watch = Watch(TierTarget("production", hosts), lambda: float(next(ticks)))
    watch.update(hosts[1], "upload", "uploading")
    watch.update(hosts[1], "pre-activate", "uploading")
    watch.update(hosts[0], "done", "not-started")
    console = Console(width=80, record=True)
    console.print(watch.render())
    shown = console.export_text()
    assert re.search(r"db-2 +standby +pre-activate", shown) and "uploading" not in shown
    assert re.search(r"db-1 +primary +not-started", shown) and "/srv" not in shown
    assert labels(hosts) == {h.url: h.path.rsplit("/", 1)[1] for h in hosts}


def test_a_host_is_excluded_by_the_label_the_tables_show(deploy: Deploy) -> None:
    build = deploy.build()
    deploy.project.ok("promote", build, "--to", "dev", "--exclude", "dev-2", "--reason", "disk replaced")
    assert deploy.current("dev") == [build, None]
    assert deploy.audit("host.exclude") == [("dev:local:hosts/dev-2", "disk replaced")]
