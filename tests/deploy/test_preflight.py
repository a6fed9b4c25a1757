"""The pre-flight check before a rollout, and `quarterdeck check TIER`, on real sshd and local hosts.

A host that cannot be reached, whose deploy path cannot be written, or that
lacks a program the install runs stops the promotion before any host is
touched; the audit trail says why. A failed first rollout's summary says
what the table shows.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from releases.hosts.hostspec import parse_host
from releases.hosts.preflight import findings
from tests.conftest import Project
from tests.support.sshd import SshdCluster

from .test_promote_support import Deploy, flat, make_deploy

READ_ONLY = "/sys/devices/system"  # sysfs: nobody, root included, may make a directory there


@pytest.fixture
def deploy(project: Project, cluster: SshdCluster, monkeypatch: pytest.MonkeyPatch) -> Deploy:
    return make_deploy(project, cluster, monkeypatch)


def with_hosts(deploy: Deploy, tier: str, *urls: str) -> None:
    """Add hosts the test support cannot make (a read-only path, a stopped server) to `tier`."""
    text = deploy.project.config.read_text()
    first = deploy.urls[tier][0]
    extra = "".join(f'{{ url = {json.dumps(url)}, role = "primary" }}, ' for url in urls)
    anchor = f"{{ url = {json.dumps(first)}"
    deploy.project.config.write_text(text.replace(anchor, extra + anchor, 1))


def listing(roots: list[Path]) -> list[list[str]]:
    return [sorted(os.listdir(root)) for root in roots]


def test_an_unreachable_host_and_an_unwritable_path_stop_the_promotion_before_any_host_changes(
        deploy: Deploy, cluster: SshdCluster) -> None:
    deploy.configure([{"name": "dev", "channel": "internal",
                       "hosts": [("ssh", 0, "primary"), ("local", "dev-2", "primary")]}])
    down = cluster.servers[2]
    unwritable_ssh = cluster.url(cluster.servers[1], READ_ONLY)
    unwritable_local = f"local:{READ_ONLY}"
    unreachable = cluster.url(down, deploy.project.root / "hosts" / "down")
    with_hosts(deploy, "dev", unwritable_ssh, unwritable_local, unreachable)
    build = deploy.build()
    down.stop()
    refused = deploy.project.run("promote", build, "--to", "dev")
    assert refused.code == 1
    said = flat(refused.err)
    assert (f"the pre-flight check of dev for {build} failed on 3 of 5 hosts, so nothing was changed on "
            "any host") in said
    assert f"127.0.0.1:{cluster.servers[1].port}: the deploy user cannot write to {READ_ONLY}" in said
    assert f"127.0.0.1:{down.port}: cannot be reached" in said
    assert "quarterdeck check dev" in said
    table = flat(refused.out)
    assert f"Pre-flight check of dev for {build}: FAILED" in table
    checks = table[table.index("Pre-flight check"):]
    assert checks.count("pass") == 2 and checks.count("FAIL") == 4  # the title's and three hosts'
    assert listing(deploy.roots["dev"]) == [[], []]  # the hosts that pass were not touched either
    assert deploy.deployments("dev") == [] and deploy.audit("lock.acquire") == []
    [(subject, _)] = deploy.audit("deploy.preflight-failed")
    assert subject == f"{build}@dev"
    [detail] = deploy.query("SELECT detail FROM audit WHERE action = 'deploy.preflight-failed'")
    problems = json.loads(detail[0])
    assert sorted(problems) == sorted([unwritable_ssh, unwritable_local, unreachable])
    assert problems[unwritable_local][0] == f"the deploy user cannot write to {READ_ONLY}"
    assert problems[unreachable][0].startswith("cannot be reached")

    checked = deploy.project.run("check", "dev", "--json")
    assert checked.code == 1
    assert [(c["url"], c["ok"]) for c in checked.json()] == [  # type: ignore[union-attr,index]
        (unwritable_ssh, False), (unwritable_local, False), (unreachable, False),
        (deploy.urls["dev"][0], True), (deploy.urls["dev"][1], True)]
    down.start()
    deploy.configure([{"name": "dev", "channel": "internal",
                       "hosts": [("ssh", 0, "primary"), ("local", "dev-2", "primary")]}])
    fine = deploy.project.ok("check", "dev")
    assert f"every host of dev can take {build}" in fine.out and "FAIL" not in fine.out
    deploy.project.ok("promote", build, "--to", "dev")
    assert deploy.current("dev") == [build, build]


def test_a_host_without_gnu_tar_or_its_deploy_path_fails_the_check(
        deploy: Deploy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    deploy.configure([{"name": "dev", "channel": "internal", "hosts": [("local", "dev-1", "primary")]}])
    with_hosts(deploy, "dev", "local:hosts/never-made")
    build = deploy.build()
    tools = tmp_path / "bin"  # a host with the shell and coreutils but no tar
    tools.mkdir()
    for tool in ("sh", "head", "grep", "python3", "gzip", "sha256sum", "openssl", "mkdir", "rmdir", "df",
                 "awk", "rm"):
        found = shutil.which(tool)
        if found:
            (tools / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(tools))
    checked = deploy.project.run("check", "dev", "--build", build, "--json")
    assert checked.code == 1
    missing, present = checked.json()  # type: ignore[misc]
    assert missing["problems"][0] == "tar is not installed"
    assert "the deploy directory" in missing["problems"][-1] and "does not exist" in missing["problems"][-1]
    assert present["problems"] == ["tar is not installed"] and present["free_bytes"] > 0
    assert present["needed_bytes"] > 0  # the artifact and its release are not on the host yet


def test_a_disk_too_full_for_the_artifact_is_a_problem() -> None:
    host = parse_host("local:/srv/app")
    short = findings(host, ["need 2048", "free 1024"])
    assert short.problems == ("1.0 MiB free on the disk of /srv/app; the artifact and its release need "
                              "2.0 MiB",)
    assert findings(host, ["need 0", "free 1024"]).ok  # already on the host: nothing more to hold


def test_a_failed_first_rollout_says_which_hosts_stay_on_the_new_build(deploy: Deploy) -> None:
    deploy.configure([{"name": "dev", "channel": "internal",
                       "hosts": [("local", "dev-1", "primary"), ("local", "dev-2", "primary")],
                       "settings": {"health_check": "test ! -e ../../broken"}}])
    (deploy.roots["dev"][1] / "broken").write_text("")
    build = deploy.build()
    failed = deploy.project.run("promote", build, "--to", "dev")
    assert failed.code == 1
    said = flat(failed.err)
    assert "put back" not in said.replace("not put back", "")
    assert (f"failed on dev-2 at health-check; still on {build}: dev-1, dev-2 (not put back: see the table)"
            in said)
    table = flat(failed.out)
    assert "not rolled back" in table and f"{build} → dev: FAILED" in table
    assert deploy.current("dev") == [build, build]  # what the summary says
